# sdapi: contract (openapi/), generated code (gen/), reference server (cmd/sdapi-server).
# `make` or `make help` lists the targets. CI runs `.ci/run`, which runs `make test`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# Targets share gen/ and node_modules/; keep them in order even under `make -j`.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules

# Go lives in /usr/local/go on the CI machines; a go already on PATH wins.
export PATH := $(PATH):/usr/local/go/bin

GO          ?= go
NPM         ?= npm
NPX         ?= npx --no-install
GOTESTFLAGS ?=

SPEC        := openapi/sdapi.yaml
RULESET     := .spectral.yaml
BIN_DIR     := bin
PORT        ?= 7860
DATA_DIR    ?= .sdapi-data

NODE_STAMP       := node_modules/.stamp
ORT_DIR          := .cache/onnxruntime
ORT_LIB          := $(ORT_DIR)/libonnxruntime.so
# Tests and the server find the ONNX Runtime library through this variable
# (read once, in cmd/ and in test setup).
export ONNXRUNTIME_SHARED_LIBRARY_PATH := $(abspath $(ORT_LIB))
SWAGGER_UI_SRC   := node_modules/swagger-ui-dist
SWAGGER_UI_DIR   := server/docs/swagger-ui
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt

.PHONY: help deps onnxruntime bench bench-fleet fleet load fuzz conform conform-prism dredd browser-test gate record generate check-generated lint build run test test-fresh vendor-swagger-ui readme-profiles

help: ## Show this list of targets
	@echo "Usage: make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: $(NODE_STAMP) $(ORT_LIB) ## Install Node tools (npm ci when the lock file changed), ONNX Runtime and Go modules
	$(GO) mod download

# npm pack + sha256 check; see the script for why not npm install.
$(ORT_LIB): scripts/install-onnxruntime.sh
	scripts/install-onnxruntime.sh $(ORT_DIR)

# npm ci wipes node_modules/, so the stamp inside it disappears with it.
$(NODE_STAMP): package-lock.json package.json
	@command -v $(NPM) >/dev/null || { echo "npm not found: install Node.js 20 or newer" >&2; exit 1; }
	$(NPM) ci
	touch $@

onnxruntime: $(ORT_LIB) ## Install libonnxruntime.so into .cache/onnxruntime (pinned version and sha256)

generate: ## Regenerate gen/ from openapi/sdapi.yaml (go generate ./gen)
	$(GO) generate ./gen

check-generated: ## Fail if gen/ differs from what `make generate` produces
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -a gen/. "$$tmp/"; \
	$(GO) generate ./gen; \
	if ! diff -r "$$tmp" gen; then \
		echo "gen/ is stale: run make generate and commit" >&2; \
		exit 1; \
	fi

lint: $(NODE_STAMP) ## Spectral on the spec (errors fail), gofmt on hand-written Go, go vet, go.mod tidy
	$(NPX) spectral lint $(SPEC) --ruleset $(RULESET) --fail-severity=error
	@unformatted=$$(find . -name '*.go' -not -path './gen/*' -not -path './node_modules/*' \
		-not -path './.cache/*' -not -path './bin/*' -print0 | xargs -0 -r gofmt -l); \
	if [[ -n "$$unformatted" ]]; then \
		echo "gofmt needed on:" >&2; echo "$$unformatted" >&2; exit 1; \
	fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

readme-profiles: ## Regenerate the README's profile listing from `sdapi-conform --profiles` (a test checks they agree)
	go run ./cmd/sdapi-conform --profiles > README.profiles.tmp
	awk '/<!-- profiles:begin -->/ {print; while ((getline l < "README.profiles.tmp") > 0) print l; skip=1; next} /<!-- profiles:end -->/ {skip=0} !skip' README.md > README.md.tmp
	mv README.md.tmp README.md && rm -f README.profiles.tmp

build: ## Build the binaries in cmd/ into bin/
	$(GO) build -o $(BIN_DIR)/ ./cmd/...

load: $(ORT_LIB) ## Load check: 200 concurrent small txt2img on the real server while /progress is polled (results in out/load; LOADFLAGS=)
	$(GO) build -o $(BIN_DIR)/sdapi-server ./cmd/sdapi-server
	$(GO) run ./cmd/sdapi-load --server $(BIN_DIR)/sdapi-server --out out/load $(LOADFLAGS)

run: build $(ORT_LIB) ## Build and run the reference server on http://127.0.0.1:7860 (PORT=, DATA_DIR=)
	$(BIN_DIR)/sdapi-server --port $(PORT) --data-dir $(DATA_DIR)

# The conformance suite runs once: ./conformance writes its report into
# TEST_CONFORM_DIR, and the milestones real-run test (-tags realrun) records it.
# The server binary is built once for every package that starts it.
TEST_CONFORM_DIR := out/test/conform
test: deps check-generated lint conform-prism dredd browser-test ## Everything CI checks: deps, check-generated, lint, go test
	rm -rf $(TEST_CONFORM_DIR)
	$(GO) build -o $(BIN_DIR)/sdapi-server ./cmd/sdapi-server
	SDAPI_SERVER_BIN=$(abspath $(BIN_DIR)/sdapi-server) SDAPI_CONFORM_REPORT_DIR=$(abspath $(TEST_CONFORM_DIR)) \
		$(GO) test -count=1 $(GOTESTFLAGS) ./...
	SDAPI_CONFORM_REPORT_DIR=$(abspath $(TEST_CONFORM_DIR)) $(GO) test -count=1 -tags realrun -run '^TestRecordRealConformanceRun$$' ./milestones

conform: $(ORT_LIB) ## Start the reference server with the emitted test model on a free port and run the conformance suite (report in out/conform)
	$(GO) test -count=1 ./conformance/... -args -report-dir=$(abspath out/conform)

# Third-party check 1: the conformance suite through Stoplight Prism 5.14.2 as a
# validation proxy (prism proxy openapi/sdapi.yaml SERVER, no --errors), see
# conformance/prism_test.go. A response violation in Prism's sl-violations
# header fails; request violations of the negative checks are expected and
# listed in out/conform-prism/prism-violations.md. ERR-003 is left out: Prism
# answers malformed JSON itself (400 invalid_json) and never forwards it;
# ERR-011 too: a body without Content-Type reaches the server altered. Prism
# runs with --cors=false so that CORS-001 judges the server's headers. Prism
# answers a server 501 with a mock ("re-mocking"): those checks are skipped
# with that reason and the calls listed, never judged on the mock.
conform-prism: $(NODE_STAMP) $(ORT_LIB) ## Conformance suite through a Prism validation proxy; fails on response violations (report in out/conform-prism)
	$(GO) test -count=1 -run '^TestConformance$$' ./conformance/ -args -prism -report-dir=$(abspath out/conform-prism)
	@sed -n '1,10p' out/conform-prism/prism-violations.md

# Third-party check 2: Dredd 14.1.0 as a smoke check (scripts/dredd.sh and
# scripts/dredd-hooks.js). Dredd's OpenAPI 3 support is "experimental": it
# parses the 3.0.3 spec with warnings (format, minimum/maximum, anyOf and
# requestBody `required` are ignored) and builds no response JSON Schema; it
# infers one from a generated example (every key required, nullable and oneOf
# lost, dredd#1430), so the hooks hand Gavel the spec's own response schemas
# converted to draft 4. Of the 172 transactions (one per documented response)
# the 2xx, 422 and disabled-route 404 ones run; 401/413/500/503 cannot be
# provoked by a smoke check and the destructive or long operations are skipped,
# each with its reason in out/dredd/skips.txt.
dredd: $(NODE_STAMP) $(ORT_LIB) ## Dredd smoke check of the reference server (reports and skip reasons in out/dredd)
	scripts/dredd.sh out/dredd

# Third-party check 3: Swagger UI at /docs in headless Chromium (Debian's
# chromium driven by the pinned playwright-core; no browser download). The
# script installs chromium with apt-get when it is missing and we are root
# (CI); elsewhere it skips with a message, but under CI=true it fails.
browser-test: $(NODE_STAMP) $(ORT_LIB) ## /docs in headless Chromium: Try it out on txt2img, expect 200 with images (screenshot in out/browser)
	scripts/browser-test.sh out/browser

# Milestone governance: `make gate` runs every test with coverage (the
# conformance suite against the reference server is one of them and writes
# its report), then judges that run with milestones/gates.yaml against the
# last run recorded for $(MILESTONE). `make record` writes the run into the
# milestone's records and the ledger.
MILESTONE ?= M01
GATE_DIR  := out/gate
gate: deps ## Tests with coverage + conformance report, then `sdapi-milestone gate $(MILESTONE)` (fails with one line per broken gate)
	@mkdir -p $(GATE_DIR)
	SDAPI_CONFORM_REPORT_DIR=$(abspath $(GATE_DIR)/conform) $(GO) test -count=1 -coverprofile=$(GATE_DIR)/cover.out ./...
	$(GO) run ./cmd/sdapi-milestone gate $(MILESTONE) --conformance $(GATE_DIR)/conform/report.json --coverage $(GATE_DIR)/cover.out

RECORD_FLAGS ?=
record: ## Record the last `make gate` run as a milestone run (MILESTONE=; RECORD_FLAGS="--load out/load/load.json --bench bench.txt"), then write its summary and audit
	$(GO) run ./cmd/sdapi-milestone record $(MILESTONE) --conformance $(GATE_DIR)/conform/report.json --coverage $(GATE_DIR)/cover.out $(RECORD_FLAGS)
	$(GO) run ./cmd/sdapi-milestone summary $(MILESTONE)
	$(GO) run ./cmd/sdapi-milestone audit $(MILESTONE)

# Each fuzz target as package:FuzzName; `go test` replays their corpora
# (testdata/fuzz/) every run, `make fuzz` searches for new inputs.
FUZZTIME ?= 1m
FUZZ_TARGETS := \
	./server:FuzzDecodeGeneration ./server:FuzzDecodeImage ./server:FuzzRedactPaths \
	./processing/infotext:FuzzParse ./processing/infotext:FuzzQuoteRoundTrip \
	./processing/imagemeta:FuzzRead ./processing/imagemeta:FuzzPNGTextChunk \
	./processing/imagemeta:FuzzEXIFUserComment ./processing/imagemeta:FuzzUserCommentRoundTrip \
	./processing/imagemeta:FuzzDecodeDataURI \
	./runner/clip:FuzzParseAttention ./runner/clip:FuzzEncode
fuzz: ## Run each fuzz target for FUZZTIME (default 1m) in turn; a crasher lands in the package's testdata/fuzz/
	@failed=""; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || failed="$$failed $$name"; \
	done; \
	if [[ -n "$$failed" ]]; then echo "fuzz: crashers in$$failed (see testdata/fuzz/)" >&2; exit 1; fi

BENCHTIME ?= 3x
bench: $(ORT_LIB) ## Benchmarks: runner stages and overhead ratio, sampler math, RNG, tokenizer (BENCHTIME=, SDAPI_BENCH_SD15=1 adds full-size SD 1.5, SDAPI_BENCH_SDXL=1 full-size SDXL at 1024²)
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./runner/... ./processing/... ./server/...

bench-fleet: $(ORT_LIB) ## Fleet benchmark: latency per small job in-process vs through NATS (1 worker), throughput with 1, 2 and 4 workers of --threads 1 (BENCHTIME=)
	$(GO) test -run '^$$' -bench 'BenchmarkFleet' -benchtime $(BENCHTIME) ./cmd/sdapi-server

# A fleet by hand: the API starts the embedded NATS server and listens for
# workers on FLEET_NATS; two workers join it. Ctrl-C stops all three.
FLEET_NATS ?= 127.0.0.1:4222
fleet: build $(ORT_LIB) ## Three-process fleet on this machine: API on PORT with embedded NATS on FLEET_NATS, two workers (--threads 1); data in DATA_DIR/fleet-*
	trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT INT TERM; \
	$(BIN_DIR)/sdapi-server --role api --nats embedded --nats-listen $(FLEET_NATS) --port $(PORT) --data-dir $(DATA_DIR)/fleet-api & \
	until curl -sf -o /dev/null http://127.0.0.1:$(PORT)/sdapi/v1/progress; do sleep 0.2; done; \
	for w in 1 2; do $(BIN_DIR)/sdapi-server --role worker --nats nats://$(FLEET_NATS) --port 0 --threads 1 --data-dir $(DATA_DIR)/fleet-w$$w & done; \
	wait

test-fresh: ## Run `make test` in a fresh clone of the committed HEAD (checks install steps)
	@dir=$$(mktemp -d); \
	echo "cloning into $$dir/p"; \
	git clone -q . "$$dir/p"; \
	$(MAKE) -C "$$dir/p" test; \
	rm -rf "$$dir"

vendor-swagger-ui: ## Copy the pinned swagger-ui-dist assets into server/docs/swagger-ui (commit them)
	$(NPM) ci
	touch $(NODE_STAMP)
	mkdir -p $(SWAGGER_UI_DIR)
	cp $(addprefix $(SWAGGER_UI_SRC)/,$(SWAGGER_UI_FILES)) $(SWAGGER_UI_DIR)/
	node -p 'require("./$(SWAGGER_UI_SRC)/package.json").version' > $(SWAGGER_UI_DIR)/VERSION
	@echo "vendored swagger-ui-dist $$(cat $(SWAGGER_UI_DIR)/VERSION) into $(SWAGGER_UI_DIR)"
