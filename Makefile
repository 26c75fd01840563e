# natsfn — the user's menu. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
NATSCLI   := github.com/nats-io/natscli/nats@v0.5.0
NATS_PORT ?= 4222
NATS_HOST ?= 127.0.0.1
DATA_DIR  ?= $(CURDIR)/data
OPS_ADDR  ?= 127.0.0.1:8080
BENCHTIME ?= 100000x
# make load: the rates offered (orders/s, max: full speed), each run's
# length, and where the report goes.
LOAD_RATES    ?= 500,1000,max
LOAD_DURATION ?= 20s
LOAD_REPORT   ?= $(BIN)/load-report
EVENTS    ?= 50000
export PATH := $(BIN):$(PATH)
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: help run new test unit bench load tools fmt vet build clean docs

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

run: ## run the whole order flow on an embedded NATS at $(NATS_HOST):$(NATS_PORT) (data in ./data)
	$(GO) run ./functions/cmd/natsfn -host $(NATS_HOST) -port $(NATS_PORT) -data $(DATA_DIR) -ops $(OPS_ADDR)

new: ## write a new function NAME (make new NAME=greet): package, main, contracts, image, compose services, NATS user; make run serves it
	$(GO) run ./functions/cmd/natsfn new $(NAME)

tools: $(BIN)/nats ## install the nats CLI (natscli v0.5.0) into ./bin

$(BIN)/nats:
	GOBIN=$(BIN) $(GO) install $(NATSCLI)

build: ## build every function binary into ./bin
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./functions/cmd/...

fmt: ## fail if any Go file is not gofmt'd
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

test: tools fmt vet ## run every test with -race (container suites too when Docker is reachable)
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory images; \
	else echo "make test: no Docker engine reachable; the container suites will skip"; fi
	@# The container suites take longest, and one `go test ./...` would start
	@# them last (after every package before tests/ in its order): they run
	@# at once, beside the rest, which runs one package at a time (-p 1), so
	@# that no more than two test packages load the machine at once, as
	@# before. Either failing fails make test. -p 1 also builds one package
	@# at a time: with an empty build cache that was 7.5 of the 19 minutes
	@# of tests, so `go list -export` first compiles what they need (no
	@# linking), as many at once as there are cores; with a warm cache it
	@# takes under a second.
	NATSFN_TEST_BUILD=0 $(GO) test -race -count=1 -timeout 30m ./tests/containers/ & containers=$$!; \
	pkgs=$$($(GO) list ./... | grep -v /tests/containers); \
	$(GO) list -race -export -deps -test $$pkgs >/dev/null && \
	$(GO) test -race -count=1 -p 1 -timeout 30m $$pkgs; rest=$$?; \
	wait $$containers; suites=$$?; \
	if [ $$rest -ne 0 ] || [ $$suites -ne 0 ]; then \
		echo "make test: FAILED (container suites: exit $$suites; the other packages: exit $$rest)"; exit 1; fi

unit: tools ## run the tests that need no Docker
	$(GO) test -race -count=1 -timeout 10m $$($(GO) list ./... | grep -v /tests/containers)

bench: ## run the runtime benchmarks: ratios to the best bare nats.go designs, same process, interleaved rounds
	$(GO) test -run '^$$' -bench '^BenchmarkEvent$$' -benchtime $(EVENTS)x -timeout 60m ./runtime/
	$(GO) test -run '^$$' -bench '^BenchmarkDrainAfterPause$$' -benchtime 20000x -timeout 30m ./runtime/
	$(GO) test -run '^$$' -bench '^(BenchmarkEndpoint|BenchmarkEndpointTelemetry|BenchmarkChain)$$' -benchtime $(BENCHTIME) -timeout 30m ./runtime/
	$(GO) test -run '^$$' -bench '^BenchmarkBucket$$' -benchtime 2100x -timeout 30m ./runtime/
	$(GO) test -run '^$$' -bench '^(BenchmarkModify|BenchmarkTransaction3|BenchmarkHotKey)$$' -benchtime 2100x -timeout 30m ./runtime/internal/kv/
	$(GO) test -run '^$$' -bench '^BenchmarkDualPublish$$' -benchtime 5000x -timeout 30m ./runtime/

load: ## place orders on the all-in-one at 500/s, 1,000/s and full speed, 20 s each; write plots and a table to bin/load-report/
	LOAD_RATES='$(LOAD_RATES)' LOAD_DURATION='$(LOAD_DURATION)' LOAD_REPORT='$(abspath $(LOAD_REPORT))' \
	LOAD_COMMAND='make load$(if $(MAKEOVERRIDES), $(MAKEOVERRIDES))' \
		$(GO) test -run '^$$' -bench BenchmarkOrderFlow -benchtime 1x -timeout 20m ./tests/e2e/
	@echo "load report: $(abspath $(LOAD_REPORT))/index.html"

docs: ## regenerate contracts/asyncapi.yaml, the AsyncAPI 3.0 document of every subject and message in contracts/
	$(GO) test -count=1 -run '^TestAsyncAPIDocument$$' ./contracts/ -update

clean: ## remove ./bin and ./data
	rm -rf $(BIN) $(DATA_DIR)

-include infra/infra.mk
