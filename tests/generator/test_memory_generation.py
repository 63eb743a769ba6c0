"""The piece's memory on the site: every checkpoint of an ABC run saves the memory's weights
fitted on the run's held-out tunes (and the held-out loss with it), a generation with the
option samples with them, the same seed gives the same piece, and a checkpoint saved before
the weights existed gets them fitted from its corpus."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import ServiceError
from generator.models import JobStatus
from generator.services import (
    checkpoint_files,
    generation_job_create,
    generation_job_execute,
    piece_reproduce,
)
from generator.services import pieces as piece_services
from musiclib.metrics.form import shape_from_abc
from musiclib.ml import memory as ml_memory
from musiclib.ml import sampler
from tests.factories import make_trained_run
from tests.web.builders import make_audio_world

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def generate(checkpoint, *, memory: bool, seed: int = 7):
    job = generation_job_create(checkpoint=checkpoint, count=4, seed=seed, max_length=700,
                                grammar=True, memory=memory, enqueue=False)  # fmt: skip
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    return list(job.pieces.order_by("index"))


@pytest.fixture
def run(tiny_corpus):
    return make_trained_run(tiny_corpus, epochs=1)


def test_each_checkpoint_saves_the_memory_fitted_on_held_out_tunes_with_its_loss(run):
    weights = checkpoint_files.load_checkpoint_state(run.last_checkpoint)[ml_memory.STATE_KEY]
    assert weights.shape == (ml_memory.CAP + 1,) and weights[0] == 0.0
    assert weights.max() > 0.5  # O'Neill's tunes restate bars: long matches are trusted
    entry = run.history[-1]
    # after one epoch the model knows little; the tunes' own past says much
    assert 0 < entry["val_loss_memory"] < entry["val_loss"]


def test_a_generation_with_memory_differs_and_the_same_seed_gives_it_again(run):
    checkpoint = run.last_checkpoint
    remembering = generate(checkpoint, memory=True)
    plain = generate(checkpoint, memory=False)
    assert [p.seed for p in remembering] == [p.seed for p in plain]
    assert any(a.text != b.text for a, b in zip(remembering, plain, strict=True))
    for piece in remembering:  # still grammar-checked tunes that parse
        assert piece.parses and shape_from_abc(abc=piece.text).notes
    again = generation_job_execute(
        job_id=piece_reproduce(piece=remembering[2], same_seed=True).pk
    ).pieces.get()
    assert again.text == remembering[2].text and again.job.memory is True


def test_a_checkpoint_saved_without_memory_weights_gets_them_fitted_from_its_corpus(run):
    checkpoint = run.last_checkpoint
    saved = generate(checkpoint, memory=True, seed=41)
    path = checkpoint_files.checkpoint_sampler_path(checkpoint)
    state = sampler.load_extra(str(path))
    weights = state.pop(ml_memory.STATE_KEY)
    sampler.save_net(sampler.load_net(str(path)), str(path), extra=state)  # as before
    checkpoint_files._cached_state.cache_clear()
    piece_services._fitted_memory.cache_clear()
    assert ml_memory.STATE_KEY not in checkpoint_files.load_checkpoint_state(checkpoint)
    assert np.array_equal(piece_services._memory(checkpoint), weights)
    remade = generate(checkpoint, memory=True, seed=41)
    assert [p.text for p in remade] == [p.text for p in saved]


def test_memory_is_refused_for_a_way_that_does_not_offer_it():
    _, checkpoint, _ = make_audio_world()
    with pytest.raises(ServiceError) as refused:
        generation_job_create(checkpoint=checkpoint, count=1, memory=True, enqueue=False)
    assert refused.value.field == "memory"
    assert "ABC" in str(refused.value) and "MIDI" in str(refused.value)
