"""Request-rate throttles per anonymous address and per signed-in user."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from common.api.permissions import is_staff

# Request rates per scope when REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] names none.
DEFAULT_RATES = {"api_anon": "120/min", "api_user": "600/min"}


class _ConfiguredRate:
    """Rates from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope], read when a request
    comes (so overridden settings apply), with DEFAULT_RATES as the fallback."""

    scope = ""

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope, DEFAULT_RATES.get(self.scope))


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
