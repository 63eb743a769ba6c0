"""Who may do what: every endpoint for an anonymous visitor, a signed-in user and staff.

Reads are public; writes are staff only (401 without credentials, 403 for a user);
generation is open to everyone within the hourly allowance."""

from __future__ import annotations

import pytest

from generator.models import JobStatus
from tests.api.builders import make_import, make_piece, make_run
from tests.api.conftest import assert_error

WHO = ("anonymous", "user", "staff")
READ = {"anonymous": 200, "user": 200, "staff": 200}
STAFF_ONLY = {"anonymous": 401, "user": 403}
OPEN = {"anonymous": 202, "user": 202, "staff": 202}

# (method, path with {placeholders}, JSON body, expected status by who)
MATRIX = [
    ("get", "/api/v1/", None, READ),
    ("get", "/api/v1/corpora/", None, READ),
    ("get", "/api/v1/corpora/{corpus}/", None, READ),
    ("get", "/api/v1/corpora/{corpus}/tunes/", None, READ),
    ("get", "/api/v1/corpora/{corpus}/imports/", None, READ),
    ("get", "/api/v1/tunes/", None, READ),
    ("get", "/api/v1/tunes/{tune}/", None, READ),
    ("get", "/api/v1/imports/", None, READ),
    ("get", "/api/v1/imports/{import}/", None, READ),
    ("get", "/api/v1/runs/", None, READ),
    ("get", "/api/v1/runs/{run}/", None, READ),
    ("get", "/api/v1/runs/{run}/checkpoints/", None, READ),
    ("get", "/api/v1/checkpoints/", None, READ),
    ("get", "/api/v1/checkpoints/{checkpoint}/", None, READ),
    ("get", "/api/v1/pieces/", None, READ),
    ("get", "/api/v1/pieces/{piece}/", None, READ),
    ("get", "/api/v1/jobs/", None, READ),
    ("get", "/api/v1/jobs/{job}/", None, READ),
    ("get", "/api/v1/generate/", None, READ),
    ("post", "/api/v1/corpora/", {"name": "A new corpus"}, {**STAFF_ONLY, "staff": 201}),
    (
        "post",
        "/api/v1/corpora/{corpus}/imports/",
        {"source": "music21:oneills1850"},
        {**STAFF_ONLY, "staff": 202},
    ),
    (
        "post",
        "/api/v1/runs/",
        {"corpus": "{corpus}", "preset": "tiny", "epochs": 1},
        {**STAFF_ONLY, "staff": 202},
    ),
    ("post", "/api/v1/runs/{draft_run}/start/", {}, {**STAFF_ONLY, "staff": 202}),
    ("post", "/api/v1/runs/{queued_run}/cancel/", {}, {**STAFF_ONLY, "staff": 200}),
    ("post", "/api/v1/runs/{run}/resume/", {"epochs": 5}, {**STAFF_ONLY, "staff": 202}),
    ("post", "/api/v1/generate/", {"run": "{run}", "count": 1}, OPEN),
    ("post", "/api/v1/pieces/{piece}/reproduce/", {}, OPEN),
    ("post", "/api/v1/pieces/{piece}/more/", {}, OPEN),
]


@pytest.fixture
def ids(world) -> dict[str, int]:
    piece = make_piece(world.job)
    return {
        "corpus": world.corpus.pk,
        "tune": world.tunes[0].pk,
        "import": make_import(world.corpus).pk,
        "run": world.run.pk,
        "draft_run": make_run(world.corpus, status=JobStatus.DRAFT).pk,
        "queued_run": make_run(world.corpus, status=JobStatus.QUEUED).pk,
        "checkpoint": world.checkpoint.pk,
        "piece": piece.pk,
        "job": world.job.pk,
    }


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        filled = {k: _fill(v, ids) for k, v in value.items()}
        return {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in filled.items()}
    return value


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    "method,path,body,expected", MATRIX, ids=[f"{m.upper()} {p}" for m, p, _, _ in MATRIX]
)
def test_each_endpoint_answers_each_kind_of_visitor_as_the_matrix_says(
    clients, ids, queued, who, method, path, body, expected
):
    client = clients[who]
    url = _fill(path, ids)
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, _fill(body, ids), format="json")
    status = expected[who]
    if status >= 400:
        error = assert_error(response, status)
        assert error["code"] == ("not_authenticated" if status == 401 else "permission_denied")
    else:
        assert response.status_code == status, response.json()


def test_an_anonymous_write_is_told_which_scheme_to_use(anon, world):
    response = anon.post("/api/v1/runs/", {"corpus": world.corpus.pk}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_a_401_even_for_a_public_read(anon, world):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    error = assert_error(anon.get("/api/v1/pieces/"), 401, "authentication_failed")
    assert "token" in error["message"].lower()


def test_a_staff_session_may_write_with_its_csrf_token(staff_user, world, queued):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    refused = client.post(
        "/api/v1/runs/",
        {"corpus": world.corpus.pk, "preset": "tiny"},
        content_type="application/json",
    )
    error = assert_error(refused, 403, "permission_denied")
    assert "CSRF" in error["message"]
    secret = "k" * 32  # a CSRF secret as the cookie holds it; the header may repeat it
    client.cookies["csrftoken"] = secret
    accepted = client.post(
        "/api/v1/runs/",
        {"corpus": world.corpus.pk, "preset": "tiny", "epochs": 1},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=secret,
    )
    assert accepted.status_code == 202, accepted.json()


def test_writes_by_a_user_change_nothing(user_api, world):
    from generator.models import Corpus, ImportJob, TrainingRun

    before = (Corpus.objects.count(), TrainingRun.objects.count(), ImportJob.objects.count())
    user_api.post("/api/v1/corpora/", {"name": "Mine"}, format="json")
    user_api.post("/api/v1/runs/", {"corpus": world.corpus.pk, "preset": "tiny"}, format="json")
    user_api.post(
        f"/api/v1/corpora/{world.corpus.pk}/imports/",
        {"source": "music21:oneills1850"},
        format="json",
    )
    user_api.post(f"/api/v1/runs/{world.run.pk}/resume/", {"epochs": 9}, format="json")
    after = (Corpus.objects.count(), TrainingRun.objects.count(), ImportJob.objects.count())
    assert after == before
    world.run.refresh_from_db()
    assert world.run.epochs == 2 and world.run.status == JobStatus.SUCCEEDED
