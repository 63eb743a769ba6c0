"""The rows the hourly allowance locks (one per visitor who asked for pieces) do not pile up:
the beat deletes, every hour, those of visitors idle for longer than the allowance's hour,
never one a request is using, and staff see them read-only in the admin. Real PostgreSQL,
real threads."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from generator import services
from generator.models import GenerationRequester
from generator.services.allowance import WINDOW
from generator.task_names import REQUESTERS_PRUNE_TASK
from tests.web.builders import make_world


def _aged(key: str, age: timedelta) -> GenerationRequester:
    row = GenerationRequester.objects.create(key=key)
    GenerationRequester.objects.filter(pk=row.pk).update(last_request_at=timezone.now() - age)
    return row


@pytest.mark.django_db
def test_the_prune_deletes_the_rows_of_visitors_idle_for_longer_than_the_allowance_hour():
    _aged("ip:10.0.0.1", WINDOW + timedelta(minutes=1))
    _aged("user:7", timedelta(days=30))
    _aged("ip:10.0.0.2", WINDOW - timedelta(minutes=5))  # still inside the hour
    assert services.generation_requesters_prune() == 2
    assert list(GenerationRequester.objects.values_list("key", flat=True)) == ["ip:10.0.0.2"]
    assert services.generation_requesters_prune() == 0


@pytest.mark.django_db
def test_the_beat_prunes_them_every_hour_on_the_default_queue():
    entries = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == REQUESTERS_PRUNE_TASK
    ]
    assert len(entries) == 1 and entries[0]["schedule"] == 3600.0


@pytest.mark.django_db
def test_a_visitor_whose_row_was_pruned_is_counted_as_before(settings):
    settings.ANON_GENERATIONS_PER_HOUR = 2
    world = make_world()
    services.generation_job_create(
        checkpoint=world.checkpoint, count=2, seed=1, ip="10.1.1.1", enqueue=False
    )
    GenerationRequester.objects.update(last_request_at=timezone.now() - 2 * WINDOW)
    assert services.generation_requesters_prune() == 1
    # The row is made again, and the pieces of the last hour still count: no extra allowance.
    with pytest.raises(services.AllowanceExceeded):
        services.generation_job_create(
            checkpoint=world.checkpoint, count=1, seed=2, ip="10.1.1.1", enqueue=False
        )
    services.generation_job_create(
        checkpoint=world.checkpoint, count=1, seed=3, ip="10.2.2.2", enqueue=False
    )
    assert GenerationRequester.objects.filter(key="ip:10.2.2.2").exists()


@pytest.mark.django_db(transaction=True)
def test_a_prune_running_while_a_request_holds_an_old_row_keeps_it(settings):
    settings.ANON_GENERATIONS_PER_HOUR = 5
    _aged("ip:10.3.3.3", 2 * WINDOW)  # the visitor's last request was two hours ago
    locked = threading.Event()
    pruned: list[object] = []

    def prune() -> None:
        try:
            locked.wait(timeout=30)
            pruned.append(services.generation_requesters_prune())  # waits for the lock
        except Exception as exc:  # asserted on below
            pruned.append(exc)
        finally:
            connection.close()

    pruner = threading.Thread(target=prune)
    pruner.start()
    with transaction.atomic():  # a request between counting and creating its job
        services.generation_allowance_take(user=None, ip="10.3.3.3", asked=1)
        locked.set()
        assert _a_query_waits_for_a_lock(), "the prune never reached the locked row"
    pruner.join(timeout=30)
    assert pruned == [0]  # checked again after the request's commit: in use, so kept
    assert GenerationRequester.objects.filter(key="ip:10.3.3.3").exists()


def _a_query_waits_for_a_lock(timeout: float = 20.0) -> bool:
    """Another connection of this database is waiting for a row lock (PostgreSQL's view)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction the activity view is a snapshot taken once: take it anew.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.django_db
def test_staff_see_the_rows_in_the_admin_and_cannot_change_them(staff_client):
    _aged("ip:192.0.2.8", timedelta(minutes=3))
    listing = staff_client.get(reverse("admin:generator_generationrequester_changelist"))
    assert listing.status_code == 200 and "ip:192.0.2.8" in listing.content.decode()
    assert staff_client.get(reverse("admin:generator_generationrequester_add")).status_code == 403
    row = GenerationRequester.objects.get()
    detail = staff_client.get(reverse("admin:generator_generationrequester_change", args=[row.pk]))
    assert detail.status_code == 200 and 'name="key"' not in detail.content.decode()
    staff_client.post(
        reverse("admin:generator_generationrequester_change", args=[row.pk]), {"key": "ip:x"}
    )
    assert GenerationRequester.objects.get().key == "ip:192.0.2.8"


@pytest.mark.django_db
def test_the_prune_is_one_delete_that_postgresql_checks_again_after_a_lock(
    django_assert_num_queries,
):
    # One DELETE ... WHERE last_request_at < cutoff (no SELECT of ids first): PostgreSQL
    # evaluates its condition again on a row a request had locked, so a row in use is kept.
    with django_assert_num_queries(1) as queries:
        services.generation_requesters_prune()
    assert queries.captured_queries[0]["sql"].startswith("DELETE")
    assert "last_request_at" in queries.captured_queries[0]["sql"]
