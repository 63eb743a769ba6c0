"""Training runs: the list, a run's page and status, cancel and resume."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from common.charts import loss_chart
from generator import selectors, services
from generator.forms import (
    ResumeForm,
)
from generator.models import JobStatus, TrainingRun
from generator.views.helpers import decorate
from musiclib.ways import get_way

log = logging.getLogger(__name__)


def _get_run(pk: int) -> TrainingRun:
    try:
        return selectors.run_get(pk=pk)
    except TrainingRun.DoesNotExist:
        raise Http404("No training run with that number.") from None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _shown_config(run: TrainingRun) -> dict:
    """The run's hyperparameters as the page lists them. A run of a way with vocabularies
    stored before the `vocabulary` option existed shows the one it trained on all the same,
    as the way reads it from its symbol list."""
    config = dict(run.config or {})
    if "vocabulary" not in config:
        kind = _vocabulary_kind(run)
        if kind is not None:
            config["vocabulary"] = kind
    return config


def _vocabulary_kind(run: TrainingRun) -> str | None:
    try:
        way = get_way(run.way)
    except ValueError:  # a way no longer registered
        return None
    return way.vocabulary_kind(config=run.config or {}, vocab=run.vocab or [])


def _run_timing(run: TrainingRun) -> dict[str, str]:
    epoch_seconds = [h.get("seconds") or 0 for h in run.history or []]
    training = sum(epoch_seconds)
    wall = None
    if run.started_at:
        wall = ((run.finished_at or timezone.now()) - run.started_at).total_seconds()
    eta = None
    if run.is_active and epoch_seconds:
        eta = (training / len(epoch_seconds)) * max(run.epochs - run.epochs_done, 0)
    return {
        "wall": _duration(wall),
        "training": _duration(training) if epoch_seconds else "—",
        "per_epoch": _duration(training / len(epoch_seconds)) if epoch_seconds else "—",
        "eta": _duration(eta) if eta is not None else "",
    }


def _run_context(request: HttpRequest, run: TrainingRun) -> dict[str, Any]:
    samples = [(epoch, decorate(pieces)) for epoch, pieces in selectors.run_epoch_samples(run=run)]
    history = run.history or []
    best = min(
        (h for h in history if h.get("val_loss") is not None),
        key=lambda h: h["val_loss"],
        default=None,
    )
    rendering = any(not p.audio and p.midi for _, pieces in samples for p in pieces)
    return {
        "run": run,
        "poll_done": not run.is_active and not rendering,
        "chart": loss_chart(history, epochs=run.epochs),
        "history": history,
        "best": best,
        "samples": samples,
        "checkpoints": selectors.run_checkpoints(run=run),
        "chosen_checkpoint": run.chosen_checkpoint,
        "timing": _run_timing(run),
        "progress_pct": round((run.progress or 0) * 100, 1),
        "config_rows": [
            (key, value if isinstance(value, str) else json.dumps(value))
            for key, value in sorted(_shown_config(run).items())
        ],
        "stats_rows": [
            (key.replace("_", " ").capitalize(), value)
            for key, value in sorted((run.data_stats or {}).items())
        ],
        "waiting_behind": selectors.run_waiting_behind(run=run),
        "can_cancel": run.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DRAFT)
        and not run.cancel_requested,
        "can_resume": run.status in (JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.SUCCEEDED),
        "resume_form": ResumeForm(initial={"epochs": max(run.epochs, run.epochs_done + 1)}),
        "moves_rows": _moves_rows(run),
    }


# The shares of a checkpoint's fitted moves the run page shows (`ml.line.line_shares`), a
# row each (the three sets of tunes are the columns: the panel is narrow).
MOVES_SHOWN = (
    ("turns", "Turns"),
    ("steps", "Steps"),
    ("thirds", "Thirds"),
    ("fourths_fifths", "Fourths and fifths"),
    ("wider", "Wider"),
    ("tonic", "On the tonic"),
    ("fifth", "On the 5th"),
    ("phrases_6", "Ending a 6-note phrase the corpus has"),
    ("phrases_8", "Ending an 8-note phrase the corpus has"),
)


def _moves_rows(run: TrainingRun) -> list[tuple[str, list[str]]]:
    """How the chosen checkpoint's tunes move beside the tunes it learnt from, without and
    with its fitted moves; none while the run trains (they are fitted when it ends)."""
    if run.is_active or run.chosen_checkpoint is None:
        return []
    fit = services.checkpoint_moves(run.chosen_checkpoint)
    if fit is None:
        return []
    sets = (fit.target, fit.before, fit.after)
    return [
        # (moves fitted before the degrees or the phrases were read lack those rows: "—")
        (label, [f"{shares[name]:.0%}" if name in shares else "—" for shares in sets])
        for name, label in MOVES_SHOWN
    ]


@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.run_list(), 50)
    page = paginator.get_page(request.GET.get("page"))
    runs = list(page.object_list)
    for run in runs:
        vals = [h["val_loss"] for h in run.history or [] if h.get("val_loss") is not None]
        run.best_val = min(vals) if vals else None
        run.progress_pct = round((run.progress or 0) * 100)
    page.object_list = runs
    return render(request, "generator/run_list.html", {"page": page, "runs": runs})


@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run(pk)
    return render(request, "generator/run_detail.html", _run_context(request, run))


@require_GET
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = _get_run(pk)
    ctx = _run_context(request, run)
    timing = ctx["timing"]
    return JsonResponse(
        {
            "status": run.status,
            "state": run.status,
            "progress": run.progress,
            "epochs_done": run.epochs_done,
            "epochs": run.epochs,
            "done": ctx["poll_done"],
            "text": {
                "status": run.get_status_display()
                + (" (stopping after this epoch)" if run.cancel_requested else ""),
                "epochs-done": str(run.epochs_done),
                "epochs": str(run.epochs),
                "progress": f"{ctx['progress_pct']:g}%",
                "wall": timing["wall"],
                "training": timing["training"],
                "per-epoch": timing["per_epoch"],
                "eta": timing["eta"] or "—",
                "device": run.device or "—",
                "worker": run.worker or "—",
                "attempts": str(run.attempts),
                "heartbeat": timezone.localtime(run.heartbeat_at).strftime("%H:%M:%S")
                if run.heartbeat_at
                else "—",
            },
            "html": {
                name: render_to_string(template, ctx, request=request)
                for name, template in (
                    ("chart", "generator/_loss_chart.html"),
                    ("samples", "generator/_epoch_samples.html"),
                    ("checkpoints", "generator/_checkpoints.html"),
                    ("error", "generator/_run_error.html"),
                    ("actions", "generator/_run_actions.html"),
                    ("queue", "generator/_run_queue.html"),
                    ("provenance", "generator/_run_provenance.html"),
                    ("generate", "generator/_run_generate_link.html"),
                )
            },
        }
    )


def _staff_only(request: HttpRequest) -> None:
    if not (request.user.is_authenticated and request.user.is_staff):
        raise PermissionDenied("Only staff may cancel or resume runs.")


@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    _staff_only(request)
    run = _get_run(pk)
    try:
        run = services.training_run_cancel(run=run)
    except ValueError as exc:
        messages.error(request, f"Could not cancel: {exc}")
    else:
        if run.status == JobStatus.CANCELLED:
            messages.success(request, "The run is cancelled.")
        else:
            messages.success(request, "The run will stop at the end of this epoch.")
    return redirect(run)


@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    _staff_only(request)
    run = _get_run(pk)
    form = ResumeForm(request.POST)
    epochs = form.cleaned_data.get("epochs") if form.is_valid() else None
    if not form.is_valid():
        messages.error(
            request,
            "Could not resume: " + " ".join(str(e) for errs in form.errors.values() for e in errs),
        )
        return redirect(run)
    try:
        services.training_run_resume(run=run, epochs=epochs)
    except ValueError as exc:
        messages.error(request, f"Could not resume: {exc}")
    else:
        messages.success(request, "The run is queued again; it continues from its last checkpoint.")
    return redirect(run)
