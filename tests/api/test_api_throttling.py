"""Throttles: generation is counted in pieces per hour (anonymous per address, shared with
the site's generate page; users per user, at a higher rate; staff without limit), and every
endpoint has a request rate per address and per user."""

from __future__ import annotations

import pytest

from generator.models import GenerationJob
from tests.api.builders import make_job, make_piece
from tests.api.conftest import assert_error


@pytest.fixture
def limit(settings):
    settings.ANON_GENERATIONS_PER_HOUR = 3
    settings.API_USER_GENERATIONS_PER_HOUR = 5
    return settings


def generate(client, world, count=1, **extra):
    return client.post(
        "/api/v1/generate/", {"run": world.run.pk, "count": count}, format="json", **extra
    )


def test_anonymous_generation_past_the_hourly_allowance_is_a_429(anon, world, limit):
    assert generate(anon, world, 2).status_code == 202
    error = assert_error(generate(anon, world, 2), 429, "throttled")
    assert "1 left for now, and you asked for 2" in error["message"]
    assert generate(anon, world, 1).status_code == 202
    before = GenerationJob.objects.count()
    response = generate(anon, world, 1)
    error = assert_error(response, 429, "throttled")
    assert "You have generated the 3 pieces" in error["message"]
    assert 3500 <= int(response["Retry-After"]) <= 3600
    assert GenerationJob.objects.count() == before


def test_the_allowance_is_shared_with_the_sites_generate_page(anon, world, limit):
    make_job(world.checkpoint, count=3, requester_ip="127.0.0.1")  # made on the web page
    assert_error(generate(anon, world), 429, "throttled")
    assert generate(anon, world, REMOTE_ADDR="10.0.0.9").status_code == 202  # another address


def test_epoch_samples_and_old_requests_do_not_count(anon, world, limit):
    from datetime import timedelta

    from django.utils import timezone

    make_job(world.checkpoint, count=3, requester_ip="127.0.0.1", is_epoch_sample=True)
    old = make_job(world.checkpoint, count=3, requester_ip="127.0.0.1")
    GenerationJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert generate(anon, world, 3).status_code == 202


def test_users_get_a_higher_allowance_counted_per_user(user_api, anon, world, limit):
    assert generate(user_api, world, 5, REMOTE_ADDR="10.0.0.1").status_code == 202
    assert_error(generate(user_api, world, 1, REMOTE_ADDR="10.0.0.2"), 429, "throttled")
    # Counted per user, not per address: an anonymous visitor elsewhere has a full allowance.
    assert generate(anon, world, 3, REMOTE_ADDR="10.0.0.3").status_code == 202


def test_the_user_allowance_defaults_to_five_times_the_anonymous_one(user_api, world, settings):
    settings.ANON_GENERATIONS_PER_HOUR = 1
    assert user_api.get("/api/v1/generate/").json() == {
        "limit": 5,
        "used": 0,
        "remaining": 5,
        "scope": "user",
    }


def test_staff_generate_without_a_limit(staff_api, world, limit):
    limit.ANON_GENERATIONS_PER_HOUR = 0
    for _ in range(3):
        assert generate(staff_api, world, 10).status_code == 202
    assert staff_api.get("/api/v1/generate/").json()["limit"] is None


def test_reproducing_a_piece_counts_against_the_allowance(anon, world, limit):
    piece = make_piece(world.job)
    make_job(world.checkpoint, count=3, requester_ip="127.0.0.1")
    for action in ("reproduce", "more"):
        assert_error(anon.post(f"/api/v1/pieces/{piece.pk}/{action}/"), 429, "throttled")


def test_the_allowance_endpoint_says_what_is_left(anon, world, limit):
    assert anon.get("/api/v1/generate/").json() == {
        "limit": 3,
        "used": 0,
        "remaining": 3,
        "scope": "address",
    }
    generate(anon, world, 2)
    assert anon.get("/api/v1/generate/").json()["remaining"] == 1


def test_an_over_sized_request_is_refused_for_its_size_not_counted(anon, world, limit):
    """A count the service would refuse anyway is a 400, not a 429."""
    error = assert_error(generate(anon, world, 1000), 400, "invalid")
    assert "count" in error["fields"]


def test_requests_per_address_are_throttled_on_every_endpoint(anon, world, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_anon": "3/min", "api_user": "1/min"},
    }
    for _ in range(3):
        assert anon.get("/api/v1/pieces/").status_code == 200
    response = anon.get(f"/api/v1/runs/{world.run.pk}/")
    error = assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in error["message"].lower()
    assert anon.get("/api/v1/pieces/", REMOTE_ADDR="10.1.1.1").status_code == 200


def test_requests_per_user_are_throttled_but_staff_are_not(user_api, staff_api, world, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_anon": "1/min", "api_user": "2/min"},
    }
    assert user_api.get("/api/v1/pieces/").status_code == 200
    assert user_api.get("/api/v1/pieces/", REMOTE_ADDR="10.2.2.2").status_code == 200
    assert_error(user_api.get("/api/v1/pieces/", REMOTE_ADDR="10.3.3.3"), 429, "throttled")
    for _ in range(5):
        assert staff_api.get("/api/v1/pieces/").status_code == 200


def test_behind_a_trusted_proxy_the_api_counts_the_address_the_proxy_saw(anon, world, limit):
    # One rule for pages and API: with one trusted proxy, the right-most forwarded address
    # is the caller, so callers behind the proxy are not all counted as the proxy.
    limit.TRUSTED_PROXY_COUNT = 1
    make_job(world.checkpoint, count=3, requester_ip="203.0.113.7")
    behind = {"REMOTE_ADDR": "10.0.0.1"}
    assert_error(
        generate(anon, world, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7", **behind),
        429,
        "throttled",
    )
    other = generate(anon, world, HTTP_X_FORWARDED_FOR="203.0.113.8", **behind)
    assert other.status_code == 202
    job = GenerationJob.objects.get(pk=other.json()["id"])
    assert job.requester_ip == "203.0.113.8"


def test_a_signed_in_user_has_the_same_allowance_on_the_generate_page_as_in_the_api(
    client, user, world, limit
):
    from django.urls import reverse

    make_job(world.checkpoint, count=5, requested_by=user, requester_ip="10.0.0.5")
    client.force_login(user)
    page = client.get(reverse("generate"))
    assert page.context["remaining"] == 0 and page.context["limit"] == 5
