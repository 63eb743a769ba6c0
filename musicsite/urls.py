from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from common.api.errors import api_not_found
from musicsite.health import health
from musicsite.monitoring import monitoring, monitoring_workers

# REST API (issue 8), versioned. The OpenAPI schema describes these routes only (not the
# schema view itself), with separate request and response components so that read-only
# fields never appear in requests.
api_patterns = [path("api/v1/", include("generator.api.urls"))]
API_SCHEMA_SETTINGS = {
    "DESCRIPTION": (
        "Corpora, tunes, training runs, checkpoints, generated pieces and generation for "
        "programs. Reads are public; writes need a staff token (`Authorization: Token <key>`, "
        "made in the admin) or a staff session; generation is open to all within an hourly "
        'allowance. Errors: `{"error": {"code", "message", "fields"}}`. See docs/api.md.'
    ),
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

urlpatterns = [
    # For load balancers and uptime checks: database, broker, a worker (503 when one is down).
    path("health/", health, name="health"),
    # Staff: workers, queues, in-flight and failed runs and jobs.
    path("ops/", monitoring, name="ops_monitoring"),
    path("ops/workers/", monitoring_workers, name="ops_workers"),
    path("admin/", admin.site.urls),
    *api_patterns,
    # The schema and its docs (Swagger UI, Redoc), served locally by the sidecar: no CDN.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(patterns=api_patterns, custom_settings=API_SCHEMA_SETTINGS),
        name="api-schema",
    ),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^api/", api_not_found),
    path("evaluation/", include("evaluation.urls")),
    path("survey/", include("evaluation.survey.urls")),
    path("", include("generator.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
