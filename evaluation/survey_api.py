"""Survey results in the REST API: GET /api/v1/surveys/<id>/results/, staff only, read-only."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from . import survey_services
from .statistics import json_safe
from .survey_models import Survey


class SurveyResultsView(APIView):
    """Results of a listener survey: groups with 95 % intervals, agreement, per clip."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="survey_results")
    def get(self, request, pk: int):
        survey = get_object_or_404(Survey, pk=pk)
        return Response(json_safe(survey_services.survey_results(survey=survey)))
