"""scripts/backup.sh and scripts/restore.sh: pieces, their files and their evaluations
survive a dump and a restore into a fresh database and an empty media folder."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from evaluation.models import PieceEvaluation
from generator.models import Piece, Tune
from tests.conftest import ROOT, _database_url
from tests.web.builders import make_piece, make_tune, make_world

pytestmark = pytest.mark.django_db(transaction=True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fresh_database():
    """An empty database on the test server, dropped afterwards."""
    name = f"restore_{secrets.token_hex(4)}"
    admin_url = _database_url(connection.settings_dict).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _drop_database(admin_url, name)


def _drop_database(admin_url: str, name: str) -> None:
    """DROP ... WITH (FORCE) cannot end an autovacuum worker (a superuser's process) that
    happens to be in the new database: such a worker leaves within seconds, so try again."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_backup_restored_into_a_fresh_database_has_every_piece_file_and_evaluation(
    media_root, tmp_path, fresh_database
):
    world = make_world()
    pieces = [make_piece(world, title=f"Backed-up reel {i}") for i in range(5)]
    make_tune(world.corpus, number=7)
    for piece in pieces[:3]:
        PieceEvaluation.objects.create(piece=piece, n_notes=64, novelty=0.5, ngram_8=0.25)
    expected = {
        p.pk: (p.title, p.text, _sha(media_root / p.midi.name), _sha(media_root / p.audio.name))
        for p in Piece.objects.all()
    }
    evaluations = dict(PieceEvaluation.objects.values_list("piece_id", "novelty"))
    tunes = set(Tune.objects.values_list("pk", "content_hash"))

    env = {**os.environ, "DATABASE_URL": _database_url(connection.settings_dict)}
    env["MEDIA_ROOT"] = str(media_root)
    backup = subprocess.run(
        [str(ROOT / "scripts" / "backup.sh"), str(tmp_path / "backups")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert backup.returncode == 0, backup.stderr
    folder = Path(backup.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in folder.iterdir()) == [
        "MANIFEST", "SHA256SUMS", "db.dump", "media.tar.gz",
    ]  # fmt: skip
    assert f"pieces={len(expected)}" in (folder / "MANIFEST").read_text()

    restored_media = tmp_path / "restored-media"
    env.update(DATABASE_URL=fresh_database, MEDIA_ROOT=str(restored_media))
    restore = subprocess.run(
        [str(ROOT / "scripts" / "restore.sh"), str(folder)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr

    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute("SELECT id, title, text, midi, audio FROM generator_piece").fetchall()
        got_evaluations = dict(
            conn.execute("SELECT piece_id, novelty FROM evaluation_pieceevaluation").fetchall()
        )
        got_tunes = set(conn.execute("SELECT id, content_hash FROM generator_tune").fetchall())
    restored = {
        pk: (title, text, _sha(restored_media / midi), _sha(restored_media / audio))
        for pk, title, text, midi, audio in rows
    }
    assert restored == expected  # every piece, with byte-identical files
    assert got_evaluations == evaluations
    assert got_tunes == tunes


def test_a_damaged_backup_is_refused_before_anything_is_touched(tmp_path, fresh_database):
    folder = tmp_path / "musicsite-broken"
    folder.mkdir()
    for name in ("db.dump", "media.tar.gz", "MANIFEST"):
        (folder / name).write_bytes(b"original")
    subprocess.run("sha256sum db.dump media.tar.gz MANIFEST > SHA256SUMS", shell=True,
                   cwd=folder, check=True)  # fmt: skip
    (folder / "db.dump").write_bytes(b"flipped!")
    env = {**os.environ, "DATABASE_URL": fresh_database, "MEDIA_ROOT": str(tmp_path / "m")}
    result = subprocess.run(
        [str(ROOT / "scripts" / "restore.sh"), str(folder)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "fails its checksums" in result.stderr
    assert not (tmp_path / "m").exists()
