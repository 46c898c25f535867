#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL 15 and Chroma server on 127.0.0.1, then stop both (whatever happens).
#   .ci/services.sh CMD ARGS...     e.g.  .ci/services.sh .venv/bin/pytest --backend=postgres
# Installs PostgreSQL from the distribution's packages when it is missing (CI is a fresh machine). The command sees
#   KAM_TEST_DATABASE_URL  an admin URL (user `kam`, may create databases) of the server
#   KAM_TEST_CHROMA_HOST / KAM_TEST_CHROMA_PORT  the Chroma server (`chroma run` from the project's venv)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PG_USER_OS=postgres  # PostgreSQL refuses to run as root: its server runs as this unprivileged account
PG_PASSWORD="kam-test-$$"

find_pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

PG_BIN="$(find_pg_bin)"
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
    echo "services: installing PostgreSQL from the distribution's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    # the package may start its default cluster: ours is separate, so leave nothing of the package's running
    if command -v pg_lsclusters >/dev/null; then
        pg_lsclusters -h | while read -r version cluster _; do pg_ctlcluster "$version" "$cluster" stop || true; done
    fi
    PG_BIN="$(find_pg_bin)"
fi

free_port() {
    "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

WORK="$(mktemp -d /tmp/kam-services.XXXXXX)"
chmod 755 "$WORK"
PG_PORT="$(free_port)"
CHROMA_PORT="$(free_port)"
CHROMA_PID=""

as_pg() {  # run a PostgreSQL binary as the unprivileged account when we are root
    if [[ "$(id -u)" == 0 ]]; then
        id "$PG_USER_OS" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER_OS"
        runuser -u "$PG_USER_OS" -- "$@"
    else
        "$@"
    fi
}

stop_services() {
    set +e
    [[ -n "$CHROMA_PID" ]] && kill "$CHROMA_PID" 2>/dev/null && wait "$CHROMA_PID" 2>/dev/null
    [[ -f "$WORK/pg/postmaster.pid" ]] && as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap stop_services EXIT INT TERM

mkdir -p "$WORK/pg" "$WORK/chroma"
[[ "$(id -u)" == 0 ]] && { id "$PG_USER_OS" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER_OS"; \
    chown "$PG_USER_OS" "$WORK/pg"; }
echo "$PG_PASSWORD" >"$WORK/pwfile"
chmod 644 "$WORK/pwfile"
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U kam --pwfile="$WORK/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
    >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; exit 1; }
rm -f "$WORK/pwfile"
# Tests create and drop a database each: no fsync (a throw-away cluster), sockets only in the temp dir.
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $PG_PORT -k $WORK/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=300" >/dev/null || { cat "$WORK/pg/server.log" >&2; exit 1; }

# The Chroma server from the project's own dependencies. It runs as the invoking user: the venv's interpreter may
# live where the PostgreSQL account cannot read; it listens on 127.0.0.1 only.
"$VENV/bin/chroma" run --host 127.0.0.1 --port "$CHROMA_PORT" --path "$WORK/chroma" >"$WORK/chroma.log" 2>&1 &
CHROMA_PID=$!
for _ in $(seq 1 120); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat', timeout=1)" 2>/dev/null; then
        break
    fi
    kill -0 "$CHROMA_PID" 2>/dev/null || { cat "$WORK/chroma.log" >&2; exit 1; }
    sleep 0.5
done

export KAM_TEST_DATABASE_URL="postgresql+psycopg://kam:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
export KAM_TEST_CHROMA_HOST=127.0.0.1 KAM_TEST_CHROMA_PORT="$CHROMA_PORT"
echo "services: PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') on 127.0.0.1:$PG_PORT, Chroma on 127.0.0.1:$CHROMA_PORT" >&2
"$@"
