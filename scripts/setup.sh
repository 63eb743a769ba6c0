#!/usr/bin/env bash
# Idempotent machine and virtualenv setup for musicsite (called by `make setup`).
#
# 1. System packages: installs with apt-get only those that are missing, and skips the
#    check entirely when var/.stamps/apt-<hash of the package list> exists.
# 2. Python: creates .venv with Debian's python3 if it is missing and runs
#    `pip install -r requirements.txt` only when the file's hash differs from the one
#    recorded in .venv/.requirements.sha256 (deleting .venv therefore reinstalls).
set -euo pipefail
cd "$(dirname "$0")/.."

# Playwright's Python package bundles its own Node.js driver and drives Debian's
# /usr/bin/chromium, so neither nodejs nor npm is needed.
APT_PACKAGES=(
  python3 python3-venv
  redis-server
  chromium
  fluidsynth fluid-soundfont-gm ffmpeg abcmidi sox
)
STAMP_DIR=var/.stamps
mkdir -p "$STAMP_DIR"

# --- system packages ---------------------------------------------------------------------
apt_key=$(printf '%s\n' "${APT_PACKAGES[@]}" postgresql | sha256sum | cut -c1-16)
apt_stamp="$STAMP_DIR/apt-$apt_key"
if [ ! -e "$apt_stamp" ]; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
  done
  # Any PostgreSQL server binaries will do (the test services run their own cluster).
  if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    missing+=(postgresql-15)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "setup: missing system packages: ${missing[*]}" >&2
      echo "setup: run 'make setup' as root, or: sudo apt-get install ${missing[*]}" >&2
      exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  rm -f "$STAMP_DIR"/apt-*
  touch "$apt_stamp"
fi

# --- Python virtualenv ---------------------------------------------------------------------
if ! .venv/bin/python -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "setup: creating .venv"
  rm -rf .venv
  "${PYTHON:-/usr/bin/python3}" -m venv .venv
fi
req_hash=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_hash" ]; then
  echo "setup: pip install -r requirements.txt"
  .venv/bin/pip install --disable-pip-version-check --no-input -q -r requirements.txt
  echo "$req_hash" >.venv/.requirements.sha256
fi

# --- numba caches ----------------------------------------------------------------------------
# Compile librosa's numba functions, the sampling loop and the grammar's rules once, before
# anything else runs: numba's on-disk cache is not safe against concurrent writers, and a
# corrupted one segfaults every later process (scripts/warm_numba.py says more; it splits
# the work between two processes that never compile the same function).
# The project's own caches are deleted first, every time: a loop function compiled in a
# process that loaded its helpers from the cache (those that run threads, `parallel=True`,
# or call them) is written to the cache broken, and every later process that loads it
# segfaults, though the process that wrote it ran fine (numba issues 8578 and 10128).
# A warm-up over the caches an older warm-up left, missing one path, did exactly that.
# Then a second process loads what the first wrote; if either dies of a signal, every
# cache (librosa's too) is deleted and compiled afresh.
# The key covers the loop's sources and, as numba's own index does, their modification times
# and this checkout's path: the caches live beside the sources (a checkout's own __pycache__),
# so a checkout sharing var/ with another, or a source file touched again by git, must warm
# its own (numba would otherwise recompile there on demand, in whatever process met it first).
numba_sources=(musiclib/ml/fastloop.py musiclib/ml/line.py musiclib/ml/abc_machine.py
  musiclib/metrics/audio.py)
numba_key=$( (pwd; stat -c %Y "${numba_sources[@]}"; cat requirements.txt scripts/warm_numba.py \
  "${numba_sources[@]}") | sha256sum | cut -c1-16)
numba_stamp="$STAMP_DIR/numba-$numba_key"
if [ ! -e "$numba_stamp" ]; then
  echo "setup: compiling numba functions (once)"
  find generator/ musiclib/ \( -name '*.nbi' -o -name '*.nbc' \) -delete
  rc=0
  .venv/bin/python scripts/warm_numba.py || rc=$?
  [ "$rc" -ne 0 ] || .venv/bin/python scripts/warm_numba.py >/dev/null || rc=$?
  if [ "$rc" -ge 128 ]; then
    echo "setup: the numba cache was corrupted (exit $rc): deleting it and compiling again"
    find .venv/lib/ generator/ musiclib/ \( -name '*.nbi' -o -name '*.nbc' \) -delete
    .venv/bin/python scripts/warm_numba.py
    .venv/bin/python scripts/warm_numba.py >/dev/null
  elif [ "$rc" -ne 0 ]; then
    exit "$rc"
  fi
  rm -f "$STAMP_DIR"/numba-*
  touch "$numba_stamp"
fi
