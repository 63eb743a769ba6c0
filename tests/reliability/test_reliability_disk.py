"""A full disk while a checkpoint or a piece file is written.

The media folder is a real size-limited filesystem: a tmpfs mounted for the test (we run as
root; without root the tests skip and say so). A loop-mounted image would behave the same
but needs a block device; RLIMIT_FSIZE would raise SIGXFSZ/EFBIG, not the ENOSPC a real
full disk gives. Training and generation run in this process, through the same service
functions the worker calls."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generator.models import Checkpoint, JobStatus, Piece
from generator.services import (
    generation_job_create,
    generation_job_execute,
    training_run_execute,
    training_run_resume,
)
from generator.services.runs import sampler_path
from musiclib.ml.trainer import load_model
from tests.factories import make_run, make_tiny_corpus

pytestmark = pytest.mark.django_db
PRIME = "M:6/8\nL:1/8\nK:G\n"


@pytest.fixture
def corpus(in_process_import):
    return make_tiny_corpus(name="disk faults", tunes=20)


def _checkpoint_bytes(media: Path, checkpoint: Checkpoint) -> int:
    keras = media / checkpoint.file.name
    return keras.stat().st_size + sampler_path(keras).stat().st_size


def test_a_full_disk_while_a_checkpoint_is_written_fails_the_run_cleanly_and_resume_finishes(
    corpus, small_disk, settings, media_root
):
    # One epoch's files on the normal disk tell how big a checkpoint is.
    probe = training_run_execute(run_id=make_run(corpus, epochs=1, sample_every=0).pk)
    size = _checkpoint_bytes(media_root, probe.checkpoints.get())

    disk = small_disk(int(size * 1.6))  # room for epoch 1, not for epoch 2
    settings.MEDIA_ROOT = disk
    run = training_run_execute(run_id=make_run(corpus, epochs=3, sample_every=0).pk)
    assert run.status == JobStatus.FAILED
    assert "No space left on device" in run.error
    assert list(run.checkpoints.values_list("epoch", flat=True)) == [1]
    assert run.epochs_done == 1
    # Every row points at a whole file; no temporary file is left behind.
    for checkpoint in run.checkpoints.all():
        assert load_model(str(disk / checkpoint.file.name)) is not None
    folder = disk / "checkpoints" / f"run_{run.pk}"
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]

    # Room again (the volume grows): resuming continues from epoch 1 and finishes.
    subprocess.run(["mount", "-o", f"remount,size={size * 8}", str(disk)], check=True)
    training_run_resume(run=run)
    run = training_run_execute(run_id=run.pk)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert list(run.checkpoints.order_by("epoch").values_list("epoch", flat=True)) == [1, 2, 3]
    assert [h["epoch"] for h in run.history] == [1, 2, 3]
    for checkpoint in run.checkpoints.all():
        assert load_model(str(disk / checkpoint.file.name)) is not None


def test_a_full_disk_while_piece_files_are_written_fails_the_job_and_stores_no_piece(
    corpus, small_disk, settings, media_root
):
    run = training_run_execute(run_id=make_run(corpus, epochs=1, sample_every=0).pk)
    checkpoint = run.checkpoints.get()
    disk = small_disk(1024 * 1024)
    # The sampler weights on the small disk, then a file that fills what is left of it.
    npz = sampler_path(Path(checkpoint.file.name))
    (disk / npz).parent.mkdir(parents=True)
    shutil.copy(media_root / npz, disk / npz)
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError:
                continue
    settings.MEDIA_ROOT = disk

    job = generation_job_create(
        checkpoint=checkpoint,
        count=3,
        seed=5,
        max_length=400,
        grammar=True,
        prime=PRIME,
        enqueue=False,
    )
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.FAILED
    assert "No space left on device" in job.error
    assert not Piece.objects.filter(job=job).exists()

    filler.unlink()  # space again: the same request succeeds
    retry = generation_job_create(
        checkpoint=checkpoint,
        count=3,
        seed=5,
        max_length=400,
        grammar=True,
        prime=PRIME,
        enqueue=False,
    )
    retry = generation_job_execute(job_id=retry.pk)
    assert retry.status == JobStatus.SUCCEEDED, retry.error
    pieces = Piece.objects.filter(job=retry)
    assert pieces.count() == 3
    assert any(piece.midi for piece in pieces)  # grammar-aware sampling: playable ABC
    for piece in pieces:
        if piece.midi:  # a piece whose ABC cannot be rendered says why instead
            assert (disk / piece.midi.name).stat().st_size > 0
        else:
            assert piece.validity_detail.get("midi_error")
