#!/usr/bin/env bash
# Page 1 of the latest published regional report as docs/report-page1.png (the picture in the
# README). Needs a published report (`make demo`) and pdftoppm (`make setup-report`).
set -euo pipefail
cd "$(dirname "$0")/.."
home="${EDUQ_HOME:-.eduq}"
pdf=$(ls -1 "$home"/publications/*/report/v*/report_*.pdf 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pdf" ]; then
    echo "No published report under $home/publications: run make demo first" >&2
    exit 1
fi
pdftoppm -png -r 60 -f 1 -l 1 -singlefile "$pdf" docs/report-page1
echo "docs/report-page1.png from $pdf"
