#!/usr/bin/env bash
# Start the development site (called by `make run`, after `make setup`).
#
# Migrates, runs `manage.py bootstrap` (staff login, default corpus, first quick run),
# collects static files when they changed, starts three Celery workers in the background
#   train@<host>:   queue `train`, concurrency 1 (training: one model at a time)
#   sample@<host>:  queue `sample`, one process per core (a visitor's generations)
#   default@<host>: queue `default`, concurrency 2 (imports, rendering, evaluation) + beat
# and the development server on 127.0.0.1:$PORT (8000) in the foreground. Stopping the
# server (Ctrl-C) stops the workers. Worker logs: var/log/celery-{train,sample,default}.log.
# Settings come from the environment and from ./.env when present (see .env.example);
# without any, the site uses SQLite and a filesystem broker under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
load_dotenv
PORT=${PORT:-8000}
PY=.venv/bin/python
VAR=${MUSICSITE_VAR_DIR:-var}
mkdir -p "$VAR/broker/processed" "$VAR/.stamps"
kill_stale_workers

$PY manage.py migrate --noinput -v 0
$PY manage.py bootstrap

static_root=${STATIC_ROOT:-staticfiles}
stamp="$VAR/.stamps/collectstatic"
if [ ! -d "$static_root" ] || [ ! -e "$stamp" ] ||
  [ -n "$(find static ./*/static .venv/.requirements.sha256 -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  $PY manage.py collectstatic --noinput -v 0
  touch "$stamp"
fi

stop_workers_on_exit
start_worker train train 1
start_worker sample sample "$(nproc)"
# -B: the default worker also runs the beat schedule (the stale-run sweep, every minute).
start_worker default default 2 -B -s "$VAR/celerybeat-schedule"

echo "Site: http://127.0.0.1:$PORT/  (staff login: see $VAR/dev-superuser.txt)"
$PY manage.py runserver "127.0.0.1:$PORT"
