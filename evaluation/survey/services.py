"""Listener survey services (issue 7): build clips, enrol listeners, assign and record answers,
and compute the results. Views, tasks, admin and the API call these and nothing else.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from common.tasks import send_on_commit
from generator.models import Piece, Tune

from ..task_names import SURVEY_BUILD_TASK
from . import stats as survey_stats
from .audio import clip_audio, normalise_midi
from .models import (
    BuildStatus,
    ClipSource,
    Experience,
    Listener,
    ListenerClip,
    Origin,
    Survey,
    SurveyClip,
    SurveyResponse,
)

log = logging.getLogger(__name__)

MAX_SKIPS_REPORTED = 50
HUMAN_BASELINE = "Human baseline (all corpora)"


class SurveyError(ValueError):
    """A request the survey cannot honour; the message is fit to show."""


def new_token() -> str:
    """An opaque random name: 128 bits, URL-safe, unrelated to any row or source."""
    return secrets.token_urlsafe(16)


# --- building clips -------------------------------------------------------------------------


def survey_build_queue(*, survey: Survey) -> Survey:
    """Mark the survey queued and build its clips in the worker once this transaction commits."""
    Survey.objects.filter(pk=survey.pk).update(build_status=BuildStatus.QUEUED, build_error="")
    survey.build_status = BuildStatus.QUEUED
    send_on_commit(SURVEY_BUILD_TASK, survey.pk)
    return survey


def _sources(survey: Survey) -> list[tuple[str, str, list[Any]]]:
    """(label, kind, candidate rows) per run, checkpoint and corpus, in a shuffled order that
    depends on the survey only (a rebuild draws the same pieces).

    A run speaks through its chosen checkpoint only (`TrainingRun.chosen_checkpoint`: the
    one staff chose, else the lowest validation loss), never through its early epochs; and
    only pieces generated on request are used unless the survey includes epoch samples."""
    rng = random.Random(f"survey-{survey.pk}")
    sources: list[tuple[str, str, list[Any]]] = []
    playable = Q(plays=True) | Q(plays__isnull=True)
    if not survey.include_epoch_samples:
        playable &= Q(job__is_epoch_sample=False)
    for run in survey.runs.order_by("pk"):
        checkpoint = run.chosen_checkpoint
        pieces = (
            list(Piece.objects.filter(playable, checkpoint=checkpoint).order_by("pk"))
            if checkpoint is not None
            else []
        )
        rng.shuffle(pieces)
        sources.append((f"run {run.pk}", ClipSource.MACHINE, pieces))
    for checkpoint in survey.checkpoints.select_related("run").order_by("pk"):
        pieces = list(Piece.objects.filter(playable, checkpoint=checkpoint).order_by("pk"))
        rng.shuffle(pieces)
        sources.append((f"checkpoint {checkpoint.pk}", ClipSource.MACHINE, pieces))
    for corpus in survey.corpora.order_by("pk"):
        tunes = list(Tune.objects.filter(corpus=corpus).order_by("pk"))
        rng.shuffle(tunes)
        sources.append((f"corpus {corpus.pk}", ClipSource.HUMAN, tunes))
    return sources


def clip_render(*, survey: Survey, way: str, text: str) -> tuple[bytes, int, float]:
    """(Ogg bytes, bars, seconds) of one piece's text, the same steps for every source."""
    from musiclib.ways import get_way

    midi = get_way(way).to_midi(text)
    clip = normalise_midi(midi, tempo_qpm=survey.tempo_qpm, target_seconds=survey.clip_seconds)
    if clip.bars < survey.min_bars:
        raise ValueError(f"only {clip.bars} bars long (the survey needs {survey.min_bars})")
    return clip_audio(clip), clip.bars, clip.seconds


def survey_build_clips(*, survey: Survey) -> Survey:
    """Render up to clips_per_source clips from each source; pieces that cannot be rendered
    or are too short are skipped and listed in build_report. Clips already answered are
    kept; unanswered ones are replaced."""
    Survey.objects.filter(pk=survey.pk).update(build_status=BuildStatus.RUNNING, build_error="")
    made: dict[str, int] = {}
    skipped: list[dict[str, Any]] = []
    try:
        for stale in survey.clips.filter(responses__isnull=True):
            stale.audio.delete(save=False)  # the file too, not only the row
            stale.delete()
        kept = survey.clips.all()
        used_pieces = set(kept.exclude(piece=None).values_list("piece_id", flat=True))
        used_tunes = set(kept.exclude(tune=None).values_list("tune_id", flat=True))
        for label, kind, rows in _sources(survey):
            made[label] = 0
            for row in rows:
                if made[label] >= survey.clips_per_source:
                    break
                used = used_pieces if kind == ClipSource.MACHINE else used_tunes
                if row.pk in used:
                    continue
                way = row.way if kind == ClipSource.MACHINE else row.corpus.way
                try:
                    audio, bars, seconds = clip_render(survey=survey, way=way, text=row.text)
                except Exception as exc:  # RenderError, way errors: skip the piece, say why
                    if len(skipped) < MAX_SKIPS_REPORTED:
                        skipped.append({"source": label, "id": row.pk, "reason": str(exc)[:200]})
                    continue
                token = new_token()
                clip = SurveyClip(
                    survey=survey,
                    token=token,
                    source=kind,
                    way=way,
                    bars=bars,
                    seconds=seconds,
                    **(
                        {"piece": row, "run": row.run, "checkpoint": row.checkpoint}
                        if kind == ClipSource.MACHINE
                        else {"tune": row, "corpus": row.corpus}
                    ),
                )
                clip.audio.save(f"{new_token()}.ogg", ContentFile(audio), save=False)
                clip.save()
                used.add(row.pk)
                made[label] += 1
    except Exception as exc:
        log.exception("building the clips of survey %s failed", survey.pk)
        Survey.objects.filter(pk=survey.pk).update(
            build_status=BuildStatus.FAILED, build_error=str(exc)[:2000]
        )
        survey.refresh_from_db()
        return survey
    error = _build_error(survey)
    Survey.objects.filter(pk=survey.pk).update(
        build_status=BuildStatus.FAILED if error else BuildStatus.DONE,
        build_error=error,
        build_report={"made": made, "skipped": skipped, "checkpoints": _run_checkpoints(survey)},
        built_at=timezone.now(),
    )
    survey.refresh_from_db()
    return survey


def _run_checkpoints(survey: Survey) -> dict[str, int | None]:
    """The epoch of the checkpoint each run's clips came from ("run 5": 12), for the report."""
    out: dict[str, int | None] = {}
    for run in survey.runs.order_by("pk"):
        checkpoint = run.chosen_checkpoint
        out[f"run {run.pk}"] = checkpoint.epoch if checkpoint else None
    return out


def _build_error(survey: Survey) -> str:
    """Why the built survey cannot be played fairly, or "": every listener hears as many
    human as machine clips, so it needs both."""
    sources = set(survey.clips.values_list("source", flat=True))
    if ClipSource.MACHINE not in sources:
        where = "the runs' chosen checkpoints and the checkpoints listed"
        if not survey.include_epoch_samples:
            where += " (pieces generated on request only: generate some, or include epoch samples)"
        return f"No machine clips: no piece of {where} could be made into a clip."
    if ClipSource.HUMAN not in sources:
        return "No human clips: add a corpus whose tunes can be made into clips."
    return ""


# --- listeners ------------------------------------------------------------------------------


def listener_start(*, survey: Survey, experience: str = "", familiarity: str = "") -> Listener:
    """A new anonymous listener with their clips assigned (raises SurveyError when closed)."""
    if not survey.is_open():
        raise SurveyError("This survey is not open.")
    with transaction.atomic():
        # One enrolment at a time per survey (a row lock, held for a few queries): listeners
        # starting together would otherwise all read the same counts and get the same clips.
        Survey.objects.select_for_update().filter(pk=survey.pk).first()
        listener = Listener.objects.create(
            survey=survey, key=new_token(), experience=experience, familiarity=familiarity
        )
        if not listener_assign(listener=listener):  # rolled back: no listener without clips
            raise SurveyError("This survey has no clips to play yet.")
    return listener


def listener_assign(*, listener: Listener, rng: random.Random | None = None) -> list[SurveyClip]:
    """Give the listener as many human as machine clips: half of clips_per_listener each
    (fewer of both when either side has fewer clips), so that guessing one answer every time
    scores exactly 50 %. On each side, the clips with the fewest responses so far (then the
    fewest assignments, so listeners starting together spread too; remaining ties at random).
    They play in a random order of the listener's own."""
    rng = rng or random.SystemRandom()
    survey = listener.survey
    clips = list(
        survey.clips.annotate(
            n_responses=Count("responses", distinct=True),
            n_assigned=Count("assignments", distinct=True),
        )
    )
    rng.shuffle(clips)  # sorted() is stable: equal counts stay in this random order
    clips.sort(key=lambda c: (c.n_responses, c.n_assigned))
    human = [c for c in clips if c.source == ClipSource.HUMAN]
    machine = [c for c in clips if c.source == ClipSource.MACHINE]
    half = min(survey.clips_per_listener // 2, len(human), len(machine))
    chosen = human[:half] + machine[:half]
    rng.shuffle(chosen)
    ListenerClip.objects.bulk_create(
        ListenerClip(listener=listener, clip=clip, position=i) for i, clip in enumerate(chosen)
    )
    return chosen


def listener_progress(*, listener: Listener) -> tuple[ListenerClip | None, int, int]:
    """(the next unanswered assignment or None, answered so far, assigned in all)."""
    assignments = list(listener.assignments.select_related("clip").order_by("position"))
    answered = set(listener.responses.values_list("clip_id", flat=True))
    pending = [a for a in assignments if a.clip_id not in answered]
    return (pending[0] if pending else None), len(assignments) - len(pending), len(assignments)


@dataclass(frozen=True)
class Answer:
    origin: str
    confidence: int
    liking: int
    coherence: int
    comment: str = ""


def response_record(
    *, listener: Listener, clip_token: str, answer: Answer
) -> tuple[SurveyResponse, bool]:
    """Store the listener's answer about one of their clips: (response, created).

    A second answer for the same clip (a double click, two tabs, a retry) is not stored
    again: the unique constraint refuses it and the first answer is returned with
    created=False. Raises SurveyError for a clip that is not the listener's or a closed
    survey.
    """
    if not listener.survey.is_open():
        raise SurveyError("This survey has closed; thank you for listening.")
    assignment = (
        ListenerClip.objects.select_related("clip")
        .filter(listener=listener, clip__token=clip_token)
        .first()
    )
    if assignment is None:
        raise SurveyError("That clip is not one of yours.")
    if answer.origin not in Origin.values:
        raise SurveyError("Say whether a person or a computer made it.")
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                survey_id=listener.survey_id,
                listener=listener,
                clip=assignment.clip,
                origin=answer.origin,
                confidence=answer.confidence,
                liking=answer.liking,
                coherence=answer.coherence,
                comment=answer.comment.strip()[:1000],
            )
    except IntegrityError:
        existing = SurveyResponse.objects.filter(listener=listener, clip=assignment.clip).first()
        if existing is None:  # not the unique constraint: a real error
            raise
        return existing, False
    if listener_progress(listener=listener)[0] is None:
        Listener.objects.filter(pk=listener.pk, finished_at=None).update(finished_at=timezone.now())
    return response, True


# --- results --------------------------------------------------------------------------------


def way_label(name: str) -> str:
    """A way's name for people ("Text (ABC)"); the bare name for a way no longer registered."""
    from musiclib.ways import get_way

    try:
        return get_way(name).label
    except ValueError:
        return name


def _clip_groups(clip: SurveyClip, labels: dict[str, str]) -> list[str]:
    if clip.source == ClipSource.HUMAN:
        corpus = labels.get(f"corpus {clip.corpus_id}", f"corpus {clip.corpus_id}")
        return [f"Human: {corpus}", HUMAN_BASELINE]
    run = labels.get(f"run {clip.run_id}", f"run {clip.run_id}")
    return [f"Run: {run}", f"Machine: {way_label(clip.way)}", "Machine (all runs)"]


def survey_results(*, survey: Survey) -> dict[str, Any]:
    """Everything the results page, the API and the tests show, computed from the rows."""
    clips = list(
        survey.clips.select_related("run", "corpus", "checkpoint", "piece__job").order_by("pk")
    )
    labels: dict[str, str] = {}
    for clip in clips:
        if clip.run_id:
            labels[f"run {clip.run_id}"] = f"{clip.run} (#{clip.run_id})"
        if clip.corpus_id:
            labels[f"corpus {clip.corpus_id}"] = f"{clip.corpus} (#{clip.corpus_id})"
    group_of = {clip.token: _clip_groups(clip, labels) for clip in clips}
    by_token = {clip.token: clip for clip in clips}
    rows = [
        {
            "clip": token,
            "is_human": by_token[token].source == ClipSource.HUMAN,
            "says_human": origin == Origin.HUMAN,
            "confidence": confidence,
            "liking": liking,
            "coherence": coherence,
            "listener": listener_id,
            "experience": experience,
        }
        for token, origin, confidence, liking, coherence, listener_id, experience in (
            survey.responses.values_list(
                "clip__token",
                "origin",
                "confidence",
                "liking",
                "coherence",
                "listener_id",
                "listener__experience",
            ).order_by("pk")
        )
    ]
    # Humans first in the table: the baseline every run is read against.
    order = sorted(
        {label for labels_ in group_of.values() for label in labels_},
        key=lambda s: (not s.startswith("Human"), s != HUMAN_BASELINE, s.startswith("Run"), s),
    )
    summary = survey_stats.summarise(rows, group_of=group_of, experiences=[*Experience.values, ""])
    summary["groups"] = {label: summary["groups"][label] for label in order}
    per_clip = []
    for clip in clips:
        stats = summary["clips"].get(clip.token)
        per_clip.append(
            {
                "token": clip.token,
                "source": clip.source,
                "way": clip.way,
                "run": clip.run_id,
                "checkpoint": clip.checkpoint_id,
                "piece": clip.piece_id,
                "corpus": clip.corpus_id,
                "tune": clip.tune_id,
                "bars": clip.bars,
                "seconds": round(clip.seconds, 3),
                "responses": stats["n"] if stats else 0,
                "judged_human": stats["judged_human"] if stats else None,
                "liking": stats["liking"] if stats else None,
                "coherence": stats["coherence"] if stats else None,
            }
        )
    return {
        "survey": {
            "id": survey.pk,
            "include_epoch_samples": survey.include_epoch_samples,
            "title": survey.title,
            "opens_at": survey.opens_at.isoformat(),
            "closes_at": survey.closes_at.isoformat() if survey.closes_at else None,
            "clips": len(clips),
            "listeners": survey.listeners.count(),
            "listeners_finished": survey.listeners.exclude(finished_at=None).count(),
            "responses": len(rows),
        },
        "overall": summary["overall"],
        "groups": summary["groups"],
        "by_experience": {
            (level or "not stated"): value for level, value in summary["by_experience"].items()
        },
        "agreement": summary["agreement"],
        "runs": _per_run(clips, summary["groups"], group_of),
        "clips": per_clip,
    }


def _per_run(
    clips: list[SurveyClip], groups: dict[str, Any], group_of: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Each run's own results (read beside the human baseline group): the checkpoint
    epochs its clips came from, how many were epoch samples, and its group's summary."""
    runs: dict[int, dict[str, Any]] = {}
    for clip in clips:
        if clip.source != ClipSource.MACHINE or clip.run_id is None:
            continue
        entry = runs.setdefault(
            clip.run_id,
            {
                "id": clip.run_id,
                "name": str(clip.run) if clip.run else f"run {clip.run_id}",
                "way": clip.way,
                "epochs": set(),
                "clips": 0,
                "epoch_sample_clips": 0,
                "group": group_of[clip.token][0],
            },
        )
        entry["clips"] += 1
        if clip.checkpoint is not None:
            entry["epochs"].add(clip.checkpoint.epoch)
        if clip.piece is not None and clip.piece.job.is_epoch_sample:
            entry["epoch_sample_clips"] += 1
    out = []
    for entry in runs.values():
        entry["epochs"] = sorted(entry["epochs"])
        entry["results"] = groups[entry["group"]]
        out.append(entry)
    return sorted(out, key=lambda e: e["id"])


CSV_COLUMNS = [
    "response",
    "created_at",
    "listener",
    "experience",
    "familiarity",
    "clip",
    "source",
    "way",
    "run",
    "checkpoint",
    "piece",
    "corpus",
    "tune",
    "origin_answer",
    "correct",
    "confidence",
    "liking",
    "coherence",
    "comment",
]


def survey_responses_csv(*, survey: Survey) -> str:
    """Every raw response, one row each, with the clip's true source (staff only)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    responses = survey.responses.select_related("listener", "clip").order_by("pk")
    for r in responses.iterator(chunk_size=1000):
        clip = r.clip
        writer.writerow(
            [
                r.pk,
                r.created_at.isoformat(),
                r.listener_id,
                r.listener.experience,
                r.listener.familiarity,
                clip.token,
                clip.source,
                clip.way,
                clip.run_id or "",
                clip.checkpoint_id or "",
                clip.piece_id or "",
                clip.corpus_id or "",
                clip.tune_id or "",
                r.origin,
                int((r.origin == Origin.HUMAN) == (clip.source == ClipSource.HUMAN)),
                r.confidence,
                r.liking,
                r.coherence,
                _csv_safe(r.comment),
            ]
        )
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """Free text that a spreadsheet will not run as a formula (a leading =, +, - or @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def piece_survey_summary(*, piece: Piece) -> dict[str, Any] | None:
    """What listeners said of one generated piece across every survey that played it: the
    number of ratings, clips and listeners, mean liking, coherence and confidence with 95 %
    intervals, and the share who took it for a person's (`judged_human`). None while no
    listener has rated it. Shown as the piece's `survey` in the API."""
    rows = [
        {
            "clip": token,
            "is_human": False,  # a generated piece's clip is never a person's
            "says_human": origin == Origin.HUMAN,
            "confidence": confidence,
            "liking": liking,
            "coherence": coherence,
            "listener": listener_id,
        }
        for token, origin, confidence, liking, coherence, listener_id in (
            SurveyResponse.objects.filter(clip__piece=piece)
            .order_by("pk")
            .values_list("clip__token", "origin", "confidence", "liking", "coherence", "listener")
        )
    ]
    if not rows:
        return None
    summary = survey_stats.group_summary(rows)
    return {
        "ratings": summary["n"],
        "clips": summary["clips"],
        "listeners": summary["listeners"],
        "liking": summary["liking"],
        "coherence": summary["coherence"],
        "confidence": summary["confidence"],
        "judged_human": summary["judged_human"],
    }
