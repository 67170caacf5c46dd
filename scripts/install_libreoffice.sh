#!/usr/bin/env bash
# Install LibreOffice Calc (headless XLSX -> PDF conversion) and poppler-utils (pdftotext)
# from the Debian packages. Used by the publication check that the published XLSX opens in
# LibreOffice (tests/integration/test_publication_libreoffice.py, `make check-xlsx`).
# Needs root (or sudo). Idempotent: does nothing when soffice and pdftotext are present.
set -euo pipefail

if command -v soffice >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then
    echo "soffice and pdftotext already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
started=$(date +%s)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends libreoffice-calc poppler-utils >/dev/null
echo "installed libreoffice-calc and poppler-utils in $(( $(date +%s) - started )) s"
soffice --version
