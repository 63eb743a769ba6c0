#!/usr/bin/env bash
# Run the test suite against real PostgreSQL and Redis (called by `make test`).
#
# Starts scripts/services.sh (unless they are already running, in which case they are
# reused and left running), exports DATABASE_URL and CELERY_BROKER_URL, runs
# `python -m pytest "$@"` and stops the services it started. Exits with pytest's code;
# code 5 (no tests collected) is reported and counts as a failure.
# Two runs in the same checkout would share the test database, so they take turns.
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
# idle 2-core machine on 1 Dec 2026 (849 tests), so 80 minutes leaves room for a slower one.
timeout --kill-after=30 "${TEST_TIMEOUT_S:-4800}" .venv/bin/python -m pytest "$@" 9>&-
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "test: pytest ran past TEST_TIMEOUT_S=${TEST_TIMEOUT_S:-4800} seconds and was stopped" >&2
fi
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests (exit code 5): treated as a failure" >&2
fi
exit "$rc"
