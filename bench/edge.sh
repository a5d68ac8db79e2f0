#!/usr/bin/env bash
# Edge throughput and latency: origin direct, a pass-through Worker (the
# floor), Keygate with a valid key and with a malformed key, all in one run.
# Needs the build (`make build`) and wrk (installed here with apt when missing).
# BENCH_DURATION (4s), BENCH_CONNECTIONS (16), BENCH_ROUNDS (8) and
# BENCH_WARMUP (3s, unmeasured, per target) tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/require.sh
exec node bench/edge.mjs
