# firebreak — make targets. `make demo` and `make test` are the two set-up
# commands the README promises work on a fresh machine.

GO      ?= go
BIN     := bin/firebreak
PKGS    := ./...
BENCHTIME ?= 1x

.PHONY: build demo test bench fuzz fuzz-short lint fmt clean

build:
	$(GO) build -o $(BIN) ./cmd/firebreak

## demo: open the TUI on the embedded demo workspace (writes nothing)
demo: build
	./$(BIN) demo

## test: vet, every test (privileged ones run as root, skip otherwise), and a
## brief run of every fuzz target
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)
	$(MAKE) fuzz-short

## fuzz: every fuzz target for 60s (FUZZTIME=… to change)
fuzz:
	FUZZTIME=$${FUZZTIME:-60s} scripts/fuzz.sh

fuzz-short:
	FUZZTIME=1000x scripts/fuzz.sh

## bench: the performance benchmarks recorded in docs/benchmarks.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
