"""What the evaluation templates show: verdicts in words, side-by-side passages, charts.

Reads stored results only (never computes an evaluation), so a page that includes
`_piece_evaluation.html` costs a few queries and two melody reads.
"""

from __future__ import annotations

from typing import Any

from common import charts
from generator.models import Piece, TrainingRun, Tune
from musiclib.metrics.melody import UnreadableText, note_name, notes_from_text
from musiclib.metrics.notes import Note
from musiclib.ways import get_way

from .models import CorpusIndexState, EvaluationStatus, PieceEvaluation, ReportState, RunReport
from .services import idiom_cut, run_report_pieces

CONTEXT_NOTES = 8  # notes shown either side of a shared passage
MAX_SHARED_SHOWN = 96  # a longer shared passage is shown with its middle elided
TOP_PIECES = 25  # pieces listed under "the pieces that borrow most"
REFRESH_S = 5  # a page whose report is being measured reloads itself this often (seconds)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def calibration_sentence(cal: dict[str, Any] | None) -> str:
    """How the likely-copy flag is calibrated, in one sentence."""
    if not cal or not cal.get("ok"):
        reason = (cal or {}).get("error") or "the corpus has not been calibrated yet."
        return f"No likely-copy flag: {reason[0].lower()}{reason[1:]}"
    return (
        "Flagged when it borrows more than 95% of held-out human tunes do (a copied passage "
        f"longer than {cal['copy_len_threshold']:.0f} notes, or more than "
        f"{pct(cal['frac8_threshold'])} of its 8-note phrases found in the corpus); "
        f"{pct(cal['flagged_fraction'])} of human tunes are flagged."
    )


def verdict(evaluation: PieceEvaluation, cal: dict[str, Any] | None) -> dict[str, str]:
    """A badge and one line that reads novelty beside idiom: copied, new and idiomatic, or
    new because it is noise."""
    pitch, rhythm = evaluation.idiom_pitch, evaluation.idiom_rhythm
    cut_pitch, cut_rhythm = idiom_cut(cal or {}, "pitch"), idiom_cut(cal or {}, "rhythm")
    idiomatic = (pitch is None or pitch >= cut_pitch) and (rhythm is None or rhythm >= cut_rhythm)
    if evaluation.likely_copy:
        return {
            "kind": "copy",
            "label": "Likely copy",
            "sentence": "Likely copied: it borrows more from the corpus than 95% of held-out "
            "human tunes do. Follow the source link to compare.",
        }
    prefix = "" if evaluation.likely_copy is False else "Not judged for copying. "
    if idiomatic:
        return {
            "kind": "new",
            "label": "New and idiomatic",
            "sentence": f"{prefix}New and idiomatic: it borrows no more than human tunes do, "
            "and its short melodic and rhythmic patterns are ones the corpus uses.",
        }
    return {
        "kind": "noise",
        "label": "New but noisy",
        "sentence": f"{prefix}New because it is noise: only {pct(pitch)} of its 4-note pitch "
        f"patterns and {pct(rhythm)} of its rhythm patterns occur anywhere in the corpus, "
        f"where 95% of held-out human tunes reach {pct(cut_pitch)} and {pct(cut_rhythm)}.",
    }


def _melody(text: str, way: str) -> list[Note]:
    try:
        return notes_from_text(text=text, way=way)
    except UnreadableText:
        return []


def _window(notes: list[Note], start: int, length: int) -> dict[str, Any]:
    lo = max(0, start - CONTEXT_NOTES)
    hi = min(len(notes), start + length + CONTEXT_NOTES)
    cells = []
    for i in range(lo, hi):
        shared = start <= i < start + length
        if shared and length > MAX_SHARED_SHOWN:
            half = MAX_SHARED_SHOWN // 2
            if start + half <= i < start + length - half:
                if i == start + half:
                    cells.append({"gap": length - 2 * half})
                continue
        n = notes[i]
        cells.append(
            {
                "name": note_name(n.pitch),
                "shared": shared,
                "title": f"note {i + 1}, {n.duration:g} quarter{'s' if n.duration != 1 else ''}",
            }
        )
    return {"cells": cells, "more_before": lo > 0, "more_after": hi < len(notes)}


def side_by_side(piece: Piece, evaluation: PieceEvaluation) -> dict[str, Any] | None:
    """The piece and its nearest tune (else the tune it copies most from) as note names,
    the passage they share marked."""
    if evaluation.nearest_tune_id and evaluation.nearest_shared_length:
        tune_id = evaluation.nearest_tune_id
        length = evaluation.nearest_shared_length
        p_start, t_start = evaluation.nearest_piece_start, evaluation.nearest_tune_start
        why = "nearest tune"
    elif evaluation.copy_tune_id and evaluation.copy_length and evaluation.copy_length > 1:
        tune_id, length = evaluation.copy_tune_id, evaluation.copy_length
        p_start, t_start = evaluation.copy_piece_start, evaluation.copy_tune_start
        why = "tune it shares its longest passage with"
    else:
        return None
    tune = Tune.objects.select_related("corpus").filter(pk=tune_id).first()
    if tune is None or p_start is None or t_start is None:
        return None
    piece_notes = _melody(piece.text, piece.way)
    tune_notes = _melody(tune.text, tune.corpus.way)
    if p_start + length > len(piece_notes) or t_start + length > len(tune_notes):
        return None  # the texts changed since the evaluation
    shift = tune_notes[t_start].pitch - piece_notes[p_start].pitch
    return {
        "tune": tune,
        "why": why,
        "length": length,
        "piece_from": p_start + 1,
        "piece_to": p_start + length,
        "tune_from": t_start + 1,
        "tune_to": t_start + length,
        "shift": shift,
        "shift_text": "in the same key"
        if shift == 0
        else f"{abs(shift)} semitone{'s' if abs(shift) != 1 else ''} "
        f"{'higher' if shift > 0 else 'lower'} in the tune",
        "piece": _window(piece_notes, p_start, length),
        "tune_side": _window(tune_notes, t_start, length),
    }


def piece_evaluation_queued(piece: Piece) -> bool:
    """The piece's evaluation is queued and not done yet (a pending row: a new piece's, or
    one staff asked to evaluate again)."""
    return PieceEvaluation.objects.filter(
        piece_id=piece.pk, status=EvaluationStatus.PENDING
    ).exists()


def piece_evaluation_view(piece: Piece) -> dict[str, Any]:
    """Everything `_piece_evaluation.html` shows for one piece."""
    evaluation = (
        PieceEvaluation.objects.filter(piece_id=piece.pk)
        .select_related("copy_tune", "nearest_tune")
        .first()
    )
    state = CorpusIndexState.objects.filter(corpus_id=piece.run.corpus_id).first()
    cal = (state.calibration if state else None) or {}
    view: dict[str, Any] = {
        "evaluation": evaluation,
        "status": evaluation.status if evaluation else EvaluationStatus.PENDING,
        "calibration": cal,
        "calibration_sentence": calibration_sentence(cal),
        "corpus_id": piece.run.corpus_id,
    }
    if evaluation is None or evaluation.status != EvaluationStatus.DONE:
        return view
    view["verdict"] = verdict(evaluation, cal)
    view["side_by_side"] = side_by_side(piece, evaluation)
    copy_lengths = cal.get("copy_lengths") if cal.get("ok") else None
    if copy_lengths:
        view["copy_chart"] = charts.histogram(
            values=copy_lengths,
            integer=True,
            x_label="longest copy of held-out human tunes (notes)",
            threshold=cal.get("copy_len_threshold"),
            threshold_label="flag above",
            marker=evaluation.copy_length,
            marker_label="this piece",
            height=170,
        )
    view["human_idiom_pitch"] = (cal.get("idiom_pitch_summary") or {}).get("p50")
    view["human_idiom_rhythm"] = (cal.get("idiom_rhythm_summary") or {}).get("p50")
    view["human_copy_median"] = (cal.get("copy_length_summary") or {}).get("p50")
    return view


# --- run reports -------------------------------------------------------------------------------


def run_report_page_context(*, run: TrainingRun, report: RunReport) -> tuple[str, dict[str, Any]]:
    """The template and context of a run's report page, from the stored report: its state
    (measuring, ready, failed), and once it has a payload, its charts and tables. Reads
    stored rows only."""
    data = report.data or {}
    context: dict[str, Any] = {
        "run": run,
        "report_row": report,
        "measuring": report.state == ReportState.MEASURING,
        "failed": report.state == ReportState.FAILED,
        "refresh_s": REFRESH_S,
    }
    if not data:
        return "evaluation/run_report_waiting.html", context
    context["report"] = data
    context["computed_at"] = report.computed_at
    if get_way(run.way).capabilities.is_audio:  # no notes: music-vs-noise measures instead
        return "evaluation/audio_report.html", context
    context.update(_notes_report_charts(data))
    context["vocabulary"] = get_way(run.way).vocabulary_kind(
        config=run.config or {}, vocab=run.vocab or []
    )
    pieces_qs, _ = run_report_pieces(run=run)
    top = (
        pieces_qs.filter(evaluation__status=EvaluationStatus.DONE)
        .select_related("evaluation", "evaluation__copy_tune", "checkpoint")
        .order_by("-evaluation__copy_length", "pk")[:TOP_PIECES]
    )
    unevaluable = PieceEvaluation.objects.filter(piece__run=run, status=EvaluationStatus.FAILED)
    context["top_pieces"] = list(top)
    context["failed_pieces"] = list(unevaluable.select_related("piece").order_by("piece_id")[:10])
    context["failed_count"] = unevaluable.count()
    context["listener"] = listener_view(data.get("judge"))
    return "evaluation/run_report.html", context


def _notes_report_charts(report: dict[str, Any]) -> dict[str, Any]:
    epochs = report.get("epochs") or []
    human = report.get("human") or {}
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
    # Per epoch: where the model gets valid (parse, abc2midi, bars) and idiomatic; the copy
    # chart beside it shows where it starts to copy.
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
            for f in report.get("features") or []
        ],
        a_label="this run's pieces against human tunes",
        b_label="human tunes against human tunes",
    )
    return {
        "copy_chart": copy_chart,
        "quality_chart": quality_chart,
        "feature_chart": feature_chart,
    }


# --- the blind listener ------------------------------------------------------------------

# How easily the listener told the run from people, in words, by accuracy (upper bounds).
LISTENER_WORDS = (
    (0.6, "could hardly tell this run's tunes from human ones"),
    (0.75, "often told this run's tunes from human ones"),
    (0.9, "told this run's tunes from human ones most of the time"),
    (1.01, "told this run's tunes from human ones almost every time"),
)


def _interval(test: dict[str, Any] | None) -> str:
    if not test or test.get("accuracy") is None:
        return "—"
    return f"{pct(test['accuracy'])} ({pct(test['low'])}–{pct(test['high'])})"


def _epoch_view(row: dict[str, Any]) -> dict[str, Any]:
    """One epoch's verdict for the "By epoch" table: told apart, with its 95 % interval,
    beside the human-against-human control of the same size."""
    if row.get("accuracy") is None:
        unread = row.get("reason")  # nothing could be drawn: its model file was not read
        text = "no verdict: " + (
            "this epoch's model could not be read" if unread else "too few tunes"
        )
    else:
        text = _interval(row)
    return {**row, "text": text, "control_text": _interval(row.get("control"))}


def listener_view(judge: dict[str, Any] | None) -> dict[str, Any]:
    """The run report's listener section: a headline in words, the interval, the control,
    the giveaways, the form table and the per-epoch rows, from the stored report."""
    if not judge or not judge.get("available"):
        reason = (judge or {}).get("reason") or "the report was made before the listener existed"
        return {"available": False, "reason": reason}
    verdict = judge["verdict"]
    control = verdict.get("control") or {}
    accuracy = verdict.get("accuracy")
    out: dict[str, Any] = {
        "available": True,
        "epoch": judge["checkpoint_epoch"],
        "chosen_by": judge["chosen_by"],
        "n": verdict.get("n"),
        "n_pieces": judge["n_pieces"],
        "n_human": judge["n_human_heldout"],
        "min_per_side": judge["min_per_side"],
        "form": judge.get("form") or [],
        "tightened": judge.get("tightened") or {},
        "per_epoch": judge.get("judge_per_epoch"),
        "epochs": [_epoch_view(e) for e in judge.get("epochs") or []],
    }
    if accuracy is None:
        out["headline"] = None
        return out
    words = next(w for bound, w in LISTENER_WORDS if accuracy < bound)
    out["headline"] = (
        f"A classifier {words}: it named the right side for {pct(accuracy)} of "
        f"{2 * verdict['n']} tunes ({verdict['n']} a side; 95% interval "
        f"{pct(verdict['low'])}–{pct(verdict['high'])}). 50% is chance."
    )
    out["control"] = (
        f"Two halves of the human tunes ({control['n']} a side): {pct(control['accuracy'])} "
        f"({pct(control['low'])}–{pct(control['high'])})."
        if control.get("accuracy") is not None
        else None
    )
    out["giveaways"] = verdict.get("giveaways") or []
    second = judge.get("second") or {}
    out["second"] = (
        f"A second listener, on what the first never hears (how the line turns from note to "
        f"note, which note lengths follow which, the notes on the downbeats), named the right "
        f"side for {_interval(second)}; two halves of the human tunes: "
        f"{_interval(second.get('control'))}."
        if second.get("accuracy") is not None
        else None
    )
    return out
