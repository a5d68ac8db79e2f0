# Keygate: `make dev` serves it locally, `make test` runs every test.
# Both install what is missing first (pinned; a second run skips installs).

SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
# worker-build would download these; point it at the pinned local copies.
export ESBUILD_BIN := $(CURDIR)/node_modules/.bin/esbuild
export WASM_OPT_BIN := $(CURDIR)/node_modules/binaryen/bin/wasm-opt

.PHONY: install build cli dev test lint unit e2e browser bench clean

install:
	@bash scripts/install.sh

build: install
	WASM_BINDGEN_BIN=$$(command -v wasm-bindgen) worker-build --release

dev: build
	@bash scripts/dev.sh

lint: install
	cargo fmt --check
	cargo clippy --all-targets --all-features -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -- -D warnings

unit: install
	cargo test --all-features

cli: install
	cargo build --features cli --bin keygate

e2e: build cli
	node --test --test-concurrency=1 tests/e2e/*.test.mjs

browser: build
	@bash scripts/install-browser.sh
	node --test --test-concurrency=1 tests/browser/*.test.mjs

test: lint unit e2e browser

bench: build
	@bash bench/edge.sh

clean:
	rm -rf build target/wasm32-unknown-unknown .wrangler
