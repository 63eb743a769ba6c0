"""The hourly allowance holds under concurrent requests: counting a visitor's pieces and
creating the job are one step (the visitor's row locked in the transaction that creates the
job), so requests arriving together never make more than the allowance between them, and
those past it get the clear "limit" answer, never a 500. Real PostgreSQL, real threads."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from generator import services
from generator.models import GenerationJob, GenerationRequester
from tests.web.builders import make_world

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWANCE = 3
REQUESTS = 8


@pytest.fixture
def world(settings):
    settings.ANON_GENERATIONS_PER_HOUR = ALLOWANCE
    return make_world()


def _all_at_once(work: Callable[[int], object], n: int = REQUESTS) -> list[object]:
    """Run work(0..n-1) in n threads released together; each result, or the exception it
    raised. Each thread has its own database connection, closed when it is done."""
    start = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except Exception as exc:  # kept to be asserted on: a 500 would show here
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_jobs_of_one_address_never_pass_the_allowance(world):
    def create(i: int):
        return services.generation_job_create(
            checkpoint=world.checkpoint, count=1, seed=i + 1, ip="10.9.9.9", enqueue=False
        )

    results = _all_at_once(create)
    made = [r for r in results if isinstance(r, GenerationJob)]
    refused = [r for r in results if isinstance(r, services.AllowanceExceeded)]
    assert len(made) == ALLOWANCE and len(refused) == REQUESTS - ALLOWANCE, results
    assert GenerationJob.objects.filter(requester_ip="10.9.9.9").count() == ALLOWANCE
    assert all(r.allowance.remaining == 0 for r in refused)
    assert GenerationRequester.objects.filter(key="ip:10.9.9.9").count() == 1


def test_a_request_for_several_pieces_takes_only_what_is_left(world):
    def create(i: int):  # 2 pieces each: one request fits whole, a second would pass 3
        return services.generation_job_create(
            checkpoint=world.checkpoint, count=2, seed=i + 1, ip="10.8.8.8", enqueue=False
        )

    results = _all_at_once(create, n=4)
    assert sum(isinstance(r, GenerationJob) for r in results) == 1, results
    assert sum(isinstance(r, services.AllowanceExceeded) for r in results) == 3


def test_other_visitors_and_staff_are_not_held_up_by_a_visitors_allowance(world, staff_user):
    for i in range(ALLOWANCE):
        services.generation_job_create(
            checkpoint=world.checkpoint, seed=i + 1, ip="10.7.7.7", enqueue=False
        )
    with pytest.raises(services.AllowanceExceeded):
        services.generation_job_create(checkpoint=world.checkpoint, ip="10.7.7.7", enqueue=False)
    assert services.generation_job_create(checkpoint=world.checkpoint, ip="10.7.7.8", enqueue=False)
    staff = services.generation_job_create(
        checkpoint=world.checkpoint, count=10, user=staff_user, ip="10.7.7.7", enqueue=False
    )
    assert staff.pk and not GenerationRequester.objects.filter(key__startswith="user:").exists()


def test_concurrent_api_requests_get_202_or_429_and_never_more_pieces_than_allowed(world):
    body = {"checkpoint": world.checkpoint.pk, "count": 1}

    def post(i: int):
        return APIClient().post(
            "/api/v1/generate/", {**body, "seed": i + 1}, format="json", REMOTE_ADDR="10.6.5.4"
        )

    answers = _all_at_once(post)
    codes = sorted(getattr(a, "status_code", a) for a in answers)
    assert codes == [202] * ALLOWANCE + [429] * (REQUESTS - ALLOWANCE), answers
    for refused in (a for a in answers if a.status_code == 429):
        assert int(refused["Retry-After"]) > 0
        assert f"You have generated the {ALLOWANCE} pieces" in refused.json()["error"]["message"]
    assert GenerationJob.objects.filter(requester_ip="10.6.5.4").count() == ALLOWANCE


def test_concurrent_generate_page_posts_show_the_limit_not_an_error(world):
    def post(i: int):
        form = {
            "checkpoint": world.checkpoint.pk,
            "count": 1,
            "temperature": 1.0,
            "max_length": 200,
            "top_k": 0,
            "seed": i + 1,
        }
        return Client(REMOTE_ADDR="10.6.5.3").post("/generate/", form)

    answers = _all_at_once(post)
    codes = sorted(getattr(a, "status_code", a) for a in answers)
    assert codes == [302] * ALLOWANCE + [429] * (REQUESTS - ALLOWANCE), answers
    for refused in (a for a in answers if a.status_code == 429):
        assert f"You have generated the {ALLOWANCE} pieces" in refused.content.decode()
    assert GenerationJob.objects.filter(requester_ip="10.6.5.3").count() == ALLOWANCE
