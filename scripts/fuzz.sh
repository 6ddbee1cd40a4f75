#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 60s; a
# count such as 1000x runs that many inputs instead). `make fuzz` runs them
# at length; `make test` runs each briefly, so CI fuzzes every parser a
# little on every change.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" as a duration budget runs out, having found nothing
# (golang/go#75804, fixed in Go 1.27). A count budget has no deadline to
# race, which is why `make test` uses one. For duration runs, a target that
# fails with exactly that signature and wrote no crasher is run once more; a
# real finding always writes "Failing input written to" and fails at once.
set -euo pipefail
fuzztime="${FUZZTIME:-60s}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0

fuzz_once() { # pkg target
	go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" >"$log" 2>&1
}

coordinator_race() {
	grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"
}

# Only packages whose tests declare a fuzz target (listing builds each test
# binary, so skip the rest).
for dir in $(grep -l '^func Fuzz' $(git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go') | xargs -n1 dirname | sort -u); do
	pkg="./$dir"
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($fuzztime)"
		if fuzz_once "$pkg" "$target"; then
			continue
		fi
		if coordinator_race; then
			echo "  Go fuzz coordinator deadline race (golang/go#75804), no input found; running once more"
			fuzz_once "$pkg" "$target" && continue
		fi
		cat "$log"
		status=1
	done
done
exit $status
