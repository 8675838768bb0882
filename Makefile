# The two commands of the README: `make run` and `make test`. Both install what
# they need (ffmpeg from Debian's packages, pinned Go tools with `go install`)
# or stop with one sentence saying what is missing.

GO      ?= go
SHELL   := /bin/bash
MODULES  = $(shell $(GO) list -m -f '{{.Path}}/...')
# Pinned test servers, built once and cached outside the clone.
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
TOOLS_DIR     ?= $(HOME)/.cache/hlsd/tools
MINIO_BIN     := $(TOOLS_DIR)/minio-$(MINIO_VERSION)/minio
NATS_VERSION  := v2.12.15
NATS_BIN      := $(TOOLS_DIR)/nats-server-$(NATS_VERSION)/nats-server
# Each fuzz target runs a fixed number of executions (about 20 s each on
# this 2-core machine). A duration (-fuzztime 20s) races Go's fuzz
# coordinator at its deadline: on a loaded machine the run fails with
# "context deadline exceeded" and no crasher (go.dev/issue/75804, fixed in
# Go 1.27). FUZZTIME (e.g. 10m) replaces every count.
FUZZTIME      ?=
fuzz_budget    = $(if $(FUZZTIME),$(FUZZTIME),$(1))
# Minimizing a new interesting input runs the target again and again without
# counting executions; Go's default (60 s) would eat a whole short run.
FUZZMINIMIZETIME ?= 200x

.PHONY: vendor-web run build test check-go ffmpeg minio nats-server browser lint fuzz clean bench

run: check-go ffmpeg build
	./bin/hlsd all

build: check-go
	$(GO) build -o bin/hlsd ./cmd/hlsd

test: check-go ffmpeg minio nats-server browser lint
	HLSD_REQUIRE_TEST_SERVERS=1 HLSD_MINIO_BIN=$(MINIO_BIN) HLSD_NATS_SERVER_BIN=$(NATS_BIN) $(GO) test -race -timeout 25m $(MODULES)
	$(MAKE) fuzz

lint:
	@unformatted="$$(gofmt -l .)"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting: $$unformatted" >&2; exit 1; fi
	$(GO) vet $(MODULES)

# Each fuzz target runs briefly in CI (see FUZZTIME); longer runs: make fuzz FUZZTIME=10m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzSplitTS$$' -fuzztime $(call fuzz_budget,100000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/mpegts
	$(GO) test -run '^$$' -fuzz '^FuzzUpload$$' -fuzztime $(call fuzz_budget,20000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./services/gateway
	$(GO) test -run '^$$' -fuzz '^FuzzRewritePlaylist$$' -fuzztime $(call fuzz_budget,500000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/playback
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(call fuzz_budget,800000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/playback
	$(GO) test -run '^$$' -fuzz '^FuzzObjectKey$$' -fuzztime $(call fuzz_budget,200000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./services/content
	$(GO) test -run '^$$' -fuzz '^FuzzKeyVideoID$$' -fuzztime $(call fuzz_budget,200000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./services/content
	$(GO) test -run '^$$' -fuzz '^FuzzSEIHasCaptions$$' -fuzztime $(call fuzz_budget,200000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/conformance
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(call fuzz_budget,200000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/subtitles
	$(GO) test -run '^$$' -fuzz '^FuzzWebVTTSegment$$' -fuzztime $(call fuzz_budget,100000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/conformance
	$(GO) test -run '^$$' -fuzz '^FuzzFragments$$' -fuzztime $(call fuzz_budget,200000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/conformance
	$(GO) test -run '^$$' -fuzz '^FuzzFromTS$$' -fuzztime $(call fuzz_budget,60000x) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/cmaf

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "Go is missing: install Go 1.26 or newer from https://go.dev/dl and put it on PATH." >&2; exit 1; }

ffmpeg:
	@if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing ffmpeg from Debian's packages..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	    echo "Installing ffmpeg from Debian's packages (sudo)..."; \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else \
	    echo "ffmpeg is missing: install ffmpeg and ffprobe with your package manager (Debian: apt-get install ffmpeg)." >&2; exit 1; \
	  fi; \
	fi
	@ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libx264 || { echo "ffmpeg lacks the libx264 encoder: install a build with it (Debian's ffmpeg package has it)." >&2; exit 1; }

# Debian's chromium and the pinned npm packages (playwright-core, hls.js,
# Shaka Player, video.js) for the browser tests.
# If they cannot be installed the test skips and says why; nothing else fails.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing chromium and Node.js from Debian's packages for the browser test..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium $$(command -v npm >/dev/null || echo nodejs npm) >/dev/null 2>&1 \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium $$(command -v npm >/dev/null || echo nodejs npm) >/dev/null; } \
	      || echo "Could not install chromium: the browser test will be skipped."; \
	  else echo "chromium or npm is missing and cannot be installed here: the browser test will be skipped."; fi; \
	fi
	@if command -v npm >/dev/null 2>&1 && { [ ! -d test/browser/node_modules/hls.js ] || [ ! -d test/browser/node_modules/shaka-player ] || [ ! -d test/browser/node_modules/video.js ]; }; then \
	  (cd test/browser && npm ci --silent --no-audit --no-fund) || echo "npm ci failed: the browser test will be skipped."; \
	fi

minio: $(MINIO_BIN)
$(MINIO_BIN):
	@echo "Building the pinned MinIO server for the S3 tests (about 6 minutes the first time, cached after)..."
	GOBIN=$(dir $(MINIO_BIN)) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

nats-server: $(NATS_BIN)
$(NATS_BIN):
	@echo "Building the pinned nats-server for the distributed tests..."
	GOBIN=$(dir $(NATS_BIN)) $(GO) install github.com/nats-io/nats-server/v2@$(NATS_VERSION)

clean:
	rm -rf bin

# The benchmarks of BENCHMARKS.md, one after the other (about 80 minutes on 2
# cores; bench/content.sh also needs wrk and nginx, bench/codec-rd.sh jq).
# Every script runs even if an earlier one misses its target; the target
# fails if any of them did.
bench: check-go ffmpeg minio nats-server
	@rc=0; for s in segmenter content time-to-ready chunked upload-rss rate-control codec-rd preset-cost; do \
	  echo "== bench/$$s.sh"; \
	  MINIO_BIN=$(MINIO_BIN) NATS_BIN=$(NATS_BIN) TOOLS_DIR=$(TOOLS_DIR) bench/$$s.sh || { echo "bench/$$s.sh exited $$?" >&2; rc=1; }; \
	done; exit $$rc

# Refreshes the web UI's vendored hls.js and tus-js-client (see services/gateway/web/vendor/README.md).
HLSJS_VERSION ?= 1.7.4
TUSJS_VERSION ?= 4.3.1
vendor-web:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent hls.js@$(HLSJS_VERSION) tus-js-client@$(TUSJS_VERSION) >/dev/null && \
	  mkdir hls tus && tar xzf hls.js-*.tgz -C hls && tar xzf tus-js-client-*.tgz -C tus && \
	  cp hls/package/dist/hls.min.js $(CURDIR)/services/gateway/web/vendor/hls.min.js && \
	  cp hls/package/LICENSE $(CURDIR)/services/gateway/web/vendor/hls.js.LICENSE && \
	  cp tus/package/dist/tus.min.js $(CURDIR)/services/gateway/web/vendor/tus.min.js && \
	  cp tus/package/LICENSE $(CURDIR)/services/gateway/web/vendor/tus-js-client.LICENSE && rm -rf $$tmp
