"""Evaluation pages and exports: run reports, corpus calibration, per-piece scores."""

from __future__ import annotations

import csv
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from common import charts
from generator.models import Corpus, Piece, TrainingRun
from musiclib.metrics import statistics as st
from musiclib.ways import get_way

from . import listener, presenters, services
from .models import EvaluationStatus, PieceEvaluation

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
TOP_PIECES = 25


def _run(pk: int) -> TrainingRun:
    return get_object_or_404(TrainingRun.objects.select_related("corpus"), pk=pk)


def _vocabulary(run) -> str | None:
    """Which vocabulary the run trained on ("chars" or "tokens" for ABC), None for a way
    without a choice of vocabularies."""
    return get_way(run.way).vocabulary_kind(config=run.config or {}, vocab=run.vocab or [])


@require_GET
def run_report_page(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(pk)
    if get_way(run.way).capabilities.is_audio:  # no notes: music-vs-noise measures instead
        from .audio_report import audio_run_report

        report = audio_run_report(run=run)
        return render(request, "evaluation/audio_report.html", {"run": run, "report": report})
    report = services.run_report(run=run)
    epochs = report["epochs"]
    human = report["human"]
    copy_chart = charts.line_chart(
        series=[
            {
                "key": "copy",
                "label": "median longest copy",
                "points": [(e["epoch"], e["copy_length"]) for e in epochs],
            },
            {
                "key": "copy-max",
                "label": "longest copy of any sample",
                "points": [(e["epoch"], e["max_copy_length"]) for e in epochs],
                "dashed": True,
            },
        ],
        y_label="notes",
        hlines=[
            {"y": human.get("copy_len_threshold"), "label": "likely-copy threshold"},
        ],
    )
    # Issue 11's measures per epoch: where the model gets valid (parse, abc2midi, bars) and
    # idiomatic; the copy chart beside it shows where it starts to copy.
    quality_chart = charts.line_chart(
        series=[
            {
                "key": "parse",
                "label": "parse",
                "points": [(e["epoch"], e["parses"]) for e in epochs],
            },
            {
                "key": "abc2midi",
                "label": "abc2midi",
                "points": [(e["epoch"], e.get("plays")) for e in epochs],
            },
            {
                "key": "bars",
                "label": "bars of the meter's length",
                "points": [(e["epoch"], e.get("bars")) for e in epochs],
            },
            {
                "key": "idiom",
                "label": "pitch idiom",
                "points": [(e["epoch"], e["idiom_pitch"]) for e in epochs],
            },
            {
                "key": "overlap",
                "label": "feature overlap with human tunes",
                "points": [(e["epoch"], e["feature_overlap"]) for e in epochs],
                "dashed": True,
            },
        ],
        y_label="share",
        y_max=1.0,
        percent=True,
    )
    feature_chart = charts.bar_pairs(
        rows=[
            {"label": f["label"], "a": f["overlap"], "b": f["baseline_overlap"]}
            for f in report["features"]
        ],
        a_label="this run's pieces against human tunes",
        b_label="human tunes against human tunes",
    )
    pieces_qs, _ = services.run_report_pieces(run=run)
    top = (
        pieces_qs.filter(evaluation__status=EvaluationStatus.DONE)
        .select_related("evaluation", "evaluation__copy_tune", "checkpoint")
        .order_by("-evaluation__copy_length", "pk")[:TOP_PIECES]
    )
    failed = PieceEvaluation.objects.filter(piece__run=run, status=EvaluationStatus.FAILED)
    return render(
        request,
        "evaluation/run_report.html",
        {
            "run": run,
            "report": report,
            "vocabulary": _vocabulary(run),
            "copy_chart": copy_chart,
            "quality_chart": quality_chart,
            "feature_chart": feature_chart,
            "top_pieces": list(top),
            "failed": list(failed.select_related("piece").order_by("piece_id")[:10]),
            "failed_count": failed.count(),
            "computed_at": parse_datetime(report.get("computed_at") or ""),
            "listener": presenters.listener_view(report.get("judge")),
        },
    )


@require_GET
def corpus_calibration_page(request: HttpRequest, pk: int) -> HttpResponse:
    corpus = get_object_or_404(Corpus, pk=pk)
    cal = services.corpus_calibration_get(corpus=corpus)
    state = services.corpus_index_state(corpus=corpus)
    context: dict[str, Any] = {"corpus": corpus, "state": state, "cal": cal}
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
        human = state.human_features or {}
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
    run = _run(pk)
    rows = services.run_scores(run=run)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run_{run.pk}_scores.csv"'
    writer = csv.writer(response)
    writer.writerow([*services.EXPORT_FIELDS, *CSV_FEATURES])
    for row in rows:
        feats = row.get("features") or {}
        writer.writerow(
            [_csv_value(row.get(f)) for f in services.EXPORT_FIELDS]
            + [_csv_value(feats.get(f)) for f in CSV_FEATURES]
        )
    return response


@require_GET
def run_scores_json(request: HttpRequest, pk: int) -> JsonResponse:
    run = _run(pk)
    rows = services.run_scores(run=run)
    response = JsonResponse(
        {"run": run.pk, "corpus": run.corpus_id, "count": len(rows), "pieces": rows},
        json_dumps_params={"allow_nan": False},
    )
    response["Content-Disposition"] = f'inline; filename="run_{run.pk}_scores.json"'
    return response


@require_GET
def run_judge_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The blind listener's verdict on the run, as on its report. Staff may name another
    checkpoint with ?epoch=N (judged in this request, from that checkpoint's pieces)."""
    run = _run(pk)
    epoch = request.GET.get("epoch")
    if get_way(run.way).capabilities.melody is None:
        data: dict[str, Any] = {"available": False, "reason": "pieces of this kind have no notes"}
    elif epoch is None:
        data = services.run_report(run=run).get("judge") or {}
    elif not request.user.is_staff:
        return JsonResponse(
            {"errors": {"epoch": ["Only staff may choose the checkpoint."]}}, status=403
        )
    else:
        checkpoint = run.checkpoints.filter(epoch=epoch).first() if epoch.isdigit() else None
        if checkpoint is None:
            return JsonResponse(
                {"errors": {"epoch": [f"The run has no checkpoint at epoch {epoch!r}."]}},
                status=400,
            )
        data = listener.run_judge(run=run, checkpoint=checkpoint)
    return JsonResponse(
        {"run": run.pk, **st.json_safe(data)}, json_dumps_params={"allow_nan": False}
    )


@require_GET
def piece_scores_json(request: HttpRequest, pk: int) -> JsonResponse:
    piece = get_object_or_404(
        Piece.objects.select_related("run__corpus", "checkpoint", "job"), pk=pk
    )
    evaluation = PieceEvaluation.objects.filter(piece=piece).first()
    if evaluation is None or evaluation.status == EvaluationStatus.PENDING:
        services.piece_evaluate(piece=piece)
    piece = Piece.objects.select_related("evaluation", "checkpoint", "job").get(pk=piece.pk)
    return JsonResponse(services.piece_scores(piece=piece), json_dumps_params={"allow_nan": False})
