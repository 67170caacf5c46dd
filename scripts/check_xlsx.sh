#!/usr/bin/env bash
# Open the latest published ШНОР list (XLSX) in LibreOffice headless, convert it to PDF and print
# its text, to check by eye what a printed list looks like. Usage: scripts/check_xlsx.sh [FILE.xlsx]
set -euo pipefail
home="${EDUQ_HOME:-$(pwd)/.eduq}"
xlsx="${1:-$(ls -1t "$home"/publications/*/v*/*.xlsx 2>/dev/null | head -n 1 || true)}"
if [ -z "$xlsx" ] || [ ! -f "$xlsx" ]; then
    echo "No published XLSX under $home/publications: run \`make demo\` first (or pass a file)." >&2
    exit 1
fi
if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
    echo "LibreOffice (soffice) or pdftotext is missing: run \`make setup-libreoffice\`." >&2
    exit 1
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
soffice "-env:UserInstallation=file://$out/profile" --headless --convert-to pdf --outdir "$out" "$xlsx" >/dev/null
pdf="$out/$(basename "${xlsx%.xlsx}").pdf"
pages=$(pdftotext -layout "$pdf" - | tr -cd '\f' | wc -c)
pdftotext -layout "$pdf" -
echo "---- $xlsx -> PDF: $(( pages > 0 ? pages : 1 )) page(s)" >&2
