"""Run report API routes, included under /api/v1/runs/ by generator.api.urls."""

from django.urls import path

from .api import RunReportView

urlpatterns = [
    path("<int:id>/report/", RunReportView.as_view(), name="run-report"),
]
