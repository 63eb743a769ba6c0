"""What pages and the API show of a piece or tune, read from its way's capabilities
(`musiclib.ways.base.Capabilities`): which files it offers, how its text is named, whether
validity means parsing and bars. Nothing here names a way.
"""

from __future__ import annotations

from musiclib.ways import get_way
from musiclib.ways.base import Capabilities

from .models import GenerationJob, JobStatus, Piece, Tune
from .selectors import QueuePlace
from .services.files import piece_has_musicxml

NO_CAPABILITIES = Capabilities()


def capabilities(way: str) -> Capabilities:
    """The capabilities of the way named `way`; none for a way no longer registered (its
    rows still show, with nothing the way would have to make)."""
    try:
        return get_way(way).capabilities
    except ValueError:
        return NO_CAPABILITIES


def piece_downloads(piece: Piece) -> dict[str, bool]:
    """Every format the piece's way offers (in order), each with whether this piece has it:
    a MIDI file once written, a score unless it does not parse, audio once rendered or
    renderable from its MIDI, a recording once decoded."""
    has = {
        "abc": True,
        "text": True,
        "midi": bool(piece.midi),
        "musicxml": piece_has_musicxml(piece),
        "audio": bool(piece.audio or piece.midi),
        "wav": bool(piece.audio),
        "ogg": bool(piece.audio),
    }
    return {fmt: has[fmt] for fmt in capabilities(piece.way).piece_downloads}


def tune_downloads(tune: Tune) -> tuple[str, ...]:
    """The formats a corpus tune offers: all its way's, made on demand."""
    return capabilities(tune.corpus.way).tune_downloads


def text_name(caps: Capabilities) -> str:
    """What a piece's or tune's own text is, for a heading: ABC, notes or tokens."""
    if caps.text_format == "abc":
        return "ABC notation"
    return "The notes as text" if caps.has_score else "The tokens as text"


def job_waiting_text(job: GenerationJob, place: QueuePlace | None) -> str:
    """What a job in progress is doing, in a sentence for its page and the API: its place in
    the queue while it waits, "writing" only once a sampler has started on it."""
    if job.status == JobStatus.RUNNING:
        return "The model is writing. The tunes appear here by themselves; no need to reload."
    if job.status != JobStatus.QUEUED:
        return ""
    if place is None or place.ahead == 0:
        return "Waiting: yours is next in line."
    ahead = place.ahead
    return f"Waiting: {ahead} generation{'s' if ahead != 1 else ''} ahead of yours."
