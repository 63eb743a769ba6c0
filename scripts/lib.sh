# Shared by scripts/run.sh and scripts/prod.sh (sourced, not run).

# Export the variables of ./.env when it exists (see .env.example).
load_dotenv() {
  if [ -f .env ]; then
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
  fi
}

# --- the embedded Redis of `make run` -------------------------------------------------------
# When CELERY_BROKER_URL is not set, `make run` starts its own Redis on 127.0.0.1 with its data
# under $VAR/redis (append-only file, so queued work survives a restart of `make run`) and
# stops it on exit. Port: EMBEDDED_REDIS_PORT (63790; the next free one when something else
# holds it). The processes it starts get CELERY_BROKER_URL (database 0) and CACHE_URL
# (database 1, the shared cache).
EMBEDDED_REDIS_DIR=${MUSICSITE_VAR_DIR:-var}/redis
EMBEDDED_REDIS_STARTED=0

_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
_redis_ours() {  # port: our redis-server answers there (its pid file names a live process)
  [ -f "$EMBEDDED_REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$EMBEDDED_REDIS_DIR/redis.pid")" 2>/dev/null &&
    redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1
}

start_embedded_redis() {
  local port=${EMBEDDED_REDIS_PORT:-63790}
  mkdir -p "$EMBEDDED_REDIS_DIR"
  [ -f "$EMBEDDED_REDIS_DIR/port" ] && port=$(cat "$EMBEDDED_REDIS_DIR/port")
  if ! _redis_ours "$port"; then
    port=${EMBEDDED_REDIS_PORT:-63790}
    while _listening "$port"; do port=$((port + 1)); done
    redis-server --bind 127.0.0.1 --port "$port" --dir "$(cd "$EMBEDDED_REDIS_DIR" && pwd)" \
      --appendonly yes --appendfsync everysec --save '' --daemonize yes \
      --pidfile "$(cd "$EMBEDDED_REDIS_DIR" && pwd)/redis.pid" --logfile redis.log
    local _
    for _ in $(seq 100); do
      _redis_ours "$port" && break
      sleep 0.1
    done
    _redis_ours "$port" || { echo "run: Redis did not start; see $EMBEDDED_REDIS_DIR/redis.log" >&2; return 1; }
    EMBEDDED_REDIS_STARTED=1
  fi
  echo "$port" >"$EMBEDDED_REDIS_DIR/port"
  export CELERY_BROKER_URL="redis://127.0.0.1:$port/0"
  export CACHE_URL=${CACHE_URL:-redis://127.0.0.1:$port/1}
  echo "Redis (broker and cache) on 127.0.0.1:$port: data and log in $EMBEDDED_REDIS_DIR"
}

stop_embedded_redis() {
  [ -f "$EMBEDDED_REDIS_DIR/port" ] || return 0
  redis-cli -h 127.0.0.1 -p "$(cat "$EMBEDDED_REDIS_DIR/port")" shutdown >/dev/null 2>&1 || true
}
