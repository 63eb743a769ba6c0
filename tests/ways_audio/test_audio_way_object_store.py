"""The audio way with an object store: its recordings are kept in the bucket (the library
writes them through the site's FileStore) and read back, for training, from local copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.models import JobStatus, Way
from generator.services import corpus_get_or_create, corpus_import, training_run_check
from generator.services.files import tune_audio_bytes
from musiclib.ways import get_way
from tests.conftest import s3_keys

pytestmark = pytest.mark.django_db


def test_recordings_are_kept_in_the_bucket_and_training_reads_local_copies(
    melody_folder, s3_storage, media_root, settings
):
    before = {p for p in media_root.rglob("*") if p.is_file()}
    corpus = corpus_get_or_create(name="melodies in a bucket", way=Way.AUDIO)
    job = corpus_import(corpus=corpus, source=str(melody_folder))
    assert job.status == JobStatus.SUCCEEDED and job.imported == 6, job.error

    tunes = list(corpus.tunes.order_by("pk"))
    names = {tune.data.name for tune in tunes}
    assert names <= set(s3_keys(s3_storage))
    assert {p for p in media_root.rglob("*") if p.is_file()} == before
    assert tune_audio_bytes(tunes[0])[:4] == b"fLaC"  # the page's player reads the bucket

    config = training_run_check(corpus=corpus, way=Way.AUDIO, preset="tiny", epochs=1)
    prepared = get_way(Way.AUDIO).prepare(
        texts=[tune.text for tune in tunes], config=config, seed=0
    )
    assert prepared.vocab
    copies = {p.name for p in Path(settings.FILE_CACHE_DIR).rglob("*.flac")}
    assert copies == {Path(name).name for name in names}
