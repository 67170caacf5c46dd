#!/usr/bin/env bash
# A small virtual environment with DuckDB 1.x from PyPI (.venv-duckdb1), the version most BI tools
# embed: the test that a DuckDB 1.x process opens the serving warehouse runs its reader there
# (tests/integration/test_serving_export.py). `make setup` makes it; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${EDUQ_DUCKDB1_VENV:-.venv-duckdb1}"
# the oldest DuckDB that reads storage version v1.4.0: what a reader of the serving file needs at least
SPEC="duckdb>=1.4,<1.5"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import duckdb, sys; sys.exit(not duckdb.__version__.startswith('1.4'))" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$SPEC" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import duckdb; print('DuckDB', duckdb.__version__, 'in $VENV')"
