#!/usr/bin/env bash
# Start the development site (called by `make run`, after `make setup`).
#
# Starts a local Redis under var/redis (the Celery broker and the shared cache) unless
# CELERY_BROKER_URL is set, migrates, runs `manage.py bootstrap` (staff login, default corpus,
# first quick run), collects static files when they changed, starts scripts/supervise.py,
# which runs and restarts when they die:
#   train@<host>:   queue `train`, concurrency 1 (training: one model at a time)
#   sample@<host>:  queue `sample`, one process per core (a visitor's generations)
#   default@<host>: queue `default`, concurrency 2 (imports, rendering, evaluation)
#   beat:           the recovery sweeps, every RECOVER_EVERY_S (60 s)
# and the development server on 127.0.0.1:$PORT (8000) in the foreground. Stopping the
# server (Ctrl-C) stops the workers, the beat and the Redis it started.
# Logs: var/log/celery-{train,sample,default,beat}.log, var/log/supervisor.log (starts,
# deaths and restarts), var/redis/redis.log.
# Settings come from the environment and from ./.env when present (see .env.example);
# without any, the site uses SQLite and the Redis started here: nothing to set up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
load_dotenv
PORT=${PORT:-8000}
PY=.venv/bin/python
VAR=${MUSICSITE_VAR_DIR:-var}
mkdir -p "$VAR/.stamps" "$VAR/log" "$VAR/run"

SUPERVISOR_PID=
EMBEDDED=0
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$SUPERVISOR_PID" ] && kill -0 "$SUPERVISOR_PID" 2>/dev/null; then
    kill -TERM "$SUPERVISOR_PID" 2>/dev/null || true
    wait "$SUPERVISOR_PID" 2>/dev/null || true
  fi
  if [ "$EMBEDDED" = 1 ]; then stop_embedded_redis; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${CELERY_BROKER_URL:-}" ]; then
  start_embedded_redis
  EMBEDDED=1
fi

$PY manage.py migrate --noinput -v 0
$PY manage.py bootstrap

static_root=${STATIC_ROOT:-staticfiles}
stamp="$VAR/.stamps/collectstatic"
if [ ! -d "$static_root" ] || [ ! -e "$stamp" ] ||
  [ -n "$(find static ./*/static .venv/.requirements.sha256 -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  $PY manage.py collectstatic --noinput -v 0
  touch "$stamp"
fi

$PY scripts/supervise.py --var "$VAR" &
SUPERVISOR_PID=$!

echo "Site: http://127.0.0.1:$PORT/  (staff login: see $VAR/dev-superuser.txt)"
$PY manage.py runserver "127.0.0.1:$PORT"
