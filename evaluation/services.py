"""The verbs of evaluation: index a corpus, calibrate it, evaluate pieces, report on runs.

Keyword-only functions named <entity>_<action>; views and tasks call these only.

What a piece is compared with: its run's *corpus*. A run trains on the corpus tunes with
pk <= run.tune_id_max, so the corpus is a superset of the tunes the run was trained on (plus
any tunes imported after the run started). Evaluating against the whole corpus is therefore
conservative: a piece can only look *more* copied than against its training tunes alone,
never less, and one index per corpus serves every run on it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from common.errors import ServiceError
from common.storage import file_delete, file_put, local_copy
from common.tasks import send_now, send_on_commit
from generator.models import (
    ACTIVE_STATUSES,
    Corpus,
    GenerationJob,
    JobStatus,
    Piece,
    TrainingRun,
    Tune,
)
from generator.services import waiting_rows, worker_tasks
from musiclib.metrics import statistics as st
from musiclib.metrics.calibration import Calibration, calibrate, group_variants, is_likely_copy
from musiclib.metrics.features import features
from musiclib.metrics.index import CorpusIndex, encode, longest_common_run
from musiclib.metrics.melody import UnreadableText, notes_from_text
from musiclib.metrics.notes import Note
from musiclib.ways import get_way

from . import audio_report, listener
from .models import CorpusIndexState, EvaluationStatus, PieceEvaluation, ReportState, RunReport
from .task_names import (
    CORPUS_CALIBRATE_TASK,
    JOB_EVALUATE_TASK,
    PIECE_EVALUATE_TASK,
    RUN_REPORT_TASK,
)

log = logging.getLogger(__name__)

INDEX_DIR = "evaluation"  # a folder of the site's storage (common.storage)
MIN_CALIBRATION_TUNES = 10  # fewer readable tunes: no calibration, no likely-copy flag
HELDOUT_MIN, HELDOUT_MAX = 50, 2000  # held-out tunes: 10% of the corpus within these bounds
RECALIBRATE_GROWTH = 1.1  # recalibrate once the corpus has grown by 10%
HUMAN_SAMPLE = 100  # tunes per half of the human-against-human baseline
GENERATED_SAMPLE = 200  # generated pieces compared per run report
IDIOM_FALLBACK = 0.8  # "idiomatic" cut when a corpus has no calibration
# What the run report measures, and how. A stored report of another version is measured
# again; the code version is not part of that test, because web and workers may run
# different versions during a deploy, and a page comparing its own version with the
# worker's would queue a measure on every view. So bump this whenever a report measure
# changes. 3: listener, form, tightened measures; 4: per-epoch verdicts, drawn shapes;
# 5: two bar lines with nothing between read as one, and a tune's opening pickup rounds
# to its last bar.
REPORT_VERSION = 6
# Issue 11's targets for the ABC way, checked on a run's report: (key, label, target, higher is
# better). "copies" has no fixed target: it must not exceed the share of held-out human tunes
# the calibration flags against the rest of the corpus.
QUALITY_TARGETS = (
    ("parse", "parse in music21 with at least 8 notes", 0.98),
    ("abc2midi", "convert with abc2midi with no error line", 0.90),
    ("bars", "checked bars of the meter's length", 0.93),
    ("idiom", "median share of 4-note pitch patterns found in the corpus", 0.90),
)
# The tightened measures, whose target is the level of the run's held-out human tunes (met
# within HUMAN_LEVEL_MARGIN below it): (key, label).
HUMAN_LEVEL_TARGETS = (
    (
        "bars_sections",
        "bars of the meter's length, section ends counted (pickup and closing bar as one)",
    ),
    ("phrase_idiom", "median share of phrases of 4 to 8 notes found in the corpus"),
)
HUMAN_LEVEL_MARGIN = 0.01  # one percentage point


class EvaluationError(ValueError):
    """A piece cannot be evaluated; the message is what the piece page shows."""


# --- corpus index ----------------------------------------------------------------------------


@dataclass
class _Entry:
    index: CorpusIndex
    tune_id_max: int | None
    n_tunes: int
    n_unreadable: int


_CACHE: dict[int, _Entry] = {}
_LOCK = threading.Lock()


def _tune_notes(*, corpus: Corpus, tunes: QuerySet[Tune]) -> dict[int, list[Note]]:
    """Tune id → melody; a tune that cannot be read gets an empty melody (it is indexed as
    such, so the index still accounts for every tune)."""
    out: dict[int, list[Note]] = {}
    for pk, text in tunes.order_by("pk").values_list("pk", "text").iterator(chunk_size=2000):
        try:
            out[pk] = notes_from_text(text=text, way=corpus.way)
        except UnreadableText:
            out[pk] = []
    return out


def _index_path(corpus: Corpus, tune_id_max: int | None, n_tunes: int) -> str:
    # The name says what the file holds, so a state row always points at a matching file
    # even when two processes save at once.
    return f"{INDEX_DIR}/corpus_{corpus.pk}_{tune_id_max or 0}_{n_tunes}.npz"


def _load_saved(corpus: Corpus) -> _Entry | None:
    state = CorpusIndexState.objects.filter(corpus=corpus).first()
    if state is None or not state.path:
        return None
    try:
        path = local_copy(state.path)
    except FileNotFoundError:
        return None
    try:
        index = CorpusIndex.load(path)
    except Exception:  # a truncated or foreign file: rebuild rather than fail
        log.warning("corpus %s: unreadable index %s, rebuilding", corpus.pk, path, exc_info=True)
        return None
    if len(index) != state.n_tunes:
        return None
    return _Entry(index, state.tune_id_max, state.n_tunes, state.n_unreadable)


def _save(corpus: Corpus, entry: _Entry) -> None:
    """Write the index file (compacted into one segment: under a second for ~10k tunes) and
    point the corpus's state row at it, unless another process already saved this much."""
    saved = CorpusIndexState.objects.filter(corpus=corpus).values("tune_id_max", "n_tunes").first()
    if saved and saved["tune_id_max"] == entry.tune_id_max and saved["n_tunes"] == entry.n_tunes:
        return
    rel = _index_path(corpus, entry.tune_id_max, entry.n_tunes)
    # Written locally, then stored whole under its name (renamed into place on the local
    # disk, one PUT to an object store): a reader never sees half an index.
    scratch = Path(settings.FILE_CACHE_DIR) / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / f".{Path(rel).name}.{os.getpid()}.{threading.get_ident()}.tmp.npz"
    try:
        entry.index.save(tmp)
        file_put(rel, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    old = None
    try:
        CorpusIndexState.objects.get_or_create(corpus=corpus)
    except IntegrityError:  # another process created it at the same moment
        pass
    with transaction.atomic():
        state = CorpusIndexState.objects.select_for_update().get(corpus=corpus)
        newer = (
            state.tune_id_max is not None
            and entry.tune_id_max is not None
            and state.tune_id_max > entry.tune_id_max
        )
        if newer:  # another process saved a bigger index meanwhile: keep theirs
            if state.path != rel:
                file_delete(rel)
            return
        if state.path and state.path != rel:
            old = state.path
        state.path = rel
        state.n_tunes = entry.n_tunes
        state.n_unreadable = entry.n_unreadable
        state.tune_id_max = entry.tune_id_max
        state.built_at = timezone.now()
        state.code_version = settings.CODE_VERSION
        state.save()
    if old is not None:
        file_delete(old)


def corpus_index_get(*, corpus: Corpus) -> CorpusIndex:
    """The copy index of every tune of the corpus, built once and then kept up to date.

    Cached in this process by corpus id and largest tune id; saved as an npz under
    evaluation/ in the site's storage (common.storage) and described by the corpus's
    CorpusIndexState. When tunes are added, only those with a pk above the largest indexed
    id are read, encoded and added to the cached (or saved) index; saving then compacts
    the file into one segment, under a second for ~10,000 tunes. If tunes were deleted,
    the index is rebuilt from scratch.
    """
    extent = corpus.tunes.aggregate(n=Count("pk"), m=Max("pk"))
    n_total, max_id = extent["n"], extent["m"]
    with _LOCK:
        entry = _CACHE.get(corpus.pk)
        if entry is not None and entry.tune_id_max == max_id and entry.n_tunes == n_total:
            return entry.index
        if entry is None:
            entry = _load_saved(corpus)
        changed = False
        if entry is not None:
            new = corpus.tunes.filter(pk__gt=entry.tune_id_max or 0, pk__lte=max_id or 0)
            if entry.n_tunes + new.count() != n_total:  # tunes were deleted: start again
                entry = None
        if entry is None:
            entry = _Entry(CorpusIndex(), None, 0, 0)
            new = corpus.tunes.filter(pk__lte=max_id or 0)
            changed = True
        melodies = _tune_notes(corpus=corpus, tunes=new)
        for tune_id, notes in melodies.items():
            entry.index.add(tune_id=tune_id, notes=notes)
        if melodies:
            changed = True
            entry.tune_id_max = max(melodies)
            entry.n_tunes += len(melodies)
            entry.n_unreadable += sum(1 for notes in melodies.values() if len(notes) < 2)
        entry.index.build()
        if changed or not CorpusIndexState.objects.filter(corpus=corpus).exists():
            _save(corpus, entry)
        _CACHE[corpus.pk] = entry
        return entry.index


def corpus_index_state(*, corpus: Corpus) -> CorpusIndexState:
    """The corpus's index row, building the index first if it has none."""
    state = CorpusIndexState.objects.filter(corpus=corpus).first()
    if state is None:
        with _LOCK:  # a cached index whose row was deleted: build and save it again
            _CACHE.pop(corpus.pk, None)
        corpus_index_get(corpus=corpus)
        state = CorpusIndexState.objects.get(corpus=corpus)
    return state


def _forget_cached_indexes() -> None:
    """Drop this process's cached indexes (tests use it to prove the saved file is used)."""
    with _LOCK:
        _CACHE.clear()


# --- calibration -----------------------------------------------------------------------------


def corpus_calibrate(*, corpus: Corpus) -> CorpusIndexState:
    """Measure what held-out human tunes borrow from the rest of the corpus.

    Stores on the corpus's CorpusIndexState: the likely-copy thresholds (95th percentiles of
    held-out tunes' longest copy and 8-gram fraction), the held-out distributions (with
    their idiom and nearest-tune similarity, the baselines a piece is read against), the
    share of held-out human tunes the thresholds flag, the variant groups found, and a
    summary of the human tunes' features with the human-against-human MGEval baseline
    (two random halves of the corpus).
    """
    corpus_index_state(corpus=corpus)  # the index and its state row exist from here on
    max_id = corpus.tunes.aggregate(m=Max("pk"))["m"]
    melodies = _tune_notes(corpus=corpus, tunes=corpus.tunes.filter(pk__lte=max_id or 0))
    readable = {t: notes for t, notes in melodies.items() if len(notes) >= 2}
    now = timezone.now()
    calibration: dict[str, Any] = {
        "ok": False,
        "n_tunes": len(melodies),
        "n_readable": len(readable),
        "tune_id_max": max_id,
        "computed_at": now.isoformat(),
    }
    human: dict[str, Any] = {}
    if len(readable) < MIN_CALIBRATION_TUNES:
        calibration["error"] = (
            f"The corpus has {len(readable)} readable tune{'s' if len(readable) != 1 else ''}; "
            f"calibration needs at least {MIN_CALIBRATION_TUNES}."
        )
    else:
        calibration.update(_calibrate(readable))
        human = _human_features(readable)
    CorpusIndexState.objects.filter(corpus=corpus).update(
        calibration=st.json_safe(calibration),
        human_features=st.json_safe(human),
        calibrated_at=now,
        code_version=settings.CODE_VERSION,
    )
    return CorpusIndexState.objects.get(corpus=corpus)


def _calibrate(tunes: dict[int, list[Note]]) -> dict[str, Any]:
    n = len(tunes)
    k = min(n // 2, max(HELDOUT_MIN, min(HELDOUT_MAX, round(0.1 * n))))
    groups = group_variants(tunes=tunes)
    cal = calibrate(tunes=tunes, groups=groups, holdout_fraction=k / n, seed=0)
    # The same reference `calibrate` used (everything but the held-out tunes' variant
    # groups), for the held-out tunes' idiom and nearest-tune similarity.
    excluded = {groups[int(t)] for t in cal.heldout_ids}
    reference = CorpusIndex()
    for t, notes in tunes.items():
        if groups[t] not in excluded:
            reference.add(tune_id=t, notes=notes)
    idiom = [reference.idiom(notes=tunes[int(t)]) for t in cal.heldout_ids]
    nearest = [reference.nearest(notes=tunes[int(t)])[1] for t in cal.heldout_ids]
    sizes = np.bincount(np.unique(list(groups.values()), return_inverse=True)[1])
    pitch = [i["pitch"] for i in idiom]
    rhythm = [i["rhythm"] for i in idiom]
    return {
        "ok": True,
        "error": "",
        "quantile": cal.quantile,
        "copy_len_threshold": cal.copy_len_threshold,
        "frac8_threshold": cal.frac8_threshold,
        "flagged_fraction": cal.flagged_fraction,
        "n_heldout": int(len(cal.heldout_ids)),
        "n_reference": cal.n_reference,
        "holdout_fraction": k / n,
        "seed": 0,
        "n_groups": int(len(sizes)),
        "n_variant_groups": int((sizes > 1).sum()),
        "n_tunes_in_variant_groups": int(sizes[sizes > 1].sum()),
        "heldout_ids": cal.heldout_ids,
        "copy_lengths": cal.copy_lengths,
        "frac8": cal.frac8,
        "idiom_pitch": pitch,
        "idiom_rhythm": rhythm,
        "nearest_similarity": nearest,
        "copy_length_summary": st.quantiles(cal.copy_lengths),
        "frac8_summary": st.quantiles(cal.frac8),
        "idiom_pitch_summary": st.quantiles(pitch),
        "idiom_rhythm_summary": st.quantiles(rhythm),
        "nearest_summary": st.quantiles(nearest),
    }


def _human_features(tunes: dict[int, list[Note]]) -> dict[str, Any]:
    """Features of up to 2 × HUMAN_SAMPLE tunes in two random halves, their summary, and
    the MGEval comparison of one half with the other: what "as alike as human tunes" is."""
    drawn = st.sample(list(tunes), 2 * HUMAN_SAMPLE, seed=1)
    rng = np.random.default_rng(2)
    order = rng.permutation(len(drawn))
    half_a = sorted(drawn[i] for i in order[: len(drawn) // 2])
    half_b = sorted(drawn[i] for i in order[len(drawn) // 2 :])
    rows = {t: st.features_to_json(features(notes=tunes[t])) for t in drawn}
    baseline = st.compare_sets(set_a=[rows[t] for t in half_a], set_b=[rows[t] for t in half_b])
    scalars = {
        name: st.quantiles(rows[t][name] for t in drawn)
        for name in st.FEATURE_NAMES
        if not isinstance(rows[drawn[0]][name], list)
    }
    return {
        "n": len(drawn),
        "sample_a": half_a,
        "sample_b": half_b,
        "scalars": scalars,
        "baseline": baseline,
    }


def _calibration_due(cal: dict[str, Any], n_now: int) -> bool:
    """A corpus is calibrated again when it has no calibration or has grown by 10%."""
    return (
        not cal
        or n_now > RECALIBRATE_GROWTH * (cal.get("n_tunes") or 0)
        or bool(n_now and not cal.get("n_tunes"))
    )


def corpus_calibration_get(*, corpus: Corpus) -> dict[str, Any]:
    """The corpus's calibration, computed now if it has none or the corpus grew by 10%
    (seconds for a large corpus: tasks call this, pages `corpus_calibration_stored`)."""
    state = corpus_index_state(corpus=corpus)
    cal = state.calibration or {}
    if _calibration_due(cal, state.n_tunes):
        state = corpus_calibrate(corpus=corpus)
        cal = state.calibration
    return cal


def _calibrating_key(corpus_id: int) -> str:
    return f"evaluation:calibrating:{corpus_id}"


def _calibrating_mark(*, force: bool) -> dict[str, Any]:
    # When it was asked for (a sweep tells a lost one from a queued one by it) and whether
    # staff forced it (a lost forced calibration is sent again forced).
    return {"since": time.time(), "force": force}


def corpus_calibrating(*, corpus_id: int) -> bool:
    """A calibration of the corpus is queued or running."""
    return cache.get(_calibrating_key(corpus_id)) is not None


def corpus_calibration_stored(
    *, corpus: Corpus
) -> tuple[CorpusIndexState | None, dict[str, Any], bool]:
    """For a page, in a few queries: the corpus's stored index row and calibration, and
    whether a calibration is under way. One is queued (default queue) when there is none
    or the corpus has grown by 10% since."""
    state = CorpusIndexState.objects.filter(corpus=corpus).first()
    cal = (state.calibration if state else None) or {}
    calibrating = corpus_calibrating(corpus_id=corpus.pk)
    if not calibrating and _calibration_due(cal, corpus.tunes.count()):
        # One queued calibration per corpus at a time (cache.add is atomic); after
        # REPORT_LOST_AFTER a lost one is queued again.
        mark = _calibrating_mark(force=False)
        if cache.add(_calibrating_key(corpus.pk), mark, timeout=REPORT_LOST_AFTER.total_seconds()):
            send_on_commit(CORPUS_CALIBRATE_TASK, corpus.pk)
        calibrating = True
    return state, cal, calibrating


def corpus_calibration_measure(*, corpus: Corpus, force: bool = False) -> CorpusIndexState:
    """The calibration task: index and calibrate the corpus if due (or, with `force`, in any
    case: staff asked for it again), then say it is done."""
    try:
        if force:
            corpus_calibrate(corpus=corpus)
        else:
            corpus_calibration_get(corpus=corpus)
    finally:
        cache.delete(_calibrating_key(corpus.pk))
    return CorpusIndexState.objects.get(corpus=corpus)


def corpus_calibration_queue(*, corpus: Corpus) -> None:
    """Calibrate the corpus again in the worker (default queue, once this transaction
    commits), due or not, and mark it as being calibrated meanwhile: its calibration page
    says so and reloads itself until the task is done (REPORT_LOST_AFTER at most)."""
    cache.set(
        _calibrating_key(corpus.pk),
        _calibrating_mark(force=True),
        timeout=REPORT_LOST_AFTER.total_seconds(),
    )
    send_on_commit(CORPUS_CALIBRATE_TASK, corpus.pk, True)


def calibrations_recover() -> list[int]:
    """Send again the calibration of every corpus marked "being calibrated" for more than
    JOB_LOST_AFTER_S whose message neither waits in a queue nor is held by a live worker
    (lost with a killed worker or a broker restart); returns the corpus ids. The beat runs
    this every RECOVER_EVERY_S, so a lost calibration shows "being calibrated" for about a
    minute and a half, not until its mark expires (REPORT_LOST_AFTER)."""
    keys = {_calibrating_key(pk): pk for pk in Corpus.objects.values_list("pk", flat=True)}
    cutoff = time.time() - settings.JOB_LOST_AFTER_S
    stale = {
        keys[key]: mark
        for key, mark in cache.get_many(list(keys)).items()
        if not isinstance(mark, dict) or float(mark.get("since") or 0) < cutoff
    }
    if not stale:
        return []
    waiting = waiting_rows((CORPUS_CALIBRATE_TASK,))
    tasks = worker_tasks()
    if waiting is None or tasks is None:  # the broker cannot be read: conclude nothing
        return []
    sent = []
    for pk, mark in stale.items():
        if pk in waiting[CORPUS_CALIBRATE_TASK] or tasks.is_held(CORPUS_CALIBRATE_TASK, pk):
            continue
        if cache.get(_calibrating_key(pk)) is None:  # finished while the workers were asked
            continue
        force = bool(mark.get("force")) if isinstance(mark, dict) else False
        cache.set(
            _calibrating_key(pk),
            _calibrating_mark(force=force),
            timeout=REPORT_LOST_AFTER.total_seconds(),
        )
        send_now(CORPUS_CALIBRATE_TASK, pk, force)
        sent.append(pk)
    if sent:
        log.warning("calibrations_recover: sent the lost calibrations of corpora %s", sent)
    return sent


def _calibration_object(cal: dict[str, Any]) -> Calibration | None:
    if not cal.get("ok"):
        return None
    return Calibration(
        heldout_ids=np.array(cal.get("heldout_ids") or [], np.int64),
        copy_lengths=np.array(cal.get("copy_lengths") or [], np.int64),
        frac8=np.array([np.nan if v is None else v for v in cal.get("frac8") or []], float),
        copy_len_threshold=float(cal["copy_len_threshold"]),
        frac8_threshold=float(cal["frac8_threshold"]),
        quantile=float(cal["quantile"]),
        n_reference=int(cal["n_reference"]),
        flagged_fraction=float(cal["flagged_fraction"]),
    )


def idiom_cut(cal: dict[str, Any], kind: str) -> float:
    """The idiom below which a piece is less idiomatic than 95% of held-out human tunes."""
    value = ((cal or {}).get(f"idiom_{kind}_summary") or {}).get("p5")
    return float(value) if value is not None else IDIOM_FALLBACK


# --- pieces ------------------------------------------------------------------------------------

_SCORE_FIELDS = (
    "n_notes",
    "corpus_tunes",
    "copy_length",
    "copy_tune_id",
    "copy_piece_start",
    "copy_tune_start",
    "ngram_4",
    "ngram_8",
    "ngram_16",
    "novelty",
    "nearest_tune_id",
    "nearest_similarity",
    "nearest_shared_length",
    "nearest_piece_start",
    "nearest_tune_start",
    "likely_copy",
    "idiom_pitch",
    "idiom_rhythm",
    "features",
)


def piece_notes(*, piece: Piece) -> list[Note]:
    """The piece's melody; raises EvaluationError when it has none."""
    try:
        notes = notes_from_text(text=piece.text, way=piece.way)
    except UnreadableText as exc:
        raise EvaluationError(f"The piece cannot be evaluated: {exc}.") from None
    if not notes:
        raise EvaluationError(
            "The piece has no notes: its text holds no melody to compare with the corpus."
        )
    if len(notes) < 2:
        raise EvaluationError(
            "The piece has a single note: a melody needs two notes before it can be compared."
        )
    return notes


def _scores(piece: Piece) -> dict[str, Any]:
    notes = piece_notes(piece=piece)
    corpus = piece.run.corpus
    index = corpus_index_get(corpus=corpus)
    if len(index) == 0:
        raise EvaluationError(
            f"The corpus “{corpus}” has no tunes, so there is nothing to compare the piece with."
        )
    copy = index.longest_copy(notes=notes)
    fractions = index.ngram_fractions(notes=notes, ns=(4, 8, 16))
    nearest_id, similarity = index.nearest(notes=notes)
    idiom = index.idiom(notes=notes)
    cal = _calibration_object(corpus_calibration_get(corpus=corpus))
    frac8 = fractions[8]
    likely = (
        None
        if cal is None
        else is_likely_copy(copy_len=copy.length_notes, frac8=frac8, calibration=cal)
    )
    # The passage shared with the nearest tune, for the side-by-side view.
    shared: tuple[int, int, int] | tuple[None, None, None] = (None, None, None)
    if nearest_id is not None and nearest_id == copy.tune_id:
        shared = (copy.length_notes, copy.piece_start, copy.tune_start)
    elif nearest_id is not None:
        tune = Tune.objects.filter(pk=nearest_id).values_list("text", flat=True).first()
        if tune is not None:
            try:
                tune_notes = notes_from_text(text=tune, way=corpus.way)
            except UnreadableText:
                tune_notes = []
            length, i, j = longest_common_run(a=encode(notes=notes), b=encode(notes=tune_notes))
            shared = (length + 1, i, j) if length else (None, None, None)
    alive = set(Tune.objects.filter(pk__in=[copy.tune_id, nearest_id]).values_list("pk", flat=True))
    return {
        "n_notes": len(notes),
        "corpus_tunes": len(index),
        "copy_length": copy.length_notes,
        "copy_tune_id": copy.tune_id if copy.tune_id in alive else None,
        "copy_piece_start": copy.piece_start if copy.tune_id is not None else None,
        "copy_tune_start": copy.tune_start if copy.tune_id is not None else None,
        "ngram_4": st.finite_or_none(fractions[4]),
        "ngram_8": st.finite_or_none(frac8),
        "ngram_16": st.finite_or_none(fractions[16]),
        "novelty": None if math.isnan(frac8) else 1.0 - frac8,
        "nearest_tune_id": nearest_id if nearest_id in alive else None,
        # 0 when no tune shares an 8-note phrase; unknown for a piece under 8 notes.
        "nearest_similarity": similarity if len(notes) >= 8 else None,
        "nearest_shared_length": shared[0],
        "nearest_piece_start": shared[1],
        "nearest_tune_start": shared[2],
        "likely_copy": likely,
        "idiom_pitch": st.finite_or_none(idiom["pitch"]),
        "idiom_rhythm": st.finite_or_none(idiom["rhythm"]),
        "features": st.features_to_json(features(notes=notes)),
    }


def _evaluation_row(piece: Piece) -> PieceEvaluation:
    try:
        evaluation, _ = PieceEvaluation.objects.get_or_create(piece=piece)
    except IntegrityError:  # another worker created it at the same moment
        evaluation = PieceEvaluation.objects.get(piece=piece)
    return evaluation


def piece_evaluate(*, piece: Piece) -> PieceEvaluation:
    """Score one piece against its run's corpus and store the scores.

    Never raises for a bad piece or corpus: a piece with no notes, unreadable text or an
    empty corpus gets status `failed` and the reason in `error`.
    """
    evaluation = _evaluation_row(piece)
    try:
        scores = _scores(piece)
        status, error = EvaluationStatus.DONE, ""
    except EvaluationError as exc:
        scores, status, error = {}, EvaluationStatus.FAILED, str(exc)
    except Exception as exc:  # a bug must not crash the task: say so on the evaluation
        log.exception("evaluation of piece %s failed", piece.pk)
        scores, status = {}, EvaluationStatus.FAILED
        error = f"The evaluation failed unexpectedly: {type(exc).__name__}: {exc}"[:2000]
    for name in _SCORE_FIELDS:  # a failure clears the scores of an earlier evaluation
        field = PieceEvaluation._meta.get_field(name.removesuffix("_id"))
        setattr(evaluation, name, scores[name] if name in scores else field.get_default())
    evaluation.status = status
    evaluation.error = error
    evaluation.computed_at = timezone.now()
    evaluation.code_version = settings.CODE_VERSION
    evaluation.save()
    return evaluation


# Most lost evaluations one sweep queues again (the next sweep takes the rest).
EVALUATIONS_RECOVER_MAX = 500


def job_evaluate_queue(*, job: GenerationJob) -> None:
    """Evaluate the job's pieces in the worker (default queue) once this transaction commits."""
    send_on_commit(JOB_EVALUATE_TASK, job.pk)


def job_evaluate(*, job: GenerationJob) -> list[PieceEvaluation]:
    """Evaluate every piece of a generation job (then its run's report is stale: measured
    again if someone has asked for it and the run is done)."""
    pieces = job.pieces.select_related("run__corpus").order_by("index", "pk")
    evaluations = [piece_evaluate(piece=piece) for piece in pieces]
    run_report_after_evaluation(run=job.checkpoint.run)
    return evaluations


def evaluations_recover() -> list[int]:
    """Queue again the evaluation of every piece that should have one by now and whose
    evaluation message is gone (a worker killed while holding it); returns the piece ids.

    A piece is due once its job succeeded more than JOB_LOST_AFTER_S ago. Pieces whose job's
    or own evaluation message still waits in a queue, or is held by a live worker, are left
    alone. The beat runs this every RECOVER_EVERY_S; evaluating a piece twice stores the
    same scores, so a message that was only late costs time, not correctness."""
    due_before = timezone.now() - timedelta(seconds=settings.JOB_LOST_AFTER_S)
    missing = list(
        Piece.objects.filter(job__status=JobStatus.SUCCEEDED, job__finished_at__lt=due_before)
        .filter(Q(evaluation__isnull=True) | Q(evaluation__status=EvaluationStatus.PENDING))
        .values_list("pk", "job_id")[:EVALUATIONS_RECOVER_MAX]
    )
    if not missing:
        return []
    waiting = waiting_rows((PIECE_EVALUATE_TASK, JOB_EVALUATE_TASK))
    tasks = worker_tasks()
    if waiting is None or tasks is None:  # the broker cannot be read: conclude nothing
        return []
    sent = []
    for piece_id, job_id in missing:
        if piece_id in waiting[PIECE_EVALUATE_TASK] or job_id in waiting[JOB_EVALUATE_TASK]:
            continue
        if tasks.is_held(PIECE_EVALUATE_TASK, piece_id) or tasks.is_held(JOB_EVALUATE_TASK, job_id):
            continue
        send_now(PIECE_EVALUATE_TASK, piece_id)
        sent.append(piece_id)
    if sent:
        log.warning("evaluations_recover: queued the lost evaluations of pieces %s", sent)
    return sent


def piece_evaluate_queue(*, piece: Piece) -> PieceEvaluation:
    """The piece's evaluation row; when it has none, a pending one, and its evaluation is
    queued (default queue, once this transaction commits). For pages and exports, which
    answer at once: a piece still pending is said to be so, never evaluated in the request.
    A pending row whose message was lost is queued again by `evaluations_recover`."""
    evaluation = PieceEvaluation.objects.filter(piece=piece).first()
    if evaluation is not None:
        return evaluation
    evaluation = _evaluation_row(piece)
    if evaluation.status == EvaluationStatus.PENDING:
        send_on_commit(PIECE_EVALUATE_TASK, piece.pk)
    return evaluation


def piece_evaluations_queue(*, piece_ids: list[int]) -> int:
    """Evaluate these pieces again in the worker: their evaluations are marked pending (the
    pieces' pages say they are being evaluated and reload themselves until they are done)
    and one task per piece is queued (default queue) once this transaction commits. Returns
    how many were queued. A message lost with a worker is sent again by
    `evaluations_recover`, which looks for pending evaluations."""
    ids = sorted(set(Piece.objects.filter(pk__in=piece_ids).values_list("pk", flat=True)))
    PieceEvaluation.objects.bulk_create(
        [PieceEvaluation(piece_id=pk) for pk in ids], ignore_conflicts=True
    )
    PieceEvaluation.objects.filter(piece_id__in=ids).update(
        status=EvaluationStatus.PENDING, error=""
    )
    for pk in ids:
        send_on_commit(PIECE_EVALUATE_TASK, pk)
    return len(ids)


def run_evaluate_queue(*, run: TrainingRun) -> int:
    """Give every piece of the run that has no evaluation row a pending one and queue its
    evaluation (as `piece_evaluate_queue`, in one query for the rows); returns how many.
    Pieces already pending are left to the message that is on its way (or to the sweep)."""
    missing = list(
        Piece.objects.filter(run=run, evaluation__isnull=True).values_list("pk", flat=True)
    )
    if not missing:
        return 0
    PieceEvaluation.objects.bulk_create(
        [PieceEvaluation(piece_id=pk) for pk in missing], ignore_conflicts=True
    )
    for pk in missing:  # a row another request created meanwhile: evaluated twice, same scores
        send_on_commit(PIECE_EVALUATE_TASK, pk)
    return len(missing)


def run_evaluate_missing(*, run: TrainingRun) -> int:
    """Evaluate the run's pieces that have no finished evaluation; returns how many."""
    missing = (
        Piece.objects.filter(run=run)
        .filter(Q(evaluation__isnull=True) | Q(evaluation__status=EvaluationStatus.PENDING))
        .select_related("run__corpus")
        .order_by("pk")
    )
    count = 0
    for piece in missing.iterator(chunk_size=200):
        piece_evaluate(piece=piece)
        count += 1
    return count


# --- run reports -------------------------------------------------------------------------------


def run_report_pieces(*, run: TrainingRun) -> tuple[QuerySet[Piece], str]:
    """The pieces a report judges: the last checkpoint's own (non epoch-sample) pieces, or
    every piece of the run when there are none."""
    last = run.last_checkpoint
    if last is not None:
        qs = Piece.objects.filter(run=run, checkpoint=last, job__is_epoch_sample=False)
        if qs.exists():
            return qs, f"pieces generated from the last checkpoint (epoch {last.epoch})"
    return Piece.objects.filter(run=run), (
        "every piece of the run (none were generated from its last checkpoint outside the "
        "epoch samples)"
    )


REPORT_LOST_AFTER = timedelta(minutes=15)  # a measure queued this long ago and not done
# is taken as lost (its worker died, its message dropped) and queued again. The longest
# measure seen, an audio run's, takes about a minute on a 2-core machine.


def _report_key(run: TrainingRun, state: CorpusIndexState | None) -> tuple[str, int]:
    agg = Piece.objects.filter(run=run).aggregate(
        n=Count("pk"),
        evaluated=Count("evaluation", filter=~Q(evaluation__status=EvaluationStatus.PENDING)),
        last=Max("evaluation__computed_at"),
    )
    last = run.last_checkpoint
    parts = [
        REPORT_VERSION,
        agg["n"],
        agg["evaluated"],
        agg["last"].isoformat() if agg["last"] else "",
        last.pk if last else "",
        state.tune_id_max if state else "",
        state.n_tunes if state else "",
        state.calibrated_at.isoformat() if state and state.calibrated_at else "",
        len(run.history or []),
    ]
    raw = "|".join(str(p) for p in parts)
    return hashlib.sha1(raw.encode()).hexdigest(), agg["evaluated"]


def _is_audio(run: TrainingRun) -> bool:
    return get_way(run.way).capabilities.is_audio


def run_report_key(*, run: TrainingRun) -> str:
    """What the run's report would be measured from now: a stored report with another key
    is stale. A few queries, no measuring: pages call it."""
    if _is_audio(run):
        return audio_report.audio_report_key(run=run)
    state = CorpusIndexState.objects.filter(corpus_id=run.corpus_id).first()
    return _report_key(run, state)[0]


def run_report_build(*, run: TrainingRun) -> dict[str, Any]:
    """The payload of the run's report, from the pieces' stored evaluations and the corpus's
    calibration (notes), or from the run's clips (audio): seconds to a minute of work, so
    only the report task (`run_report_measure`) and commands call it. Every measure the
    report shows is computed here."""
    if _is_audio(run):
        return st.json_safe(audio_report.audio_report_build(run=run))
    state = CorpusIndexState.objects.get(corpus_id=run.corpus_id)
    return st.json_safe(_build_report(run, state))


def _run_report_prepare(run: TrainingRun) -> None:
    """What a notes report needs first: every piece evaluated, the corpus calibrated."""
    if not _is_audio(run):
        run_evaluate_missing(run=run)
        corpus_calibration_get(corpus=run.corpus)


def run_report_measure(*, run: TrainingRun) -> RunReport:
    """Measure the run's report and store it: ready with its payload, or failed with the
    reason in words (the previous payload is kept then). The report task calls this."""
    row, _ = RunReport.objects.get_or_create(run=run, defaults={"requested_at": timezone.now()})
    key = ""
    try:
        _run_report_prepare(run)
        key = run_report_key(run=run)  # before building: pieces evaluated meanwhile make it stale
        data = run_report_build(run=run)
    except (EvaluationError, ServiceError) as exc:
        updates = {"state": ReportState.FAILED, "error": str(exc)}
    except Exception as exc:  # a bug must not leave the page measuring forever: say so
        log.exception("report of run %s failed", run.pk)
        error = f"The report could not be measured: {type(exc).__name__}: {exc}"
        updates = {"state": ReportState.FAILED, "error": error[:2000]}
    else:
        updates = {
            "state": ReportState.READY,
            "error": "",
            "data": data,
            "n_evaluated": int(data.get("n_evaluated") or 0),
        }
    RunReport.objects.filter(pk=row.pk).update(
        key=key, computed_at=timezone.now(), code_version=settings.CODE_VERSION, **updates
    )
    row.refresh_from_db()
    return row


def run_report_request(*, run: TrainingRun) -> RunReport:
    """Queue a measure of the run's report (default queue, once this transaction commits),
    unless one is already under way; the row says "measuring" until the task is done."""
    now = timezone.now()
    with transaction.atomic():
        try:
            row, created = RunReport.objects.select_for_update().get_or_create(
                run=run, defaults={"state": ReportState.MEASURING, "requested_at": now}
            )
        except IntegrityError:  # another request created it at the same moment: it queued
            return RunReport.objects.get(run=run)
        if not created:
            under_way = (
                row.state == ReportState.MEASURING
                and row.requested_at is not None
                and row.requested_at > now - REPORT_LOST_AFTER
            )
            if under_way:
                return row
            row.state, row.requested_at = ReportState.MEASURING, now
            row.save(update_fields=["state", "requested_at"])
        send_on_commit(RUN_REPORT_TASK, run.pk)
    return row


def run_report_get(*, run: TrainingRun) -> RunReport:
    """The run's stored report for a page or the API, in a few queries. A measure is queued
    when there is none yet, when it is stale (new pieces evaluated, a new checkpoint, the
    corpus recalibrated, a new REPORT_VERSION) or when a queued measure was lost."""
    row = RunReport.objects.filter(run=run).first()
    if row is None:
        return run_report_request(run=run)
    if row.state == ReportState.MEASURING:
        if row.requested_at is None or row.requested_at <= timezone.now() - REPORT_LOST_AFTER:
            return run_report_request(run=run)
        return row
    if row.key != run_report_key(run=run):
        return run_report_request(run=run)
    return row


def run_reports_recover() -> list[int]:
    """Send again the measure of every run report "measuring" for more than
    JOB_LOST_AFTER_S whose message neither waits in a queue nor is held by a live worker;
    returns the run ids. Run by the beat with the other sweeps, so a lost measure is sent
    again within about a minute and a half instead of after REPORT_LOST_AFTER."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_LOST_AFTER_S)
    measuring = list(
        RunReport.objects.filter(state=ReportState.MEASURING, requested_at__lt=cutoff).values_list(
            "run_id", flat=True
        )
    )
    if not measuring:
        return []
    waiting = waiting_rows((RUN_REPORT_TASK,))
    tasks = worker_tasks()
    if waiting is None or tasks is None:
        return []
    sent = []
    for run_id in measuring:
        if run_id in waiting[RUN_REPORT_TASK] or tasks.is_held(RUN_REPORT_TASK, run_id):
            continue
        updated = RunReport.objects.filter(
            run_id=run_id, state=ReportState.MEASURING, requested_at__lt=cutoff
        ).update(requested_at=timezone.now())
        if updated:  # still measuring: not finished while the workers were asked
            send_now(RUN_REPORT_TASK, run_id)
            sent.append(run_id)
    if sent:
        log.warning("run_reports_recover: sent the lost measures of runs %s", sent)
    return sent


def evaluation_work_recover() -> None:
    """The beat's evaluation sweep: lost piece evaluations, corpus calibrations and run
    report measures are sent again (each asks the broker only when it has a candidate)."""
    evaluations_recover()
    calibrations_recover()
    run_reports_recover()


def run_judge_get(*, run: TrainingRun, epoch: str | None = None) -> dict[str, Any]:
    """The blind listener's section of the run's stored report, with the report's `state`
    (`run_report_get`: a missing or stale report is queued, never measured here). With
    `epoch` (as a request gives it): that epoch's stored verdict. Raises ServiceError
    (field "epoch") for an epoch the run has no checkpoint at."""
    if get_way(run.way).capabilities.melody is None:
        return {"available": False, "reason": "pieces of this kind have no notes"}
    if epoch is not None and not (
        epoch.isdigit() and len(epoch) < 10 and run.checkpoints.filter(epoch=int(epoch)).exists()
    ):
        raise ServiceError(f"the run has no checkpoint at epoch {epoch!r}", field="epoch")
    row = run_report_get(run=run)
    judge = (row.data or {}).get("judge") or None
    if epoch is None:
        return {"state": row.state, **(judge or {"available": False, "reason": "measuring"})}
    found = next((e for e in (judge or {}).get("epochs") or [] if e["epoch"] == int(epoch)), None)
    if found is not None:
        return {"state": row.state, "available": True, **found}
    if row.state == ReportState.MEASURING or not judge:
        reason = "measuring"
    elif not judge.get("available"):
        reason = judge.get("reason") or "no verdict"
    else:
        reason = (
            f"the report judges at most {listener.JUDGE_EPOCHS_MAX} epochs, spread over the "
            "run, and this is not one of them"
        )
    return {"state": row.state, "epoch": int(epoch), "available": False, "reason": reason}


def run_report_after_evaluation(*, run: TrainingRun) -> None:
    """New pieces of a finished run were evaluated: a report someone has asked for is
    measured again now, so the next visit finds it ready."""
    if run.status in ACTIVE_STATUSES or not RunReport.objects.filter(run=run).exists():
        return  # a running run's report is measured when it finishes
    run_report_get(run=run)


def run_report(*, run: TrainingRun, refresh: bool = False) -> dict[str, Any]:
    """The run's report measured in this process when the stored one is missing or stale
    (commands, tests, benchmarks; pages use `run_report_get`). Raises EvaluationError with
    the reason when it cannot be measured."""
    row = RunReport.objects.filter(run=run).first()
    fresh = (
        row is not None
        and row.state == ReportState.READY
        and not refresh
        and row.key == run_report_key(run=run)
    )
    if not fresh:
        row = run_report_measure(run=run)
    if row.state != ReportState.READY:
        raise EvaluationError(row.error)
    return row.data


def pooled_bar_rate(pieces: list[Piece]) -> float | None:
    """Share of all checked bars, over the pieces, whose length matches the meter: each bar
    counts once, so a long tune weighs more than a two-bar one (a mean of per-piece shares
    would let a short, wrong piece count as much as a whole correct tune)."""
    good = checked = 0.0
    for piece in pieces:
        n = int((piece.validity_detail or {}).get("n_bars_checked") or 0)
        if n and piece.bar_accuracy is not None:
            good, checked = good + piece.bar_accuracy * n, checked + n
    return good / checked if checked else None


def _quality(
    pieces: list[Piece],
    done: list[PieceEvaluation],
    human_flagged: float | None,
    tightened: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Issue 11's measures of a set of ABC pieces, each beside its target."""
    measured = {
        "parse": st.rate(p.parses for p in pieces),
        "abc2midi": st.rate(p.plays for p in pieces),
        "bars": pooled_bar_rate(pieces),
        "idiom": st.median(e.idiom_pitch for e in done),
        "copies": st.rate(e.likely_copy for e in done),
    }
    rows = []
    for key, label, target in QUALITY_TARGETS:
        value = measured[key]
        met = None if value is None else value >= target
        rows.append({"key": key, "label": label, "value": value, "target": target, "met": met})
    copies = measured["copies"]
    rows.append(
        {
            "key": "copies",
            "label": "likely copies, at most as many as held-out human tunes show",
            "value": copies,
            "target": human_flagged,
            "met": None if copies is None or human_flagged is None else copies <= human_flagged,
        }
    )
    for key, label in HUMAN_LEVEL_TARGETS if tightened else ():
        value, human = tightened["run"].get(key), tightened["human"].get(key)
        met = None if value is None or human is None else value >= human - HUMAN_LEVEL_MARGIN
        rows.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "target": human,
                "met": met,
                "human_level": True,
            }
        )
    return {"n": len(pieces), "rows": rows}


def _human_rows(corpus: Corpus, state: CorpusIndexState) -> list[dict[str, Any]]:
    """Features of the human reference half (set A of the calibration's baseline)."""
    ids = (state.human_features or {}).get("sample_a") or []
    melodies = _tune_notes(corpus=corpus, tunes=corpus.tunes.filter(pk__in=ids))
    return [st.features_to_json(features(notes=n)) for n in melodies.values() if len(n) >= 2]


def _build_report(run: TrainingRun, state: CorpusIndexState) -> dict[str, Any]:
    cal = state.calibration or {}
    pieces_qs, scope = run_report_pieces(run=run)
    pieces = list(pieces_qs.select_related("evaluation").order_by("pk"))
    evaluations = [getattr(p, "evaluation", None) for p in pieces]
    done = [e for e in evaluations if e is not None and e.status == EvaluationStatus.DONE]
    human = _human_rows(run.corpus, state)
    human_intra = st.intra_of(human) if len(human) > 1 else None
    reference, judge = _listener(run)
    baseline = (state.human_features or {}).get("baseline") or {}

    feature_rows = []
    generated = [
        e.features for e in done if e.features and all(k in e.features for k in st.FEATURE_NAMES)
    ]
    drawn = st.sample(range(len(generated)), GENERATED_SAMPLE, seed=3)
    generated = [generated[i] for i in drawn]
    if human_intra is not None and generated:
        versus = st.compare_sets(set_a=human, set_b=generated, intra_a=human_intra)
        own = st.intra_of(generated)
        for name in st.FEATURE_NAMES:
            base = baseline.get(name) or {}
            feature_rows.append(
                {
                    "name": name,
                    "label": st.FEATURE_LABELS[name],
                    "kl": versus[name]["kl"],
                    "overlap": versus[name]["overlap"],
                    "inter_mean": versus[name]["inter_mean"],
                    "inter_std": versus[name]["inter_std"],
                    "human_intra_mean": versus[name]["intra_mean"],
                    "human_intra_std": versus[name]["intra_std"],
                    "generated_intra_mean": float(own[name].mean()) if len(own[name]) else None,
                    "generated_intra_std": float(own[name].std()) if len(own[name]) else None,
                    "baseline_kl": base.get("kl"),
                    "baseline_overlap": base.get("overlap"),
                }
            )

    return {
        "version": REPORT_VERSION,
        "run": run.pk,
        "corpus": run.corpus_id,
        "scope": scope,
        "n_pieces": len(pieces),
        "n_evaluated": sum(e is not None for e in evaluations),
        "n_done": len(done),
        "n_failed": sum(e is not None and e.status == EvaluationStatus.FAILED for e in evaluations),
        "n_human": len(human),
        "n_generated_compared": len(generated),
        "validity": {
            "parses": st.rate(p.parses for p in pieces),
            "plays": st.rate(p.plays for p in pieces),
            "valid": st.rate(p.is_valid for p in pieces) if pieces else None,
            "bar_accuracy": st.mean(p.bar_accuracy for p in pieces),
        },
        "novelty": {
            "median_copy_length": st.median(e.copy_length for e in done),
            "max_copy_length": max((e.copy_length or 0 for e in done), default=None),
            "share_flagged": st.rate(e.likely_copy for e in done),
            "median_ngram_8": st.median(e.ngram_8 for e in done),
            "median_novelty": st.median(e.novelty for e in done),
            "median_nearest_similarity": st.median(e.nearest_similarity for e in done),
            "median_idiom_pitch": st.median(e.idiom_pitch for e in done),
            "median_idiom_rhythm": st.median(e.idiom_rhythm for e in done),
        },
        "human": {
            "flagged_fraction": cal.get("flagged_fraction"),
            "copy_len_threshold": cal.get("copy_len_threshold"),
            "frac8_threshold": cal.get("frac8_threshold"),
            "median_copy_length": (cal.get("copy_length_summary") or {}).get("p50"),
            "median_idiom_pitch": (cal.get("idiom_pitch_summary") or {}).get("p50"),
            "median_idiom_rhythm": (cal.get("idiom_rhythm_summary") or {}).get("p50"),
            "calibrated": bool(cal.get("ok")),
            "calibration_error": cal.get("error") or "",
        },
        "features": feature_rows,
        # Issue 11's targets were set on ABC text (abc2midi, bar lengths): the way says
        # whether they apply to its pieces.
        "quality": _quality(
            pieces,
            done,
            cal.get("flagged_fraction"),
            listener.tightened(reference=reference, texts=[p.text for p in pieces])
            if reference is not None
            else None,
        )
        if get_way(run.way).capabilities.quality_targets
        else None,
        "judge": judge,
        "epochs": _epoch_series(run, human, human_intra),
        "computed_at": timezone.now().isoformat(),
        "code_version": settings.CODE_VERSION,
    }


def _listener(run: TrainingRun) -> tuple[listener.Reference | None, dict[str, Any]]:
    """The blind listener's section of the report; a failure is said there, never raised
    (the rest of the report stands without it)."""
    stored = RunReport.objects.filter(run=run).values_list("data", flat=True).first() or {}
    previous = (stored.get("judge") or {}).get("epochs") or []
    try:
        reference = listener.run_reference(run=run)
        judge = listener.run_judge(run=run, reference=reference, previous_epochs=previous)
        return reference, judge
    except Exception as exc:
        log.exception("the listener failed on run %s", run.pk)
        return None, {"available": False, "reason": f"it failed: {type(exc).__name__}"}


def _epoch_series(
    run: TrainingRun, human: list[dict[str, Any]], human_intra: dict[str, np.ndarray] | None
) -> list[dict[str, Any]]:
    """Per epoch, from the pieces the run wrote at the end of it: when does it get valid,
    and when does it start to copy?"""
    losses = {h.get("epoch"): h for h in run.history or []}
    pieces = (
        Piece.objects.filter(run=run, job__is_epoch_sample=True)
        .select_related("evaluation", "checkpoint")
        .order_by("checkpoint__epoch", "pk")
    )
    by_epoch: dict[int, list[Piece]] = {}
    for piece in pieces:
        by_epoch.setdefault(piece.checkpoint.epoch, []).append(piece)
    series = []
    for epoch, group in sorted(by_epoch.items()):
        done = [
            p.evaluation
            for p in group
            if getattr(p, "evaluation", None) is not None
            and p.evaluation.status == EvaluationStatus.DONE
        ]
        overlap = None
        rows = [e.features for e in done if e.features]
        if human_intra is not None and rows:
            overlap = st.mean_overlap(st.compare_sets(set_a=human, set_b=rows, intra_a=human_intra))
        history = losses.get(epoch) or {}
        series.append(
            {
                "epoch": epoch,
                "n": len(group),
                "n_done": len(done),
                "valid": st.rate(p.is_valid for p in group),
                "parses": st.rate(p.parses for p in group),
                "plays": st.rate(p.plays for p in group),
                "bar_accuracy": st.mean(p.bar_accuracy for p in group),
                "bars": pooled_bar_rate(group),
                "copy_length": st.median(e.copy_length for e in done),
                "max_copy_length": max((e.copy_length or 0 for e in done), default=None),
                "flagged": st.rate(e.likely_copy for e in done),
                "novelty": st.median(e.novelty for e in done),
                "idiom_pitch": st.median(e.idiom_pitch for e in done),
                "idiom_rhythm": st.median(e.idiom_rhythm for e in done),
                "feature_overlap": overlap,
                "loss": history.get("loss"),
                "val_loss": history.get("val_loss"),
            }
        )
    return series


# --- exports -----------------------------------------------------------------------------------

EXPORT_FIELDS = (
    "piece_id",
    "title",
    "epoch",
    "is_epoch_sample",
    "parses",
    "plays",
    "bar_accuracy",
    "status",
    "error",
    "n_notes",
    "copy_length",
    "copy_tune_id",
    "copy_piece_start",
    "copy_tune_start",
    "ngram_4",
    "ngram_8",
    "ngram_16",
    "novelty",
    "nearest_tune_id",
    "nearest_similarity",
    "likely_copy",
    "idiom_pitch",
    "idiom_rhythm",
    "computed_at",
    "code_version",
)


def piece_scores(*, piece: Piece, with_features: bool = True) -> dict[str, Any]:
    """One piece's scores as a flat JSON-ready dict (its evaluation must exist). `status`
    says what the scores are: done, failed (`error` says why; no scores) or pending (queued,
    not measured yet: every score is null, nothing half-written)."""
    e = piece.evaluation
    pending = e.status == EvaluationStatus.PENDING
    row: dict[str, Any] = {
        "piece_id": piece.pk,
        "title": piece.title,
        "epoch": piece.checkpoint.epoch,
        "is_epoch_sample": piece.job.is_epoch_sample,
        "parses": piece.parses,
        "plays": piece.plays,
        "bar_accuracy": piece.bar_accuracy,
        "status": e.status,
        "error": e.error,
        "computed_at": e.computed_at.isoformat() if e.computed_at else None,
        "code_version": e.code_version,
    }
    for name in EXPORT_FIELDS:
        if name not in row:
            row[name] = None if pending else getattr(e, name)
    if with_features:
        row["features"] = None if pending else e.features
    return st.json_safe(row)


def piece_scores_get(*, piece: Piece) -> dict[str, Any]:
    """The piece's stored scores, at once: a piece with no evaluation yet has it queued and
    is answered with status "pending" (`piece_scores`)."""
    evaluation = piece_evaluate_queue(piece=piece)
    piece.evaluation = evaluation
    return piece_scores(piece=piece)


def run_scores(*, run: TrainingRun) -> dict[str, Any]:
    """Every piece of the run with its stored scores, at once: pieces with no evaluation
    have theirs queued (`run_evaluate_queue`) and are listed as pending. `state` is
    "measuring" while any piece is pending (ask again later), else "ready"."""
    run_evaluate_queue(run=run)
    pieces = (
        Piece.objects.filter(run=run)
        .select_related("evaluation", "checkpoint", "job")
        .order_by("checkpoint__epoch", "pk")
    )
    rows = [piece_scores(piece=p) for p in pieces]
    pending = sum(r["status"] == EvaluationStatus.PENDING for r in rows)
    return {
        "run": run.pk,
        "corpus": run.corpus_id,
        "state": ReportState.MEASURING if pending else ReportState.READY,
        "count": len(rows),
        "pending": pending,
        "pieces": rows,
    }
