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

import json
from pathlib import PurePosixPath

from common.storage import file_exists, file_read, file_write
from musiclib.metrics.critic import Critic, critic_fit, features_of
from musiclib.ways import get_way

from ..models import Checkpoint
from ..selectors import run_split_texts

_found: dict[str, Critic] = {}  # critics read in this process (never rewritten)


def critic_name(checkpoint: Checkpoint) -> str:
    """Where a checkpoint's critic is stored: beside its Keras file."""
    return str(PurePosixPath(checkpoint.file.name).with_suffix(".critic.json"))


def checkpoint_critic(checkpoint: Checkpoint) -> Critic | None:
    """The checkpoint's critic, or None where none was fitted (a run that ended before
    critics, `critic_pieces` 0, a way without melodies, too few pieces)."""
    name = critic_name(checkpoint)
    if name not in _found:
        if not file_exists(name):
            return None  # (asked again next time: the run may fit it later)
        _found[name] = Critic.from_dict(json.loads(file_read(name)))
    return _found[name]


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
        file_write(critic_name(checkpoint), json.dumps(critic.to_dict()).encode())
        _found[critic_name(checkpoint)] = critic
    return critic
