# Clustered Video Streams: build, test and run everything on one machine.
#   make demo   the main job, on embedded defaults, no AWS account needed
#   make test   every test (suites whose tools are missing skip, or fail with CVS_STRICT=1)
#   make bench  the README's performance table

GO        ?= go
BUILD_DIR ?= build
FUNCTIONS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))

# Lambda builds: static arm64 binaries named bootstrap for provided.al2023, without the RPC shim.
LAMBDA_ENV   := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_FLAGS := -tags lambda.norpc -trimpath

.PHONY: build cvsctl test unit lint bench bench-all demo sam-build clean FORCE

build: $(FUNCTIONS:%=$(BUILD_DIR)/%/bootstrap) cvsctl

$(BUILD_DIR)/%/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/$*

cvsctl:
	$(GO) build -trimpath -o $(BUILD_DIR)/cvsctl ./cmd/cvsctl

# SAM's go1.x build method runs a bare `go build` in each CodeUri folder: pass our flags through
# the environment so `sam build` produces the same binaries as `make build`. Never cached: SAM
# keys its cache on the CodeUri folder alone, and the code is in internal/.
sam-build:
	CGO_ENABLED=0 GOFLAGS="-tags=lambda.norpc -trimpath" sam build --no-cached

# npm test tools (asl-validator, DynamoDB Local, hls.js), pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: node_modules/.installed lint build
	$(GO) test -race -count=1 -timeout 14m ./...

unit:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The README's performance table in one run (a few minutes): our benchmarks beside hls.js's parser
# in Node (and Python's m3u8 when importable) on the same playlists, the detector against an origin
# in another process, the copilot in goja and Node, the demo's failover timeline.
bench: node_modules/.installed
	@$(GO) run ./cmd/cvsbench

# Every benchmark of every package, as go test prints them.
bench-all:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	$(GO) run ./cmd/cvsctl demo

clean:
	rm -rf $(BUILD_DIR) node_modules .aws-sam

FORCE:
