#!/usr/bin/env bash
# Run the test suite against real PostgreSQL and Redis (called by `make test`).
#
# Starts scripts/services.sh (unless they are already running, in which case they are
# reused and left running), exports DATABASE_URL and CELERY_BROKER_URL, runs pytest and
# stops the services it started.
#
#   scripts/test.sh            every test, in three parts:
#                              - the site's tests on TEST_JOBS processes (pytest-xdist, default
#                                2, or 1 on one core; each process has its own test database
#                                and Redis database), beside
#                              - the library (tests/library): one process with no Django and
#                                no server URL, then, in the same background chain,
#                              - the tests marked `serial` (they restart PostgreSQL or Redis),
#                                on a PostgreSQL, Redis and S3 of their own (state directory
#                                <services dir>-serial, ports from 54339, 63809 and 59010).
#   TEST_FAST=1 scripts/test.sh  (make test-fast) the library beside the site's unit tests: no
#                              test marked slow, integration, browser or serial.
#   scripts/test.sh ARGS...    one `python -m pytest ARGS...` (add `-n 2` to spread it, with
#                              `-m "not serial"`: those restart the servers under the others).
#
# The library's and the serial tests' output is kept in test-artifacts/library.log and
# serial.log and printed when the site's tests are done. Extra options for every pytest:
# PYTEST_ADDOPTS="--durations=30". Exits with the first failing part's code; code 5 (no
# tests collected) is reported and counts as a failure, except for the serial part (no test
# marked serial). Two runs in the same checkout would share the test databases, so they take
# turns.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var test-artifacts

exec 9>var/test.lock
if ! flock -n 9; then
  echo "test: another test run in this checkout is in progress; waiting for it" >&2
  flock 9
fi

# `9>&-`: the servers and pytest's subprocesses must not inherit (and keep) the lock.
started=0
if ! scripts/services.sh status 9>&-; then
  scripts/services.sh start 9>&- || exit 1
  started=1
fi
# The serial tests' own servers (see below), stopped here too when the run is interrupted.
serial_services="$(scripts/services.sh dir)-serial"
cleanup() {
  if [ "$started" = 1 ]; then scripts/services.sh stop 9>&-; fi
  if [ -d "$serial_services" ]; then MUSICSITE_SERVICES_DIR=$serial_services scripts/services.sh stop 9>&- >/dev/null 2>&1; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
eval "$(scripts/services.sh env)"
export AUTOSTART_QUICK_RUN=0
# BLAS on one thread in every test process and the workers they start: the site's tests
# run two at a time beside the library's, so every core is taken, and a second BLAS thread
# per process only waits for one (the library's tests beside a training, 6 Dec 2026: 258 s
# wall and 250 s CPU with two BLAS threads, 214 s and 206 s with one). The sample worker
# runs so in production too (scripts/supervise.py, scripts/prod.sh).
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

# The whole run is bounded too (seconds), so a process that hangs outside any test, e.g.
# after a native crash, fails well inside CI's 90 minutes. The suite took 7.5 minutes on a
# 2-core machine on 3 Dec 2026 (16 in one pytest process; README.md), so 80 leaves room.
deadline=$((SECONDS + ${TEST_TIMEOUT_S:-4800}))

# pytest ARGS...: one bounded pytest run; prints why it failed; returns its code.
pytest_step() {
  local left=$((deadline - SECONDS)) rc
  if [ "$left" -le 0 ]; then
    echo "test: no time left of TEST_TIMEOUT_S=${TEST_TIMEOUT_S:-4800} seconds" >&2
    return 124
  fi
  timeout --kill-after=30 "$left" .venv/bin/python -m pytest "$@" 9>&-
  rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "test: pytest ran past TEST_TIMEOUT_S=${TEST_TIMEOUT_S:-4800} seconds and was stopped" >&2
  fi
  if [ "$rc" -eq 5 ]; then
    echo "test: pytest collected no tests (exit code 5)" >&2
  fi
  return "$rc"
}

if [ "$#" -gt 0 ]; then
  pytest_step "$@"
  exit $?
fi

cores=$(nproc)
jobs=${TEST_JOBS:-$((cores < 2 ? cores : 2))}
parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-n "$jobs"); fi
rc=0
failed() {  # failed CODE: the first failure's code is the run's
  if [ "$1" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=$1; fi
}

# The library's tests need no server: they run in one process beside the site's tests (it
# would otherwise wait for them), with the site's URLs and Django out of reach. After them,
# in the same background chain, the tests marked `serial`: they restart PostgreSQL and Redis,
# so they get servers of their own (another state directory, other ports) and the site's
# tests never see a restart. One background process at a time keeps the 2-core machine's
# load as it was when the serial tests ran last, alone.
library_log=test-artifacts/library.log
serial_log=test-artifacts/serial.log
echo "test: the library (tests/library), no Django and no server, beside the site's tests;" \
  "output in $library_log" >&2
(
  unset DATABASE_URL CELERY_BROKER_URL
  # Its own Playwright folder: pytest-playwright empties the folder at the start of a session.
  pytest_step -p no:django --output=test-artifacts/playwright-library tests/library
) >"$library_log" 2>&1 &
library_pid=$!
serial_pid=
if [ "${TEST_FAST:-0}" != 1 ]; then
  echo "test: then the tests that restart PostgreSQL or Redis, on servers of their own;" \
    "output in $serial_log" >&2
  (
    while kill -0 "$library_pid" 2>/dev/null; do sleep 1; done
    export MUSICSITE_SERVICES_DIR=$serial_services
    export MUSICSITE_PG_PORT=54339 MUSICSITE_REDIS_PORT=63809 MUSICSITE_S3_PORT=59010
    code=0
    if scripts/services.sh start 9>&-; then
      eval "$(scripts/services.sh env)"
      pytest_step -m serial --output=test-artifacts/playwright-serial --ignore=tests/library
      code=$?
      scripts/services.sh stop 9>&-
    else
      code=1
    fi
    exit "$code"
  ) >"$serial_log" 2>&1 &
  serial_pid=$!
fi

if [ "${TEST_FAST:-0}" = 1 ]; then
  echo "test: the site's unit tests (no worker, browser, training or corpus import)," \
    "$jobs at a time" >&2
  pytest_step "${parallel[@]}" -m "not slow and not integration and not browser and not serial" \
    --ignore=tests/library
  failed $?
else
  echo "test: the site's tests, $jobs at a time" >&2
  pytest_step "${parallel[@]}" -m "not serial" --ignore=tests/library
  failed $?
fi

wait "$library_pid"
library_rc=$?
echo "test: the library's tests (tests/library):" >&2
cat "$library_log"
failed "$library_rc"

if [ -n "$serial_pid" ]; then
  wait "$serial_pid"
  code=$?
  echo "test: the tests that restart PostgreSQL or Redis, on servers of their own:" >&2
  cat "$serial_log"
  if [ "$code" -ne 5 ]; then failed "$code"; fi
fi
exit "$rc"
