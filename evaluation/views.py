"""Evaluation pages and exports: run reports, corpus calibration, per-piece scores."""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from common import charts
from common.errors import ServiceError, sentence
from generator.models import Corpus, Piece, TrainingRun
from musiclib.metrics import statistics as st
from musiclib.ways import way_names

from . import presenters, services

# Scalar features exported as CSV columns (the histograms and the transition matrix are in
# the JSON export).
CSV_FEATURES = (
    "pitch_count",
    "pitch_range",
    "avg_pitch_interval",
    "ioi_mean",
    "scale_consistency",
    "pitch_entropy",
)


def _run(pk: int) -> TrainingRun:
    return get_object_or_404(TrainingRun.objects.select_related("corpus"), pk=pk)


def way_registered(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A run whose way is no longer registered (removed from the registry, or a deployment
    without it) cannot be measured: its report is a page that says so, never a 500."""

    @wraps(view)
    def wrapped(request: HttpRequest, pk: int, *args: Any, **kwargs: Any) -> HttpResponse:
        run = _run(pk)
        if run.way not in way_names():
            return render(request, "evaluation/run_report_unavailable.html", {"run": run})
        return view(request, pk, *args, **kwargs)

    return wrapped


@require_GET
@way_registered
def run_report_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored report; measured by a task, so the page says "measuring" until it is."""
    run = _run(pk)
    report = services.run_report_get(run=run)
    template, context = presenters.run_report_page_context(run=run, report=report)
    context["can_measure"] = request.user.is_staff
    return render(request, template, context)


@require_POST
def run_report_measure_again(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: measure the report again now (it is queued; the page shows it measuring)."""
    if not request.user.is_staff:
        raise PermissionDenied
    run = _run(pk)
    services.run_report_request(run=run)
    return redirect("evaluation_run_report", pk=run.pk)


@require_GET
def corpus_calibration_page(request: HttpRequest, pk: int) -> HttpResponse:
    corpus = get_object_or_404(Corpus, pk=pk)
    state, cal, calibrating = services.corpus_calibration_stored(corpus=corpus)
    context: dict[str, Any] = {
        "corpus": corpus,
        "state": state,
        "cal": cal,
        "calibrating": calibrating,
        "refresh_s": presenters.REFRESH_S,
    }
    if cal.get("ok"):
        context["copy_chart"] = charts.histogram(
            values=cal["copy_lengths"],
            integer=True,
            x_label="longest passage found in another tune (notes)",
            threshold=cal["copy_len_threshold"],
            threshold_label="95th percentile",
        )
        context["frac8_chart"] = charts.histogram(
            values=cal["frac8"],
            bins=20,
            percent=True,
            x_label="share of 8-note phrases found in other tunes",
            threshold=cal["frac8_threshold"],
            threshold_label="95th percentile",
        )
        context["idiom_chart"] = charts.histogram(
            values=cal["idiom_pitch"],
            bins=20,
            percent=True,
            x_label="share of 4-note pitch patterns found in other tunes",
        )
        human = (state.human_features if state else None) or {}
        # In feature order: PostgreSQL's jsonb does not keep the keys' order.
        scalars, baseline = human.get("scalars") or {}, human.get("baseline") or {}
        context["scalars"] = [
            {"label": st.FEATURE_LABELS[name], **scalars[name]}
            for name in st.FEATURE_NAMES
            if name in scalars
        ]
        context["baseline"] = [
            {"label": st.FEATURE_LABELS[name], **baseline[name]}
            for name in st.FEATURE_NAMES
            if name in baseline
        ]
        context["human"] = human
    return render(request, "evaluation/corpus_calibration.html", context)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


@require_GET
def run_scores_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """Every piece's stored scores; a piece not evaluated yet is a row with status
    "pending" and empty scores (its evaluation is queued, never run in the request)."""
    run = _run(pk)
    scores = services.run_scores(run=run)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run_{run.pk}_scores.csv"'
    writer = csv.writer(response)
    writer.writerow([*services.EXPORT_FIELDS, *CSV_FEATURES])
    for row in scores["pieces"]:
        feats = row.get("features") or {}
        writer.writerow(
            [_csv_value(row.get(f)) for f in services.EXPORT_FIELDS]
            + [_csv_value(feats.get(f)) for f in CSV_FEATURES]
        )
    return response


@require_GET
def run_scores_json(request: HttpRequest, pk: int) -> JsonResponse:
    """As the CSV, with `state` ("measuring" while any piece is pending) and `pending`."""
    run = _run(pk)
    response = JsonResponse(services.run_scores(run=run), json_dumps_params={"allow_nan": False})
    response["Content-Disposition"] = f'inline; filename="run_{run.pk}_scores.json"'
    return response


@require_GET
def run_judge_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The blind listener's verdict on the run, from its stored report (while the report is
    measuring: `state` says so and there is no verdict yet). ?epoch=N: the stored verdict on
    that epoch's checkpoint (measured by the report task, as the report page shows it)."""
    run = _run(pk)
    try:
        data = services.run_judge_get(run=run, epoch=request.GET.get("epoch"))
    except ServiceError as exc:
        return JsonResponse({"errors": {exc.field: [sentence(exc.message)]}}, status=400)
    return JsonResponse(
        {"run": run.pk, **st.json_safe(data)}, json_dumps_params={"allow_nan": False}
    )


@require_GET
def piece_scores_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The piece's stored scores; "pending" (its evaluation queued) when it has none yet."""
    piece = get_object_or_404(
        Piece.objects.select_related("run__corpus", "checkpoint", "job"), pk=pk
    )
    return JsonResponse(
        services.piece_scores_get(piece=piece), json_dumps_params={"allow_nan": False}
    )


@require_GET
def piece_evaluation_panel(request: HttpRequest, pk: int) -> JsonResponse:
    """The piece page's evaluation panel as it is now, for the page to fill in while a queued
    evaluation is being done (site.js polls it until `done`)."""
    piece = get_object_or_404(Piece.objects.select_related("run"), pk=pk)
    ev = presenters.piece_evaluation_view(piece)
    html = render_to_string(
        "evaluation/_piece_evaluation_body.html", {"piece": piece, "ev": ev}, request=request
    )
    return JsonResponse(
        {"state": ev["status"], "done": ev["status"] != "pending", "html": {"evaluation": html}}
    )
