#!/usr/bin/env bash
# What the runtime allows (see bench/floor.mjs): Keygate's throughput next to
# plain JS Workers doing the runtime work a gateway cannot skip.
# Needs the build (`make build`); tuned like bench/edge.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/require.sh
exec node bench/floor.mjs
