"""The hourly allowance of generated pieces: one rule for the generate page and the API.

Anonymous visitors may generate settings.ANON_GENERATIONS_PER_HOUR pieces an hour per
address (the address `common.http.client_ip` reads, so it is the same behind a proxy);
signed-in users get more, counted per user (settings.API_USER_GENERATIONS_PER_HOUR, by
default USER_GENERATION_FACTOR times the anonymous allowance); staff have no limit.
Epoch samples are not requests and never count.

The check and the job it allows are one step: `generation_allowance_take`, called by
`generation_job_create` in the transaction that creates the job, locks the visitor's
GenerationRequester row first, so two requests of one visitor at the same moment cannot both
count the same pieces left (the second counts after the first's job is committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from common.errors import ServiceError

from ..models import GenerationJob, GenerationRequester

# A signed-in user's allowance as a multiple of the anonymous one (when not set explicitly).
USER_GENERATION_FACTOR = 5
WINDOW = timedelta(hours=1)


@dataclass
class Allowance:
    limit: int | None  # pieces per hour; None: no limit
    used: int
    scope: str  # "address", "user" or "staff": what the count is kept by
    oldest: datetime | None = None  # when the oldest counted request was made

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    def allows(self, asked: int) -> bool:
        return self.limit is None or asked <= (self.remaining or 0)

    def wait_seconds(self) -> float:
        """Seconds until the oldest counted request leaves the hour (at least 1)."""
        if self.oldest is None:
            return WINDOW.total_seconds()
        return max((self.oldest + WINDOW - timezone.now()).total_seconds(), 1.0)

    def refusal(self, asked: int) -> str:
        """Why `asked` more pieces are refused, for people."""
        who = {"address": "visitors", "user": "signed-in users"}.get(self.scope, "you")
        if not self.remaining:
            return (
                f"You have generated the {self.limit} pieces {who} may make in an hour. "
                "Please come back a little later."
            )
        return (
            f"{who.capitalize()} may generate {self.limit} pieces an hour: {self.remaining} "
            f"left for now, and you asked for {asked}."
        )


class AllowanceExceeded(ServiceError):
    """More pieces asked than the visitor has left this hour (pages answer 429, the API a
    429 with Retry-After); `allowance` and `asked` say how far over."""

    def __init__(self, allowance: Allowance, asked: int) -> None:
        super().__init__(allowance.refusal(asked))
        self.allowance = allowance
        self.asked = asked


def user_generations_per_hour() -> int:
    explicit = getattr(settings, "API_USER_GENERATIONS_PER_HOUR", None)
    if explicit is not None:
        return int(explicit)
    return int(settings.ANON_GENERATIONS_PER_HOUR) * USER_GENERATION_FACTOR


def generation_allowance(*, user: Any, ip: str | None) -> Allowance:
    """What this visitor (a user, or an anonymous address) may still generate this hour."""
    if user is not None and user.is_authenticated and user.is_staff:
        return Allowance(limit=None, used=0, scope="staff")
    since = timezone.now() - WINDOW
    jobs = GenerationJob.objects.filter(created_at__gte=since, is_epoch_sample=False)
    if user is not None and user.is_authenticated:
        limit, scope, jobs = user_generations_per_hour(), "user", jobs.filter(requested_by=user)
    else:
        limit, scope = int(settings.ANON_GENERATIONS_PER_HOUR), "address"
        jobs = jobs.filter(requester_ip=ip) if ip else jobs.none()
    used = int(jobs.aggregate(n=Sum("count"))["n"] or 0)
    oldest = jobs.order_by("created_at").values_list("created_at", flat=True).first()
    return Allowance(limit=limit, used=used, scope=scope, oldest=oldest)


def _requester_key(user: Any, ip: str | None) -> str | None:
    """The row a visitor's requests lock: by user when signed in, else by address; None for
    staff (no limit) and for callers that are no visitor (commands, benchmarks)."""
    if user is not None and user.is_authenticated:
        return None if user.is_staff else f"user:{user.pk}"
    return f"ip:{ip}" if ip else None


def generation_allowance_take(*, user: Any, ip: str | None, asked: int) -> Allowance:
    """Count `asked` pieces against the visitor's allowance, for a job the caller creates in
    the same transaction (it must be in one): locks the visitor's row until that transaction
    ends, then counts; AllowanceExceeded (and the caller's transaction is rolled back) when
    they are more than the visitor has left. Staff, and callers that are no visitor, take
    nothing and are not limited."""
    key = _requester_key(user, ip)
    if key is None:
        return generation_allowance(user=user, ip=ip)
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("generation_allowance_take needs the transaction creating the job")
    # get_or_create inserts a new visitor's row in a savepoint; a second request inserting
    # the same key waits for the first's transaction, then finds the row. The lock is taken
    # by key: a row the hourly prune deleted in between is simply made again.
    row = None
    while row is None:
        GenerationRequester.objects.get_or_create(key=key)
        row = GenerationRequester.objects.select_for_update().filter(key=key).first()
    row.save(update_fields=["last_request_at"])
    allowance = generation_allowance(user=user, ip=ip)  # counted under the lock
    if not allowance.allows(asked):
        raise AllowanceExceeded(allowance, asked)
    return allowance


def generation_requesters_prune(*, now: datetime | None = None) -> int:
    """Delete the lock rows of visitors who asked for nothing within the allowance's window
    (WINDOW): their count is made of jobs of the last hour only, so an older row locks
    nothing anyone counts. Returns how many were deleted. Run hourly by the beat.

    Safe beside a request taking its row: the request locks it (and writes its time) before
    counting, and PostgreSQL checks the row again after that lock, so a row in use is kept;
    a row deleted just before a request locks it is made again (generation_allowance_take)."""
    cutoff = (now or timezone.now()) - WINDOW
    deleted, _ = GenerationRequester.objects.filter(last_request_at__lt=cutoff).delete()
    return deleted
