#!/usr/bin/env bash
# Apache Superset for the marts, in its own virtual environment (.venv-superset: Superset pins
# sqlalchemy<2, pandas<2.2 and duckdb<2, which clash with the pipeline's), on 127.0.0.1 only.
#
#   scripts/superset.sh install   create .venv-superset with Superset 6.1 from PyPI (once, ~1 min)
#   scripts/superset.sh init      metadata database under $EDUQ_HOME/superset, the admin user, the
#                                 PostgreSQL marts (read-only login of the project's cluster or
#                                 EDUQ_SUPERSET_PG_URL), the serving DuckDB file where Superset's
#                                 DuckDB can read it, and the datasets, charts and dashboard of
#                                 bi/superset/assets/ (idempotent)
#   scripts/superset.sh serve     start it in the background on 127.0.0.1:EDUQ_SUPERSET_PORT (8088)
#   scripts/superset.sh stop      stop it
#   scripts/superset.sh status
#
# $EDUQ_HOME/superset/: superset.db (metadata), secret_key, admin_password (login `admin`),
# superset.log, superset.pid.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
EDUQ_HOME="${EDUQ_HOME:-$ROOT/.eduq}"
VENV="${EDUQ_SUPERSET_VENV:-$ROOT/.venv-superset}"
HOME_DIR="$EDUQ_HOME/superset"
PORT="${EDUQ_SUPERSET_PORT:-8088}"
PG_PORT="${EDUQ_PG_PORT:-5433}"
PIDFILE="$HOME_DIR/superset.pid"
LOG="$HOME_DIR/superset.log"
# versions that install together (stack-notes.md); Superset's own pins do the rest
PACKAGES=(
    "apache-superset==6.1.0"
    "rich==15.0.0"
    "cachetools==8.0.2"
    "flask-caching==2.3.1"
    "psycopg2-binary==2.9.13"
    "duckdb==1.5.6"
    "duckdb-engine==0.17.0"
)

export SUPERSET_CONFIG_PATH="$ROOT/bi/superset/superset_config.py"
export EDUQ_SUPERSET_HOME="$HOME_DIR"
export FLASK_APP=superset
export SUPERSET_LOAD_EXAMPLES=no
export SCARF_ANALYTICS=false
export DO_NOT_TRACK=1

die() { echo "superset: $*" >&2; exit 1; }

install() {
    local version
    version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-superset"))' 2>/dev/null || true)
    if [ -x "$VENV/bin/superset" ] && [ "$version" = "6.1.0" ]; then
        echo "Superset 6.1.0 already installed in $VENV"
        return
    fi
    started=$(date +%s)
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/pip" show apache-superset >/dev/null 2>&1 || die "the installation of Superset failed"
    echo "Superset installed in $VENV in $(( $(date +%s) - started )) s"
}

reader_url() {
    if [ -n "${EDUQ_SUPERSET_PG_URL:-}" ]; then
        echo "$EDUQ_SUPERSET_PG_URL"
        return
    fi
    local creds="$EDUQ_HOME/postgres/credentials"
    [ -f "$creds" ] || die "no PostgreSQL marts: start the project's cluster (make postgres) or set EDUQ_SUPERSET_PG_URL to a read-only login"
    # shellcheck disable=SC1090
    source "$creds"
    echo "postgresql://$BI_USER:$BI_PASSWORD@127.0.0.1:$PG_PORT/$DATABASE"
}

init() {
    [ -x "$VENV/bin/superset" ] || install
    mkdir -p "$HOME_DIR"
    chmod 700 "$HOME_DIR"
    umask 077
    [ -s "$HOME_DIR/secret_key" ] || head -c 48 /dev/urandom | base64 | tr -d '\n' >"$HOME_DIR/secret_key"
    [ -s "$HOME_DIR/admin_password" ] || head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$HOME_DIR/admin_password"
    umask 022
    local url
    url=$(reader_url)
    started=$(date +%s)
    "$VENV/bin/superset" db upgrade >"$HOME_DIR/init.log" 2>&1 || { tail -n 20 "$HOME_DIR/init.log" >&2; die "superset db upgrade failed"; }
    "$VENV/bin/superset" init >>"$HOME_DIR/init.log" 2>&1 || { tail -n 20 "$HOME_DIR/init.log" >&2; die "superset init failed"; }
    "$VENV/bin/python" bi/superset/setup_superset.py --assets bi/superset/assets --pg-url "$url" \
        --admin-password-file "$HOME_DIR/admin_password" \
        --duckdb "${EDUQ_WAREHOUSE_DIR:-$EDUQ_HOME/warehouse}/serving.duckdb" 2>>"$HOME_DIR/init.log" ||
        { tail -n 30 "$HOME_DIR/init.log" >&2; die "importing the dashboard failed"; }
    echo "Superset initialised in $HOME_DIR in $(( $(date +%s) - started )) s; login admin, password in $HOME_DIR/admin_password"
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

serve() {
    [ -f "$HOME_DIR/superset.db" ] || die "Superset is not initialised: make bi"
    if running; then
        echo "Superset already runs on http://127.0.0.1:$PORT/ (pid $(cat "$PIDFILE"))"
        return
    fi
    # its own session, so that `stop` ends the server and its workers together
    setsid "$VENV/bin/gunicorn" --bind "127.0.0.1:$PORT" --workers 2 --threads 4 --timeout 120 \
        --limit-request-line 0 --limit-request-field_size 0 --pid "$PIDFILE" \
        "superset.app:create_app()" >"$LOG" 2>&1 </dev/null &
    local waited=0
    until curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do
        sleep 1
        waited=$((waited + 1))
        if [ "$waited" -ge 120 ] || ! kill -0 $! 2>/dev/null; then
            tail -n 30 "$LOG" >&2
            die "Superset did not start (log above: $LOG)"
        fi
    done
    echo "Superset on http://127.0.0.1:$PORT/ (login admin, password in $HOME_DIR/admin_password); dashboard: http://127.0.0.1:$PORT/superset/dashboard/eduq-rcoko/"
}

stop() {
    if running; then
        local pid
        pid=$(cat "$PIDFILE")
        kill -TERM "$pid"
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        rm -f "$PIDFILE"
        echo "Superset stopped"
    else
        echo "Superset is not running"
    fi
}

status() {
    if running; then
        echo "Superset runs on http://127.0.0.1:$PORT/ (pid $(cat "$PIDFILE"))"
    else
        echo "Superset is not running: make bi-serve"
        return 3
    fi
}

case "${1:-}" in
install) install ;;
init) init ;;
serve) serve ;;
stop) stop ;;
status) status ;;
*) die "usage: scripts/superset.sh install|init|serve|stop|status" ;;
esac
