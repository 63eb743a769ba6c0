"""Fixtures of the REST API tests: a small world of corpus, tunes, run, checkpoints and
pieces, API clients for an anonymous visitor, a user and staff (token authentication), and
a recorder of queued Celery tasks."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.builders import World, make_gallery, make_world


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Request throttles and facet lists live in the cache: each test starts without."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db) -> World:
    return make_world()


@pytest.fixture
def gallery(world):
    return make_gallery(world)


def token_client(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.token = token.key
    return client


@pytest.fixture
def anon(db) -> APIClient:
    return APIClient()


@pytest.fixture
def user_api(user) -> APIClient:
    return token_client(user)


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    return token_client(staff_user)


@pytest.fixture
def clients(anon, user_api, staff_api) -> dict[str, APIClient]:
    return {"anonymous": anon, "user": user_api, "staff": staff_api}


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Celery tasks sent by the code under test, as (task name, args), instead of sending
    them to the broker. Tasks are sent on commit: use `django_capture_on_commit_callbacks`."""
    from generator import tasks

    sent: list[tuple[str, tuple[Any, ...]]] = []
    for name in (
        "training_run_task",
        "generation_job_task",
        "piece_render_task",
        "corpus_import_task",
    ):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda *args, _n=name: sent.append((_n, args)))
    return sent


def assert_error(response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is `status` in the API's one error format; returns its `error`."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", None))
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    for messages in error["fields"].values():
        assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)
    if code is not None:
        assert error["code"] == code, error
    return error
