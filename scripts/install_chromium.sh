#!/usr/bin/env bash
# Install headless Chromium and its WebDriver from the Debian packages (chromium, chromium-driver),
# for the end-to-end test of the Superset dashboard (tests/bi/, `make test-bi`).
# Needs root (or sudo). Idempotent: does nothing when both are present.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium and chromedriver already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
started=$(date +%s)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
echo "installed chromium and chromium-driver in $(( $(date +%s) - started )) s"
chromium --version
