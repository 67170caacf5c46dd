#!/usr/bin/env bash
# The project's own PostgreSQL cluster, where BI tools read the marts (publishing/postgres.py).
# It lives under $EDUQ_HOME/postgres and listens on 127.0.0.1 only (no Unix socket).
#
#   scripts/postgres.sh start    install PostgreSQL from the Debian packages if missing, initialise
#                                the cluster on first use, start it on port EDUQ_PG_PORT (default
#                                5433), create the database eduq and the roles: eduq (owner, loads
#                                the marts) and EDUQ_PG_BI_ROLE (default eduq_bi, read-only)
#   scripts/postgres.sh stop     stop it (fast shutdown: running queries are cancelled)
#   scripts/postgres.sh status   say whether it runs, and how to connect
#
# $EDUQ_HOME/postgres/
#   data/          the cluster (PGDATA)
#   postgres.log   the server log
#   credentials    generated passwords of both roles (mode 600; read by eduq and `make bi`)
#
# PostgreSQL refuses to run as root: started by root, the server runs as the system user
# `postgres` (created by the Debian package), which must be able to reach $EDUQ_HOME.
set -euo pipefail

cd "$(dirname "$0")/.."
EDUQ_HOME="${EDUQ_HOME:-$(pwd)/.eduq}"
PORT="${EDUQ_PG_PORT:-5433}"
BI_ROLE="${EDUQ_PG_BI_ROLE:-eduq_bi}"
PG_HOME="$EDUQ_HOME/postgres"
DATA="$PG_HOME/data"
LOG="$PG_HOME/postgres.log"
CREDENTIALS="$PG_HOME/credentials"
OWNER=eduq
DATABASE=eduq

die() { echo "postgres: $*" >&2; exit 1; }

find_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
    fi
}

install_postgres() {
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "PostgreSQL is not installed: installing it from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    # no system-wide cluster: eduq runs its own under $EDUQ_HOME
    $sudo mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $sudo tee -a /etc/postgresql-common/createcluster.conf >/dev/null
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
}

BIN=$(find_bindir)
as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -n "$BIN" ] && [ -f "$DATA/PG_VERSION" ] && as_server_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

new_password() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 32; }

owner_psql() {
    PGPASSWORD="$OWNER_PASSWORD" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$OWNER" "$@"
}

init_cluster() {
    mkdir -p "$PG_HOME"
    chmod 755 "$PG_HOME"
    if [ ! -f "$CREDENTIALS" ]; then
        umask 077
        {
            echo "OWNER_USER=$OWNER"
            echo "OWNER_PASSWORD=$(new_password)"
            echo "BI_USER=$BI_ROLE"
            echo "BI_PASSWORD=$(new_password)"
            echo "DATABASE=$DATABASE"
        } >"$CREDENTIALS.tmp"
        mv "$CREDENTIALS.tmp" "$CREDENTIALS"
        umask 022
    fi
    # shellcheck disable=SC1090
    source "$CREDENTIALS"
    mkdir -p "$DATA"
    chmod 700 "$DATA"
    local pwfile
    pwfile=$(mktemp "$PG_HOME/.pw.XXXXXX")
    printf '%s\n' "$OWNER_PASSWORD" >"$pwfile"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$DATA" "$pwfile"
        touch "$LOG" && chown postgres "$LOG"
        runuser -u postgres -- test -x "$PG_HOME" -a -w "$DATA" ||
            { rm -f "$pwfile"; die "the system user postgres (the server runs as it when started by root) cannot reach $DATA: make every folder on that path traversable (chmod o+x) or set EDUQ_HOME to a folder it can reach"; }
    fi
    echo "initialising the PostgreSQL cluster in $DATA"
    # ICU collation ru-RU: Russian names sort as a Russian reader expects (ё after е)
    if ! as_server_user "$BIN/initdb" -D "$DATA" -U "$OWNER" --pwfile="$pwfile" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 --locale-provider=icu --icu-locale=ru-RU >"$PG_HOME/initdb.log" 2>&1; then
        rm -f "$pwfile"
        cat "$PG_HOME/initdb.log" >&2
        die "initdb failed (log above)"
    fi
    rm -f "$pwfile"
    cat >>"$DATA/postgresql.conf" <<CONF

# eduq: loopback only, no Unix socket; the marts are reloaded whole, so no WAL archiving or replicas
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = minimal
max_wal_senders = 0
max_connections = 40
timezone = 'UTC'
CONF
    # only password logins over loopback TCP
    cat >"$DATA/pg_hba.conf" <<HBA
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
HBA
}

start() {
    if [ -z "$BIN" ]; then
        install_postgres
        BIN=$(find_bindir)
        [ -n "$BIN" ] || die "PostgreSQL was installed but its programs (initdb, pg_ctl) were not found"
    fi
    [ -f "$DATA/PG_VERSION" ] || init_cluster
    # shellcheck disable=SC1090
    source "$CREDENTIALS"
    if running; then
        echo "PostgreSQL already runs: $DATA"
    else
        if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; then
            die "another server already listens on 127.0.0.1:$PORT: set EDUQ_PG_PORT to a free port"
        fi
        [ "$(id -u)" -eq 0 ] && touch "$LOG" && chown postgres "$LOG"
        if ! as_server_user "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $PORT" -w -t 60 start >/dev/null; then
            tail -n 20 "$LOG" >&2 || true
            die "the server did not start (its log above: $LOG)"
        fi
    fi
    ensure_database
    echo "PostgreSQL on 127.0.0.1:$PORT, database $DATABASE; read-only role $BI_USER (password in $CREDENTIALS)"
}

ensure_database() {
    if [ "$(owner_psql -d postgres -tAc "select 1 from pg_database where datname = '$DATABASE'")" != "1" ]; then
        owner_psql -d postgres -c "create database $DATABASE"
    fi
    # nobody but the owner reaches the maintenance databases
    owner_psql -d postgres -c "revoke connect, temporary on database postgres from public" \
        -c "revoke connect, temporary on database template1 from public"
    owner_psql -d "$DATABASE" -v db="$DATABASE" -v bi_role="$BI_USER" -v bi_password="$BI_PASSWORD" \
        -f scripts/postgres_roles.sql
}

stop() {
    if running; then
        as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
        echo "PostgreSQL stopped ($DATA)"
    else
        echo "PostgreSQL is not running ($DATA)"
    fi
}

status() {
    if running; then
        # shellcheck disable=SC1090
        source "$CREDENTIALS"
        echo "PostgreSQL runs on 127.0.0.1:$PORT ($DATA); read-only login: $BI_USER, password in $CREDENTIALS"
    else
        echo "PostgreSQL is not running ($DATA): make postgres"
        return 3
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: scripts/postgres.sh start|stop|status" ;;
esac
