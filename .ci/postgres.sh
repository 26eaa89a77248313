#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: initdb in a temporary directory (as the
# `postgres` system user when run as root: PostgreSQL refuses to run as root), a free port
# on 127.0.0.1, its unix socket in the same directory, a database `patmatch` owned by a
# password-protected, non-superuser application role `patmatch`.
#
#   source .ci/postgres.sh   exports PATMATCH_TEST_DATABASE_URL; the cluster is stopped and
#                            its directory removed when the sourcing shell exits. Sourcing
#                            again in the same shell reuses the running cluster.
#   bash .ci/postgres.sh     starts one, prints `PATMATCH_TEST_DATABASE_URL=...` and waits
#                            until stdin closes (Enter, Ctrl-D, Ctrl-C), then cleans up
#                            (tests/pg_cluster.py runs it this way when the variable is unset).
# An externally provided PATMATCH_TEST_DATABASE_URL (no PATMATCH_PG_DIR) is left alone.

_pm_pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $d && -x $d/initdb ]] || d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  [[ -x $d/initdb ]] || return 1
  echo "$d"
}

_pm_pg_as_owner() {  # run a PostgreSQL binary as the cluster's owner
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_pm_pg_stop() {
  [[ -n ${PATMATCH_PG_DIR:-} && -d $PATMATCH_PG_DIR ]] || return 0
  _pm_pg_as_owner "$PATMATCH_PG_BIN/pg_ctl" stop -D "$PATMATCH_PG_DIR/data" -m immediate -s \
    >/dev/null 2>&1 || true
  rm -rf "$PATMATCH_PG_DIR"
  unset PATMATCH_PG_DIR PATMATCH_TEST_DATABASE_URL
}

_pm_pg_start() {
  if [[ -n ${PATMATCH_PG_DIR:-} && -d ${PATMATCH_PG_DIR:-/nonexistent}/data ]] &&
     _pm_pg_as_owner "$PATMATCH_PG_BIN/pg_ctl" status -D "$PATMATCH_PG_DIR/data" >/dev/null 2>&1; then
    return 0  # sourced again: ours is still running
  fi
  if [[ -n ${PATMATCH_TEST_DATABASE_URL:-} && -z ${PATMATCH_PG_DIR:-} ]]; then
    return 0  # a server provided from outside
  fi
  local bin dir port pw log
  bin=$(_pm_pg_bindir) || {
    echo "postgres.sh: PostgreSQL binaries not found (.ci/system-packages.sh installs them)" >&2
    return 1
  }
  if [[ $(id -u) == 0 ]] && ! id -u postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/patmatch-pg.XXXXXX")
  chmod 700 "$dir"
  [[ $(id -u) == 0 ]] && chown postgres "$dir"
  export PATMATCH_PG_DIR=$dir PATMATCH_PG_BIN=$bin
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pw=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  log=$dir/server.log
  _pm_pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; _pm_pg_stop; return 1; }
  # throw-away: durability off makes the suite fast; nothing here must survive a crash
  _pm_pg_as_owner "$bin/pg_ctl" start -D "$dir/data" -l "$log" -w -t 60 -s -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null || { cat "$log" >&2; _pm_pg_stop; return 1; }
  _pm_pg_as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE patmatch LOGIN PASSWORD '$pw'" \
    -c "CREATE DATABASE patmatch OWNER patmatch" >/dev/null || { _pm_pg_stop; return 1; }
  export PATMATCH_TEST_DATABASE_URL="postgresql+psycopg://patmatch:$pw@127.0.0.1:$port/patmatch"
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  # sourced: start (or reuse) and stop when the sourcing shell exits, after its own trap
  _pm_pg_had_cluster=${PATMATCH_PG_DIR:-}
  _pm_pg_start || return 1
  if [[ -z $_pm_pg_had_cluster && -n ${PATMATCH_PG_DIR:-} ]]; then
    _pm_prev_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    # shellcheck disable=SC2064
    trap "${_pm_prev_trap:+$_pm_prev_trap;} _pm_pg_stop" EXIT
  fi
  unset _pm_pg_had_cluster _pm_prev_trap
else
  set -euo pipefail
  unset PATMATCH_PG_DIR PATMATCH_TEST_DATABASE_URL
  trap _pm_pg_stop EXIT
  trap 'exit 130' INT TERM HUP
  _pm_pg_start
  echo "PATMATCH_TEST_DATABASE_URL=$PATMATCH_TEST_DATABASE_URL"
  read -r _ || true
fi
