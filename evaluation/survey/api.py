"""Survey results in the REST API: GET /api/v1/surveys/<id>/results/, staff only, read-only.

It shares the API's authentication, throttles and error format (common.api.views.ApiMixin).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.schema import errors
from common.api.views import ApiMixin
from musiclib.metrics.statistics import json_safe

from . import services as survey_services
from .models import Survey


class SurveyResultsView(ApiMixin, APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        summary="Results of a listener survey (staff)",
        description=(
            "Per group (human baseline, each corpus, all machine clips, each way, each run) "
            "and per musical experience: mean liking and coherence with 95 % t-intervals, the "
            "share judged made by a person, the share told apart with a 95 % Wilson interval "
            "and an exact binomial p-value against 50 %; Krippendorff's alpha; per clip."
        ),
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The survey's results."),
            **errors(401, 403, 404, 429),
        },
        operation_id="survey_results",
    )
    def get(self, request, id: int):  # noqa: A002 - the API names every object's key `id`
        if not 0 < id < 2**63:
            raise exceptions.NotFound("There is nothing with that id here.")
        survey = Survey.objects.filter(pk=id).first()
        if survey is None:
            raise exceptions.NotFound("There is no survey with that id.")
        return Response(json_safe(survey_services.survey_results(survey=survey)))
