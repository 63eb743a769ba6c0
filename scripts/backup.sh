#!/usr/bin/env bash
# Back up the PostgreSQL database and the media folder.
#
#   scripts/backup.sh [DEST]      DEST defaults to ${BACKUP_DIR:-var/backups}
#
# Writes DEST/musicsite-<UTC time>/ with
#   db.dump        pg_dump custom format (restore with scripts/restore.sh or pg_restore)
#   media.tar.gz   everything under MEDIA_ROOT (checkpoints, pieces' MIDI and audio, uploads)
#   SHA256SUMS     checksums, checked by restore.sh before anything is touched
#   MANIFEST       when, code version, row counts of the main tables
# and prints that folder's path on stdout (the last line).
#
# Reads DATABASE_URL (postgres://...) and MEDIA_ROOT from the environment or ./.env. The
# database is dumped first, then media: the site writes a file before the row that points at
# it, so every row in the dump finds its file in the archive (files newer than the dump are
# extra, harmless). pg_dump takes a consistent snapshot while the site keeps running.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
load_dotenv
: "${DATABASE_URL:?DATABASE_URL must point at the PostgreSQL database to back up}"
[[ "$DATABASE_URL" == postgres* ]] || { echo "backup: DATABASE_URL is not PostgreSQL" >&2; exit 2; }
MEDIA=${MEDIA_ROOT:-${MUSICSITE_VAR_DIR:-var}/media}
if [ -n "${AWS_STORAGE_BUCKET_NAME:-}" ]; then
  # The files are in the object store, not in MEDIA_ROOT: this archive holds none of them.
  echo "backup: files are kept in the bucket $AWS_STORAGE_BUCKET_NAME; back it up with the" \
    "store's own tools (versioning, replication); media.tar.gz holds only MEDIA_ROOT" >&2
fi
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PG_BIN/pg_dump" ] || { echo "backup: pg_dump not found under /usr/lib/postgresql" >&2; exit 1; }

DEST=${1:-${BACKUP_DIR:-var/backups}}
OUT="$DEST/musicsite-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT.partial"
trap 'rm -rf "$OUT.partial"' EXIT  # an interrupted backup leaves nothing that looks whole

"$PG_BIN/pg_dump" --format=custom --no-owner --no-acl --file "$OUT.partial/db.dump" "$DATABASE_URL"
mkdir -p "$MEDIA"
tar -C "$MEDIA" -czf "$OUT.partial/media.tar.gz" .

counts=$("$PG_BIN/psql" -X -q -tA "$DATABASE_URL" -c "
  SELECT 'corpora=' || count(*) FROM generator_corpus UNION ALL
  SELECT 'tunes=' || count(*) FROM generator_tune UNION ALL
  SELECT 'runs=' || count(*) FROM generator_trainingrun UNION ALL
  SELECT 'checkpoints=' || count(*) FROM generator_checkpoint UNION ALL
  SELECT 'pieces=' || count(*) FROM generator_piece UNION ALL
  SELECT 'evaluations=' || count(*) FROM evaluation_pieceevaluation")
{
  echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "code_version=${CODE_VERSION:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  echo "$counts"
} >"$OUT.partial/MANIFEST"
(cd "$OUT.partial" && sha256sum db.dump media.tar.gz MANIFEST >SHA256SUMS)
mv "$OUT.partial" "$OUT"
trap - EXIT
echo "backup: $(du -sh "$OUT" | cut -f1) in $OUT" >&2
echo "$OUT"
