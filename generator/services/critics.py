"""A checkpoint's critic (`musiclib.metrics.critic`): the ear that keeps, among a piece's
takes, the one most like the corpus's tunes.

Fitted once per checkpoint on the training worker when its run ends (`runs`, after the
run is marked finished: no visitor waits for it), on pieces the checkpoint draws as the
generate page's defaults would (one take each, `pieces.pieces_draw`) against the run's
training tunes, and stored beside the checkpoint as a small JSON
document, so a sampling machine that shares only the object store reads it. Never written
twice: a piece made with it is made again from its seed with the same critic.
"""

from __future__ import annotations

from musiclib.metrics.critic import Critic, critic_fit, features_of
from musiclib.ways import get_way

from ..models import Checkpoint
from ..selectors import run_split_texts
from .checkpoint_files import CheckpointDocument

_CRITICS = CheckpointDocument(".critic.json", load=Critic.from_dict, dump=Critic.to_dict)


def critic_name(checkpoint: Checkpoint) -> str:
    """Where a checkpoint's critic is stored: beside its Keras file."""
    return _CRITICS.name(checkpoint)


def checkpoint_critic(checkpoint: Checkpoint) -> Critic | None:
    """The checkpoint's critic, or None where none was fitted (a run that ended before
    critics, `critic_pieces` 0, a way without melodies, too few pieces)."""
    return _CRITICS.get(checkpoint)


def checkpoint_critic_fit(*, checkpoint: Checkpoint, machine: list[str]) -> Critic | None:
    """Fit the checkpoint's critic on `machine`, pieces it drew (`pieces.pieces_draw`),
    against its run's training tunes, and store it. None where a side has too few pieces.
    For a checkpoint without one, of a way whose pieces are melodies: `runs.run_critic_fit`
    checks both before it draws the pieces (so a critic is never written twice)."""
    run = checkpoint.run
    melody = get_way(run.way).capabilities.melody
    train, _ = run_split_texts(run=run)
    critic = critic_fit(
        human=features_of(train, melody=melody), machine=features_of(machine, melody=melody)
    )
    if critic is not None:
        _CRITICS.put(checkpoint, critic)
    return critic
