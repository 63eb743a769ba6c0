"""Generation: the generate page, jobs, and reproducing a piece."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from common.errors import sentence
from common.forms import add_service_error
from common.http import client_ip
from generator import presenters, selectors, services
from generator.forms import (
    COMMON_KEYS,
    COMMON_METERS,
    DEFAULT_LENGTH,
    SERVICE_FIELDS,
    GenerateForm,
)
from generator.models import GenerationJob, JobStatus, TrainingRun
from generator.views.helpers import decorate
from generator.views.pieces import get_piece, primer_context

log = logging.getLogger(__name__)


def _allowance(request: HttpRequest) -> services.Allowance:
    return services.generation_allowance(user=request.user, ip=client_ip(request))


def generate(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    allowance = _allowance(request)
    remaining, limit = allowance.remaining, allowance.limit
    status = 200
    if request.method == "POST":
        form = GenerateForm(request.POST, request.FILES)
        if form.is_valid():
            count = form.cleaned_data["count"]
            if not allowance.allows(count):
                form.add_error(None, allowance.refusal(count))
                status = 429
            else:
                try:
                    job = _try_create(request, form)
                except services.AllowanceExceeded as exc:  # another request took the rest
                    form.add_error(None, exc.message)
                    job, status = None, 429
                if job is not None:
                    return redirect(job)
    else:
        initial = {}
        if ckpt := request.GET.get("checkpoint", "").strip():
            initial["checkpoint"] = ckpt
        elif run_id := request.GET.get("run", "").strip():
            run = TrainingRun.objects.filter(pk=run_id).first() if run_id.isdigit() else None
            chosen = run.chosen_checkpoint if run else None
            if chosen is not None:
                initial["checkpoint"] = chosen.pk
        form = GenerateForm(initial=initial)
    has_models = bool(form.fields["checkpoint"].choices)
    return render(
        request,
        "generator/generate.html",
        {
            "form": form,
            "remaining": remaining,
            "limit": limit,
            "limit_hit": remaining is not None and remaining <= 0,
            "meters": COMMON_METERS,
            "keys": COMMON_KEYS,
            "has_models": has_models,
            # (with no model to offer: the runs whose first epoch will bring one)
            "training": [] if has_models else selectors.run_in_progress(),
        },
        status=status,
    )


def _try_create(request: HttpRequest, form: GenerateForm) -> GenerationJob | None:
    data = form.cleaned_data
    checkpoint = form.checkpoint_object()
    if checkpoint is None:
        form.add_error("checkpoint", "Choose a model.")
        return None
    opening = form.opening_built
    try:
        return services.generation_job_create(
            checkpoint=checkpoint,
            count=data["count"],
            temperature=data["temperature"],
            seed=data["seed"],
            top_k=data["top_k"],
            top_p=1.0 if data.get("top_p") is None else data["top_p"],
            # (a way that takes seconds, left blank: the length its help text promises)
            max_length=opening.max_length or data["max_length"] or DEFAULT_LENGTH,
            prime=opening.prime,
            grammar=bool(data.get("grammar")),
            folk_form=bool(data.get("folk_form")),
            returns=bool(data.get("returns")),
            memory=bool(data.get("memory")),
            moves=bool(data.get("moves")),
            takes=1 if data.get("takes") is None else data["takes"],
            takes_by=data.get("takes_by") or "model",
            user=request.user,
            ip=client_ip(request),
        )
    except services.AllowanceExceeded:
        raise
    except services.ServiceError as exc:  # nothing was written: each message by its field
        add_service_error(form, exc, rename=SERVICE_FIELDS)
        return None


def _again(request: HttpRequest, pk: int, *, same_seed: bool) -> HttpResponse:
    piece = get_piece(pk)
    try:
        new = services.piece_reproduce(
            piece=piece, same_seed=same_seed, user=request.user, ip=client_ip(request)
        )
    except services.AllowanceExceeded as exc:
        return render(
            request,
            "429.html",
            {"message": exc.message, "limit": exc.allowance.limit},
            status=429,
        )
    except services.ServiceError as exc:
        messages.error(request, sentence(exc.message))
        return redirect(piece)
    return redirect(new)


@require_POST
def piece_reproduce(request: HttpRequest, pk: int) -> HttpResponse:
    return _again(request, pk, same_seed=True)


@require_POST
def piece_more_like(request: HttpRequest, pk: int) -> HttpResponse:
    return _again(request, pk, same_seed=False)


def _job_context(request: HttpRequest, job: GenerationJob) -> dict[str, Any]:
    pieces = decorate(selectors.job_pieces(job=job))
    done = job.status not in (JobStatus.QUEUED, JobStatus.RUNNING)
    rendering = any(not p.audio and p.midi for p in pieces)
    place = selectors.job_queue_place(job=job)
    return {
        "job": job,
        "pieces": pieces,
        "done": done,
        "place": place,
        "waiting": presenters.job_waiting_text(job, place),
        "moves_text": presenters.job_moves_text(job),
        "poll_done": done and not rendering,
        **primer_context(job),
    }


def _get_job(pk: int) -> GenerationJob:
    try:
        return selectors.job_get(pk=pk)
    except GenerationJob.DoesNotExist:
        raise Http404("No generation job with that number.") from None


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(pk)
    return render(request, "generator/job_detail.html", _job_context(request, job))


@require_GET
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    job = _get_job(pk)
    ctx = _job_context(request, job)
    pieces = ctx["pieces"]
    return JsonResponse(
        {
            "status": job.status,
            "text": {
                "status": job.get_status_display(),
                "pieces-count": str(len(pieces)),
                "seconds": f"{job.seconds:.2f} s" if job.seconds is not None else "—",
                "waiting": ctx["waiting"],
            },
            "state": job.status,
            "error": job.error,
            "html": {
                "pieces": render_to_string(
                    "generator/_piece_cards.html", {"pieces": pieces}, request=request
                ),
                "error": render_to_string(
                    "generator/_job_error.html", {"job": job}, request=request
                ),
            },
            # keep polling while audio is still being rendered for the new cards
            "done": ctx["poll_done"],
        }
    )
