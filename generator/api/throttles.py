"""The hourly allowance of pieces as an API throttle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from common.http import client_ip
from generator import services


class GenerationThrottle(BaseThrottle):
    """Pieces per hour (not requests): a POST asking for more pieces than the visitor has
    left is answered 429 with a Retry-After and a message saying what is left."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST":
            return True
        allowance = services.generation_allowance(user=request.user, ip=client_ip(request))
        asked = view.pieces_asked(request) if hasattr(view, "pieces_asked") else 1
        if allowance.allows(asked):
            return True
        self._wait = allowance.wait_seconds()
        request.throttle_message = allowance_message(allowance, asked)
        return False

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


def allowance_message(allowance: services.Allowance, asked: int) -> str:
    """Why `asked` more pieces are refused, for a program's user: what is left, by what."""
    if allowance.remaining == 0:
        return (
            f"You have generated the {allowance.limit} pieces you may make in an hour "
            f"(counted by {allowance.scope}). Please come back later, or use a staff token."
        )
    return (
        f"You may generate {allowance.limit} pieces an hour: {allowance.remaining} "
        f"left for now, and you asked for {asked}."
    )


@contextmanager
def allowance_as_throttle() -> Iterator[None]:
    """The allowance a job's creation found spent (AllowanceExceeded: another request of the
    same visitor took the rest between GenerationThrottle's look and the job) answered as
    the throttle answers it: 429 with Retry-After and what is left."""
    try:
        yield
    except services.AllowanceExceeded as exc:
        raise exceptions.Throttled(
            wait=exc.allowance.wait_seconds(), detail=allowance_message(exc.allowance, exc.asked)
        ) from exc
