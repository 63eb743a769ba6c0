#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers for the tests (and for trying the site against them).
#
#   scripts/services.sh start    start all three (reuses them when already running); idempotent
#   scripts/services.sh stop     stop them (the PostgreSQL data directory is kept for a fast restart)
#   scripts/services.sh status   exit 0 when all three are running
#   scripts/services.sh env      print the `export DATABASE_URL=...` / `export CELERY_BROKER_URL=...`
#                                / `export CACHE_URL=...` / `export MUSICSITE_TEST_S3_URL=...` lines
#   scripts/services.sh clean    stop them and delete their state directory
#   scripts/services.sh dir      print the state directory
#
# All listen on 127.0.0.1 only. PostgreSQL: trust auth, fsync off, role and database
# `musicsite` (CREATEDB, so pytest-django can create `test_musicsite`). Redis: no persistence
# (database 0: the broker; 8: the cache). S3: moto's standalone server (`moto_server`, from
# the moto[server] package in requirements.txt), an S3-compatible HTTP API kept in memory;
# tests that store files in an object store make their own bucket there.
# Ports: MUSICSITE_PG_PORT (54329), MUSICSITE_REDIS_PORT (63799) and MUSICSITE_S3_PORT
# (59000); when one is taken by something else (listening, or bound by an outgoing
# connection) the next free port is used, and `env` prints the one in use.
# State (data, logs, pids, ports) lives in MUSICSITE_SERVICES_DIR, by default
# /tmp/musicsite-services-<hash of this checkout's path>, so two checkouts do not collide.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${MUSICSITE_SERVICES_DIR:-/tmp/musicsite-services-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)}
PGDATA_DIR=$STATE/pg
PORTS_FILE=$STATE/ports
PG_LOG=$STATE/pglog/postgres.log  # in a directory the postgres user may write
DB=musicsite

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PG_BIN/initdb" ] || { echo "services: no PostgreSQL binaries under /usr/lib/postgresql (run make setup)" >&2; exit 1; }

# PostgreSQL refuses to run as root: run its server tools as the `postgres` OS user then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {  # first port from $1 on that nothing listens on
  local p=$1
  while listening "$p"; do p=$((p + 1)); done
  echo "$p"
}
load_ports() {  # the ports of the last start (a fresh start picks them again)
  PG_PORT=${MUSICSITE_PG_PORT:-54329}
  REDIS_PORT=${MUSICSITE_REDIS_PORT:-63799}
  S3_PORT=${MUSICSITE_S3_PORT:-59000}
  # shellcheck disable=SC1090
  [ -f "$PORTS_FILE" ] && . "$PORTS_FILE"
  return 0
}
pid_alive() { [ -f "$1" ] && kill -0 "$(head -n 1 "$1")" 2>/dev/null; }
pg_running() { pid_alive "$PGDATA_DIR/postmaster.pid" && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
redis_running() { pid_alive "$STATE/redis.pid" && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; }
s3_running() { pid_alive "$STATE/s3.pid" && listening "$S3_PORT"; }
psql_pg() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

init_pg() {
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  rm -rf "$PGDATA_DIR" "${PG_LOG%/*}"
  mkdir -p "$PGDATA_DIR" "${PG_LOG%/*}"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGDATA_DIR" "${PG_LOG%/*}"; fi
  chmod 700 "$PGDATA_DIR"
  as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust --no-sync -E UTF8 --no-locale >"$STATE/initdb.log"
  cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDATA_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
}

# Ports in Linux's ephemeral range (32768-60999) can be taken by an outgoing connection's
# local end: nothing listens there, so free_port passes them, but a server cannot bind them.
# So each server is started on the next port when its start fails with the port in use
# (up to PORT_TRIES ports), the bind being the only check that cannot race.
PORT_TRIES=20
port_taken() {  # the last failure in log $1 was a port in use
  tail -n 30 "$1" 2>/dev/null | grep -q -i -e 'address already in use' -e 'could not bind' -e 'is in use by another program'
}
# on_free_port VAR BASE LOG START: run `START PORT` on the first port from BASE nothing
# listens on, and on the next one while LOG says the port was in use; VAR holds the port
# of the last try (the server functions read it).
on_free_port() {
  local var=$1 next=$2 log=$3 start=$4 port
  for _ in $(seq "$PORT_TRIES"); do
    port=$(free_port "$next")
    printf -v "$var" '%s' "$port"
    "$start" "$port" && return 0
    port_taken "$log" || return 1
    next=$((port + 1))
  done
  return 1
}

try_pg() { as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -o "-p $1" -w -t 60 start >/dev/null 2>&1; }

start_pg() {
  pg_running && return 0
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then init_pg; fi
  local base=${MUSICSITE_PG_PORT:-54329}
  if ! on_free_port PG_PORT "$base" "$PG_LOG" try_pg; then
    tail -n 20 "$PG_LOG" >&2 || true
    if port_taken "$PG_LOG"; then
      echo "services: PostgreSQL found no free port from $base" >&2
      return 1
    fi
    echo "services: PostgreSQL did not start; re-initialising its data directory" >&2
    init_pg
    on_free_port PG_PORT "$base" "$PG_LOG" try_pg || {
      echo "services: PostgreSQL did not start on port $PG_PORT" >&2
      return 1
    }
  fi
  if [ -z "$(psql_pg -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB'")" ]; then
    psql_pg -c "CREATE ROLE $DB LOGIN CREATEDB"
  fi
  if [ -z "$(psql_pg -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    psql_pg -c "CREATE DATABASE $DB OWNER $DB"
  fi
}

try_redis() {
  rm -f "$STATE/redis.pid"
  : >"$STATE/redis.log"
  redis-server --bind 127.0.0.1 --port "$1" --save '' --appendonly no \
    --daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" --dir "$STATE"
  for _ in $(seq 100); do
    redis_running && return 0
    # The daemon writes its pid file before it binds, so a dead pid means it gave up.
    if [ -f "$STATE/redis.pid" ] && ! pid_alive "$STATE/redis.pid"; then return 1; fi
    sleep 0.1
  done
  return 1
}

start_redis() {
  redis_running && return 0
  on_free_port REDIS_PORT "${MUSICSITE_REDIS_PORT:-63799}" "$STATE/redis.log" try_redis && return 0
  echo "services: Redis did not start on port $REDIS_PORT" >&2
  tail -n 20 "$STATE/redis.log" >&2 || true
  return 1
}

try_s3() {
  # Its own session, so it outlives this script; stdin closed, output to its log.
  setsid "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$1" </dev/null >"$STATE/s3.log" 2>&1 &
  echo $! >"$STATE/s3.pid"
  for _ in $(seq 300); do
    s3_running && return 0
    pid_alive "$STATE/s3.pid" || return 1
    sleep 0.1
  done
  return 1
}

start_s3() {
  s3_running && return 0
  [ -x "$ROOT/.venv/bin/moto_server" ] || { echo "services: no .venv/bin/moto_server (run make setup)" >&2; return 1; }
  on_free_port S3_PORT "${MUSICSITE_S3_PORT:-59000}" "$STATE/s3.log" try_s3 && return 0
  echo "services: the S3 server (moto_server) did not start on port $S3_PORT" >&2
  tail -n 20 "$STATE/s3.log" >&2 || true
  return 1
}

stop_all() {
  if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if pid_alive "$STATE/redis.pid"; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$STATE/redis.pid")" 2>/dev/null || true
  fi
  rm -f "$STATE/redis.pid"
  if pid_alive "$STATE/s3.pid"; then kill "$(cat "$STATE/s3.pid")" 2>/dev/null || true; fi
  rm -f "$STATE/s3.pid"
}

print_env() {
  echo "export DATABASE_URL=postgres://$DB@127.0.0.1:$PG_PORT/$DB"
  echo "export CELERY_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/0"
  echo "export CACHE_URL=redis://127.0.0.1:$REDIS_PORT/8"
  echo "export MUSICSITE_TEST_S3_URL=http://127.0.0.1:$S3_PORT"
}

mkdir -p "$STATE"
chmod 755 "$STATE"
load_ports
case "${1:-}" in
  start)
    start_pg
    start_redis
    start_s3
    printf 'PG_PORT=%s\nREDIS_PORT=%s\nS3_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" "$S3_PORT" >"$PORTS_FILE"
    echo "services: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT," \
      "S3 on 127.0.0.1:$S3_PORT (state in $STATE)" >&2
    ;;
  stop) stop_all ;;
  status) pg_running && redis_running && s3_running ;;
  env) print_env ;;
  dir) echo "$STATE" ;;
  clean)
    stop_all
    rm -rf "$STATE"
    ;;
  *)
    echo "usage: $0 start|stop|status|env|dir|clean" >&2
    exit 2
    ;;
esac
