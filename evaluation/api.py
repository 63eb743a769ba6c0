"""A run's report in the REST API: GET /api/v1/runs/<id>/report/ (public) reads the stored
report with its state; POST (staff) measures it again.

The report is measured by a task on the default queue (`evaluation.services`), never in the
request: a GET answers at once with `state` "measuring" until it is ready, then "ready" with
the payload (or "failed" with the reason). A GET of a report that is missing or stale (new
pieces evaluated, a new checkpoint) queues its measure, as the page does.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.schema import DETAIL_ERRORS, errors
from common.api.views import ApiMixin
from generator.models import TrainingRun

from . import services
from .models import ReportState, RunReport


class RunReportSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_id", read_only=True)
    state = serializers.ChoiceField(
        choices=ReportState.choices,
        read_only=True,
        help_text="measuring: a worker is measuring it (poll again); ready: `report` holds "
        "it; failed: `error` says why (`report` keeps the last payload measured, if any).",
    )
    error = serializers.CharField(read_only=True)
    report = serializers.JSONField(
        source="data",
        read_only=True,
        allow_null=True,
        help_text="The payload: validity, novelty, features, per-epoch series and the blind "
        "listener's verdicts (`judge`, per epoch in `judge.epochs`: accuracy with its 95 % "
        "interval) (notes), or the audio measures (recordings). Null until a first measure "
        "is done.",
    )

    class Meta:
        model = RunReport
        fields = ["run", "state", "error", "requested_at", "computed_at", "code_version", "report"]
        read_only_fields = fields

    def to_representation(self, instance: RunReport):
        data = super().to_representation(instance)
        data["report"] = data["report"] or None
        return data


def _run(id: int) -> TrainingRun:  # noqa: A002 - the API names every object's key `id`
    if not 0 < id < 2**63:
        raise exceptions.NotFound("There is nothing with that id here.")
    run = TrainingRun.objects.select_related("corpus").filter(pk=id).first()
    if run is None:
        raise exceptions.NotFound("There is no training run with that id.")
    return run


class RunReportView(ApiMixin, APIView):
    @extend_schema(
        summary="A run's report, with its state",
        description=(
            "The stored report. Measured by a worker when the run finishes and whenever it is "
            "stale: `state` is `measuring` until it is ready; poll again."
        ),
        responses={200: RunReportSerializer, **errors(*DETAIL_ERRORS)},
        operation_id="run_report",
    )
    def get(self, request, id: int):  # noqa: A002
        report = services.run_report_get(run=_run(id))
        return Response(RunReportSerializer(report).data)

    @extend_schema(
        summary="Measure a run's report again (staff)",
        request=None,
        responses={
            202: OpenApiResponse(RunReportSerializer, description="Accepted: it is measuring."),
            **errors(401, 403, 404, 429),
        },
        operation_id="run_report_measure",
    )
    def post(self, request, id: int):  # noqa: A002
        report = services.run_report_request(run=_run(id))
        return Response(RunReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)
