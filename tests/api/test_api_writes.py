"""What staff and visitors change through the API, and how they follow long work: 202
Accepted with a Location to poll, and the task queued once the transaction commits."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from generator.models import Corpus, GenerationJob, ImportJob, JobStatus, TrainingRun
from tests.api.builders import JIG, REEL, make_piece, make_run
from tests.api.conftest import assert_error

NEW_TUNE = """X:7
T:The Brand New Hornpipe
M:4/4
L:1/8
K:G
|:GABc dedB|cBAG FGAF|GABc dedB|cAFA G2G2:|
"""


def test_staff_create_and_start_a_run_and_poll_it(
    staff_api, staff_user, world, queued, django_capture_on_commit_callbacks
):
    body = {"corpus": world.corpus.pk, "preset": "tiny", "epochs": 3, "seed": 7, "name": "API"}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 202
    data = response.json()
    run = TrainingRun.objects.get(pk=data["id"])
    assert response["Location"] == data["url"] == f"http://testserver/api/v1/runs/{run.pk}/"
    assert run.status == JobStatus.QUEUED and run.preset == "tiny" and run.epochs == 3
    assert run.created_by == staff_user and data["created_by"] == "staff"
    assert data["config"]["units"] == [16]  # the preset's resolved values
    assert queued == [("training_run_task", (run.pk,))]
    polled = staff_api.get(response["Location"].removeprefix("http://testserver")).json()
    assert polled["status"] == "queued" and polled["done"] is False


def test_config_overrides_are_resolved_into_the_run(staff_api, world, queued):
    body = {"corpus": world.corpus.pk, "preset": "tiny", "config": {"units": [24, 24]}}
    data = staff_api.post("/api/v1/runs/", body, format="json").json()
    assert data["config"]["units"] == [24, 24] and data["config"]["embedding_dim"] == 8


def test_a_draft_run_waits_for_start(staff_api, world, queued, django_capture_on_commit_callbacks):
    body = {"corpus": world.corpus.pk, "preset": "tiny", "start": False}
    response = staff_api.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 201 and response.json()["status"] == "draft"
    run_id = response.json()["id"]
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        started = staff_api.post(f"/api/v1/runs/{run_id}/start/")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    assert queued == [("training_run_task", (run_id,))]


def test_cancel_is_immediate_for_a_queued_run_and_deferred_for_a_running_one(staff_api, world):
    queued_run = make_run(world.corpus, status=JobStatus.QUEUED)
    response = staff_api.post(f"/api/v1/runs/{queued_run.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    running = make_run(world.corpus, status=JobStatus.RUNNING)
    response = staff_api.post(f"/api/v1/runs/{running.pk}/cancel/")
    assert response.status_code == 202
    assert response.json()["status"] == "running" and response.json()["cancel_requested"] is True
    assert response["Location"].endswith(f"/api/v1/runs/{running.pk}/")


def test_resume_trains_a_finished_run_further(
    staff_api, world, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(
            f"/api/v1/runs/{world.run.pk}/resume/", {"epochs": 4}, format="json"
        )
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["epochs"] == 4
    assert queued == [("training_run_task", (world.run.pk,))]


def test_anyone_may_generate_and_poll_the_job(
    anon, world, queued, django_capture_on_commit_callbacks
):
    body = {
        "checkpoint": world.checkpoint.pk,
        "count": 2,
        "temperature": 0.7,
        "seed": 99,
        "top_k": 5,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = anon.post("/api/v1/generate/", body, format="json", REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 202
    data = response.json()
    job = GenerationJob.objects.get(pk=data["id"])
    assert response["Location"] == data["url"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert (job.count, job.temperature, job.seed, job.top_k) == (2, 0.7, 99, 5)
    assert job.requester_ip == "10.9.8.7" and job.requested_by is None
    assert data["status"] == "queued" and data["pieces"] == [] and data["done"] is False
    assert queued == [("generation_job_task", (job.pk,))]


def test_a_run_stands_for_its_latest_checkpoint(user_api, user, world, queued):
    data = user_api.post("/api/v1/generate/", {"run": world.run.pk}, format="json").json()
    job = GenerationJob.objects.get(pk=data["id"])
    assert job.checkpoint == world.checkpoint and data["epoch"] == 2
    assert job.requested_by == user and job.count == 4 and job.seed > 0


def test_meter_key_and_opening_make_the_prime_the_site_makes(anon, world, queued):
    from django.http import QueryDict

    from generator.forms import GenerateForm

    body = {"run": world.run.pk, "meter": "6/8", "key": "G", "opening": "|:GAG GBd|"}
    data = anon.post("/api/v1/generate/", body, format="json").json()
    form = GenerateForm(
        QueryDict(
            f"checkpoint={world.checkpoint.pk}&temperature=1&max_length=800&top_k=0&count=1"
            "&meter=6/8&key=G&opening=|:GAG GBd|"
        )
    )
    assert form.is_valid(), form.errors
    assert data["prime"] == form.prime() == "M:6/8\nL:1/8\nK:G\n|:GAG GBd|"


def test_reproduce_keeps_the_pieces_seed_and_settings(anon, world, queued):
    piece = make_piece(world.job, index=1)
    data = anon.post(f"/api/v1/pieces/{piece.pk}/reproduce/").json()
    job = GenerationJob.objects.get(pk=data["id"])
    assert (job.seed, job.count, job.temperature) == (piece.seed, 1, world.job.temperature)
    more = GenerationJob.objects.get(pk=anon.post(f"/api/v1/pieces/{piece.pk}/more/").json()["id"])
    assert more.seed != piece.seed or more.pk != job.pk


def test_staff_create_a_corpus(staff_api, db):
    response = staff_api.post(
        "/api/v1/corpora/", {"name": "  Reels  ", "description": "Only reels"}, format="json"
    )
    assert response.status_code == 201
    corpus = Corpus.objects.get(pk=response.json()["id"])
    assert corpus.name == "Reels" and corpus.way == "abc" and response.json()["n_tunes"] == 0
    assert response["Location"].endswith(f"/api/v1/corpora/{corpus.pk}/")


def test_an_upload_is_imported_in_the_background(
    staff_api, world, queued, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("new.abc", f"{NEW_TUNE}\n{JIG}".encode(), content_type="text/plain")
    url = f"/api/v1/corpora/{world.corpus.pk}/imports/"
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(url, {"file": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert response["Location"] == f"http://testserver/api/v1/imports/{job.pk}/"
    assert job.status == JobStatus.QUEUED and job.source == "new.abc" and job.upload
    assert queued == [("corpus_import_task", (job.pk,))]

    from generator.tasks import corpus_import_task

    corpus_import_task(job.pk)  # what the worker does with the message
    report = staff_api.get(f"/api/v1/imports/{job.pk}/").json()
    assert report["status"] == "succeeded" and report["done"] is True
    assert report["imported"] == 2 and report["failures"] == []
    titles = [
        t["title"]
        for t in staff_api.get(f"/api/v1/corpora/{world.corpus.pk}/tunes/").json()["results"]
    ]
    assert "The Brand New Hornpipe" in titles


def test_a_music21_collection_is_imported_by_name(staff_api, world, queued):
    url = f"/api/v1/corpora/{world.corpus.pk}/imports/"
    response = staff_api.post(url, {"source": "music21:oneills1850"}, format="json")
    assert response.status_code == 202
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.source == "music21:oneills1850" and not job.upload


def test_a_server_folder_inside_the_import_roots_is_accepted(
    staff_api, world, queued, settings, tmp_path
):
    (tmp_path / "tunes.abc").write_text(REEL)
    settings.API_IMPORT_ROOTS = [tmp_path]
    url = f"/api/v1/corpora/{world.corpus.pk}/imports/"
    assert staff_api.post(url, {"source": str(tmp_path)}, format="json").status_code == 202
    error = assert_error(
        staff_api.post(url, {"source": str(tmp_path / "missing")}, format="json"), 400
    )
    assert "does not exist" in error["fields"]["source"][0]
