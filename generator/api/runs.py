"""API: training runs and their checkpoints."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.errors import service_errors
from common.api.permissions import IsStaff
from common.api.schema import (
    DETAIL_ERRORS,
    LIST_ERRORS,
    LOCATION,
    STAFF_POST_ERRORS,
    accepted,
    errors,
)
from common.api.views import ApiMixin, created, validated
from generator import filters, selectors, services
from generator.api import serializers as s
from generator.models import (
    Checkpoint,
    JobStatus,
    TrainingRun,
)


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
            "Creates the run from a corpus and a preset (tiny, quick, full; large for ABC) "
            "with optional `config` overrides, and queues it unless `start` is false. Poll "
            "`Location` for its progress and loss history."
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
        data = validated(s.TrainingRunCreateSerializer, request)
        with service_errors(), transaction.atomic():
            run = services.training_run_create(
                corpus=data["corpus"],
                preset=data["preset"],
                epochs=data["epochs"],
                seed=data["seed"],
                config=data.get("config") or {},
                name=data.get("name", ""),
                user=request.user,
                warmup_corpus=data.get("warmup_corpus"),
            )
            if data["start"]:
                run = services.training_run_start(run=run)
        body = self._body(run)
        return created(body, status_code=202 if data["start"] else 201)

    def _act(self, request: Request, verb, **kwargs: Any) -> Response:
        run = self.get_object()
        with service_errors():
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
        data = validated(s.RunResumeSerializer, request)
        with service_errors():
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
