"""API: pieces, generation requests and generation jobs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import PayloadTooLarge, service_errors, too_large
from common.api.schema import DETAIL_ERRORS, LIST_ERRORS, LOCATION, READ_ERRORS, accepted, errors
from common.api.views import ApiMixin, content_length, created, validated
from common.http import client_ip
from generator import filters, selectors, services
from generator.api import serializers as s
from generator.api.pagination import PieceCursorPagination
from generator.api.throttles import GenerationThrottle, allowance_as_throttle
from generator.models import (
    GenerationJob,
    Piece,
)

UPLOAD_SLACK_BYTES = 64 * 1024  # multipart framing around an upload


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
        if (rating := selectors.rating_expression()) is not None:
            qs = qs.annotate(**{selectors.RATING: rating})  # the listeners' mean, as in the list
        return qs.order_by("-pk")

    def filter_queryset(self, queryset):
        # The filters choose what the list shows (epoch samples only when asked); a piece's
        # own address answers for any piece, as its page does.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

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
        rows = {p.pk: p for p in selectors.piece_rows().filter(pk__in=ids).order_by()}
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
        with service_errors(), allowance_as_throttle():
            job = services.piece_reproduce(
                piece=piece, same_seed=same_seed, user=request.user, ip=client_ip(request)
            )
        return created(_job_body(self, job))

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
        allowance = services.generation_allowance(user=request.user, ip=client_ip(request))
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
        if content_length(request) > limit + UPLOAD_SLACK_BYTES:
            raise PayloadTooLarge(too_large(limit))
        data = validated(s.GenerationRequestSerializer, request)
        with service_errors(), allowance_as_throttle():
            job = services.generation_job_create(
                checkpoint=data["checkpoint_object"],
                count=data["count"],
                temperature=data["temperature"],
                seed=data.get("seed"),
                top_k=data["top_k"],
                top_p=data["top_p"],
                max_length=data["max_length"],
                prime=data["prime"],
                grammar=data["grammar"],
                folk_form=data["folk_form"],
                returns=data["returns"],
                memory=data["memory"],
                moves=data["moves"],
                takes=data["takes"],
                takes_by=data["takes_by"],
                user=request.user,
                ip=client_ip(request),
            )
        return created(_job_body(self, job))
