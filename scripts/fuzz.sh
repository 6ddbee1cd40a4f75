#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 60s).
# `make fuzz` runs them at length; `make test` runs each briefly, so CI keeps
# fuzzing every parser a little on every change.
set -euo pipefail
fuzztime="${FUZZTIME:-60s}"
status=0
# Only packages whose tests declare a fuzz target (listing builds each test
# binary, so skip the rest).
for dir in $(grep -l '^func Fuzz' $(git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go') | xargs -n1 dirname | sort -u); do
	pkg="./$dir"
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($fuzztime)"
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" >/tmp/fuzz-$$.log 2>&1; then
			cat /tmp/fuzz-$$.log
			status=1
		fi
	done
done
rm -f /tmp/fuzz-$$.log
exit $status
