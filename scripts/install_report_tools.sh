#!/usr/bin/env bash
# Install what the report's end-to-end tests and the PDF need, from the Debian packages:
#   chromium        headless browser: opens the HTML report, takes a screenshot (make test-report)
#   poppler-utils   pdftotext / pdftoppm: the PDF's text, page 1 as a picture for docs/
#   fonts-dejavu-core  DejaVu Sans (Cyrillic), the font the report, the cards and the charts use;
#                   WeasyPrint embeds it in the PDF
# WeasyPrint itself comes from PyPI (pyproject.toml) and uses the machine's Pango and HarfBuzz
# (libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz0b), installed here too when missing.
#   libharfbuzz-subset0  HarfBuzz's font subsetter: WeasyPrint embeds in every PDF the glyphs it
#                   uses, with HarfBuzz when this library is there, else with fontTools in Python
#                   (every school card's PDF subsets DejaVu Sans twice: the demo region's 331 cards
#                   took 44 s with it and 81-123 s without it; docs/report.md)
# Needs root (or sudo). Idempotent: does nothing when everything is present.
set -euo pipefail

packages=(chromium poppler-utils fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b
    libharfbuzz-subset0)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "report tools already installed (${packages[*]})"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
started=$(date +%s)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed ${missing[*]} in $(( $(date +%s) - started )) s"
