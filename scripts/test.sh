#!/usr/bin/env bash
# Run the test suite against real PostgreSQL and Redis (called by `make test`).
#
# Starts scripts/services.sh (unless they are already running, in which case they are
# reused and left running), exports DATABASE_URL and CELERY_BROKER_URL, runs pytest and
# stops the services it started.
#
#   scripts/test.sh            every test, in three parts:
#                              - the library (tests/library): one process with no Django and
#                                no server URL, beside
#                              - the site's tests on TEST_JOBS processes (pytest-xdist, default
#                                2, or 1 on one core; each process has its own test database
#                                and Redis database), then
#                              - the tests marked `serial` (they restart PostgreSQL or Redis),
#                                alone.
#   TEST_FAST=1 scripts/test.sh  (make test-fast) the library beside the site's unit tests: no
#                              test marked slow, integration, browser or serial.
#   scripts/test.sh ARGS...    one `python -m pytest ARGS...` (add `-n 2` to spread it, with
#                              `-m "not serial"`: those restart the servers under the others).
#
# The library's output is kept in test-artifacts/library.log and printed when the site's
# tests are done. Extra options for every pytest: PYTEST_ADDOPTS="--durations=30". Exits
# with the first failing part's code; code 5 (no tests collected) is reported and counts as
# a failure, except for the serial part (no test marked serial). Two runs in the same
# checkout would share the test databases, so they take turns.
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
# would otherwise wait for them), with the site's URLs and Django out of reach.
library_log=test-artifacts/library.log
echo "test: the library (tests/library), no Django and no server, beside the site's tests;" \
  "output in $library_log" >&2
(
  unset DATABASE_URL CELERY_BROKER_URL
  # Its own Playwright folder: pytest-playwright empties the folder at the start of a session.
  pytest_step -p no:django --output=test-artifacts/playwright-library tests/library
) >"$library_log" 2>&1 &
library_pid=$!

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

if [ "${TEST_FAST:-0}" != 1 ]; then
  echo "test: the tests that restart PostgreSQL or Redis, alone" >&2
  pytest_step -m serial --ignore=tests/library
  code=$?
  if [ "$code" -ne 5 ]; then failed "$code"; fi
fi
exit "$rc"
