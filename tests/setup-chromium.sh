#!/usr/bin/env bash
# Installs Debian's Chromium for the report's browser test, only if it is missing (idempotent).
# Needs root (as on the project's machines and CI); without it, says so and leaves the test to skip.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-chromium: not root or no apt-get; the headless-browser report test will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
