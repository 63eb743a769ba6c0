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

# Celery workers started in the background, each leading its own process group.
WORKER_PIDS=()
WORKER_PID_DIR=${MUSICSITE_VAR_DIR:-var}/run
WORKER_LOG_DIR=${MUSICSITE_VAR_DIR:-var}/log

# Kill workers that a previous start, killed without cleaning up, left behind.
kill_stale_workers() {
  local pidfile pid
  mkdir -p "$WORKER_PID_DIR" "$WORKER_LOG_DIR"
  for pidfile in "$WORKER_PID_DIR"/celery-*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if grep -qa celery "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    rm -f "$pidfile"
  done
}

# start_worker NAME QUEUE CONCURRENCY [EXTRA ARGS...]: `celery worker -Q QUEUE -c CONCURRENCY
# -n NAME@%h EXTRA...`, logging to $WORKER_LOG_DIR/celery-NAME.log.
start_worker() {
  setsid .venv/bin/celery -A musicsite worker -Q "$2" -c "$3" -n "$1@%h" -l info "${@:4}" \
    >>"$WORKER_LOG_DIR/celery-$1.log" 2>&1 </dev/null &
  WORKER_PIDS+=("$!")
  echo "$!" >"$WORKER_PID_DIR/celery-$1.pid"
  echo "Celery worker $1@$(hostname) (queue $2, concurrency $3): log $WORKER_LOG_DIR/celery-$1.log"
}

# Warm shutdown (SIGTERM: running tasks finish) for up to 10 s, then SIGKILL the groups.
stop_workers() {
  trap - EXIT INT TERM
  [ ${#WORKER_PIDS[@]} -gt 0 ] || return 0
  echo "Stopping the Celery workers..."
  kill -TERM "${WORKER_PIDS[@]}" 2>/dev/null || true
  local _ pid alive
  for _ in $(seq 100); do
    alive=0
    for pid in "${WORKER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  kill -KILL -- "${WORKER_PIDS[@]/#/-}" 2>/dev/null || true
  rm -f "$WORKER_PID_DIR"/celery-*.pid
}

# Stop the workers whenever the calling script ends.
stop_workers_on_exit() {
  trap stop_workers EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
