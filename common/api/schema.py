"""OpenAPI helpers shared by every API view: error responses, auth, `202 Accepted`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
)
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, AllowAny

from common.api.permissions import IsStaffOrReadOnly


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `invalid`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by request field (dotted for nested fields); empty when none.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers: `{"error": {"code", "message", "fields"}}`."""

    error = ErrorBodySerializer()


def blank_ok(schema: dict[str, Any]) -> dict[str, Any]:
    """An empty value means "no filter" (as an HTML form sends it): say so in the schema."""
    return {"anyOf": [schema, {"type": "string", "enum": [""]}]}


ERROR_DESCRIPTIONS = {
    400: "Bad input: wrong field types or values, or a service refused the request.",
    401: "Not signed in (send `Authorization: Token <key>`) or the token is not valid.",
    403: "Signed in but not allowed (staff only), or a session request without CSRF token.",
    404: "No such object, or a cursor that does not decode.",
    413: "The request body or upload is larger than the server accepts.",
    415: "The request body's content type is not accepted.",
    429: "Too many requests, or more pieces than the hourly allowance; see Retry-After.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


READ_ERRORS = (401, 429)
LIST_ERRORS = (400, 401, 404, 429)
DETAIL_ERRORS = (401, 404, 429)
STAFF_POST_ERRORS = (400, 401, 403, 404, 413, 415, 429)
LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    location=OpenApiParameter.HEADER,
    response=[202],
    description="The URL to poll for the work's progress (the body's `url`).",
)


class ApiAutoSchema(AutoSchema):
    """Marks authentication optional (`{}` in `security`) where our permissions let an
    anonymous visitor in: public reads and generation."""

    def get_auth(self) -> list[dict[str, Any]]:
        auths = super().get_auth()
        anonymous_ok = any(
            isinstance(p, AllowAny)
            or (isinstance(p, IsStaffOrReadOnly) and self.method in SAFE_METHODS)
            for p in self.view.get_permissions()
        )
        if anonymous_ok and {} not in auths:
            auths.append({})
        return auths


def accepted(serializer: Any, what: str) -> OpenApiResponse:
    return OpenApiResponse(serializer, description=f"Accepted: {what}. Poll `Location`.")
