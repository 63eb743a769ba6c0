"""The piece's memory: what followed the same symbols earlier in the piece.

People's tunes restate themselves: a bar comes back, a figure is played again, the second
half of a part echoes the first. An LSTM of this size learns the corpus's style but hardly
this (Nottingham `full`: 5 % of its bars repeat an earlier bar, against 29 % in held-out
tunes). The memory is a second, very simple model of the next symbol, mixed into the
LSTM's: find the earlier positions of the piece whose preceding symbols match the most
recent ones for the longest stretch, and offer the symbols that followed them. How much to
trust it depends on how long that match is (a match of one symbol says little; a match of
twenty, that a bar is being played again), so the weight is fitted per match length on
held-out pieces of the run's corpus, by likelihood: the mixture is a better model of those
pieces, in nats per symbol, than the LSTM alone (a continuous cache, as in Grave et al.,
"Improving neural language models with a continuous cache", 2017, over symbols rather
than hidden states).

The sampler keeps the same bookkeeping (`fastloop._memory_push`, `_memory_q`), so what is
fitted here is exactly what is sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fastloop
from .sampler import probabilities

STATE_KEY = "way_memory"  # the weights among a checkpoint's way arrays (`sampler.save_net`)
CAP = 64  # longest match length told apart, in symbols; longer matches count as CAP
# Match lengths fitted together (first length of each group; the last runs to CAP): one
# weight per group keeps the estimate steady where long matches are few.
GROUPS = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49)
GRID = np.linspace(0.0, 0.98, 99)  # the weights tried for each group
MIN_SYMBOLS = 500  # fewer held-out symbols than this fit nothing (no memory)


@dataclass(frozen=True)
class MemoryFit:
    weights: np.ndarray  # float32 [CAP + 1]: the memory's weight for each match length
    loss: float  # nats per symbol of the LSTM alone on the held-out pieces
    loss_memory: float  # with the memory, each half's weights fitted on the other half
    symbols: int  # symbols the figures are over


def memory_fit(net, pieces: list[np.ndarray], *, end_id: int) -> MemoryFit | None:
    """Fit the memory's weights for `net` on held-out `pieces` (id arrays from START, as
    `Way.prepare` makes them). None when they hold fewer than MIN_SYMBOLS symbols.

    The mixture is the sampler's: the end keeps the LSTM's probability, and the memory
    shares the rest, (1 - w) p(x) + w (1 - p(end)) q(x) for every other symbol x."""
    pieces = [np.asarray(p, dtype=np.int64) for p in pieces if len(p) > 1]
    if sum(len(p) - 1 for p in pieces) < MIN_SYMBOLS:
        return None
    p_lstm = probabilities(net, pieces, end_id=end_id)
    traces = [_trace(p, end_id=end_id, p_end=pe) for p, (_, pe) in zip(pieces, p_lstm, strict=True)]
    p_lstm = [pt for pt, _ in p_lstm]
    halves = [list(range(0, len(pieces), 2)), list(range(1, len(pieces), 2))]
    nll_memory = 0.0
    for fit_on, test_on in (halves, halves[::-1]):
        w = _fit([p_lstm[i] for i in fit_on], [traces[i] for i in fit_on])
        nll_memory += _nll([p_lstm[i] for i in test_on], [traces[i] for i in test_on], w)
    weights = _fit(p_lstm, traces)
    symbols = sum(len(p) for p in p_lstm)
    nll = -sum(float(np.log(p).sum()) for p in p_lstm)
    return MemoryFit(
        weights=weights,
        loss=nll / symbols,
        loss_memory=nll_memory / symbols,
        symbols=symbols,
    )


def _trace(piece: np.ndarray, *, end_id: int, p_end: np.ndarray):
    """For each symbol after the first: the longest earlier match before it (0: none) and
    what the memory adds to that symbol at weight 1, (1 - p(end)) q(x) (the sampler's own
    bookkeeping; 0 for the end itself)."""
    n = len(piece)
    best = np.zeros(n - 1, dtype=np.int64)
    q_true = np.zeros(n - 1, dtype=np.float64)
    fastloop.memory_trace(piece, CAP, end_id, best, q_true)
    # The end is not mixed: its probability is the LSTM's whatever the weight (group -1).
    best[piece[1:] == end_id] = 0
    return best, q_true * (1.0 - p_end)


def _group_of(best: np.ndarray) -> np.ndarray:
    """Each match length's group (-1 for no match)."""
    return np.searchsorted(np.asarray(GROUPS), best, side="right") - 1


def _fit(p_lstm, traces) -> np.ndarray:
    p = np.concatenate(p_lstm)
    best = np.concatenate([t[0] for t in traces])
    q = np.concatenate([t[1] for t in traces])
    group = _group_of(best)
    weights = np.zeros(CAP + 1, dtype=np.float32)
    for g, first in enumerate(GROUPS):
        last = GROUPS[g + 1] - 1 if g + 1 < len(GROUPS) else CAP
        here = group == g
        if not here.any():
            continue
        # Log-likelihood of the group's symbols for every weight on the grid at once.
        ll = np.log((1 - GRID)[:, None] * p[here][None, :] + GRID[:, None] * q[here][None, :])
        weights[first : last + 1] = GRID[int(np.argmax(ll.sum(axis=1)))]
    return weights


def _nll(p_lstm, traces, weights: np.ndarray) -> float:
    total = 0.0
    for p, (best, q) in zip(p_lstm, traces, strict=True):
        lam = weights[best].astype(np.float64)
        total -= float(np.log((1 - lam) * p + lam * q).sum())
    return total
