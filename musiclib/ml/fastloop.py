"""The compiled sampling loop (numba): every way's LSTM step, the draw and the grammar masks.

This module is being written; its first part is the interface the grammar compiler fills.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GrammarTables:
    """A grammar compiled into a finite automaton over the vocabulary.

    Each sampled row carries its state id; the loop masks logits with `allowed[state]`
    (before temperature, top-k and top-p) and moves to `next_state[state, symbol]`."""

    allowed: np.ndarray  # bool [n_states, vocab]: symbols allowed in each parser state
    next_state: np.ndarray  # int32 [n_states, vocab]: state after the symbol; -1 where not allowed
    start: int  # the state before the first symbol of a tune (after any prime)
