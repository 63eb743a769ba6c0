#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a database and a media folder.
#
#   scripts/restore.sh BACKUP_FOLDER
#
# DATABASE_URL: the database to restore into. It must exist (createdb it) and should be empty;
#   RESTORE_CLEAN=1 drops the objects of the backup that already exist there first.
# MEDIA_ROOT: the folder the media files are unpacked into (created when missing).
# The checksums are verified before anything is changed. Stop the site and the workers first,
# then run `manage.py migrate` (a no-op for a backup of the same code version) and start them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
load_dotenv
SRC=${1:?usage: scripts/restore.sh BACKUP_FOLDER}
: "${DATABASE_URL:?DATABASE_URL must point at the database to restore into}"
MEDIA=${MEDIA_ROOT:-${MUSICSITE_VAR_DIR:-var}/media}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PG_BIN/pg_restore" ] || { echo "restore: pg_restore not found" >&2; exit 1; }

(cd "$SRC" && sha256sum --check --quiet SHA256SUMS) || {
  echo "restore: $SRC fails its checksums: not restoring" >&2
  exit 1
}
clean=()
if [ "${RESTORE_CLEAN:-0}" = 1 ]; then clean=(--clean --if-exists); fi
"$PG_BIN/pg_restore" --no-owner --no-acl --exit-on-error "${clean[@]}" \
  --dbname "$DATABASE_URL" "$SRC/db.dump"
mkdir -p "$MEDIA"
tar -C "$MEDIA" -xzf "$SRC/media.tar.gz"
echo "restore: database and media restored from $SRC" >&2
cat "$SRC/MANIFEST" >&2
