# safebuild — the two commands on the README's first screen are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go

.PHONY: test test-short demo stack deps build frontend-image vet bench bench-image bench-fp fuzz

## test: install what is missing (apt packages, buildkitd and Vault builds), then vet and run every test, integration included
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 45m ./...

## test-short: unit tests only, no root, no stack
test-short:
	$(GO) test -short ./...

## demo: bring the stack up and show a leaky build and a clean one
demo: deps
	$(GO) run ./integration/cmd/demo

## stack: bring the stack up for a person; prints its addresses, Ctrl-C stops it
stack: deps
	$(GO) run ./integration/cmd/stack

## deps: apt packages and the cached buildkitd/buildctl and Vault binaries
deps:
	integration/scripts/deps.sh

## build: the safebuild binary in bin/
build:
	$(GO) build -o bin/safebuild ./cmd/safebuild

## frontend-image: build the `# syntax=` frontend image with the buildkitd at BUILDKIT_HOST and push it as FRONTEND_IMAGE
FRONTEND_IMAGE ?= $(SAFEBUILD_REGISTRY)/safebuild/frontend:latest
frontend-image:
	@test -n "$$BUILDKIT_HOST" || { echo "frontend-image: set BUILDKIT_HOST (make stack prints it)"; exit 1; }
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/safebuild-frontend ./cmd/safebuild-frontend
	"$$(integration/scripts/build-buildkit.sh)/buildctl" build --frontend dockerfile.v0 --local context=. --local dockerfile=. \
		--output type=image,name=$(FRONTEND_IMAGE),push=true

vet:
	$(GO) vet ./...

## bench: the engine against gitleaks' release build on Go's source tree (integration/bench/README.md)
bench:
	integration/bench/bench.sh

## bench-image: safebuild scan on a ~1 GiB many-layer image against gzip -dc of its layers, and Trivy/gitleaks where installed
bench-image: deps
	@command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
	PATH="$$HOME/.cache/safebuild/trivy-v0.74.0:$$PATH" $(GO) run ./integration/bench/imagebench

## bench-fp: false alarms of safebuild and gitleaks on a pinned corpus of public npm, Debian and Go packages (integration/bench/README.md)
bench-fp:
	$(GO) run ./integration/bench/fp

## fuzz: every fuzz target, one after another, FUZZTIME each (default 10m, as issue 3 asks of the reader, canary matcher and config loader)
FUZZTIME ?= 10m
FUZZ_TARGETS ?= policy:FuzzWindowReader policy/internal/textenc:FuzzUTF16Reader policy:FuzzCanary policy/config:FuzzLoadConfig policy/internal/kwset:FuzzKeywordSet policy:FuzzLeadRepeat policy/archive:FuzzWalk image:FuzzWalkLayer image:FuzzIndex \
	policy:FuzzJudgeWord imagescan:FuzzHistoryArgs frontend:FuzzCheckMask
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t#*:}; \
		echo "== $$fn ($$pkg) for $(FUZZTIME), from $$(date -u +%H:%M:%S)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -parallel 1 ./$$pkg; \
	done
