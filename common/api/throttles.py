"""Request-rate throttles per anonymous address and per signed-in user, counted in the shared
cache (common.throttle: Redis in production), so every process on every host enforces one
limit."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from common.api.permissions import is_staff
from common.throttle import window_hit

# Request rates per scope when REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] names none.
DEFAULT_RATES = {"api_anon": "120/min", "api_user": "600/min"}


class _ConfiguredRate:
    """Rates from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope], read when a request
    comes (so overridden settings apply), with DEFAULT_RATES as the fallback."""

    scope = ""

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope, DEFAULT_RATES.get(self.scope))

    def allow_request(self, request: Request, view: APIView) -> bool:
        # DRF's own throttle keeps a list of times per client and writes it back: two
        # processes at once each add their request to the list they read, and one is lost.
        # An atomic counter per window in the shared cache loses none.
        self._wait: float | None = None
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self._wait = window_hit(
            f"api-{self.scope}", key, limit=self.num_requests, window_s=self.duration
        )
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class ApiAnonRateThrottle(_ConfiguredRate, AnonRateThrottle):
    """Requests per anonymous address."""

    scope = "api_anon"


class ApiUserRateThrottle(_ConfiguredRate, UserRateThrottle):
    """Requests per signed-in user; staff are not throttled."""

    scope = "api_user"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if is_staff(request.user) or not request.user.is_authenticated:
            return True
        return super().allow_request(request, view)
