"""Survey pages: consent, listening, thanks, clip audio, results and the CSV export.

Thin: load rows, check the request, call one survey service. Listeners are anonymous: a
random key in a signed cookie names their Listener row. Audio is served under the clip's
random token only, with the same headers for every clip.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from common.http import client_ip, stored_file_response
from common.throttle import window_hit

from . import services
from .forms import AnswerForm, ConsentForm
from .models import Experience, Listener, Survey, SurveyClip

COOKIE_SALT = "survey-listener"
COOKIE_MAX_AGE = 60 * 60 * 24 * 60  # 60 days: long enough to finish another day
BOT_MESSAGE = "This form could not be accepted."


def _limit(name: str, default: int) -> int:
    """A throttle limit from settings or the environment (0 turns that limit off)."""
    configured = getattr(settings, name, None)
    if configured is None:
        configured = os.environ.get(name) or default
    return int(configured)


def _allowed(scope: str, ident: str, *, limit: int, window_s: int) -> bool:
    """A fixed-window counter in the shared cache: False once `limit` hits in this window."""
    return window_hit(f"survey-{scope}", ident, limit=limit, window_s=window_s) is None


def _ip(request: HttpRequest) -> str:
    # The site's one rule (TRUSTED_PROXY_COUNT hops back in X-Forwarded-For), so that
    # behind a proxy every listener is not counted as the proxy.
    return client_ip(request) or "unknown"


def _throttled(request: HttpRequest, message: str) -> HttpResponse:
    response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = "60"
    return response


def _cookie_name(survey: Survey) -> str:
    return f"survey{survey.pk}"


def _listener(request: HttpRequest, survey: Survey) -> Listener | None:
    key = request.get_signed_cookie(_cookie_name(survey), default=None, salt=COOKIE_SALT)
    if not key:
        return None
    return Listener.objects.select_related("survey").filter(survey=survey, key=key).first()


def _open_survey(pk: int) -> Survey:
    return get_object_or_404(Survey, pk=pk)


@require_GET
def survey_index(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    surveys = [s for s in Survey.objects.filter(opens_at__lte=now) if s.is_open(now)]
    if len(surveys) == 1:
        return redirect("survey_consent", surveys[0].pk)
    return render(request, "evaluation/survey_index.html", {"surveys": surveys})


@require_http_methods(["GET", "POST"])
def survey_consent(request: HttpRequest, pk: int) -> HttpResponse:
    survey = _open_survey(pk)
    if _listener(request, survey) is not None:
        return redirect("survey_listen", survey.pk)
    if not survey.is_open():
        return render(request, "evaluation/survey_closed.html", {"survey": survey})
    form = ConsentForm(request.POST or None)
    if request.method == "POST":
        if form.is_bot():
            return HttpResponseBadRequest(BOT_MESSAGE)
        limit = _limit("SURVEY_LISTENERS_PER_HOUR_PER_IP", 30)
        if not _allowed("start", _ip(request), limit=limit, window_s=3600):
            return _throttled(request, "Too many new listeners from your address this hour.")
        if form.is_valid():
            try:
                listener = services.listener_start(
                    survey=survey,
                    experience=form.cleaned_data["experience"],
                    familiarity=form.cleaned_data["familiarity"],
                )
            except services.SurveyError as exc:
                form.add_error(None, str(exc))
            else:
                response = redirect("survey_listen", survey.pk)
                response.set_signed_cookie(
                    _cookie_name(survey),
                    listener.key,
                    salt=COOKIE_SALT,
                    max_age=COOKIE_MAX_AGE,
                    httponly=True,
                    samesite="Lax",
                    secure=request.is_secure(),
                )
                return response
    return render(
        request,
        "evaluation/survey_consent.html",
        {"survey": survey, "form": form, "n_clips": survey.clips_per_listener},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def survey_listen(request: HttpRequest, pk: int) -> HttpResponse:
    survey = _open_survey(pk)
    listener = _listener(request, survey)
    if listener is None:
        return redirect("survey_consent", survey.pk)
    if not survey.is_open():  # closed while they were listening: answers are no longer taken
        return render(
            request,
            "evaluation/survey_closed.html",
            {"survey": survey, "message": "This survey has closed; thank you for listening."},
            status=200 if request.method == "GET" else 400,
        )
    form = None
    status = 200
    if request.method == "POST":
        form = AnswerForm(request.POST, survey=survey)
        if form.is_bot():
            return HttpResponseBadRequest(BOT_MESSAGE)
        per_listener = _limit("SURVEY_ANSWERS_PER_MINUTE_PER_LISTENER", 12)
        per_ip = _limit("SURVEY_ANSWERS_PER_MINUTE_PER_IP", 120)
        if not (
            _allowed("answer-listener", listener.key, limit=per_listener, window_s=60)
            and _allowed("answer-ip", _ip(request), limit=per_ip, window_s=60)
        ):
            return _throttled(request, "That was quick! Please listen to each clip first.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.response_record(
                    listener=listener,
                    clip_token=data["clip"],
                    answer=services.Answer(
                        origin=data["origin"],
                        confidence=data["confidence"],
                        liking=data["liking"],
                        coherence=data["coherence"],
                        comment=data.get("comment") or "",
                    ),
                )
            except services.SurveyError as exc:
                return render(
                    request,
                    "evaluation/survey_closed.html",
                    {"survey": survey, "message": str(exc)},
                    status=400,
                )
            return redirect("survey_listen", survey.pk)  # the next clip, and no re-post on reload
        status = 400
    assignment, answered, total = services.listener_progress(listener=listener)
    if assignment is None:
        return redirect("survey_thanks", survey.pk)
    if form is None or form.data.get("clip") != assignment.clip.token:
        form = AnswerForm(initial={"clip": assignment.clip.token}, survey=survey)
    return render(
        request,
        "evaluation/survey_listen.html",
        {
            "survey": survey,
            "form": form,
            "token": assignment.clip.token,
            "number": answered + 1,
            "total": total,
            "percent": round(100 * answered / total) if total else 0,
        },
        status=status,
    )


@require_GET
def survey_thanks(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    listener = _listener(request, survey)
    answered = listener.responses.count() if listener else 0
    return render(
        request, "evaluation/survey_thanks.html", {"survey": survey, "answered": answered}
    )


@require_safe  # HEAD too: link checkers and players ask for the size first
def survey_clip_audio(request: HttpRequest, token: str) -> HttpResponse:
    """The clip's Ogg file under its token, with the same headers and neutral file name for
    every clip, and byte ranges (seeking needs them) as the site's other audio."""
    clip = SurveyClip.objects.filter(token=token).exclude(audio="").first()
    if clip is None:
        raise Http404("No such clip.")
    response = stored_file_response(
        request, clip.audio.name, content_type="audio/ogg", filename="clip.ogg", attachment=False
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _results_access(request: HttpRequest, survey: Survey) -> bool:
    """True for staff (everything), False for the public summary; PermissionDenied else."""
    if request.user.is_staff:
        return True
    if survey.public_results:
        return False
    raise PermissionDenied("The results of this survey are for staff only.")


@require_GET
def survey_results(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    is_staff = _results_access(request, survey)
    results = services.survey_results(survey=survey)
    experiences = dict(Experience.choices)
    return render(
        request,
        "evaluation/survey_results.html",
        {
            "survey": survey,
            "results": results,
            "is_staff": is_staff,
            "overall": present_group("All clips", results["overall"]),
            "groups": [present_group(k, v) for k, v in results["groups"].items()],
            "baseline": present_group(
                services.HUMAN_BASELINE, results["groups"].get(services.HUMAN_BASELINE)
            )
            if services.HUMAN_BASELINE in results["groups"]
            else None,
            "runs": [
                {**run, "row": present_group(run["name"], run["results"])}
                for run in results["runs"]
            ],
            "by_experience": [
                present_group(experiences.get(level, level).capitalize(), value)
                for level, value in results["by_experience"].items()
            ],
        },
    )


@require_GET
def survey_responses_csv(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    if not request.user.is_staff:
        raise PermissionDenied("The raw responses are for staff only.")
    response = HttpResponse(
        services.survey_responses_csv(survey=survey), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-responses.csv"'
    return response


# --- presentation of the results ------------------------------------------------------------


def _mean_cell(
    stat: dict, lo: float = 1.0, hi: float = 5.0, *, percent: bool = False
) -> dict | None:
    """A mean with its interval as text and as positions (%) on the 1–5 scale."""
    if stat["mean"] is None:
        return None

    def pos(v: float) -> float:
        return round(100 * (min(max(v, lo), hi) - lo) / (hi - lo), 1)

    def fmt(v: float) -> str:
        return f"{100 * v:.0f} %" if percent else f"{v:.2f}"

    has_ci = stat["low"] is not None
    return {
        "text": fmt(stat["mean"]),
        "ci": f"{fmt(stat['low'])} – {fmt(stat['high'])}" if has_ci else "",
        "at": pos(stat["mean"]),
        "left": pos(stat["low"]) if has_ci else pos(stat["mean"]),
        "width": round(pos(stat["high"]) - pos(stat["low"]), 1) if has_ci else 0,
        "n": stat["n"],
    }


def _rate_cell(stat: dict) -> dict | None:
    if stat["rate"] is None:
        return None
    p = stat["p_value"]
    return {
        "text": f"{100 * stat['rate']:.0f} %",
        "ci": f"{100 * stat['low']:.0f}–{100 * stat['high']:.0f} %",
        "at": round(100 * stat["rate"], 1),
        "left": round(100 * stat["low"], 1),
        "width": round(100 * (stat["high"] - stat["low"]), 1),
        "k": stat["k"],
        "n": stat["n"],
        "p": "< 0.001" if p is not None and p < 0.001 else (f"{p:.3f}" if p is not None else ""),
    }


def present_group(label: str, group: dict) -> dict:
    return {
        "label": label,
        "is_human": label.startswith("Human"),
        "n": group["n"],
        "clips": group["clips"],
        "listeners": group["listeners"],
        "liking": _mean_cell(group["liking"]),
        "coherence": _mean_cell(group["coherence"]),
        "correct": _rate_cell(group["correct"]),
        "judged_human": _rate_cell(group["judged_human"]),
        "listener_accuracy": _mean_cell(group["listener_accuracy"], 0.0, 1.0, percent=True),
    }
