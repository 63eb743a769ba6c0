"""API: corpora, their tunes and the imports that fill them."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.errors import PayloadTooLarge, service_errors, too_large
from common.api.permissions import is_staff
from common.api.schema import (
    DETAIL_ERRORS,
    LIST_ERRORS,
    LOCATION,
    STAFF_POST_ERRORS,
    accepted,
    errors,
)
from common.api.views import ApiMixin, content_length, created, validated
from generator import filters, selectors, services
from generator.api import serializers as s
from generator.models import (
    Corpus,
    ImportJob,
    Tune,
)

UPLOAD_SLACK_BYTES = 64 * 1024  # multipart framing around an upload
# services.import_job_create's keywords → this API's request fields, where they differ.
IMPORT_FIELDS = {"upload": "file"}


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
        data = validated(s.CorpusCreateSerializer, request)
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
        if content_length(request) > limit + UPLOAD_SLACK_BYTES:
            raise PayloadTooLarge(too_large(limit))
        data = validated(s.ImportRequestSerializer, request)
        with service_errors(rename=IMPORT_FIELDS):
            job = services.import_job_create(
                corpus=corpus,
                source=data.get("source", ""),
                upload=data.get("file"),
                user=request.user,
            )
        body = s.ImportJobSerializer(job, context=self.get_serializer_context()).data
        return created(body)


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
