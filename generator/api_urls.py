"""Routes of the REST API, mounted at `/api/v1/` (namespace `api_v1`) by musicsite.urls."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from . import apis

app_name = "api_v1"

router = SimpleRouter(trailing_slash=True)
router.register("corpora", apis.CorpusViewSet, basename="corpus")
router.register("tunes", apis.TuneViewSet, basename="tune")
router.register("imports", apis.ImportJobViewSet, basename="import")
router.register("runs", apis.TrainingRunViewSet, basename="run")
router.register("checkpoints", apis.CheckpointViewSet, basename="checkpoint")
router.register("pieces", apis.PieceViewSet, basename="piece")
router.register("jobs", apis.GenerationJobViewSet, basename="job")

urlpatterns = [
    path("", apis.ApiRootView.as_view(), name="root"),
    path("generate/", apis.GenerateView.as_view(), name="generate"),
    *router.urls,
    path("surveys/", include("evaluation.survey.api_urls")),  # issue 7, staff only
    # Anything else under /api/v1/ is a 404 in the API's error format, not an HTML page.
    re_path(r"^.*$", apis.api_not_found, name="not-found"),
]
