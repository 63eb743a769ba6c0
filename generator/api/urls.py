"""Routes of the REST API, mounted at `/api/v1/` (namespace `api_v1`) by musicsite.urls."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from common.api.errors import api_not_found

from .corpora import CorpusViewSet, ImportJobViewSet, TuneViewSet
from .pieces import GenerateView, GenerationJobViewSet, PieceViewSet
from .root import ApiRootView
from .runs import CheckpointViewSet, TrainingRunViewSet

app_name = "api_v1"

router = SimpleRouter(trailing_slash=True)
router.register("corpora", CorpusViewSet, basename="corpus")
router.register("tunes", TuneViewSet, basename="tune")
router.register("imports", ImportJobViewSet, basename="import")
router.register("runs", TrainingRunViewSet, basename="run")
router.register("checkpoints", CheckpointViewSet, basename="checkpoint")
router.register("pieces", PieceViewSet, basename="piece")
router.register("jobs", GenerationJobViewSet, basename="job")

urlpatterns = [
    path("", ApiRootView.as_view(), name="root"),
    path("generate/", GenerateView.as_view(), name="generate"),
    path("runs/", include("evaluation.api_urls")),  # a run's report, with its state
    *router.urls,
    path("surveys/", include("evaluation.survey.api_urls")),  # staff only
    # Anything else under /api/v1/ is a 404 in the API's error format, not an HTML page.
    re_path(r"^.*$", api_not_found, name="not-found"),
]
