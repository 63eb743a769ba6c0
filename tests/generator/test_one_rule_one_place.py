"""One rule, one place: the generate page and the API build the opening of pieces with one
service and refuse a bad one on the same field in the same words; an import made through
the admin, the API or a command goes through the same checks; reproducing a piece counts
against one allowance on the page and in the API; and a service's refusal reaches every
interface by the field it names, never by what its message says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from common.errors import ServiceError, sentence
from generator import services
from generator.models import Corpus, GenerationJob, ImportJob, JobStatus
from tests.api.builders import REEL, make_piece, make_world
from tests.generator.pages import post_generate_form
from tests.ways_midi.builders import make_midi_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, int]]:
    """Tasks sent by the code under test, as (task name, row id), instead of the broker."""
    from generator import tasks

    sent: list[tuple[str, int]] = []
    for name in ("generation_job_task", "corpus_import_task"):
        monkeypatch.setattr(
            getattr(tasks, name), "delay", lambda pk, _n=name: sent.append((_n, pk))
        )
    return sent


# --- the opening of generated pieces ---------------------------------------------------------


def page_errors(client, checkpoint, **fields) -> dict[str, list[str]]:
    """The generate page's refusal, field by field (`__all__`: the form as a whole)."""
    response = post_generate_form(client, checkpoint, **{"primer_bars": "4", **fields})
    assert response.status_code == 200, response
    return {name: list(errors) for name, errors in response.context["form"].errors.items()}


def api_errors(checkpoint, **fields) -> dict[str, list[str]]:
    body = {"checkpoint": checkpoint.pk, "count": 1, **fields}
    response = APIClient().post("/api/v1/generate/", body, format="json")
    assert response.status_code == 400, response.json()
    return response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"key": "D"}, ["key"]),
        ({"meter": "6/8", "opening": "abc"}, ["opening"]),
        ({"key": "D", "opening": "DEF"}, ["key", "opening"]),
        ({"meter": "K:6/8"}, ["meter"]),
        ({"meter": "6/8", "key": "G", "opening": "GAG ~@€"}, ["opening"]),
        ({"meter": "6/8", "key": "Ω"}, ["key"]),
        ({"seconds": 5}, ["seconds"]),
    ],
    ids=[
        "a key without a meter",
        "an opening without a key",
        "a key and an opening without a meter",
        "a meter that is more than one value",
        "opening notes the model never saw",
        "a key the model never saw",
        "seconds for a run that makes no audio",
    ],
)
def test_the_page_and_the_api_refuse_the_same_bad_opening_on_the_same_field(
    client, fields, refused
):
    world = make_world()
    page = page_errors(client, world.checkpoint, **fields)
    api = api_errors(world.checkpoint, **fields)
    assert sorted(page) == sorted(api) == refused
    assert page == api  # in the same words, too
    assert not GenerationJob.objects.exclude(pk=world.job.pk).exists()


def test_a_primer_for_an_abc_run_and_a_meter_for_a_midi_run_are_refused_alike(client):
    abc, midi = make_world(), make_midi_world()
    tune = midi.tunes[0].pk
    assert page_errors(client, abc.checkpoint, primer_tune=tune) == api_errors(
        abc.checkpoint, primer_tune=tune
    )
    page = page_errors(client, midi.checkpoint, meter="6/8")
    assert page == api_errors(midi.checkpoint, meter="6/8")
    assert list(page) == ["meter"] and "for ABC runs" in page["meter"][0]


def test_the_page_and_the_api_build_the_same_prime_with_one_service(client, queued, monkeypatch):
    world = make_world()
    calls = []
    build = services.generation_prime_build

    def spy(**kwargs):
        calls.append(kwargs)
        return build(**kwargs)

    monkeypatch.setattr(services, "generation_prime_build", spy)
    fields = {"meter": "6/8", "key": "G", "opening": "|:GAG GBd|"}
    response = client.post(
        reverse("generate"),
        {
            "checkpoint": world.checkpoint.pk,
            "temperature": "1.0",
            "max_length": "400",
            "top_k": "0",
            "count": "1",
            **fields,
        },
    )
    assert response.status_code == 302
    response = APIClient().post(
        "/api/v1/generate/", {"checkpoint": world.checkpoint.pk, **fields}, format="json"
    )
    assert response.status_code == 202
    assert len(calls) == 2
    page_job, api_job = GenerationJob.objects.exclude(pk=world.job.pk).order_by("pk")
    assert page_job.prime == api_job.prime == "M:6/8\nL:1/8\nK:G\n|:GAG GBd|"


# --- a refusal travels by its field ----------------------------------------------------------


@pytest.mark.parametrize("field", ["top_k", "temperature", "prime", None])
def test_a_service_errors_field_reaches_the_api_body_and_the_form_whatever_its_words(
    client, monkeypatch, field
):
    world = make_world()

    def refuse(**kwargs):
        raise ServiceError("zyzzyva: words no interface looks for", field=field)

    monkeypatch.setattr(services, "generation_job_create", refuse)
    response = APIClient().post(
        "/api/v1/generate/", {"checkpoint": world.checkpoint.pk}, format="json"
    )
    message = "Zyzzyva: words no interface looks for"
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": message,
        "fields": {field: [message]} if field else {},
    }
    page = page_errors(client, world.checkpoint)
    # The form has no raw `prime`: its table sends that one to the form as a whole.
    assert page == {field if field in ("top_k", "temperature") else "__all__": [message]}


def test_no_interface_reads_a_service_message_to_find_its_field():
    root = Path(django_settings.BASE_DIR)
    found = []
    for folder in ("common", "generator", "evaluation"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            for pattern in (r"_HINTS\b", r"\bservice_call\b", r"\bhints\b", r"\blowered\b"):
                if re.search(pattern, text):
                    found.append(f"{path.relative_to(root)}: {pattern}")
    assert found == []


def test_a_service_error_is_a_value_error_carrying_every_field_it_refuses():
    error = ServiceError.of(
        [ServiceError("give a meter", field="key"), ServiceError("and a key", field="opening")]
    )
    assert isinstance(error, ValueError) and str(error) == "give a meter"
    assert error.items() == [("key", "give a meter"), ("opening", "and a key")]


# --- import jobs -----------------------------------------------------------------------------


def _admin_add(client, corpus: Corpus, **fields) -> dict[str, list[str]]:
    response = client.post(
        reverse("admin:generator_importjob_add"), {"corpus": corpus.pk, "source": "", **fields}
    )
    if response.status_code == 302:
        return {}
    assert response.status_code == 200
    return {k: list(v) for k, v in response.context["adminform"].form.errors.items()}


def _api_import(staff_user, corpus: Corpus, *, fmt: str = "json", **fields):
    from tests.api.conftest import token_client

    return token_client(staff_user).post(
        f"/api/v1/corpora/{corpus.pk}/imports/", fields, format=fmt
    )


def _command(source: str, corpus: Corpus) -> str | None:
    try:
        call_command("import_corpus", source, corpus=corpus.name)
    except CommandError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    "source",
    ["music21:no-such-collection", "{roots}/missing"],
    ids=["a music21 collection there is not", "a folder that is not there"],
)
def test_an_import_through_the_admin_the_api_and_the_command_goes_through_the_same_checks(
    staff_client, staff_user, settings, tmp_path, source
):
    settings.API_IMPORT_ROOTS = [tmp_path]
    source = source.format(roots=tmp_path)
    corpus = Corpus.objects.create(name="checked")
    admin = _admin_add(staff_client, corpus, source=source)
    api = _api_import(staff_user, corpus, source=source).json()["error"]["fields"]
    command = _command(source, corpus)
    assert list(admin) == list(api) == ["source"]
    assert admin["source"] == api["source"] == [sentence(command)]
    assert not ImportJob.objects.exists()


def test_a_file_that_is_not_abc_is_refused_alike_by_the_admin_and_the_api(staff_client, staff_user):
    corpus = Corpus.objects.create(name="checked")

    def upload():
        return SimpleUploadedFile("photo.abc", b"\x89PNG\x00binary", content_type="text/plain")

    admin = _admin_add(staff_client, corpus, upload=upload())
    api = _api_import(staff_user, corpus, fmt="multipart", file=upload()).json()["error"]
    # The service calls the upload `upload`; the API's request field is `file`.
    assert admin == {"upload": api["fields"]["file"]}
    assert "binary" in admin["upload"][0]
    assert not ImportJob.objects.exists()


def test_a_folder_outside_the_import_roots_is_refused_on_the_web_and_taken_from_the_shell(
    staff_client, staff_user, settings, tmp_path
):
    (tmp_path / "tunes.abc").write_text(REEL)
    settings.API_IMPORT_ROOTS = [tmp_path / "elsewhere"]
    corpus = Corpus.objects.create(name="checked")
    admin = _admin_add(staff_client, corpus, source=str(tmp_path))
    api = _api_import(staff_user, corpus, source=str(tmp_path)).json()["error"]["fields"]
    assert admin == api and "API_IMPORT_ROOTS" in admin["source"][0]
    assert not ImportJob.objects.exists()
    assert _command(str(tmp_path), corpus) is None  # the server's own shell may name any
    job = ImportJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.imported == 1


def test_an_import_made_in_the_admin_is_stored_and_queued_after_commit_as_the_apis_is(
    staff_client, staff_user, queued, django_capture_on_commit_callbacks
):
    corpus = Corpus.objects.create(name="checked")

    def upload():
        return SimpleUploadedFile("reel.abc", REEL.encode(), content_type="text/plain")

    with django_capture_on_commit_callbacks(execute=True):
        assert _admin_add(staff_client, corpus, upload=upload()) == {}
        assert _api_import(staff_user, corpus, fmt="multipart", file=upload()).status_code == 202
    admin_job, api_job = ImportJob.objects.order_by("pk")
    for job in (admin_job, api_job):
        assert (job.source, job.status, job.corpus) == ("reel.abc", JobStatus.QUEUED, corpus)
        assert job.upload and job.code_version == django_settings.CODE_VERSION
    assert queued == [("corpus_import_task", admin_job.pk), ("corpus_import_task", api_job.pk)]


# --- reproducing a piece ---------------------------------------------------------------------


def test_reproducing_a_piece_counts_against_one_allowance_on_the_page_and_in_the_api(
    client, settings, queued
):
    settings.ANON_GENERATIONS_PER_HOUR = 2
    world = make_world()
    piece = make_piece(world.job, index=1)
    api = APIClient()
    ip = {"REMOTE_ADDR": "10.4.4.4"}
    page_url = reverse("piece_reproduce", args=[piece.pk])
    api_url = f"/api/v1/pieces/{piece.pk}/reproduce/"
    assert client.post(page_url, **ip).status_code == 302
    assert api.post(api_url, **ip).status_code == 202
    refused_page = client.post(page_url, **ip)
    assert refused_page.status_code == 429
    assert "2 pieces" in refused_page.content.decode()
    assert api.post(api_url, **ip).status_code == 429
    assert client.post(reverse("piece_more_like", args=[piece.pk]), **ip).status_code == 429
    jobs = GenerationJob.objects.filter(requester_ip="10.4.4.4")
    assert [(job.seed, job.count) for job in jobs] == [(piece.seed, 1), (piece.seed, 1)]


def test_the_reproduce_service_refuses_past_the_allowance_and_writes_nothing(settings):
    settings.ANON_GENERATIONS_PER_HOUR = 1
    world = make_world()
    piece = make_piece(world.job, index=1)
    first = services.piece_reproduce(piece=piece, same_seed=True, ip="10.5.5.5")
    assert (first.seed, first.temperature, first.prime) == (
        piece.seed,
        world.job.temperature,
        world.job.prime,
    )
    with pytest.raises(services.AllowanceExceeded) as refused:
        services.piece_reproduce(piece=piece, same_seed=False, ip="10.5.5.5")
    assert isinstance(refused.value, ServiceError) and refused.value.allowance.remaining == 0
    assert GenerationJob.objects.filter(requester_ip="10.5.5.5").count() == 1


def test_the_api_reproduce_is_held_to_the_allowance_by_the_service_not_only_its_throttle(
    settings, monkeypatch
):
    from generator.api.throttles import GenerationThrottle

    monkeypatch.setattr(GenerationThrottle, "allow_request", lambda self, request, view: True)
    settings.ANON_GENERATIONS_PER_HOUR = 1
    world = make_world()
    piece = make_piece(world.job, index=1)
    api, ip = APIClient(), {"REMOTE_ADDR": "10.6.6.6"}
    assert api.post(f"/api/v1/pieces/{piece.pk}/more/", **ip).status_code == 202
    refused = api.post(f"/api/v1/pieces/{piece.pk}/reproduce/", **ip)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "You have generated the 1 pieces" in refused.json()["error"]["message"]


# --- training runs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"preset": "enormous"}, "preset"), ({"config": '{"colour": "blue"}'}, "config")],
)
def test_a_run_the_api_refuses_is_refused_on_the_same_field_by_the_admin(
    staff_client, staff_user, fields, field
):
    from generator.models import TrainingRun
    from tests.api.conftest import token_client

    world = make_world()
    body = {"corpus": world.corpus.pk, "preset": "tiny", "epochs": 1, "seed": 0, "config": "{}"}
    page = staff_client.post(
        reverse("admin:generator_trainingrun_add"), {**body, "way": "abc", **fields}
    )
    admin = {k: list(v) for k, v in page.context["adminform"].form.errors.items()}
    api_body = {**body, "config": {}, "start": False}
    if "config" in fields:
        api_body["config"] = {"colour": "blue"}
    else:
        api_body.update(fields)
    error = token_client(staff_user).post("/api/v1/runs/", api_body, format="json").json()
    if field == "preset":  # the admin's preset is a choice: it refuses before the service
        assert list(admin) == list(error["error"]["fields"]) == ["preset"]
    else:
        assert admin == error["error"]["fields"] == {"config": [error["error"]["message"]]}
    assert TrainingRun.objects.count() == 1  # the world's own


def test_an_admin_run_is_made_by_the_service_the_api_uses(staff_client, staff_user):
    from generator.models import TrainingRun

    world = make_world()
    response = staff_client.post(
        reverse("admin:generator_trainingrun_add"),
        {
            "name": "from the admin",
            "corpus": world.corpus.pk,
            "way": "abc",
            "preset": "tiny",
            "epochs": 3,
            "seed": 5,
            "config": '{"dropout": 0.1}',
        },
    )
    assert response.status_code == 302
    run = TrainingRun.objects.get(name="from the admin")
    assert run.status == JobStatus.DRAFT and run.created_by == staff_user
    assert run.config["dropout"] == 0.1 and run.config["units"]  # the preset's, resolved
    assert run.tune_id_max == world.corpus.tunes.order_by("-pk").first().pk
    assert run.code_version == django_settings.CODE_VERSION
