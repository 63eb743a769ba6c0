"""Bars that come back, on the site: a run saves its training tunes' plans with every
checkpoint, a generation with the option draws one per piece by its seed and the sampler
brings bars back; a run whose sampler files predate the plans gets them from its corpus."""

from __future__ import annotations

import re

import numpy as np
import pytest

from generator.models import JobStatus
from generator.services import (
    checkpoint_files,
    generation_job_create,
    generation_job_execute,
    piece_reproduce,
)
from musiclib.metrics.form import form_shape_row, repeated_bar_share, shape_from_abc
from musiclib.ml import returns as rt
from musiclib.ml import sampler
from musiclib.ways.abc_text import _form_shape
from musiclib.ways.registry import get_way
from tests.factories import make_trained_run

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def generate(checkpoint, *, returns: bool, seed: int = 7):
    job = generation_job_create(checkpoint=checkpoint, count=4, seed=seed, max_length=900,
                                grammar=True, folk_form=True, returns=returns,
                                enqueue=False)  # fmt: skip
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    return list(job.pieces.order_by("index"))


@pytest.fixture
def run(tiny_corpus):
    return make_trained_run(tiny_corpus, epochs=1)


def test_a_generation_brings_bars_back_where_the_plans_of_the_runs_tunes_say(run):
    checkpoint = run.last_checkpoint
    plans = checkpoint_files.load_checkpoint_state(checkpoint)["way_returns"]
    assert plans.shape[1] == rt.MAX_BARS and (plans >= 0).any()  # O'Neill's tunes repeat bars
    returning = generate(checkpoint, returns=True)
    plain = generate(checkpoint, returns=False)
    assert [p.seed for p in returning] == [p.seed for p in plain]
    assert any(a.text != b.text for a, b in zip(returning, plain, strict=True))
    share = [repeated_bar_share(shape_from_abc(abc=p.text)) for p in returning]
    assert max(share) > 0, [p.text for p in returning]
    # the same seed brings the same bars back: the piece again, note for note
    again = generation_job_execute(
        job_id=piece_reproduce(piece=returning[1], same_seed=True).pk
    ).pieces.get()
    assert again.text == returning[1].text and again.job.returns is True


def test_a_run_whose_sampler_file_has_no_plans_gets_them_from_its_corpus(run):
    checkpoint = run.last_checkpoint
    with_plans = generate(checkpoint, returns=True, seed=31)
    path = checkpoint_files.checkpoint_sampler_path(checkpoint)
    sampler.save_net(sampler.load_net(str(path)), str(path))  # as written before plans were
    checkpoint_files._cached_state.cache_clear()
    assert "way_returns" not in checkpoint_files.load_checkpoint_state(checkpoint)
    remade = generate(checkpoint, returns=True, seed=31)
    assert [p.text for p in remade] == [p.text for p in with_plans]


def test_a_folk_form_generation_draws_each_pieces_shape_from_the_tune_its_plan_comes_from(run):
    checkpoint = run.last_checkpoint
    state = checkpoint_files.load_checkpoint_state(checkpoint)
    assert state["way_shapes"].shape == (len(state["way_returns"]), 12)
    way = get_way(run.way)
    seeds = [7, 8, 9, 10]
    shapes = way.form_shapes_for(state=state, seeds=seeds)
    returns = way.returns_for(vocab=run.vocab, state=state, seeds=seeds, form=True)
    # the shape and the plan of a seed come from the same training tune
    usable = np.flatnonzero(state["way_shapes"][:, 0] >= 0)
    for k, seed in enumerate(seeds):
        tune = usable[rt.draw_index(len(usable), seed)]
        plan = returns.plans[k]  # (each restated bar, and the map of its moves up or down)
        bars = np.where(plan >= 0, plan % rt.MAX_BARS, -1)
        assert np.array_equal(bars, state["way_returns"][tune])
        codes = np.where(plan >= 0, plan // rt.MAX_BARS, 0)
        assert np.array_equal(codes, state["way_returns_shift"][tune].astype(int) % rt.N_MAPS)
        assert shapes[k] == _form_shape(state["way_shapes"][tune])  # (the whole shape)
    # the pieces are in their shapes' meters, and keep their shapes' parts where they end
    # before the length limit (a bar line straight after another, :| then |:, the form
    # measure reads as one mark: those are left to the library's tests)
    pieces = generate(checkpoint, returns=False)
    for piece, shape in zip(pieces, shapes, strict=True):
        assert shape.meter is not None and shape_from_abc(abc=piece.text).meter == shape.meter
        body = piece.text.split("\nK:", 1)[-1]
        doubled = re.search(r"\|[\s\\]*\|", body.replace("||", "#").replace("|]", "#"))
        if piece.text.rstrip().endswith(("|]", "||", ":|")) and not doubled:
            read = form_shape_row(shape_from_abc(abc=piece.text))
            assert read[1 : 1 + 2 * len(shape.parts) : 2] == [b for b, _ in shape.parts]
