"""Builders for the evaluation tests: ABC written from note lists, pieces made by hand."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

from generator.models import GenerationJob, Piece, TrainingRun
from musiclib.metrics.notes import Note

_NAMES = ("=C", "^C", "=D", "^D", "=E", "=F", "^F", "=G", "^G", "=A", "^A", "=B")
_seq = itertools.count(1)


def abc_note(pitch: int, quarters: float) -> str:
    """One ABC note with an explicit accidental (so no key or bar accidental applies) and a
    length in units of L:1/48 (a twelfth of a quarter note)."""
    acc, letter = _NAMES[pitch % 12][0], _NAMES[pitch % 12][1]
    octave = pitch // 12 - 1
    if octave >= 5:
        text = letter.lower() + "'" * (octave - 5)
    else:
        text = letter + "," * (4 - octave)
    length = Fraction(quarters * 12).limit_denominator(64)
    num = str(length) if length.denominator != 1 else str(length.numerator)
    return f"{acc}{text}{'' if num == '1' else num}"


def notes_to_abc(notes: list[Note], *, title: str = "Test piece") -> str:
    """ABC whose melody reads back (notes_from_abc) as exactly these pitches and lengths."""
    body = [abc_note(n.pitch, n.duration) for n in notes]
    lines = [" ".join(body[i : i + 12]) for i in range(0, len(body), 12)]
    return "\n".join(["X:1", f"T:{title}", "M:4/4", "L:1/48", "K:C", *lines]) + "\n"


def transposed(notes: list[Note], semitones: int) -> list[Note]:
    return [Note(n.pitch + semitones, n.duration, n.offset) for n in notes]


def junk(rng: np.random.Generator, k: int, start: int = 60) -> list[Note]:
    """New material: leaps of 13-20 semitones and lengths folk tunes do not use together, so
    a copied passage between junk cannot be extended into it."""
    leaps = rng.integers(13, 21, k)
    pitches = np.where(np.arange(k) % 2 == 0, start, start + leaps)  # up and down again
    lengths = rng.choice([0.25, 0.75, 1.25], k)
    return [Note(int(p), float(d), 0.0) for p, d in zip(pitches, lengths, strict=True)]


def make_piece(
    run: TrainingRun,
    *,
    text: str,
    title: str = "",
    epoch_sample: bool = False,
    checkpoint=None,
) -> Piece:
    """A piece of `run` with the given text, in a job of its own on the run's last checkpoint
    (or `checkpoint`), marked valid."""
    checkpoint = checkpoint or run.last_checkpoint
    job = GenerationJob.objects.create(
        checkpoint=checkpoint, seed=next(_seq), is_epoch_sample=epoch_sample, status="succeeded"
    )
    return Piece.objects.create(
        job=job,
        checkpoint=checkpoint,
        run=run,
        way=run.way,
        seed=job.seed,
        title=title or f"Piece {job.seed}",
        text=text,
        parses=True,
        plays=True,
        bar_accuracy=1.0,
    )
