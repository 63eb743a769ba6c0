#!/usr/bin/env bash
# Production profile (called by `make prod ROLE=...`, after `make setup`). See README.md.
#
#   ROLE=all      (default) one machine: every worker and the beat under scripts/supervise.py
#                 (restarted when one dies), and gunicorn
#   ROLE=web      gunicorn only: check --deploy, migrate (unless MIGRATE=0), collectstatic
#   ROLE=train    a Celery worker for the `train` queue, concurrency 1 (training; the GPU host)
#   ROLE=sample   a Celery worker for the `sample` queue, $SAMPLE_CONCURRENCY (one per core),
#                 BLAS on one thread per process (bench/sampler.py: a batch of 64 took 0.85 s
#                 so, 6.1 s with two threads per process fighting for the cores); on a
#                 sampling machine of its own, SAMPLE_THREADS=2 with SAMPLE_CONCURRENCY at
#                 half the cores gives each piece two cores (docs/operations.md)
#   ROLE=default  a Celery worker for the `default` queue, concurrency $CELERY_CONCURRENCY (2)
#   ROLE=beat     the Celery beat (the recovery sweeps): run exactly one in a deployment
#
# Every machine needs the same DATABASE_URL, CELERY_BROKER_URL, CACHE_URL, SECRET_KEY and,
# with more than one machine, the same object store (AWS_STORAGE_BUCKET_NAME and its
# AWS_S3_* variables): machines share no disk. Settings come from the environment and ./.env (see .env.example).
# gunicorn listens on $BIND (127.0.0.1:8000) with $WEB_CONCURRENCY (3) processes, behind a
# TLS-terminating reverse proxy that sets X-Forwarded-Proto.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
load_dotenv
ROLE=${1:-${ROLE:-all}}
export DEBUG=${DEBUG:-0}
PY=.venv/bin/python
# A fresh machine has no var folder yet (the beat keeps its schedule there).
mkdir -p "${MUSICSITE_VAR_DIR:-var}"

fail() { echo "prod: $*" >&2; exit 1; }
case "$DEBUG" in 0 | false | no | off) ;; *) fail "DEBUG must be off in production" ;; esac
[ -n "${SECRET_KEY:-}" ] || fail "SECRET_KEY is not set (see .env.example)"
[[ "${DATABASE_URL:-}" == postgres* ]] || fail "DATABASE_URL must point at PostgreSQL"
[[ "${CELERY_BROKER_URL:-}" == redis* ]] || fail "CELERY_BROKER_URL must point at Redis"
# The throttles count in this cache: one Redis for every machine, so they agree on one limit.
[[ "${CACHE_URL:-}" == redis* ]] || fail "CACHE_URL must point at Redis (e.g. redis://host:6379/1)"
if [ -z "${AWS_STORAGE_BUCKET_NAME:-}" ]; then
  echo "prod: files are kept in MEDIA_ROOT on this machine (set AWS_STORAGE_BUCKET_NAME to" \
    "keep them in an object store every machine shares)" >&2
fi

web() {
  $PY manage.py check --deploy --fail-level WARNING
  if [ "${MIGRATE:-1}" = 1 ]; then $PY manage.py migrate --noinput; fi
  $PY manage.py collectstatic --noinput -v 0
  echo "gunicorn on ${BIND:-127.0.0.1:8000}"
  # scripts/gunicorn.conf.py: the application is loaded and warmed once, before the workers
  # fork, so no worker's first visitor waits for its imports.
  .venv/bin/gunicorn musicsite.wsgi:application --config scripts/gunicorn.conf.py \
    --bind "${BIND:-127.0.0.1:8000}" \
    --workers "${WEB_CONCURRENCY:-3}" --timeout "${GUNICORN_TIMEOUT:-60}" \
    --access-logfile - --error-logfile -
}
worker() {  # name queue concurrency, in the foreground (for a process supervisor)
  exec .venv/bin/celery -A musicsite worker -Q "$2" -c "$3" -n "$1@%h" -l info
}

case "$ROLE" in
  all)
    # The workers and the beat under the supervisor of `make run`: one that dies is started
    # again and var/log/supervisor.log says so. Stopping gunicorn stops them.
    mkdir -p "${MUSICSITE_VAR_DIR:-var}/log" "${MUSICSITE_VAR_DIR:-var}/run"
    $PY scripts/supervise.py --var "${MUSICSITE_VAR_DIR:-var}" &
    SUPERVISOR_PID=$!
    trap 'kill -TERM "$SUPERVISOR_PID" 2>/dev/null || true; wait "$SUPERVISOR_PID" 2>/dev/null || true' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    web
    ;;
  web) web ;;
  train) worker train train 1 ;;
  sample) OPENBLAS_NUM_THREADS=1 worker sample sample "${SAMPLE_CONCURRENCY:-$(nproc)}" ;;
  default) worker default default "${CELERY_CONCURRENCY:-2}" ;;
  beat) exec .venv/bin/celery -A musicsite beat -l info -s "${MUSICSITE_VAR_DIR:-var}/celerybeat-schedule" ;;
  *) fail "ROLE must be all, web, train, sample, default or beat (got '$ROLE')" ;;
esac
