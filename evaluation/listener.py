"""The blind listener on a run: could its pieces pass for the human tunes it learnt from?

A classifier two-sample test (`musiclib.metrics.judge`) between the pieces of one checkpoint
(the one with the lowest validation loss unless staff choose another) and the human tunes
the run held out for validation (its validation split: the same tunes `Way.prepare` kept
out of training, recomputed from the corpus, the run's seed and val_fraction). Beside it:
the same test between two halves of those human tunes, the form measures on both sides,
and the two tightened measures (bars counting section ends, phrase idiom over 4 to 8
notes), the human figures beside the run's. Per epoch too, on pieces drawn from each
epoch's checkpoint for the purpose (`_epochs` says why not the epoch samples themselves).

Called by `services._build_report` (the report's "judge" section, measured by the report
task, never in a request); the pages and JSON read the stored report.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings

from generator.models import Checkpoint, Piece, TrainingRun
from generator.selectors import run_split_texts
from generator.services.pieces import epoch_sample_texts
from musiclib.metrics import judge as jd
from musiclib.metrics.form import Shape, pooled_bar_rate, shapes_from_texts
from musiclib.metrics.melody import READERS
from musiclib.metrics.notes import Note
from musiclib.metrics.phrases import PhraseIndex
from musiclib.ways import get_way

# Form measures shown beside the human figures (names of `judge.FEATURES`).
FORM_ROWS = ("parts", "bars_per_part", "parts_8_16", "has_repeat", "endings", "repeated_bars",
             "repeated_phrases", "distinct_patterns", "ends_on_tonic")  # fmt: skip
MAX_PER_SIDE = 400  # pieces a side at most: the verdict's interval is ±2.5 points by then
MIN_PER_SIDE = jd.MIN_PER_SIDE
log = logging.getLogger(__name__)
# Per epoch (`_epochs`): pieces drawn from each checkpoint for its verdict. 40 a side gives a
# 95 % interval of about ±10 points at 0.75 (±13 at 20 a side); more costs sampling time
# (about 0.05 s a piece, `bench/epoch_judge.py`) for each new checkpoint. Range:
# MIN_PER_SIDE..MAX_PER_SIDE.
JUDGE_PER_EPOCH = 40
JUDGE_EPOCHS_MAX = 20  # epochs judged at most, spread over the run (1..)
EPOCH_GIVEAWAYS = 3  # giveaways kept per epoch row


def judged_checkpoint(*, run: TrainingRun) -> Checkpoint | None:
    """The run's chosen checkpoint: the one staff chose on the run, else the lowest
    validation loss, else the last one (`TrainingRun.chosen_checkpoint`, the one rule)."""
    return run.chosen_checkpoint


def _figures(shapes: list[Shape], phrases: PhraseIndex) -> dict[str, Any]:
    idioms = [phrases.idiom(notes=s.notes) for s in shapes]
    idioms = [v for v in idioms if not math.isnan(v)]
    return {
        "bars_sections": pooled_bar_rate(shapes),
        "phrase_idiom": float(np.median(idioms)) if idioms else None,
    }


def _form_rows(human: list[dict], machine: list[dict]) -> list[dict[str, Any]]:
    rows = {r["name"]: r for r in jd.compare(human, machine)}
    out = []
    for name in FORM_ROWS:
        f = jd.BY_NAME[name]
        r = rows.get(name)
        out.append(
            {
                "name": name,
                "label": f.label,
                "kind": f.kind,
                "human": r["human"] if r else None,
                "machine": r["machine"] if r else None,
                "human_text": jd.fmt(r["human"] if r else None, f.kind),
                "machine_text": jd.fmt(r["machine"] if r else None, f.kind),
                "separation": r["separation"] if r else None,
            }
        )
    return out


def _sample(items: list, k: int, seed: int) -> list:
    if len(items) <= k:
        return items
    rng = np.random.default_rng(seed)
    return [items[i] for i in sorted(rng.choice(len(items), k, replace=False))]


@dataclass
class Reference:
    """What a run's pieces are set beside: its held-out human tunes (shapes and features)
    and the phrases of its training tunes."""

    melody: str
    human_shapes: list[Shape]
    human: list[dict[str, float]]
    phrases: PhraseIndex
    human_second: list[dict[str, float]]  # the second listener's features of the same tunes
    n_heldout: int


def run_reference(*, run: TrainingRun) -> Reference | None:
    """None for a way whose pieces have no notes (audio)."""
    melody = get_way(run.way).capabilities.melody
    if melody is None:
        return None
    train, held = run_split_texts(run=run)
    shapes = shapes_from_texts(_sample(held, MAX_PER_SIDE, seed=1), melody=melody)
    read = READERS[melody]
    return Reference(
        melody=melody,
        human_shapes=shapes,
        human=[jd.describe(s) for s in shapes],
        phrases=PhraseIndex(_notes(read, t) for t in train),
        human_second=[jd.second_describe(s) for s in shapes],
        n_heldout=len(held),
    )


def tightened(*, reference: Reference, texts: list[str]) -> dict[str, dict[str, Any]]:
    """Bars counting section ends and phrase idiom (4 to 8 notes) of the texts, beside the
    held-out human tunes' figures."""
    return {
        "human": _figures(reference.human_shapes, reference.phrases),
        "run": _figures(shapes_from_texts(texts, melody=reference.melody), reference.phrases),
    }


def run_judge(
    *,
    run: TrainingRun,
    checkpoint: Checkpoint | None = None,
    reference: Reference | None = None,
    previous_epochs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The listener's verdict on the run (see the module docstring). `checkpoint`: staff's
    choice; by default the run's chosen checkpoint. `previous_epochs`: the per-epoch rows of
    the stored report, reused where nothing they were measured from has changed."""
    reference = reference or run_reference(run=run)
    if reference is None:
        return {"available": False, "reason": "pieces of this kind have no notes to compare"}
    if checkpoint is not None or run.staff_checkpoint_id:
        chosen_by = "staff"
    else:
        chosen_by = "best validation loss"
    checkpoint = checkpoint or judged_checkpoint(run=run)
    if checkpoint is None:
        return {"available": False, "reason": "the run has no checkpoint yet"}
    texts = list(
        Piece.objects.filter(run=run, checkpoint=checkpoint)
        .order_by("pk")
        .values_list("text", flat=True)
    )
    drawn = _sample(texts, MAX_PER_SIDE, seed=2)
    machine_shapes = shapes_from_texts(drawn, melody=reference.melody)
    machine = [jd.describe(s) for s in machine_shapes]
    verdict = jd.judge(machine=machine, human=reference.human, seed=0)
    # A second verdict on features the first never reads (how the line turns, note-length
    # pairs, downbeats): a check that does not share the first one's blind spots.
    second = jd.second_judge(
        machine=[jd.second_describe(s) for s in machine_shapes], human=reference.human_second
    )
    return {
        "available": True,
        "checkpoint_epoch": checkpoint.epoch,
        "checkpoint_val_loss": checkpoint.val_loss,
        "chosen_by": chosen_by,
        "n_pieces": len(texts),
        "n_human_heldout": reference.n_heldout,
        "min_per_side": MIN_PER_SIDE,
        "verdict": {k: v for k, v in verdict.items() if k != "features"},
        "second": second,
        "features": verdict["features"],
        "form": _form_rows(reference.human, machine),
        "tightened": {
            "human": _figures(reference.human_shapes, reference.phrases),
            "run": _figures(machine_shapes, reference.phrases),
        },
        "judge_per_epoch": JUDGE_PER_EPOCH,
        "epochs": _epochs(run, reference, previous_epochs or []),
    }


def _notes(read, text: str) -> list[Note]:
    try:
        return read(text=text)
    except Exception:  # an unreadable corpus tune adds no phrases
        return []


def _epoch_key(run: TrainingRun, checkpoint: Checkpoint, reference: Reference) -> str:
    """What a per-epoch verdict is measured from: a stored row with the same key is reused
    by the next measure of the report (the draws are fixed by their seeds)."""
    config = run.config or {}
    parts = (checkpoint.pk, checkpoint.file.name, reference.n_heldout, len(reference.human),
             JUDGE_PER_EPOCH, config.get("sample_temperature"), config.get("sample_max_tokens"),
             settings.CODE_VERSION)  # fmt: skip
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def judged_epochs(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """The checkpoints judged per epoch: every one, or at most JUDGE_EPOCHS_MAX spread over
    a longer run: every stride-th from the first, and the last. The stride changes only
    when the run outgrows it, so a run measured while it trains keeps its earlier picks
    (their stored rows are reused) instead of shifting them all at each new epoch."""
    if len(checkpoints) <= JUDGE_EPOCHS_MAX:
        return checkpoints
    stride = math.ceil(len(checkpoints) / (JUDGE_EPOCHS_MAX - 1))
    picks = checkpoints[::stride]
    return picks if picks[-1] is checkpoints[-1] else [*picks, checkpoints[-1]]


def _epoch_row(run: TrainingRun, checkpoint: Checkpoint, reference: Reference) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch": checkpoint.epoch,
        "val_loss": checkpoint.val_loss,
        "key": _epoch_key(run, checkpoint, reference),
    }
    none = {"drawn": 0, "accuracy": None, "low": None, "high": None, "control": None}
    if len(reference.human) < MIN_PER_SIDE:  # no verdict whatever is drawn: draw nothing
        return {**row, **none, "n": len(reference.human)}
    # Seeds apart from the epoch samples' (run.seed * 100_000 + epoch * samples_per_epoch).
    seed = run.seed * 100_000 + 50_000 + checkpoint.epoch * JUDGE_PER_EPOCH
    try:
        texts = epoch_sample_texts(checkpoint=checkpoint, count=JUDGE_PER_EPOCH, seed=seed)
    except Exception as exc:  # its sampler file is gone or unreadable: no verdict this time
        log.warning("run %s epoch %s: nothing drawn for the listener", run.pk,
                    checkpoint.epoch, exc_info=True)  # fmt: skip
        return {**row, **none, "n": 0, "reason": f"{type(exc).__name__}: {exc}"[:300]}
    machine = [jd.describe(s) for s in shapes_from_texts(texts, melody=reference.melody)]
    verdict = jd.judge(machine=machine, human=reference.human, seed=checkpoint.epoch,
                       giveaways=EPOCH_GIVEAWAYS)  # fmt: skip
    return {**row, "drawn": len(texts), **{k: v for k, v in verdict.items() if k != "features"}}


def _epochs(
    run: TrainingRun, reference: Reference, previous: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per epoch: the listener's verdict on JUDGE_PER_EPOCH pieces drawn from that epoch's
    checkpoint as its epoch samples are drawn. A run keeps only a few epoch samples per
    epoch (4 by default: enough to hear the model learn, too few for a verdict, which needs
    MIN_PER_SIDE a side and still spans ±13 points at 20 a side), and drawing more of them in
    training would fill the run's timeline and the render queue; drawing them here, for the
    measure only, costs a few seconds per epoch on the report's worker and stores only the
    verdicts. Rows of `previous` (the stored report's) with the same key are reused."""
    # (a row that failed to draw is drawn again: what failed may be back)
    reuse = {r.get("key"): r for r in previous if r.get("key") and not r.get("reason")}
    checkpoints = list(run.checkpoints.order_by("epoch"))
    out = []
    for checkpoint in judged_epochs(checkpoints):
        key = _epoch_key(run, checkpoint, reference)
        out.append(reuse.get(key) or _epoch_row(run, checkpoint, reference))
    return out
