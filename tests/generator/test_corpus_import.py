import pytest

from generator.models import ImportJob, JobStatus, Tune
from generator.services import corpus_get_or_create, corpus_import
from tests.factories import oneills_tunes

pytestmark = pytest.mark.django_db

BROKEN = """X:99
T:Broken tune
M:6/8
L:1/8
"""  # no K: field: not a tune


def test_it_imports_tunes_with_title_meter_key_and_hash(tmp_path):
    path = tmp_path / "a.abc"
    path.write_text("\n\n".join(oneills_tunes(5)))
    corpus = corpus_get_or_create(name="five")
    job = corpus_import(corpus=corpus, source=str(path))
    assert job.status == JobStatus.SUCCEEDED
    assert job.imported == 5 and corpus.tunes.count() == 5
    tune = corpus.tunes.order_by("number").first()
    assert tune.title and tune.meter and tune.key and len(tune.content_hash) == 64
    assert tune.n_notes > 8


def test_a_malformed_tune_is_reported_and_never_aborts_the_import(tmp_path):
    path = tmp_path / "mixed.abc"
    path.write_text(oneills_tunes(1)[0] + "\n\n" + BROKEN + "\n\n" + oneills_tunes(2)[1])
    corpus = corpus_get_or_create(name="mixed")
    job = corpus_import(corpus=corpus, source=str(path))
    assert job.imported == 2
    assert job.failures == [{"file": "mixed.abc", "tune": 99, "reason": "no K: (key) field"}]


def test_reimporting_adds_nothing_and_counts_duplicates(tmp_path):
    path = tmp_path / "a.abc"
    path.write_text("\n\n".join(oneills_tunes(3)))
    corpus = corpus_get_or_create(name="again")
    corpus_import(corpus=corpus, source=str(path))
    job = corpus_import(corpus=corpus, source=str(path))
    assert job.imported == 0 and job.duplicates == 3
    assert corpus.tunes.count() == 3


def test_it_refuses_a_file_that_is_not_abc_with_a_clear_message(tmp_path):
    path = tmp_path / "photo.abc"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    corpus = corpus_get_or_create(name="bad")
    job = corpus_import(corpus=corpus, source=str(path))
    assert job.status == JobStatus.FAILED and "not an ABC file" in job.error
    assert not Tune.objects.filter(corpus=corpus).exists()


def test_it_refuses_plain_text_without_tunes(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Shopping list: eggs, milk\n")
    job = corpus_import(corpus=corpus_get_or_create(name="txt"), source=str(path))
    assert job.status == JobStatus.FAILED and "no tune starts with an X: line" in job.error


def test_it_refuses_a_source_that_does_not_exist():
    job = corpus_import(corpus=corpus_get_or_create(name="nowhere"), source="/no/such/folder")
    assert job.status == JobStatus.FAILED and "does not exist" in job.error


def test_an_upload_imports_like_a_file():
    corpus = corpus_get_or_create(name="upload")
    raw = "\n\n".join(oneills_tunes(2)).encode()
    job = corpus_import(corpus=corpus, upload=("tunes.abc", raw))
    assert job.imported == 2 and ImportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.slow
def test_the_default_corpus_is_oneills_1850_from_music21():
    corpus = corpus_get_or_create(name="oneills1850")
    job = corpus_import(corpus=corpus, source="music21:oneills1850")
    assert job.status == JobStatus.SUCCEEDED
    # 2,009 tunes in the collection; one is an exact musical duplicate of another.
    assert job.imported + job.duplicates + len(job.failures) == 2009
    assert job.imported >= 2000


@pytest.mark.slow
def test_the_nottingham_database_imports_in_full_when_present(settings):
    folder = settings.NOTTINGHAM_DIR / "ABC_cleaned"
    if not folder.is_dir():
        pytest.skip(f"the Nottingham database is not at {folder} (GPL data, not bundled)")
    job = corpus_import(corpus=corpus_get_or_create(name="nottingham"), source=str(folder))
    assert job.status == JobStatus.SUCCEEDED
    assert job.imported >= 1000
    assert len(job.failures) <= 0.01 * (job.imported + job.duplicates + len(job.failures))


def test_an_unknown_music21_collection_is_refused_with_its_name():
    job = corpus_import(corpus=corpus_get_or_create(name="m"), source="music21:noSuchThing")
    assert job.status == JobStatus.FAILED and "noSuchThing" in job.error
