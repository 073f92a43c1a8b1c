# aurora-vm: `make` builds bin/aurora-vm and the test images; `make test`
# runs every test; `make bench` prints the benchmark table.
GO ?= go

all: bin/aurora-vm images examples

# urfave_cli_no_docs leaves out the CLI's man-page and markdown generators,
# which the command does not use and whose initialisation every start pays.
bin/aurora-vm: $(shell find . -name '*.go' -not -path './guest/build/*') go.mod go.sum
	$(GO) build -tags urfave_cli_no_docs -o $@ ./cmd/aurora-vm

images:
	$(MAKE) -s -C testimages

examples:
	$(MAKE) -s -C examples

generate:
	$(GO) run ./syscall/gen

test: all
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -count=1 ./...
	# The packages where goroutines meet (kills, interrupts, console reads)
	# again under the race detector (not cpu/lockstep, whose single-stepping
	# comparison of every image would take many minutes there).
	$(GO) test -count=1 -race ./cpu/kvm/... ./cpu/interp/... ./kernel/... ./mmu/...

bench: all
	$(GO) run ./internal/benchtable

clean:
	rm -rf bin
	$(MAKE) -s -C testimages clean
	$(MAKE) -s -C examples clean
	$(MAKE) -s -C guest clean

.PHONY: all images examples generate test bench clean
