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
from .services.moves import checkpoint_moves

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


# Steps of the scale a moved bar goes, as the interval a musician names.
_INTERVALS = {1: "2nd", 2: "3rd", 3: "4th", 4: "5th", 5: "6th", 6: "7th", 7: "octave"}


def form_view(text: str, caps: Capabilities) -> dict | None:
    """What a piece's or tune's page shows of its form (`metrics.form.form_map`): its parts,
    each bar labelled by what it brings back, and how many bars come back as written or
    moved. None for a way without a melody, or a text the note reader cannot read."""
    from musiclib.metrics.form import form_map, shape_from_text

    if not caps.has_melody:
        return None
    try:
        parts = form_map(shape_from_text(text=text, melody=caps.melody))
    except Exception:  # (a piece's text need not read: the validity panel says why)
        return None
    cells = [cell for part in parts for cell in part]
    if len(cells) < 2:
        return None

    def shown(cell) -> dict:
        move = ""
        if cell.source is None:
            about = f"Bar {cell.number}: new" if cell.label != "–" else f"Bar {cell.number}: rests"
        elif cell.steps:
            name = _INTERVALS[abs(cell.steps)]
            move = f"{'↑' if cell.steps > 0 else '↓'} {name}"
            article = "an" if name[0] == "o" else "a"
            way = "higher" if cell.steps > 0 else "lower"
            about = f"Bar {cell.number}: bar {cell.source} {article} {name} {way}"
        else:
            about = f"Bar {cell.number}: bar {cell.source} again"
        kind = "new" if cell.source is None else "moved" if cell.steps else "again"
        return {"number": cell.number, "label": cell.label, "move": move, "about": about,
                "kind": kind}  # fmt: skip

    return {
        "parts": [[shown(cell) for cell in part] for part in parts],
        "bars": len(cells),
        "again": sum(1 for c in cells if c.source is not None and not c.steps),
        "moved": sum(1 for c in cells if c.steps),
    }


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


def job_moves_text(job: GenerationJob) -> str:
    """How a job's notes were weighed, for its page and its pieces' ("" where they were not):
    leaps and turns, and the corpus's phrases too where its checkpoint's fitted moves hold
    phrase weights (a model whose notes are read in semitones; fitted once, so the same
    weights the job used)."""
    if not job.moves:
        return ""
    fitted = checkpoint_moves(job.checkpoint)
    if fitted is not None and fitted.phi is not None:
        return "leaps, turns and phrases as in the corpus"
    return "leaps and turns as in the corpus"
