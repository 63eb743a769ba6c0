"""Survey API routes, included under /api/v1/surveys/ by generator.api.urls."""

from django.urls import path

from .api import SurveyResultsView

urlpatterns = [
    path("<int:id>/results/", SurveyResultsView.as_view(), name="survey-results"),
]
