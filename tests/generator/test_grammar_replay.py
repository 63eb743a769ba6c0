"""The grammar's tables built ahead of time on the site: after a visitor's job that sampled
with them (a token vocabulary's grammar; a character grammar's rules are compiled and build
no tables), the generation task builds them in its worker process along the run's training
tunes (`generation_tables_replay`), once per run and grammar, after the job's pieces are
stored; later pieces of the run then find the training tunes' states built."""

from __future__ import annotations

import gc

import pytest

from generator.models import GenerationJob, JobStatus
from generator.services import generation_job_create, generation_tables_replay, pieces
from generator.tasks import generation_job_task
from musiclib.ml.abc_machine import Machine
from musiclib.ways.base import START_ID
from musiclib.ways.registry import get_way
from tests.factories import make_trained_run

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def run(tiny_corpus):
    return make_trained_run(tiny_corpus, epochs=1, vocabulary="tokens")


def test_a_character_grammars_job_samples_under_its_compiled_rules_and_builds_no_tables(
    tiny_corpus,
):
    chars = make_trained_run(tiny_corpus, epochs=1)
    tables = tables_of(chars, form=False)
    built = tables.resolved
    job = job_for(chars)
    generation_job_task(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.pieces.count() == 2
    assert tables.resolved == built and chars.pk not in tables.replayed
    constraint = pieces._constraint(get_way(chars.way), chars, grammar=True, folk_form=True)
    assert isinstance(constraint, Machine)


def job_for(run, *, grammar: bool = True, folk_form: bool = False) -> GenerationJob:
    return generation_job_create(checkpoint=run.last_checkpoint, count=2, seed=5,
                                 max_length=300, grammar=grammar, folk_form=folk_form,
                                 enqueue=False)  # fmt: skip


def tables_of(run, *, form: bool):
    """The process's tables of the run's grammar (those the generation service samples with)."""
    return get_way(run.way).grammar(vocab=run.vocab, form=form).automaton()


def test_a_grammar_jobs_task_stores_its_pieces_then_builds_the_tables_along_the_training_tunes(
    run,
):
    tables = tables_of(run, form=False)
    job = job_for(run)
    generation_job_task(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.pieces.count() == 2
    assert run.pk in tables.replayed
    # the training tunes' openings walk through built states only
    before = tables.resolved
    for tune in pieces._prepared(run.pk).train[:5]:
        s, regs = tables.begin([START_ID])
        regs = regs.tolist()
        for v in tune[1:60].tolist():
            if not tables.allowed[s, v]:
                break
            s, regs = tables.advance_one(s, regs, v)
    assert tables.resolved == before
    # once per run in this process: the next job's replay builds nothing more
    generation_job_task(job_for(run).pk)
    built = tables.resolved
    generation_tables_replay(job=GenerationJob.objects.filter(checkpoint__run=run).last())
    assert tables.resolved == built


def test_no_tables_are_built_ahead_for_a_job_without_the_grammar_with_the_folk_form_or_replay_off(
    run, settings
):
    generation_job_task(job_for(run, grammar=False).pk)
    assert run.pk not in tables_of(run, form=False).replayed
    # the folk form's shaped rows seldom meet a replayed state again: no replay for them
    job = job_for(run, folk_form=True)
    generation_job_task(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert run.pk not in tables_of(run, form=True).replayed
    assert run.pk not in tables_of(run, form=False).replayed
    settings.GRAMMAR_REPLAY_CPU_S = 0
    generation_job_task(job_for(run).pk)
    assert run.pk not in tables_of(run, form=False).replayed


def test_a_generation_task_leaves_the_tables_it_keeps_out_of_the_garbage_collectors_way(
    run, settings
):
    # a full collection would walk every table state the worker keeps, at whatever point of
    # a later visitor's batch it fell: the task collects once and freezes what is left
    settings.GENERATION_GC_FREEZE = True
    tables = tables_of(run, form=False)
    try:
        generation_job_task(job_for(run).pk)
        assert tables.n_groups > 100 and gc.get_freeze_count() > tables.n_groups
        representatives = {id(state) for state in tables._groups}
        assert not any(id(o) in representatives for o in gc.get_objects())
    finally:
        gc.unfreeze()
