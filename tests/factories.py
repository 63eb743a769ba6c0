"""Helpers that build real test data: O'Neill tunes from music21, tiny corpora and runs.

Import as `from tests.factories import ...`; the fixtures using them live in conftest files.
"""

from __future__ import annotations

from pathlib import Path

from generator.models import Corpus, JobStatus, TrainingRun


def oneills_tunes(n: int) -> list[str]:
    """The first n tunes of O'Neill's 1850 (bundled with music21: present everywhere)."""
    from music21 import corpus as m21corpus

    from musiclib.ways.abc_text import split_tunes

    texts: list[str] = []
    for path in sorted(m21corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
        if len(texts) >= n:
            break
    return texts[:n]


# Up to this many tunes, make_tiny_corpus parses in this process: starting the import's
# process pool (a forkserver once TensorFlow is loaded) takes longer than parsing them here.
# The pool itself is tested by tests/generator/test_corpus_import.py.
IN_PROCESS_TUNES = 50


def make_tiny_corpus(*, name: str = "tiny", tunes: int = 40) -> Corpus:
    """A real ABC corpus of the first `tunes` O'Neill tunes, imported through the service."""
    from unittest import mock

    from generator.services import corpora, corpus_get_or_create, corpus_import

    corpus = corpus_get_or_create(name=name)
    raw = "\n\n".join(oneills_tunes(tunes)).encode()
    cores = (lambda: 1) if tunes <= IN_PROCESS_TUNES else corpora.cpu_count
    with mock.patch.object(corpora, "cpu_count", cores):
        job = corpus_import(corpus=corpus, upload=(f"{name}.abc", raw))
    assert job.status == JobStatus.SUCCEEDED, job.error
    return corpus


def make_run(corpus: Corpus, *, epochs: int = 2, seed: int = 3, **config) -> TrainingRun:
    """A tiny run marked queued, so `training_run_execute` may claim it in this process."""
    from generator.services import training_run_create

    run = training_run_create(corpus=corpus, preset="tiny", epochs=epochs, seed=seed, config=config)
    TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.QUEUED)
    run.refresh_from_db()
    return run


def make_trained_run(corpus: Corpus, *, epochs: int = 1, **config) -> TrainingRun:
    """A tiny run trained in this process: it has checkpoints and epoch-sample pieces."""
    from generator.services import training_run_execute

    run = training_run_execute(
        run_id=make_run(corpus, epochs=epochs, **config).pk, worker="test-process"
    )
    assert run.status == JobStatus.SUCCEEDED, run.error
    return run


def wait_for(predicate, *, timeout: float, what: str, worker=None):
    """Poll `predicate` until it returns something truthy; fail with the worker's log."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    log = worker.log()[-3000:] if worker is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")
