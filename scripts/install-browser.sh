#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (Playwright's own browser
# download cannot work offline). Skipped when CHROMIUM_PATH or /usr/bin/chromium exists.
set -euo pipefail
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then exit 0; fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "==> installing Debian's chromium for the browser tests (a few minutes, once)"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
