"""A run that learns from a second corpus first (`warmup_corpus`, `warmup_epochs`)."""

import pytest

from generator.models import JobStatus, TrainingRun
from generator.services import (
    ServiceError,
    corpus_get_or_create,
    corpus_import,
    generation_job_create,
    generation_job_execute,
    training_run_create,
    training_run_execute,
)
from musiclib.ways import get_way
from tests.factories import oneills_tunes
from tests.web.builders import make_tune

pytestmark = pytest.mark.django_db


def _other_corpus(name: str = "other tunes"):
    corpus = corpus_get_or_create(name=name)
    raw = "\n\n".join(oneills_tunes(60)[40:]).encode()  # tunes the tiny corpus does not hold
    job = corpus_import(corpus=corpus, upload=(f"{name}.abc", raw))
    assert job.status == JobStatus.SUCCEEDED, job.error
    return corpus


@pytest.mark.slow
def test_a_run_learns_from_both_corpora_first_then_from_its_own(tiny_corpus):
    other = _other_corpus()
    run = training_run_create(
        corpus=tiny_corpus, preset="tiny", epochs=3, seed=3, warmup_corpus=other,
        config={"warmup_epochs": 2, "sample_every": 0},
    )  # fmt: skip
    assert run.warmup_tune_id_max == other.tunes.order_by("-pk").first().pk
    TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.QUEUED)
    run = training_run_execute(run_id=run.pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert [h["warmup"] for h in run.history] == [True, True, False]
    rate = run.config["learning_rate"]
    assert [h["learning_rate"] for h in run.history] == [rate, rate, rate / 2]
    way = get_way("abc")
    symbols = {tok for t in other.tunes.all() for tok in way.tokenize(way.normalise(t.text))}
    assert symbols <= set(run.vocab)  # the warm-up's tunes are in the model's vocabulary
    assert run.data_stats["pieces_warmup"] == other.tunes.count()
    # Its checkpoints generate like any run's.
    job = generation_job_create(
        checkpoint=run.last_checkpoint, count=1, max_length=120, seed=1, enqueue=False
    )
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.pieces.count() == 1


@pytest.mark.parametrize(
    "case, words",
    [
        ("epochs without a corpus", "need a corpus to learn from first"),
        ("its own corpus", "the run's own"),
        ("as many warm-up epochs as the run has", "must be 1..2"),
        ("no warm-up epochs", "must be 1..2"),
        ("an empty corpus", "is empty"),
        ("a corpus of another way", "holds midi pieces"),
    ],
)
def test_a_warm_up_that_cannot_work_is_refused_naming_the_field(case, words):
    corpus = corpus_get_or_create(name="own")
    make_tune(corpus)
    other = corpus_get_or_create(name="other")
    make_tune(other)
    empty = corpus_get_or_create(name="empty")
    midi = corpus_get_or_create(name="chorales", way="midi")
    warmup, epochs = {
        "epochs without a corpus": (None, 1),
        "its own corpus": (corpus, 1),
        "as many warm-up epochs as the run has": (other, 3),
        "no warm-up epochs": (other, 0),
        "an empty corpus": (empty, 1),
        "a corpus of another way": (midi, 1),
    }[case]
    with pytest.raises(ServiceError, match=words) as refused:
        training_run_create(
            corpus=corpus, preset="tiny", epochs=3, warmup_corpus=warmup,
            config={"warmup_epochs": epochs},
        )  # fmt: skip
    assert refused.value.field in ("warmup_corpus", "config")
    assert not TrainingRun.objects.exists()


def test_staff_choose_the_corpus_to_learn_from_first_on_the_admins_run_form(staff_client):
    corpus = corpus_get_or_create(name="own")
    make_tune(corpus)
    other = corpus_get_or_create(name="other")
    make_tune(other)
    form = {
        "name": "warmed up", "corpus": corpus.pk, "way": "abc", "preset": "tiny", "epochs": 5,
        "seed": 0, "config": "{}", "warmup_corpus": other.pk, "warmup_epochs": 2,
    }  # fmt: skip
    response = staff_client.post("/admin/generator/trainingrun/add/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = TrainingRun.objects.get(name="warmed up")
    assert run.warmup_corpus == other and run.config["warmup_epochs"] == 2
    refused = staff_client.post(
        "/admin/generator/trainingrun/add/", {**form, "name": "no", "warmup_epochs": 5}
    )
    assert refused.status_code == 200 and "fewer than the run" in refused.content.decode()
    assert not TrainingRun.objects.filter(name="no").exists()
