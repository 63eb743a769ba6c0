"""A checkpoint's moves (`musiclib.ml.line`): the weights that make its pieces step, leap
and turn as often as its run's training pieces do.

Fitted once per checkpoint on the training worker when its run ends (`runs`, after the
critic: no visitor waits for it), in rounds: the checkpoint draws pieces as the generate
page's first values would (one take each, `pieces.pieces_draw`) with the weights so far,
and the weights move by how far each kind of move is from the training pieces' share. The
weights and what they did are stored beside the checkpoint as a small JSON document, so a
sampling machine that shares only the object store reads them. Never written twice: a
piece made with them is made again from its seed with the same weights.
"""

from __future__ import annotations

from musiclib.ml.line import LineFit

from ..models import Checkpoint
from .checkpoint_files import CheckpointDocument

_MOVES = CheckpointDocument(".moves.json", load=LineFit.from_dict, dump=LineFit.to_dict)


def moves_name(checkpoint: Checkpoint) -> str:
    """Where a checkpoint's moves are stored: beside its Keras file."""
    return _MOVES.name(checkpoint)


def checkpoint_moves(checkpoint: Checkpoint) -> LineFit | None:
    """The checkpoint's fitted moves, or None where none were fitted (a run that ended
    before them, `moves_pieces` 0, a way without the option)."""
    return _MOVES.get(checkpoint)


def moves_store(checkpoint: Checkpoint, fit: LineFit) -> None:
    """Store a checkpoint's fitted moves (once: `runs.run_moves_fit` checks first)."""
    _MOVES.put(checkpoint, fit)
