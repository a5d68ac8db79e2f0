#!/usr/bin/env bash
# `make dev`: the demo origin on :8788 and Keygate (wrangler dev, local KV and
# Durable Objects persisted under .wrangler/) on :8787. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f .dev.vars ]; then
  random() { node -e "console.log(require('crypto').randomBytes($1).toString('$2'))"; }
  cat > .dev.vars <<VARS
ADMIN_TOKEN=$(random 24 hex)
KEY_PEPPER=$(random 32 hex)
ORIGIN_SECRET=$(random 32 hex)
SIGNING_SECRET_KEY=$(random 32 base64)
VARS
  chmod 600 .dev.vars
  echo "==> wrote .dev.vars with fresh local secrets"
fi
ADMIN_TOKEN=$(grep '^ADMIN_TOKEN=' .dev.vars | cut -d= -f2-)
ORIGIN_SECRET=$(grep '^ORIGIN_SECRET=' .dev.vars | cut -d= -f2-)

ORIGIN_SECRET="$ORIGIN_SECRET" PORT=8788 node demo/origin.mjs &
ORIGIN_PID=$!
trap 'kill $ORIGIN_PID 2>/dev/null || true' EXIT INT TERM

cat <<INFO

  Keygate     http://localhost:8787   (admin API under /_keygate, console at /_keygate/console)
  Demo origin http://127.0.0.1:8788
  Admin token $ADMIN_TOKEN   (in .dev.vars)

  Create your first key:
    curl -s -X POST localhost:8787/_keygate/v1/keys \\
      -H 'Authorization: Bearer $ADMIN_TOKEN' -H 'Content-Type: application/json' \\
      -d '{"owner": "acme", "name": "first key"}'

INFO

WRANGLER_SEND_METRICS=false wrangler dev --local --port 8787 --ip 127.0.0.1 \
  --persist-to .wrangler/state --var REQUIRE_HTTPS:false --var ORIGIN_URL:http://127.0.0.1:8788
