#!/usr/bin/env bash
# Installs Debian's `chromium` where it is missing, for the market console's browser tests
# (playwright-core drives it; no browser is downloaded by Playwright). Prints the browser's path.
set -euo pipefail
if [ -n "${SURPLUS_CHROMIUM:-}" ] && [ -x "$SURPLUS_CHROMIUM" ]; then
  echo "$SURPLUS_CHROMIUM"; exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium from the Debian archive…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium >&2
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium from the Debian archive (sudo)…" >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "chromium is missing: install your distribution's chromium, or set SURPLUS_CHROMIUM to a Chromium binary" >&2
    exit 1
  fi
fi
command -v chromium
