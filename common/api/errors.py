"""The API's one error format and the exception handler that answers every error in it.

Every error, from a bad field to an unknown id, a throttle or a server fault, has one shape:
`{"error": {"code": ..., "message": ..., "fields": {field: [messages]}}}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import ServiceError, UploadTooLarge, sentence

log = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceRefused(exceptions.APIException):
    """A service's refusal: the request is well-formed but cannot be done. `fields` maps
    request fields to their messages, as a serializer's field errors do."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(detail=message, code=self.default_code)
        self.fields = fields or {}


def refused(
    exc: ServiceError, *, rename: Mapping[str, str] | None = None
) -> exceptions.APIException:
    """The API's answer to a service's refusal: 413 for an upload over the limit, else 400
    with the message and `fields` named as the request names them (`rename` maps a service
    keyword to the request field where the two differ; the rest keep their name)."""
    if isinstance(exc, UploadTooLarge):
        return PayloadTooLarge(sentence(exc.message))
    fields: dict[str, list[str]] = {}
    general: list[str] = []
    for field, message in exc.items():
        name = (rename or {}).get(field, field) if field else None
        (fields.setdefault(name, []) if name else general).append(sentence(message))
    if len(fields) > 1 and not general:
        message = "Some fields are not valid: " + ", ".join(sorted(fields)) + "."
    else:
        message = sentence(exc.message)
    return ServiceRefused(message, fields=fields)


@contextmanager
def service_errors(rename: Mapping[str, str] | None = None) -> Iterator[None]:
    """Answer a service's refusal in the API's format: a ServiceError by its field (see
    `refused`); any other ValueError (and the TypeError a malformed config value raises) as
    a 400 about the request as a whole."""
    try:
        yield
    except ImportError as exc:  # a way whose module is not there yet
        raise ServiceRefused("This way is not available on this server yet.") from exc
    except ServiceError as exc:
        raise refused(exc, rename=rename) from exc
    except (ValueError, TypeError) as exc:
        raise ServiceRefused(sentence(str(exc) or type(exc).__name__)) from exc


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            if detail:
                out.setdefault(prefix or "non_field_errors", []).extend(str(i) for i in detail)
        else:
            for i, item in enumerate(detail):
                if item:
                    out.update(_flatten(item, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _words(model_name: str) -> str:
    """TrainingRun → training run."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", model_name).lower()


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _validation_error_body(exc: exceptions.ValidationError) -> dict:
    fields = _flatten(exc.detail)
    general = fields.pop("non_field_errors", [])
    if general:
        message = " ".join(general)
    elif fields:
        message = "Some fields are not valid: " + ", ".join(sorted(fields)) + "."
    else:
        message = "The request is not valid."
    return error_body("invalid", message, fields)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, answering every error in the API's one format (and never a bare 500).

    Settings: REST_FRAMEWORK["EXCEPTION_HANDLER"] = "common.api.errors.api_exception_handler"
    (the API's views also name it themselves, so it applies without that line)."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge("The request body is larger than this server accepts.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        log.exception("API error in %s", type(view).__name__ if view else "?", exc_info=exc)
        from rest_framework.views import set_rollback

        set_rollback()
        return Response(
            error_body("server_error", "Something went wrong on the server; it is logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_error_body(exc)
    elif isinstance(exc, (Http404, exceptions.NotFound)):
        detail = str(exc if isinstance(exc, Http404) else exc.detail) or "Not found."
        if match := re.fullmatch(r"No (\w+) matches the given query\.", detail):
            detail = f"There is no {_words(match.group(1))} with that id."
        elif detail == "Not found.":
            detail = "There is nothing with that id here."
        response.data = error_body("not_found", sentence(detail))
    elif isinstance(exc, DjangoPermissionDenied):
        response.data = error_body("permission_denied", str(exc) or "Permission denied.")
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = exc.get_codes() if not isinstance(detail, (dict, list)) else exc.default_code
        message = str(detail) if not isinstance(detail, (dict, list)) else str(exc.default_detail)
        fields = getattr(exc, "fields", None)
        response.data = error_body(str(code), message, fields)
    return response


@csrf_exempt  # it changes nothing: a POST to no endpoint is a 404, not a CSRF page
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any `/api/` path that names no endpoint: a 404 in the API's format, not a page."""
    return JsonResponse(
        error_body("not_found", f"There is no API endpoint at {request.path}."), status=404
    )


def too_large(limit: int, *, name: str | None = None) -> str:
    what = f"{name} is" if name else "The upload is"
    return f"{what} larger than {limit} bytes (settings.MAX_UPLOAD_BYTES)."
