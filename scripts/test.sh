#!/usr/bin/env bash
# Run the test suite against real PostgreSQL and Redis (called by `make test`).
#
# Starts scripts/services.sh (unless they are already running, in which case they are
# reused and left running), exports DATABASE_URL and CELERY_BROKER_URL, runs pytest and
# stops the services it started.
#
#   scripts/test.sh            every test, in three steps on TEST_JOBS processes (default: 2,
#                              or the cores there are if fewer):
#                              1. the library (tests/library) with no Django and no server URL;
#                              2. the site's tests in parallel (pytest-xdist; each process has
#                                 its own test database and Redis database), but for
#                              3. the tests marked `serial` (they restart PostgreSQL or Redis), alone.
#   TEST_FAST=1 scripts/test.sh  (make test-fast) step 1, then step 2 without the tests marked
#                              slow, integration, browser or serial: no worker, no browser.
#   scripts/test.sh ARGS...    one `python -m pytest ARGS...` (add `-n 2` to spread it).
#
# Extra options for every step: PYTEST_ADDOPTS="--durations=30". Exits with the first failing
# step's code; code 5 (no tests collected) is reported and counts as a failure, except in
# step 3 (no test marked serial). Two runs in the same checkout would share the test
# databases, so they take turns.
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
cleanup() { if [ "$started" = 1 ]; then scripts/services.sh stop 9>&-; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
eval "$(scripts/services.sh env)"
export AUTOSTART_QUICK_RUN=0

# The whole run is bounded too (seconds), so a process that hangs outside any test, e.g.
# after a native crash, fails well inside CI's 90 minutes. The suite took 29 minutes on an
# idle 2-core machine on 1 Dec 2026 run serially; see README.md for today's figure.
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
step() {  # step NAME COMMAND...: run a step; the first failure's code is the run's
  local name=$1 code
  shift
  echo "test: $name" >&2
  "$@"
  code=$?
  if [ "$code" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=$code; fi
  return 0
}
library_step() {
  (
    unset DATABASE_URL CELERY_BROKER_URL
    pytest_step -p no:django "${parallel[@]}" tests/library
  )
}
serial_step() {
  pytest_step -m serial --ignore=tests/library
  local code=$?
  if [ "$code" -eq 5 ]; then code=0; fi
  return "$code"
}
if [ "${TEST_FAST:-0}" = 1 ]; then
  step "1/2 the library (tests/library): no Django, no server" library_step
  step "2/2 the site's unit tests (no worker, browser, training or corpus import), $jobs at a time" \
    pytest_step "${parallel[@]}" -m "not slow and not integration and not browser and not serial" \
    --ignore=tests/library
  exit "$rc"
fi
step "1/3 the library (tests/library): no Django, no server" library_step
step "2/3 the site's tests, $jobs at a time" \
  pytest_step "${parallel[@]}" -m "not serial" --ignore=tests/library
step "3/3 the tests that restart PostgreSQL or Redis, alone" serial_step
exit "$rc"
