"""The REST API (`/api/v1/`): everything the site does, for programs.

Reads are public; writes are for staff, except generation, which anyone may ask for within
an hourly allowance of pieces (the site's own count, shared with its generate page). Long
work (training, imports, generation) answers `202 Accepted` with a `Location` to poll.

Every error, from a bad field to an unknown id, a throttle or a server fault, has one shape:
`{"error": {"code": ..., "message": ..., "fields": {field: [messages]}}}`
(`api_exception_handler`). Views read through `selectors` and change things only through
`services`, whose ValueErrors become 400 answers with their message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import filters, selectors, services
from . import serializers as s
from .models import (
    Checkpoint,
    Corpus,
    GenerationJob,
    ImportJob,
    JobStatus,
    Piece,
    TrainingRun,
    Tune,
    Way,
)

log = logging.getLogger(__name__)

# Request rates per scope when REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] names none.
DEFAULT_RATES = {"api_anon": "120/min", "api_user": "600/min"}
# Pieces a signed-in (non-staff) user may generate per hour, as a multiple of the anonymous
# allowance, unless settings.API_USER_GENERATIONS_PER_HOUR says otherwise.
USER_GENERATION_FACTOR = 5
UPLOAD_SLACK_BYTES = 64 * 1024  # multipart framing around an upload


# --- errors ----------------------------------------------------------------------------------


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceRefused(exceptions.APIException):
    """A service's ValueError: the request is well-formed but cannot be done."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(detail=message, code=self.default_code)
        self.fields = {field: [message]} if field else {}


def _sentence(text: str) -> str:
    text = str(text).strip()
    return text[:1].upper() + text[1:] if text else text


@contextmanager
def service_call(hints: list[tuple[str, str]] | None = None) -> Iterator[None]:
    """Turn a service's ValueError (and the TypeError a malformed config value raises) into
    a 400 answer; `hints` pairs a phrase of the message with the request field it is about
    (the first that matches wins)."""
    try:
        yield
    except ImportError as exc:  # a way whose module is not there yet
        raise ServiceRefused("This way is not available on this server yet.") from exc
    except (ValueError, TypeError) as exc:
        message = str(exc) or type(exc).__name__
        lowered = message.lower()
        field = next((f for phrase, f in hints or [] if phrase in lowered), None)
        raise ServiceRefused(_sentence(message), field=field) from exc


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

    Settings: REST_FRAMEWORK["EXCEPTION_HANDLER"] = "generator.apis.api_exception_handler"
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
        response.data = error_body("not_found", _sentence(detail))
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


# --- permissions and throttles ----------------------------------------------------------------


def is_staff(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


class IsStaffOrReadOnly(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS or is_staff(request.user)


class IsStaff(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_staff(request.user)


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


def client_ip(request: HttpRequest | Request) -> str | None:
    """The address the site's generate page counts by (REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or None


@dataclass
class Allowance:
    limit: int | None  # pieces per hour; None: no limit
    used: int
    scope: str  # address, user or staff
    oldest: Any = None  # when the oldest counted request was made

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    def wait_seconds(self) -> float:
        if self.oldest is None:
            return 3600.0
        return max((self.oldest + timedelta(hours=1) - timezone.now()).total_seconds(), 1.0)


def user_generations_per_hour() -> int:
    explicit = getattr(settings, "API_USER_GENERATIONS_PER_HOUR", None)
    if explicit is not None:
        return int(explicit)
    return int(settings.ANON_GENERATIONS_PER_HOUR) * USER_GENERATION_FACTOR


def generation_allowance(request: Request) -> Allowance:
    """Anonymous visitors: settings.ANON_GENERATIONS_PER_HOUR pieces per hour per address,
    counted as the site's generate page counts them; signed-in users: more, per user;
    staff: no limit."""
    user = request.user
    if is_staff(user):
        return Allowance(limit=None, used=0, scope="staff")
    since = timezone.now() - timedelta(hours=1)
    jobs = GenerationJob.objects.filter(created_at__gte=since, is_epoch_sample=False)
    if user.is_authenticated:
        limit, scope, jobs = user_generations_per_hour(), "user", jobs.filter(requested_by=user)
        used = int(jobs.aggregate(n=Sum("count"))["n"] or 0)
    else:
        ip = client_ip(request)
        limit, scope = int(settings.ANON_GENERATIONS_PER_HOUR), "address"
        used = selectors.generations_in_last_hour(ip=ip, since=since)
        jobs = jobs.filter(requester_ip=ip) if ip else jobs.none()
    oldest = jobs.order_by("created_at").values_list("created_at", flat=True).first()
    return Allowance(limit=limit, used=used, scope=scope, oldest=oldest)


class GenerationThrottle(BaseThrottle):
    """Pieces per hour (not requests): a POST asking for more pieces than the visitor has
    left is answered 429 with a Retry-After and a message saying what is left."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST":
            return True
        allowance = generation_allowance(request)
        if allowance.limit is None:
            return True
        asked = view.pieces_asked(request) if hasattr(view, "pieces_asked") else 1
        if asked <= (allowance.remaining or 0):
            return True
        self._wait = allowance.wait_seconds()
        if allowance.remaining == 0:
            request.throttle_message = (
                f"You have generated the {allowance.limit} pieces you may make in an hour "
                f"(counted by {allowance.scope}). Please come back later, or use a staff token."
            )
        else:
            request.throttle_message = (
                f"You may generate {allowance.limit} pieces an hour: {allowance.remaining} "
                f"left for now, and you asked for {asked}."
            )
        return False

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


# --- pagination --------------------------------------------------------------------------------


class ApiCursorPagination(CursorPagination):
    """Cursor pagination in the queryset's own order (its `order_by` columns), 24 a page;
    `per_page` asks for 1..100. A cursor that does not decode is a 404 (DRF's)."""

    page_size = 24
    page_size_query_param = "per_page"
    max_page_size = 100
    ordering = ("-created_at", "-pk")

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value in (None, ""):
            return self.page_size
        if not (value.isdigit() and 1 <= int(value) <= self.max_page_size):
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Give a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = filters.blank_ok(
                    {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                )
                parameter["description"] = (
                    f"Results per page, 1..{self.max_page_size} (default {self.page_size})."
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The `next` or `previous` link's cursor."
        return parameters

    def get_ordering(self, request, queryset, view):
        order = tuple(queryset.query.order_by)
        if order and all(isinstance(o, str) for o in order):
            return order
        return super().get_ordering(request, queryset, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            # A hand-made cursor must not reach the database as a malformed value.
            name = self.ordering[0].lstrip("-")
            try:
                if name == filters.SORT_SCORE:
                    float(cursor.position)
                else:
                    field = self._model._meta.get_field("id" if name == "pk" else name)
                    value = field.to_python(cursor.position)
                    if isinstance(value, int) and not -(2**63) <= value < 2**63:
                        raise ValueError("out of range")
            except Exception:  # ValueError, ValidationError, LookupError: not our cursor
                raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor


class PieceCursorPagination(ApiCursorPagination):
    """Pieces: also says which sort was used (rating and novelty fall back to newest)."""

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["sort"] = getattr(self.request, "piece_sort", "newest")
        return response

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        result["properties"]["sort"] = {
            "type": "string",
            "enum": list(selectors.SORTS),
            "description": "The sort used: rating and novelty fall back to newest until the "
            "evaluation app stores those scores.",
        }
        result["required"] = [*result.get("required", []), "sort"]
        return result


# --- schema helpers ----------------------------------------------------------------------------

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
        code: OpenApiResponse(s.ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
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


# --- base view ---------------------------------------------------------------------------------


class ApiMixin:
    """What every API view shares: token then session authentication (so an anonymous
    write is a 401 naming the Token scheme), public reads, request throttles, the error
    format, django-filter and cursor pagination."""

    schema = ApiAutoSchema()
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaffOrReadOnly]
    throttle_classes = [ApiAnonRateThrottle, ApiUserRateThrottle]
    filter_backends = [DjangoFilterBackend]
    pagination_class = ApiCursorPagination
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # An unsupported method is a 405 whoever asks (DRF would check permissions first).
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        content_type = request.META.get("CONTENT_TYPE", "")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (
            limit is not None
            and not content_type.startswith("multipart/")
            and _content_length(request) > limit
        ):
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        super().initial(request, *args, **kwargs)

    def throttled(self, request: Request, wait: float | None) -> None:
        raise exceptions.Throttled(wait=wait, detail=getattr(request, "throttle_message", None))

    def get_object(self):
        # `<pk>` matches any segment: a non-number or a huge number is simply not there.
        pk = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if pk is not None and not (str(pk).isdigit() and 0 < int(pk) < 2**63):
            raise exceptions.NotFound("There is nothing with that id here.")
        return super().get_object()


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def created(data: dict[str, Any], *, status_code: int = status.HTTP_202_ACCEPTED) -> Response:
    return Response(data, status=status_code, headers={"Location": data["url"]})


# --- corpora, tunes and imports -----------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List corpora",
        responses={200: s.CorpusSerializer(many=True), **errors(*LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One corpus", responses={200: s.CorpusSerializer, **errors(*DETAIL_ERRORS)}
    ),
    create=extend_schema(
        summary="Create an empty corpus (staff)",
        request=s.CorpusCreateSerializer,
        responses={201: s.CorpusSerializer, **errors(400, 401, 403, 413, 415, 429)},
    ),
)
class CorpusViewSet(ApiMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Corpora of human tunes, the tunes in them and the imports that filled them."""

    serializer_class = s.CorpusSerializer
    filterset_class = None

    def get_queryset(self):
        if self.action == "tunes":  # the queryset the tunes' FilterSet filters
            return selectors.tune_list()
        return selectors.corpus_list()

    def _corpus(self) -> Corpus:
        pk = self.kwargs.get("pk")
        if not (str(pk).isdigit() and 0 < int(pk) < 2**63):
            raise exceptions.NotFound("There is no corpus with that id.")
        corpus = Corpus.objects.filter(pk=int(pk)).first()
        if corpus is None:
            raise exceptions.NotFound("There is no corpus with that id.")
        return corpus

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _validated(s.CorpusCreateSerializer, request)
        try:
            with transaction.atomic():
                corpus = Corpus.objects.create(**data)
        except IntegrityError:
            raise exceptions.ValidationError(
                {"name": ["A corpus with this name exists already."]}
            ) from None
        corpus = selectors.corpus_list().get(pk=corpus.pk)
        body = s.CorpusSerializer(corpus, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})

    @extend_schema(
        summary="Tunes of a corpus",
        filters=True,
        parameters=[],
        responses={200: s.TuneSerializer(many=True), **errors(*LIST_ERRORS)},
    )
    @action(
        detail=True,
        methods=["get"],
        filterset_class=filters.TuneFilter,
        serializer_class=s.TuneSerializer,
    )
    def tunes(self, request: Request, pk: str | None = None) -> Response:
        corpus = self._corpus()
        qs = self.filter_queryset(selectors.tune_list(corpus=corpus))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            s.TuneSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(
        methods=["GET"],
        summary="Imports into a corpus",
        filters=False,
        responses={200: s.ImportJobSerializer(many=True), **errors(*LIST_ERRORS)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Import tunes into a corpus (staff)",
        description=(
            "Upload an ABC file as multipart field `file`, or send JSON "
            '`{"source": "music21:oneills1850"}`. The import runs in the background: poll '
            "`Location` until `done`. Uploads larger than settings.MAX_UPLOAD_BYTES are "
            "refused with 413."
        ),
        request={
            "multipart/form-data": s.ImportRequestSerializer,
            "application/json": s.ImportRequestSerializer,
        },
        responses={
            202: accepted(s.ImportJobSerializer, "the import is queued"),
            **errors(*STAFF_POST_ERRORS),
        },
        parameters=[LOCATION],
    )
    @action(
        detail=True,
        methods=["get", "post"],
        serializer_class=s.ImportJobSerializer,
        filterset_class=None,
    )
    def imports(self, request: Request, pk: str | None = None) -> Response:
        if request.method == "POST":
            return self._import(request)
        corpus = self.get_object()
        qs = ImportJob.objects.filter(corpus=corpus).order_by("-created_at", "-pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            s.ImportJobSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    def _import(self, request: Request) -> Response:
        if not is_staff(request.user):  # IsStaffOrReadOnly has said so already; be explicit
            raise exceptions.PermissionDenied("Only staff may import tunes.")
        corpus = self.get_object()
        limit = s.max_upload_bytes()
        if _content_length(request) > limit + UPLOAD_SLACK_BYTES:
            raise PayloadTooLarge(_too_large(limit))
        data = _validated(s.ImportRequestSerializer, request)
        upload = data.get("file")
        source = data.get("source", "")
        if upload is not None:
            if upload.size > limit:
                raise PayloadTooLarge(_too_large(limit, name=upload.name))
            _check_upload(corpus, upload)
        else:
            _check_source(corpus, source)
        with transaction.atomic():
            job = ImportJob(
                corpus=corpus,
                source=(upload.name if upload is not None else source)[:500],
                code_version=settings.CODE_VERSION,
            )
            if upload is not None:
                job.upload = upload
            job.save()
            from .tasks import corpus_import_task

            transaction.on_commit(lambda: corpus_import_task.delay(job.pk))
        body = s.ImportJobSerializer(job, context=self.get_serializer_context()).data
        return created(body)


def _too_large(limit: int, *, name: str | None = None) -> str:
    what = f"{name} is" if name else "The upload is"
    return f"{what} larger than {limit} bytes (settings.MAX_UPLOAD_BYTES)."


def _check_upload(corpus: Corpus, upload: Any) -> None:
    """Refuse at once what the import would refuse (ABC corpora: binary or no tune)."""
    if corpus.way != Way.ABC:
        return
    from musiclib.ways.abc_text import split_tunes

    upload.seek(0)
    raw = upload.read()
    upload.seek(0)
    if b"\x00" in raw[:4096]:
        raise exceptions.ValidationError({"file": [f"{upload.name} is not an ABC file: binary."]})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if not split_tunes(text):
        raise exceptions.ValidationError(
            {"file": [f"{upload.name} is not an ABC file: no tune starts with an X: line."]}
        )


def import_roots() -> list[Path]:
    roots = getattr(settings, "API_IMPORT_ROOTS", None)
    if roots is None:
        roots = [settings.NOTTINGHAM_DIR]
    return [Path(r).resolve() for r in roots]


def _check_source(corpus: Corpus, source: str) -> None:
    """`music21:<name>`, or a path on the server inside settings.API_IMPORT_ROOTS."""
    if not source.startswith("music21:"):
        path = Path(source).resolve()
        if not any(path.is_relative_to(root) for root in import_roots()):
            raise exceptions.ValidationError(
                {
                    "source": [
                        "Give music21:<name> (e.g. music21:oneills1850), upload a file, or a "
                        "path inside the server's import folders (settings.API_IMPORT_ROOTS)."
                    ]
                }
            )
    if corpus.way != Way.ABC:
        return
    from .services.corpora import abc_source_files

    try:
        abc_source_files(source)
    except Exception as exc:  # ImportRefused, and music21's own CorpusException
        message = str(exc).split(";")[0] or type(exc).__name__
        raise exceptions.ValidationError({"source": [_sentence(message)]}) from None


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    if not isinstance(request.data, dict):  # a JSON list or string is not an object
        raise exceptions.ValidationError(
            {"non_field_errors": ["The request body must be a JSON object (or a form)."]}
        )
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema_view(
    list=extend_schema(
        summary="List tunes",
        responses={200: s.TuneSerializer(many=True), **errors(*LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One tune, with its ABC text",
        responses={200: s.TuneDetailSerializer, **errors(*DETAIL_ERRORS)},
    ),
)
class TuneViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Human tunes: filter by corpus, search titles, key and meter."""

    filterset_class = filters.TuneFilter

    def get_queryset(self):
        if self.action == "retrieve":
            return Tune.objects.select_related("corpus")
        return selectors.tune_list()

    def get_serializer_class(self):
        return s.TuneDetailSerializer if self.action == "retrieve" else s.TuneSerializer


@extend_schema_view(
    list=extend_schema(
        summary="List imports",
        responses={200: s.ImportJobSerializer(many=True), **errors(*LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One import and its report",
        responses={200: s.ImportJobSerializer, **errors(*DETAIL_ERRORS)},
    ),
)
class ImportJobViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Corpus imports: status, counts, and the tunes that could not be imported and why."""

    serializer_class = s.ImportJobSerializer
    filterset_class = filters.ImportJobFilter

    def get_queryset(self):
        return ImportJob.objects.order_by("-created_at", "-pk")


# --- runs and checkpoints ------------------------------------------------------------------------

# (phrase of a service's message, the request field it is about), most specific first.
RUN_HINTS = [
    ("unknown preset", "preset"),
    ("hyperparameter", "config"),
    ("epochs must", "epochs"),
    ("all its epochs", "epochs"),
    ("the corpus", "corpus"),
    ("must be", "config"),
]


@extend_schema_view(
    list=extend_schema(
        summary="List training runs",
        responses={200: s.TrainingRunSerializer(many=True), **errors(*LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One training run: progress, loss history, checkpoints",
        responses={200: s.TrainingRunDetailSerializer, **errors(*DETAIL_ERRORS)},
    ),
    create=extend_schema(
        summary="Create and start a training run (staff)",
        description=(
            "Creates the run from a corpus and a preset (tiny, quick or full) with optional "
            "`config` overrides, and queues it unless `start` is false. Poll `Location` for "
            "its progress and loss history."
        ),
        request=s.TrainingRunCreateSerializer,
        responses={
            202: accepted(s.TrainingRunDetailSerializer, "the run is queued"),
            201: OpenApiResponse(
                s.TrainingRunDetailSerializer, description="Created as a draft (start: false)."
            ),
            **errors(400, 401, 403, 413, 415, 429),
        },
        parameters=[LOCATION],
    ),
)
class TrainingRunViewSet(ApiMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Training runs: create and start (staff), cancel, resume; progress and loss history."""

    filterset_class = filters.TrainingRunFilter

    def get_queryset(self):
        if self.action == "list":
            return selectors.run_list()
        return TrainingRun.objects.select_related("corpus", "created_by").order_by("-pk")

    def get_serializer_class(self):
        return s.TrainingRunSerializer if self.action == "list" else s.TrainingRunDetailSerializer

    def _body(self, run: TrainingRun) -> dict[str, Any]:
        run = selectors.run_get(pk=run.pk)
        return s.TrainingRunDetailSerializer(run, context=self.get_serializer_context()).data

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _validated(s.TrainingRunCreateSerializer, request)
        with service_call(RUN_HINTS), transaction.atomic():
            run = services.training_run_create(
                corpus=data["corpus"],
                preset=data["preset"],
                epochs=data["epochs"],
                seed=data["seed"],
                config=data.get("config") or {},
                name=data.get("name", ""),
                user=request.user,
            )
            if data["start"]:
                run = services.training_run_start(run=run)
        body = self._body(run)
        return created(body, status_code=202 if data["start"] else 201)

    def _act(self, request: Request, verb, **kwargs: Any) -> Response:
        run = self.get_object()
        with service_call(RUN_HINTS):
            run = verb(run=run, **kwargs)
        return run

    @extend_schema(
        summary="Start a draft run (staff)",
        request=None,
        responses={
            202: accepted(s.TrainingRunDetailSerializer, "the run is queued"),
            **errors(*STAFF_POST_ERRORS),
        },
        parameters=[LOCATION],
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def start(self, request: Request, pk: str | None = None) -> Response:
        run = self._act(request, services.training_run_start)
        return created(self._body(run))

    @extend_schema(
        summary="Cancel a run (staff)",
        description="A queued run is cancelled at once (200); a running one stops at the end "
        "of its epoch (202: poll `Location`).",
        request=None,
        responses={
            200: OpenApiResponse(s.TrainingRunDetailSerializer, description="Cancelled."),
            202: accepted(s.TrainingRunDetailSerializer, "the run stops after this epoch"),
            **errors(*STAFF_POST_ERRORS),
        },
        parameters=[LOCATION],
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = self._act(request, services.training_run_cancel)
        body = self._body(run)
        if run.status == JobStatus.CANCELLED:
            return Response(body, status=status.HTTP_200_OK)
        return created(body)

    @extend_schema(
        summary="Resume a run from its last checkpoint (staff)",
        request=s.RunResumeSerializer,
        responses={
            202: accepted(s.TrainingRunDetailSerializer, "the run is queued again"),
            **errors(*STAFF_POST_ERRORS),
        },
        parameters=[LOCATION],
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        data = _validated(s.RunResumeSerializer, request)
        with service_call(RUN_HINTS):
            run = services.training_run_resume(run=run, epochs=data.get("epochs"))
        return created(self._body(run))

    @extend_schema(
        summary="Checkpoints of a run",
        filters=False,
        responses={200: s.CheckpointSerializer(many=True), **errors(*LIST_ERRORS)},
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=s.CheckpointSerializer,
        filterset_class=None,
    )
    def checkpoints(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        qs = Checkpoint.objects.filter(run=run).order_by("epoch", "pk")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            s.CheckpointSerializer(page, many=True, context=self.get_serializer_context()).data
        )


@extend_schema_view(
    list=extend_schema(
        summary="List checkpoints",
        responses={200: s.CheckpointSerializer(many=True), **errors(*LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One checkpoint", responses={200: s.CheckpointSerializer, **errors(*DETAIL_ERRORS)}
    ),
)
class CheckpointViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """The weights at the end of each epoch: generate from any of them."""

    serializer_class = s.CheckpointSerializer
    filterset_class = filters.CheckpointFilter

    def get_queryset(self):
        return Checkpoint.objects.order_by("-created_at", "-pk")


# --- pieces, generation and jobs -----------------------------------------------------------------

GENERATION_HINTS = [
    ("temperature", "temperature"),
    ("count must", "count"),
    ("max_length", "max_length"),
    ("top_k", "top_k"),
    ("opening", "prime"),
    ("symbol", "prime"),
    ("vocabulary", "checkpoint"),
    ("sampler file", "checkpoint"),
]


def _generation_request(**params: Any) -> GenerationJob:
    try:
        with service_call(GENERATION_HINTS):
            return services.generation_job_create(**params)
    except ServiceRefused as exc:
        cause = exc.__cause__
        if isinstance(cause, services.PrimerError):  # a field error, like the serializer's
            raise exceptions.ValidationError({cause.field: [_sentence(str(cause))]}) from cause
        raise


def _job_body(view: APIView, job: GenerationJob) -> dict[str, Any]:
    job = selectors.job_get(pk=job.pk)
    return s.GenerationJobSerializer(job, context=view.get_serializer_context()).data


class GenerationMixin:
    """Views that queue generation: open to all, within the hourly allowance of pieces."""

    def pieces_asked(self, request: Request) -> int:
        return 1


@extend_schema_view(
    list=extend_schema(
        summary="List and filter pieces, as the gallery does",
        description=(
            "The gallery's filters and sorts by the gallery's names (a gallery query string "
            "works here unchanged), with cursor pagination."
        ),
        responses={200: s.PieceSerializer(many=True), **errors(*LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One piece: text, validity, scores and download links",
        responses={200: s.PieceDetailSerializer, **errors(*DETAIL_ERRORS)},
    ),
)
class PieceViewSet(GenerationMixin, ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Generated pieces, with absolute links to their ABC, MIDI, MusicXML and audio."""

    filterset_class = filters.PieceFilter
    pagination_class = PieceCursorPagination

    def get_queryset(self):
        if self.action == "list":
            return selectors.piece_list()
        qs = Piece.objects.select_related("run", "run__corpus", "checkpoint", "job")
        if relation := selectors.evaluation_relation():
            qs = qs.select_related(relation)
        return qs.order_by("-pk")

    def get_serializer_class(self):
        return s.PieceSerializer if self.action == "list" else s.PieceDetailSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Pages in two constant queries, as the gallery does: the page's ids from the
        filters and the order alone (no joins, so PostgreSQL plans a title search from the
        piece indexes), then the pieces with their relations by id."""
        qs = self.filter_queryset(self.get_queryset())
        order = [o.lstrip("-") for o in qs.query.order_by if isinstance(o, str)]
        light = qs.select_related(None).only(
            *{name for name in ("id", *order) if name not in ("pk", filters.SORT_SCORE)}
        )
        page = self.paginate_queryset(light)
        ids = [piece.pk for piece in page]
        rows = {p.pk: p for p in selectors.piece_list().filter(pk__in=ids).order_by()}
        pieces = [rows[pk] for pk in ids if pk in rows]
        data = self.get_serializer(pieces, many=True).data
        return self.get_paginated_response(data)

    def get_permissions(self):
        if self.action in ("reproduce", "more"):
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action in ("reproduce", "more"):
            throttles.append(GenerationThrottle())
        return throttles

    def _again(self, request: Request, *, same_seed: bool) -> Response:
        piece = self.get_object()
        job = piece.job
        new = _generation_request(
            checkpoint=piece.checkpoint,
            count=1,
            temperature=job.temperature,
            seed=piece.seed if same_seed else None,
            top_k=job.top_k,
            max_length=job.max_length,
            prime=job.prime,
            grammar=job.grammar,
            user=request.user,
            ip=client_ip(request),
        )
        return created(_job_body(self, new))

    @extend_schema(
        summary="Generate this piece again from its seed (anyone, within the allowance)",
        request=None,
        responses={
            202: accepted(s.GenerationJobSerializer, "the generation job is queued"),
            **errors(400, 401, 403, 404, 429),
        },
        parameters=[LOCATION],
    )
    @action(detail=True, methods=["post"])
    def reproduce(self, request: Request, pk: str | None = None) -> Response:
        return self._again(request, same_seed=True)

    @extend_schema(
        summary="Generate one more piece like this one (anyone, within the allowance)",
        request=None,
        responses={
            202: accepted(s.GenerationJobSerializer, "the generation job is queued"),
            **errors(400, 401, 403, 404, 429),
        },
        parameters=[LOCATION],
    )
    @action(detail=True, methods=["post"])
    def more(self, request: Request, pk: str | None = None) -> Response:
        return self._again(request, same_seed=False)


@extend_schema_view(
    list=extend_schema(
        summary="List generation jobs",
        responses={200: s.GenerationJobListSerializer(many=True), **errors(*LIST_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="One generation job: status and, once done, its pieces",
        responses={200: s.GenerationJobSerializer, **errors(*DETAIL_ERRORS)},
    ),
)
class GenerationJobViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Generation jobs: poll one until `done`; its pieces come with it."""

    filterset_class = filters.GenerationJobFilter

    def get_queryset(self):
        return GenerationJob.objects.select_related(
            "checkpoint", "checkpoint__run", "checkpoint__run__corpus"
        ).order_by("-created_at", "-pk")

    def get_serializer_class(self):
        if self.action == "list":
            return s.GenerationJobListSerializer
        return s.GenerationJobSerializer


class GenerateView(GenerationMixin, ApiMixin, APIView):
    """Generate pieces from a checkpoint (or a run's latest): open to everyone, within an
    hourly allowance of pieces; staff have no limit."""

    permission_classes = [AllowAny]

    def get_throttles(self):
        return [*super().get_throttles(), GenerationThrottle()]

    def get_serializer_context(self) -> dict[str, Any]:
        return {"request": self.request, "view": self}

    def pieces_asked(self, request: Request) -> int:
        try:
            count = int(request.data.get("count", 4))
        except (TypeError, ValueError, AttributeError):
            return 1
        return count if 1 <= count <= s.MAX_PIECES_PER_JOB else 1

    @extend_schema(
        summary="Your generation allowance",
        responses={200: s.AllowanceSerializer, **errors(*READ_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        allowance = generation_allowance(request)
        return Response(
            {
                "limit": allowance.limit,
                "used": allowance.used,
                "remaining": allowance.remaining,
                "scope": allowance.scope,
            }
        )

    @extend_schema(
        summary="Generate pieces (anyone, within the allowance)",
        description=(
            "Queues a generation job and answers 202 with it; poll `Location` until `done`, "
            "then the job lists its pieces with their download links. A MIDI-way run may "
            "start from a primer: `primer_tune` (a tune of its corpus) or `primer_midi` (a "
            "MIDI file, multipart/form-data), cut to `primer_bars` bars. Anonymous visitors "
            "may generate settings.ANON_GENERATIONS_PER_HOUR pieces per hour per address, "
            "signed-in users more, staff without limit; past it the answer is 429."
        ),
        request=s.GenerationRequestSerializer,
        responses={
            202: accepted(s.GenerationJobSerializer, "the generation job is queued"),
            **errors(400, 401, 403, 413, 415, 429),
        },
        parameters=[LOCATION],
    )
    def post(self, request: Request) -> Response:
        limit = s.max_upload_bytes()
        if _content_length(request) > limit + UPLOAD_SLACK_BYTES:
            raise PayloadTooLarge(_too_large(limit))
        data = _validated(s.GenerationRequestSerializer, request)
        primer_midi = None
        if (upload := data.get("primer_midi")) is not None:
            if upload.size > limit:
                raise PayloadTooLarge(_too_large(limit, name=upload.name))
            upload.seek(0)
            primer_midi = (upload.name, upload.read())  # read, checked, never stored
        prime = data.get("prime") or ""
        if (recording := data.get("prime_audio")) is not None:
            if recording.size > limit:
                raise PayloadTooLarge(_too_large(limit, name=recording.name))
            recording.seek(0)
            try:  # read, encoded with the checkpoint's codebook, never stored
                prime = services.audio_prime_encode(
                    checkpoint=data["checkpoint_object"],
                    name=recording.name,
                    data=recording.read(),
                )
            except ValueError as exc:
                raise serializers.ValidationError({"prime_audio": [str(exc)]}) from None
        job = _generation_request(
            checkpoint=data["checkpoint_object"],
            count=data["count"],
            temperature=data["temperature"],
            seed=data.get("seed"),
            top_k=data["top_k"],
            max_length=data["max_length"],
            prime=prime,
            primer_tune=data.get("primer_tune"),
            primer_midi=primer_midi,
            primer_bars=data.get("primer_bars"),
            grammar=data["grammar"],
            user=request.user,
            ip=client_ip(request),
        )
        return created(_job_body(self, job))


# --- the root ----------------------------------------------------------------------------------


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
