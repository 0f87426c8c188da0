# Sourced by scripts/test: starts a throwaway PostgreSQL cluster for the test suite and stops it
# on exit. PostgreSQL refuses to run as root, so as root it runs as the unprivileged `postgres`
# user. Fails loudly if it cannot start; the tests never skip PostgreSQL silently.

pg_bin_dir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

ensure_postgres_installed() {
  if pg_bin_dir >/dev/null; then return 0; fi
  echo "scripts/test: PostgreSQL server binaries are missing; installing them from Debian" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test: installing PostgreSQL needs root (apt-get install postgresql)" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin_dir >/dev/null
}

as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

start_test_postgres() {
  ensure_postgres_installed || { echo "scripts/test: cannot install PostgreSQL" >&2; return 1; }
  PG_BIN=$(pg_bin_dir)
  PG_OS_USER=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    PG_OS_USER=postgres
    id -u "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_OS_USER"
  fi
  PG_DIR=$(mktemp -d /tmp/jifen-test-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER" "$PG_DIR"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg_user "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; echo "scripts/test: initdb failed" >&2; return 1; }
  as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; echo "scripts/test: PostgreSQL did not start" >&2; return 1; }
  export JIFEN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "scripts/test: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PG_PORT ($PG_DIR)"
}

stop_test_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
