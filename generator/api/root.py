"""API: the root, listing every entry point."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import (
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.schema import READ_ERRORS, errors
from common.api.views import ApiMixin
from generator.api import serializers as s


class ApiRootView(ApiMixin, APIView):
    """Where everything is."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="The API's entry points",
        responses={
            200: inline_serializer(
                "ApiRoot", fields={"endpoints": serializers.DictField(child=serializers.URLField())}
            ),
            **errors(*READ_ERRORS),
        },
    )
    def get(self, request: Request) -> Response:
        names = {
            "corpora": "corpus-list",
            "tunes": "tune-list",
            "imports": "import-list",
            "runs": "run-list",
            "checkpoints": "checkpoint-list",
            "pieces": "piece-list",
            "jobs": "job-list",
            "generate": "generate",
        }
        endpoints = {
            key: request.build_absolute_uri(reverse(f"{s.API_NAMESPACE}:{name}"))
            for key, name in names.items()
        }
        for key, name in (("schema", "api-schema"), ("docs", "api-docs"), ("redoc", "api-redoc")):
            try:
                endpoints[key] = request.build_absolute_uri(reverse(name))
            except Exception:  # noqa: BLE001 - the docs routes are optional
                pass
        return Response({"endpoints": endpoints})
