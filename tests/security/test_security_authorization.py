"""Who may open what: every URL the resolver knows, for an anonymous visitor, an ordinary
signed-in user and staff, plus every admin action.

The URL list comes from the resolver itself: `test_every_url_has_an_access_rule` fails when a
new route appears without a rule here, so no page can be added unchecked.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from generator.models import (
    Checkpoint,
    Corpus,
    GenerationJob,
    ImportJob,
    JobStatus,
    Piece,
    TrainingRun,
    Tune,
)
from tests.evaluation.survey_builders import make_survey
from tests.web.builders import make_import, make_piece, make_tune, make_world

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "user", "staff")


def resolver_routes() -> dict[str, str]:
    """{route name: route pattern} for every named route (admin, API, pages)."""
    routes: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern) and p.name:
                name = f"{namespace}:{p.name}" if namespace else p.name
                routes.setdefault(name, prefix + str(p.pattern))

    walk(get_resolver().url_patterns, "", None)
    return routes


# --- the rules ---------------------------------------------------------------------------------
# Each site page: (method, URL template, rule). Rules:
#   public      everyone gets the same 2xx answer
#   staff       anonymous and users are sent to sign in (302) or refused (403); staff 200
#   staff-post  a POST that only staff may make: others 403 and nothing changes
#   open-post   a POST anyone may make (generation, within the hourly allowance)
#   login       the sign-in and sign-out views
#   same        the answer does not depend on who asks (the listener survey, which knows
#               listeners only by an anonymous cookie; files a piece or clip may lack)
#   staff-403   anonymous and users are refused (403); staff 200
SITE = {
    "health": ("get", "/health/", "health"),
    "ops_monitoring": ("get", "/ops/", "staff"),
    "ops_workers": ("get", "/ops/workers/", "staff"),
    "gallery": ("get", "/", "public"),
    "piece_cards": ("get", "/pieces/cards.json", "public"),
    "piece_detail": ("get", "/pieces/{piece}/", "public"),
    "piece_audio": ("get", "/pieces/{piece}/audio/", "public"),
    "piece_spectrogram": ("get", "/pieces/{piece}/spectrogram.png", "same"),
    "piece_download": ("get", "/pieces/{piece}/download/midi/", "public"),
    "piece_reproduce": ("post", "/pieces/{piece}/reproduce/", "open-post"),
    "piece_more_like": ("post", "/pieces/{piece}/more/", "open-post"),
    "generate": ("get", "/generate/", "public"),
    "job_detail": ("get", "/jobs/{job}/", "public"),
    "job_status": ("get", "/jobs/{job}/status.json", "public"),
    "run_list": ("get", "/runs/", "public"),
    "run_detail": ("get", "/runs/{run}/", "public"),
    "run_status": ("get", "/runs/{run}/status.json", "public"),
    "run_cancel": ("post", "/runs/{run}/cancel/", "staff-post"),
    "run_resume": ("post", "/runs/{run}/resume/", "staff-post"),
    "corpus_list": ("get", "/corpora/", "public"),
    "corpus_detail": ("get", "/corpora/{corpus}/", "public"),
    "tune_detail": ("get", "/tunes/{tune}/", "public"),
    "tune_audio": ("get", "/tunes/{tune}/audio/", "public"),
    "tune_download": ("get", "/tunes/{tune}/download/abc/", "public"),
    "login": ("get", "/accounts/login/", "login"),
    "logout": ("post", "/accounts/logout/", "login"),
    "evaluation_run_report": ("get", "/evaluation/runs/{run}/", "public"),
    "evaluation_run_report_measure": ("post", "/evaluation/runs/{run}/measure/", "staff-post"),
    "evaluation_run_scores_csv": ("get", "/evaluation/runs/{run}/scores.csv", "public"),
    "evaluation_run_scores_json": ("get", "/evaluation/runs/{run}/scores.json", "public"),
    "evaluation_run_judge": ("get", "/evaluation/runs/{run}/judge.json", "public"),
    "evaluation_piece_scores": ("get", "/evaluation/pieces/{piece}/scores.json", "public"),
    "evaluation_piece_panel": ("get", "/evaluation/pieces/{piece}/panel.json", "public"),
    "evaluation_corpus": ("get", "/evaluation/corpora/{corpus}/", "public"),
    "survey_index": ("get", "/survey/", "same"),
    "survey_consent": ("get", "/survey/{survey}/", "same"),
    "survey_listen": ("get", "/survey/{survey}/listen/", "same"),
    "survey_thanks": ("get", "/survey/{survey}/thanks/", "same"),
    "survey_clip_audio": ("get", "/survey/audio/{clip}/", "same"),
    "survey_results": ("get", "/survey/{survey}/results/", "staff-403"),
    "survey_responses_csv": ("get", "/survey/{survey}/responses.csv", "staff-403"),
    "api-schema": ("get", "/api/schema/", "public"),
    "api-docs": ("get", "/api/docs/", "public"),
    "api-redoc": ("get", "/api/redoc/", "public"),
}
# The REST API: reads public, writes staff only (401 anonymous, 403 user), generation open.
API = {
    "api_v1:root": ("get", "/api/v1/", "public"),
    "api_v1:generate": ("get", "/api/v1/generate/", "public"),
    "api_v1:corpus-list": ("post", "/api/v1/corpora/", "api-staff"),
    "api_v1:corpus-detail": ("get", "/api/v1/corpora/{corpus}/", "public"),
    "api_v1:corpus-imports": ("post", "/api/v1/corpora/{corpus}/imports/", "api-staff"),
    "api_v1:corpus-tunes": ("get", "/api/v1/corpora/{corpus}/tunes/", "public"),
    "api_v1:tune-list": ("get", "/api/v1/tunes/", "public"),
    "api_v1:tune-detail": ("get", "/api/v1/tunes/{tune}/", "public"),
    "api_v1:import-list": ("get", "/api/v1/imports/", "public"),
    "api_v1:import-detail": ("get", "/api/v1/imports/{import}/", "public"),
    "api_v1:run-list": ("post", "/api/v1/runs/", "api-staff"),
    "api_v1:run-detail": ("get", "/api/v1/runs/{run}/", "public"),
    "api_v1:run-cancel": ("post", "/api/v1/runs/{run}/cancel/", "api-staff"),
    "api_v1:run-checkpoints": ("get", "/api/v1/runs/{run}/checkpoints/", "public"),
    "api_v1:run-report": ("get", "/api/v1/runs/{run}/report/", "public"),
    "api_v1:run-resume": ("post", "/api/v1/runs/{run}/resume/", "api-staff"),
    "api_v1:run-start": ("post", "/api/v1/runs/{run}/start/", "api-staff"),
    "api_v1:checkpoint-list": ("get", "/api/v1/checkpoints/", "public"),
    "api_v1:checkpoint-detail": ("get", "/api/v1/checkpoints/{checkpoint}/", "public"),
    "api_v1:piece-list": ("get", "/api/v1/pieces/", "public"),
    "api_v1:piece-detail": ("get", "/api/v1/pieces/{piece}/", "public"),
    "api_v1:piece-more": ("post", "/api/v1/pieces/{piece}/more/", "open-post"),
    "api_v1:piece-reproduce": ("post", "/api/v1/pieces/{piece}/reproduce/", "open-post"),
    "api_v1:job-list": ("get", "/api/v1/jobs/", "public"),
    "api_v1:job-detail": ("get", "/api/v1/jobs/{job}/", "public"),
    "api_v1:survey-results": ("get", "/api/v1/surveys/{survey}/results/", "api-staff"),
    "api_v1:not-found": ("get", "/api/v1/no-such-thing/", "api-404"),
}
# Admin routes that are not model pages, and whether staff sees them with a GET.
ADMIN_OTHER = {
    "admin:index": "/admin/",
    "admin:login": None,  # the sign-in form itself
    "admin:logout": None,  # POST only; signing out is harmless for anyone
    "admin:password_change": "/admin/password_change/",
    "admin:password_change_done": "/admin/password_change/done/",
    "admin:autocomplete": None,  # checked below with its required parameters
    "admin:jsi18n": None,  # translations for the admin's scripts, public by design
    "admin:view_on_site": None,  # redirects to the object's public page
    "admin:app_list": "/admin/generator/",
}
ADMIN_MODEL_SUFFIXES = ("changelist", "add", "history", "delete", "change")


@pytest.fixture
def objects(db):
    world = make_world()
    piece = make_piece(world, title="A piece")
    tune = make_tune(world.corpus)
    imp = make_import(world.corpus)
    survey = make_survey(tunes=2, pieces=1, render=False)
    return {
        "survey": survey.pk,
        "clip": survey.clips.first().token,
        "corpus": world.corpus.pk,
        "run": world.run.pk,
        "checkpoint": world.checkpoint.pk,
        "job": world.job.pk,
        "piece": piece.pk,
        "tune": tune.pk,
        "import": imp.pk,
    }


@pytest.fixture
def clients(user, staff_user) -> dict[str, Client]:
    anonymous, signed_in, staff = Client(), Client(), Client()
    signed_in.force_login(user)
    staff.force_login(staff_user)
    return {"anonymous": anonymous, "user": signed_in, "staff": staff}


def _admin_model_routes() -> dict[str, tuple[type, str]]:
    routes = {}
    for model in admin.site._registry:
        label = f"{model._meta.app_label}_{model._meta.model_name}"
        for suffix in ADMIN_MODEL_SUFFIXES:
            routes[f"admin:{label}_{suffix}"] = (model, suffix)
    routes["admin:auth_user_password_change"] = (get_user_model(), "password")
    return routes


def test_every_url_has_an_access_rule():
    known = set(SITE) | set(API) | set(ADMIN_OTHER) | set(_admin_model_routes())
    missing = sorted(set(resolver_routes()) - known)
    assert not missing, f"routes without an access rule in this test: {missing}"


def _request(client: Client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return client.post(url, {}, content_type="application/json" if "/api/" in url else None)


def _post(client: Client, url: str):
    if "/api/" in url:
        return client.post(url, {}, content_type="application/json")
    return client.post(url, {})


def _signs_in(response) -> bool:
    return response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("name", sorted(SITE) + sorted(API))
def test_each_page_and_endpoint_answers_each_role_by_its_rule(name, objects, clients):
    method, template, rule = (SITE | API)[name]
    url = template.format(**objects)
    answers = {}
    for role in ROLES:
        response = _post(clients[role], url) if method == "post" else clients[role].get(url)
        answers[role] = response
        assert response.status_code < 500 or rule == "health", (role, url, response.status_code)
    codes = {role: r.status_code for role, r in answers.items()}
    if rule == "public":
        assert all(200 <= c < 300 for c in codes.values()), codes
    elif rule == "health":  # 200 or 503 by the state of the services, never a login wall
        assert set(codes.values()) <= {200, 503}, codes
    elif rule == "same":
        assert len(set(codes.values())) == 1 and codes["anonymous"] != 403, codes
    elif rule == "staff-403":
        assert codes["anonymous"] == 403 and codes["user"] == 403, codes
        assert codes["staff"] == 200, codes
    elif rule == "staff":
        assert _signs_in(answers["anonymous"]) and _signs_in(answers["user"]), codes
        assert codes["staff"] == 200, codes
    elif rule == "staff-post":
        assert codes["anonymous"] == 403 and codes["user"] == 403, codes
        assert codes["staff"] in (302, 303), codes  # done (or refused) with a message
    elif rule == "api-staff":
        assert codes["anonymous"] == 401 and codes["user"] == 403, codes
        assert codes["staff"] not in (401, 403), codes
        if method == "get":
            assert codes["staff"] == 200, codes
    elif rule == "open-post":
        assert all(c not in (401, 403) for c in codes.values()), codes
    elif rule == "api-404":
        assert set(codes.values()) == {404}, codes
    elif rule == "login":
        assert all(c in (200, 302) for c in codes.values()), codes
    else:  # pragma: no cover
        pytest.fail(f"unknown rule {rule}")


def test_a_refused_staff_action_changes_nothing(objects, clients):
    TrainingRun.objects.filter(pk=objects["run"]).update(status=JobStatus.RUNNING)
    for role in ("anonymous", "user"):
        clients[role].post(f"/runs/{objects['run']}/cancel/")
        clients[role].post(f"/api/v1/runs/{objects['run']}/cancel/")
    assert TrainingRun.objects.get(pk=objects["run"]).cancel_requested is False


def _admin_urls(objects) -> list[tuple[str, str]]:
    from django.urls import reverse

    first = {
        get_user_model(): get_user_model().objects.get(username="staff").pk,
        Corpus: objects["corpus"],
        TrainingRun: objects["run"],
        Checkpoint: objects["checkpoint"],
        GenerationJob: objects["job"],
        Piece: objects["piece"],
        Tune: objects["tune"],
        ImportJob: objects["import"],
    }
    urls = [(name, path) for name, path in ADMIN_OTHER.items() if path]
    for name, (model, suffix) in _admin_model_routes().items():
        if model is None:
            continue
        if suffix in ("changelist", "add"):
            urls.append((name, reverse(name)))
            continue
        pk = first.get(model) or model._default_manager.values_list("pk", flat=True).first()
        if pk is not None:
            urls.append((name, reverse(name, args=[pk])))
    return urls


def test_every_admin_page_is_for_staff_only(objects, clients, staff_user):
    urls = _admin_urls(objects)
    assert len(urls) > 40
    for name, url in urls:
        for role in ("anonymous", "user"):
            response = clients[role].get(url)
            assert _signs_in(response), (role, name, url, response.status_code)
        response = clients["staff"].get(url)
        assert response.status_code == _staff_status(name), (name, url, response.status_code)
    # The object-less admin helpers refuse outsiders too.
    for role in ("anonymous", "user"):
        response = clients[role].get(
            "/admin/autocomplete/",
            {"app_label": "generator", "model_name": "piece", "field_name": "job"},
        )
        assert response.status_code in (302, 403), response.status_code


def test_every_admin_action_is_refused_to_outsiders_and_changes_nothing(objects, clients):
    from django.urls import reverse

    TrainingRun.objects.filter(pk=objects["run"]).update(status=JobStatus.DRAFT)
    tried = 0
    for model, model_admin in admin.site._registry.items():
        pks = list(model._default_manager.values_list("pk", flat=True)[:3])
        if not pks:
            continue
        before = model._default_manager.count()
        jobs_before = GenerationJob.objects.count()
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for action in model_admin.get_actions(_staff_request(model_admin)):
            for role in ("anonymous", "user"):
                response = clients[role].post(
                    url, {"action": action, "_selected_action": pks, "post": "yes"}
                )
                assert _signs_in(response), (role, model, action, response.status_code)
                tried += 1
        assert model._default_manager.count() == before, model
        assert GenerationJob.objects.count() == jobs_before, model
    assert TrainingRun.objects.get(pk=objects["run"]).status == JobStatus.DRAFT
    assert tried >= 2 * 8  # delete_selected on every model plus the custom actions


def _staff_status(name: str) -> int:
    """What staff get at an admin URL: the page, or 403 for the add page of a read-only
    admin (rows only the site writes, such as the allowance's lock rows)."""
    model, suffix = _admin_model_routes().get(name, (None, ""))
    if suffix == "add" and model is not None:
        model_admin = admin.site._registry[model]
        if not model_admin.has_add_permission(_staff_request(model_admin)):
            return 403
    return 200


def _staff_request(model_admin):
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(username="staff")
    return request


def test_the_api_refuses_every_write_method_to_outsiders(objects, clients):
    tried = 0
    for name, (_, template, _rule) in API.items():
        url = template.format(**objects)
        for method in ("put", "patch", "delete"):
            for role in ("anonymous", "user"):
                response = getattr(clients[role], method)(url, {}, content_type="application/json")
                assert response.status_code in (401, 403, 404, 405), (name, method, role)
                tried += 1
    assert tried > 100
    assert Corpus.objects.filter(pk=objects["corpus"]).exists()
    assert Piece.objects.filter(pk=objects["piece"]).exists()


def test_pages_name_no_staff_links_to_outsiders(objects, clients):
    html = clients["user"].get("/").content.decode()
    assert not re.search(r'href="/admin/', html)
    assert re.search(r'href="/admin/', clients["staff"].get("/").content.decode())
