"""The compiled sampling loop (numba): every way's LSTM step, the draw and the grammar masks.

Every way samples here (ABC characters and tokens, MIDI events, audio codewords): the same
LSTM stack as `sampler.step`, one token per row per step with (h, c) carried, and the same
draw as `sampler._choose` (temperature, then top-k, then top-p, then one inverse-CDF draw
with the row's own uniform number). The arithmetic is the numpy step's, in the same float32
operations and order, so a seed gives the same piece as the numpy sampler (`sampler.
sample_numpy`, kept as the reference the tests and the benchmark compare against); only
tanh is a rational approximation (a few float32 ulps from numpy's), which moves a draw only
when a uniform number falls within that distance of a boundary of the cumulative sum.

Why compiled: at batch size 1 the numpy step spent more time dispatching its twenty small
array operations (and Python per row for restarts and masks) than reading the weights.
Here a whole piece is one call: for a few rows the matrix-vector products are loops that
read each weight once per step (rows in the inner loop), for many rows BLAS's sgemm. With
SAMPLE_THREADS above 1 (`sample_threads`) the LSTM products are split by output columns
among that many threads (and a large batch's gates by rows): the same sums, so the same
pieces, in less than half the time on two free cores.

Grammar masks: a grammar compiled into `GrammarTables` is looked up per row per step, no
Python. A grammar that is still a Python callable (a `sampler.Constraint`) runs through
`sample_constrained`: the same compiled step and draw, with Python building the masks
between steps.

Returns (`ml.returns`): with a plan per row, `_loop` and `sample_lazy_tables` read each
row's bars as it writes them (`_returns_track`) and feed an earlier bar's symbols again
where the plan says (`_returns_pick`), still under the grammar's masks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange, types
from numba.typed import List

from musiclib.config import sample_threads_asked
from musiclib.ml import abc_machine as am
from musiclib.ml.line import _lean, _track, line_rows


@dataclass(frozen=True)
class GrammarTables:
    """A grammar compiled into a finite automaton over the vocabulary.

    Each sampled row carries its state id; the loop masks logits with `allowed[state]`
    (before temperature, top-k and top-p) and moves to `next_state[state, symbol]`.
    `start` is the state sampling begins in, after the prime (the prime is not walked: a
    grammar that depends on the prime gives the state it leaves). A way whose END restarts
    a phrase (audio) moves on END as on any symbol, to the state after START. A state
    that allows nothing is
    not masked, and a row that reaches -1 is not masked from then on (as a Python
    constraint that returns None)."""

    allowed: np.ndarray  # bool [n_states, vocab]: symbols allowed in each parser state
    next_state: np.ndarray  # int32 [n_states, vocab]: state after the symbol; -1 where not allowed
    start: int  # the state before the first symbol of a tune (after any prime)

    def check(self, vocab_size: int) -> None:
        """Raise ValueError when the tables do not fit a vocabulary of `vocab_size`."""
        a, n = np.asarray(self.allowed), np.asarray(self.next_state)
        if a.ndim != 2 or a.shape != n.shape or a.shape[1] != vocab_size:
            raise ValueError(
                f"grammar tables of shape {a.shape} and {n.shape} do not fit a vocabulary "
                f"of {vocab_size}"
            )
        if not 0 <= int(self.start) < a.shape[0]:
            raise ValueError(f"grammar start state {self.start} is not one of {a.shape[0]}")
        if n.size and (n.min() < -1 or n.max() >= a.shape[0]):
            raise ValueError("grammar next_state holds a state that does not exist")


_F = np.float32
# Rows at or above which the matrix products go to BLAS's sgemm (which reads the weights
# once for all rows in cache blocks); below it, plain loops (no call overhead per step).
GEMM_ROWS = 8


@njit(cache=True, error_model="numpy", inline="always")
def _tanh(x):
    """tanh for float32 as Eigen computes it: a 13/6 rational approximation, a few ulps from
    the exact value, that LLVM vectorises (libm's scalar tanhf does not)."""
    x = min(max(x, _F(-7.90531110763549805)), _F(7.90531110763549805))
    x2 = x * x
    p = x2 * _F(-2.76076847742355e-16) + _F(2.00018790482477e-13)
    p = x2 * p + _F(-8.60467152213735e-11)
    p = x2 * p + _F(5.12229709037114e-08)
    p = x2 * p + _F(1.48572235717979e-05)
    p = x2 * p + _F(6.37261928875436e-04)
    p = x2 * p + _F(4.89352455891786e-03)
    q = x2 * _F(1.19825839466702e-06) + _F(1.18534705686654e-04)
    q = x2 * q + _F(2.26843463243900e-03)
    q = x2 * q + _F(4.89352518554385e-03)
    return x * p / q


@njit(cache=True, error_model="numpy")
def _matmul_rows(x, w, out, active):
    """out[r] = x[r] @ w for the active rows, summing over the input in order (vectorised
    over the output columns). Each weight row is used by every active row while it is in
    the first-level cache, so the weights are read from memory once per step."""
    _matmul_cols(x, w, out, active, 0)


@njit(cache=True, error_model="numpy")
def _matmul_cols(x, w, out, active, lo):
    """out[r, lo : lo + n] = x[r] @ w for the active rows (w: n_in × n). Four inputs at a
    time: each output is still summed over the inputs in order, one rounding per term, so
    the sums are the one-input-at-a-time loop's to the bit; only the output row is loaded
    and stored a quarter as often."""
    n_in, n = w.shape
    rows = np.flatnonzero(active)
    for r in rows:
        o = out[r, lo : lo + n]
        for j in range(n):
            o[j] = _F(0.0)
    i = 0
    while i + 4 <= n_in:
        w0, w1, w2, w3 = w[i], w[i + 1], w[i + 2], w[i + 3]
        for r in rows:
            x0, x1, x2, x3 = x[r, i], x[r, i + 1], x[r, i + 2], x[r, i + 3]
            o = out[r, lo : lo + n]
            for j in range(n):
                o[j] = (((o[j] + x0 * w0[j]) + x1 * w1[j]) + x2 * w2[j]) + x3 * w3[j]
        i += 4
    while i < n_in:
        wi = w[i]
        for r in rows:
            xi = x[r, i]
            o = out[r, lo : lo + n]
            for j in range(n):
                o[j] += xi * wi[j]
        i += 1


@njit(cache=True, error_model="numpy", parallel=True)
def _gemm_split(x, parts, out):
    """out = x @ w by BLAS, the output columns split among threads as in `_matmul_split`
    (each thread's product goes to a buffer of its own, then to its columns)."""
    rows = x.shape[0]
    n = parts.shape[2]
    for p in prange(parts.shape[0]):
        buf = np.empty((rows, n), dtype=np.float32)
        np.dot(x, parts[p], buf)
        out[:, p * n : (p + 1) * n] = buf


@njit(cache=True, error_model="numpy", parallel=True)
def _matmul_split(x, parts, out, active):
    """`_matmul_rows` with the output columns split among threads: `parts` holds the
    weights as parts × n_in × n, part p the columns p·n to (p + 1)·n, each contiguous. Why:
    one core's share of a `full` model's LSTM weights (1.6 of 3.1 MB) stays in its own
    second-level cache from step to step, where the whole does not fit one core's, so two
    threads run a step about 2.3× as fast as one (not 2×). The same sums to the bit."""
    n = parts.shape[2]
    for p in prange(parts.shape[0]):
        _matmul_cols(x, parts[p], out, active, p * n)


@njit(cache=True, error_model="numpy")
def _look_back(lb, lbs, h, H, tokens, active, gemm):
    """The look back (`ml.model.LookBack`) for every active row: this step's key (from the
    last LSTM's previous output) and value (the symbol fed and this output) join the row's
    cache, and attention over the cache writes the context's projection into h[r, H:].
    `lb`: (wq and the value's wv side by side, wk, the symbols' value rows, wo, bo,
    [heads, width of a head]); `lbs`: the per-row cache and buffers (`_look_back_state`).
    The projections are matrix products over the rows (BLAS from `gemm` rows), the cache
    is kept head-major so each head's scores and context are BLAS products too."""
    wqv, wk, vtable, wo, bo, dims = lb
    keys, values, pos, hprev, cur, qv, kk, ctx, o = lbs
    heads, dim = dims[0], dims[1]
    width = heads * dim
    scale = _F(1.0 / np.sqrt(dim))
    for r in range(h.shape[0]):
        if active[r]:
            cur[r, :] = h[r, :H]
    if gemm:
        np.dot(cur, wqv, qv)
        np.dot(hprev, wk, kk)
    else:
        _matmul_rows(cur, wqv, qv, active)
        _matmul_rows(hprev, wk, kk, active)
    q = np.empty(dim, dtype=np.float32)
    for r in range(h.shape[0]):
        if not active[r]:
            continue
        p = pos[r]
        if p >= keys.shape[2]:
            raise ValueError("the look back's cache is full")
        v = vtable[tokens[r]]
        for g in range(heads):
            lo = g * dim
            for j in range(dim):
                keys[r, g, p, j] = kk[r, lo + j]
                values[r, g, p, j] = qv[r, width + lo + j] + v[lo + j]
                q[j] = qv[r, lo + j] * scale
            scores = np.dot(keys[r, g, : p + 1], q)
            top = scores.max()
            total = _F(0.0)
            for t in range(p + 1):
                e = np.exp(scores[t] - top)
                scores[t] = e
                total += e
            scores /= total
            ctx[r, lo : lo + dim] = np.dot(scores, values[r, g, : p + 1])
        pos[r] = p + 1
        hprev[r, :] = cur[r, :]
    if gemm:
        np.dot(ctx, wo, o)
    else:
        _matmul_rows(ctx, wo, o, active)
    for r in range(h.shape[0]):
        if active[r]:
            for i in range(H):
                h[r, H + i] = o[r, i] + bo[i]


@njit(cache=True, error_model="numpy")
def _restart_row(xh, cs, lbs, r):
    """Row r starts again (a phrase restart), as a new piece does: every layer's state at
    zero, nothing in the look back's cache, no previous output."""
    for k in range(len(xh)):
        xh[k][r, :] = _F(0.0)
        cs[k][r, :] = _F(0.0)
    if lbs[2].shape[0] > 0:
        lbs[2][r] = 0
        lbs[3][r, :] = _F(0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _gates(z, c, x, nxt, table, bias, tokens, r, k, H, more):
    """Row r's gates from its products z[r] (plus the token's table row in the first
    layer, the bias after), its new cell c[r] and output, written into x[r]'s recurrent
    part and, with `more` layers above, the next layer's input."""
    half = _F(0.5)
    zr = z[r]
    a = table[tokens[r]] if k == 0 else bias
    for j in range(4 * H):
        zr[j] = _tanh(zr[j] + a[j])
    for j in range(3 * H):
        zr[j] = zr[j] * half + half
    xr = x[r]
    off = x.shape[1] - H
    for j in range(H):
        cn = c[r, j] * zr[H + j]
        cn = cn + zr[j] * zr[3 * H + j]
        c[r, j] = cn
        xr[off + j] = _tanh(cn) * zr[2 * H + j]
    if more:
        nr = nxt[r]
        for j in range(H):
            nr[j] = xr[off + j]


@njit(cache=True, error_model="numpy", parallel=True)
def _gates_split(z, c, x, nxt, table, bias, tokens, active, k, H, more):
    """`_gates` for every active row, the rows shared among threads. (A throw-away timing
    of a `full` model's batch of 64 on two threads: 0.53 s with the products split and the
    gates on one thread, 0.43 s with the gates shared too.)"""
    for r in prange(tokens.shape[0]):
        if active[r]:
            _gates(z, c, x, nxt, table, bias, tokens, r, k, H, more)


@njit(cache=True, error_model="numpy")
def _step(
    table,
    weights,
    biases,
    dense_w,
    dense_b,
    dense_relu,
    units,
    lb,
    split,
    xh,
    cs,
    zs,
    hs,
    lbs,
    tokens,
    active,
    gemm_rows,
):
    """One LSTM step for every active row (see `sampler.step`: gate columns i, f, o, g, the
    first three halved so that sigmoid(x) = 0.5 * tanh(x / 2) + 0.5). Returns the logits."""
    rows = tokens.shape[0]
    n_layers = units.shape[0]
    # BLAS for the rows still writing, when there are enough of them: the rows that ended
    # (or whose take stopped) are left out of the products, not computed and thrown away.
    live = 0
    for r in range(rows):
        if active[r]:
            live += 1
    gemm = 0 < gemm_rows <= live
    for k in range(n_layers):
        H = units[k]
        x = xh[k]
        z = zs[k]
        if gemm and len(split):
            _gemm_split(x, split[k], z)
        elif gemm:
            np.dot(x, weights[k], z)
        elif len(split):
            _matmul_split(x, split[k], z, active)
        else:
            _matmul_rows(x, weights[k], z, active)
        nxt = xh[k + 1] if k + 1 < n_layers else x
        if gemm and len(split):
            _gates_split(z, cs[k], x, nxt, table, biases[k], tokens, active, k, H, k + 1 < n_layers)
        else:
            for r in range(rows):
                if active[r]:
                    _gates(z, cs[k], x, nxt, table, biases[k], tokens, r, k, H, k + 1 < n_layers)
    last = xh[n_layers - 1]
    H = units[n_layers - 1]
    h = hs[0]
    for r in range(rows):
        if active[r]:
            h[r, :H] = last[r, last.shape[1] - H :]
    if lb[5][0] > 0:
        _look_back(lb, lbs, h, H, tokens, active, gemm)
    for d in range(len(dense_w)):
        y = hs[d + 1]
        if gemm:
            np.dot(h, dense_w[d], y)
        else:
            _matmul_rows(h, dense_w[d], y, active)
        b = dense_b[d]
        for r in range(rows):
            if not active[r]:
                continue
            for j in range(y.shape[1]):
                v = y[r, j] + b[j]
                if dense_relu[d] and v < 0:
                    v = _F(0.0)
                y[r, j] = v
        h = y
    return h


@njit(cache=True, error_model="numpy")
def _choose_row(logits, mask, temperature, top_k, top_p, u, p, s):
    """One row's draw, as `sampler._choose`: logits / temperature (float32); masked symbols
    and those below the k-th largest get no weight; top-p keeps the most likely symbols
    whose weights first reach p of the total (ties with the last one kept); the token is
    the first whose cumulative weight is not below u times the total."""
    return _draw_row(logits, mask, temperature, top_k, top_p, u, p, s, s, _F(0.0), -1)


@njit(cache=True, error_model="numpy")
def _draw_row(logits, mask, temperature, top_k, top_p, u, p, s, q, lam, end_id):
    """`_choose_row` with the piece's memory (`ml.memory`): when `lam` > 0, the weights
    after temperature and top-k, as a distribution, are mixed with `q` (the memory's
    distribution over the symbols that followed the longest earlier match, not
    normalised) restricted to what the mask allows, within the share the LSTM leaves to
    symbols other than `end_id`: (1 - lam) p + lam (1 - p_end) q. Top-p and the draw then
    run on the mixture."""
    V = logits.shape[0]
    for j in range(V):
        v = logits[j] / temperature
        if mask is not None and not mask[j]:
            v = -np.inf
        p[j] = v
    if 0 < top_k < V:
        s[:] = p
        s.sort()
        kth = s[V - top_k]
        for j in range(V):
            if p[j] < kth:
                p[j] = -np.inf
    m = p[0]
    for j in range(1, V):
        if p[j] > m:
            m = p[j]
    for j in range(V):
        p[j] = np.exp(p[j] - m)
    if lam > 0.0:
        _memory_mix(p, mask, q, lam, end_id)
    if top_p < 1.0:
        s[:] = p
        s.sort()
        total = _F(0.0)
        for j in range(V - 1, -1, -1):
            total += s[j]
        goal = _F(top_p) * total
        cum = _F(0.0)
        keep = V - 1  # index into the descending order of the last weight kept
        for n in range(V):
            cum += s[V - 1 - n]
            if not cum < goal:
                keep = n
                break
        thr = s[V - 1 - keep]
        for j in range(V):
            if p[j] < thr:
                p[j] = _F(0.0)
    total = _F(0.0)
    for j in range(V):
        total += p[j]
        p[j] = total
    target = u * np.float64(total)
    for j in range(V - 1):
        if not np.float64(p[j]) < target:
            return j
    return V - 1


# --- memory: the piece's own earlier symbols (`ml.memory`) -------------------------------
# Each row keeps its symbols so far (`mseq`, `mlen`) and, for every earlier position j, how
# many symbols before j match the symbols just written (`mmatch`, updated in place by
# `_memory_push`, capped at the weights' last index). `_Memory` allocates them for a batch.


@njit(cache=True, error_model="numpy")
def _memory_push(mseq, mmatch, mlen, r, v, cap):
    """Row r writes symbol v: append it and update every earlier position's match length.
    Position j (whose symbol followed the context mseq[:j]) matches the new context by one
    more symbol when the symbol before j is v, else by none (descending, so each j reads
    its neighbour's old value)."""
    n = mlen[r]
    for j in range(n, 0, -1):
        if mseq[r, j - 1] == v:
            m = mmatch[r, j - 1] + 1
            mmatch[r, j] = m if m < cap else cap
        else:
            mmatch[r, j] = 0
    mmatch[r, 0] = 0
    mseq[r, n] = v
    mlen[r] = n + 1


@njit(cache=True, error_model="numpy")
def _memory_q(mseq, mmatch, mlen, r, weights, q):
    """Row r's memory before its next symbol: `q` receives, per symbol, how many earlier
    positions with the longest match (at least one symbol) were followed by it; returns
    that match's weight (0: no earlier position matches, q untouched)."""
    n = mlen[r]
    best = 0
    for j in range(1, n):
        if mmatch[r, j] > best:
            best = mmatch[r, j]
    if best == 0:
        return _F(0.0)
    q[:] = 0.0
    for j in range(1, n):
        if mmatch[r, j] == best:
            q[mseq[r, j]] += 1.0
    return weights[best]


@njit(cache=True, error_model="numpy")
def _memory_mix(p, mask, q, lam, end_id):
    """p (weights, not normalised) ← (1 - lam) p + lam (1 - p_end) q, p as a distribution
    and q normalised over the symbols the mask allows other than `end_id`; unchanged when
    the memory offers none of them. The end keeps the LSTM's own probability: the memory
    has never seen the piece end, and would otherwise hold it off."""
    V = p.shape[0]
    tp = _F(0.0)
    tq = _F(0.0)
    for j in range(V):
        tp += p[j]
        if j != end_id and (mask is None or mask[j]):
            tq += q[j]
    if not (tq > 0.0 and tp > 0.0):
        return
    rest = tp - (p[end_id] if end_id >= 0 else _F(0.0))
    a = (_F(1.0) - lam) / tp
    b = lam * (rest / tp) / tq
    for j in range(V):
        if j == end_id:
            p[j] = p[j] / tp
        elif mask is None or mask[j]:
            p[j] = a * p[j] + b * q[j]
        else:
            p[j] = a * p[j]


@njit(cache=True, error_model="numpy")
def _memory_start(mseq, mmatch, mlen, prime, cap):
    for r in range(mlen.shape[0]):
        mlen[r] = 0
        for i in range(prime.shape[0]):
            _memory_push(mseq, mmatch, mlen, r, prime[i], cap)


@njit(cache=True, error_model="numpy")
def _memory_draw(
    logits, mask, temperature, top_k, top_p, u, p, s, q, mem, mseq, mmatch, mlen, r, end_id
):
    """A row's draw with its memory when `mem` (the weights by match length) is not empty."""
    lam = _F(0.0)
    if mem.shape[0] > 0:
        lam = _memory_q(mseq, mmatch, mlen, r, mem, q)
    return _draw_row(logits, mask, temperature, top_k, top_p, u, p, s, q, lam, end_id)


# --- returns: bars that restate earlier bars (`ml.returns`) ------------------------------
# Symbol flags (int8 per vocabulary id), given by the way: see `ml.returns`.
R_BAR, R_JOIN, R_TRAIL, R_KEY, R_NEWLINE = 1, 2, 4, 8, 16
# Each row's bookkeeping, one int64 row of `rs` per sampled row.
_BODY, _LINE_POS, _KEY_LINE, _IN_LINE, _N_BARS, _CUR_START, _CONTENT_END = 0, 1, 2, 3, 4, 5, 6
_PENDING, _REPLAY_POS, _REPLAY_END, _REPLAYED, _REFUSED, _FORCED = 7, 8, 9, 10, 11, 12
_AFTER_TRAIL, _REPLAY_MAP, _FREE, _MARKS = 13, 14, 15, 16
R_FIELDS = 17
# A plan's entry (`plans[r, j]`) is the bar restated plus R_PLAN_BARS times the code of the
# map its symbols pass through (0: none, note for note); plans cover R_PLAN_BARS bars.
R_PLAN_BARS = 64
# What a map (`maps[code, v]`, int32) makes of symbol v besides another symbol: R_STOP, it
# cannot be moved (an accidental, a decoration: the restatement ends before the symbol
# that precedes it); R_CHORD, the model writes its own in its place (a chord symbol, from
# this quote to the next: the restated bar's chord would not fit its moved notes).
R_STOP, R_CHORD = -1, -2
# Map codes: shifts of 1..R_MAX_SHIFT steps up are codes 1..R_MAX_SHIFT, down the rest, up to
# R_N_MAPS - 1 (`ml.returns.shift_code`). Where a note is written as a letter and octave marks,
# each a symbol of its own (ABC characters), two more rows follow the maps: R_STEP_ROW, each
# letter's step of the scale (-1: not a letter); R_OCTAVE_ROW, +1 for a mark an octave up, -1
# for one down, 0 otherwise. The loop then moves the note with its marks as one, and writes
# the marks the moved note needs (`_returns_next`).
R_MAX_SHIFT = 7
R_N_MAPS = 2 * R_MAX_SHIFT + 1
R_STEP_ROW, R_OCTAVE_ROW = R_N_MAPS, R_N_MAPS + 1


@njit(cache=True, error_model="numpy")
def _returns_reset(rs, r):
    for k in range(R_FIELDS):
        rs[r, k] = 0
    rs[r, _CUR_START] = -1


@njit(cache=True, error_model="numpy")
def _returns_track(rs, bars, plans, flags, r, v, p):
    """Row r's bar bookkeeping after symbol v at position p of its sequence (prime, then
    the ids drawn): the body starts after the line that opens with the key field; a bar's
    content runs from its first symbol that is not part of a bar line to its last one
    before the next bar line (a ':' right before it belongs to the bar line). A bar line
    after content closes the bar: `bars[r, k]` keeps where its content starts, ends, and
    where its bar line ends; when the plan says the next bar restates an earlier one, that
    bar is pending (`_returns_pick`)."""
    f = flags[v]
    if rs[r, _BODY] == 0:
        if f & R_NEWLINE:
            if rs[r, _KEY_LINE]:
                rs[r, _BODY] = 1
                rs[r, _IN_LINE] = 1
            rs[r, _LINE_POS] = 0
            rs[r, _KEY_LINE] = 0
        else:
            if rs[r, _LINE_POS] == 0 and f & R_KEY:
                rs[r, _KEY_LINE] = 1
            rs[r, _LINE_POS] += 1
        return
    after_trail = rs[r, _AFTER_TRAIL]
    rs[r, _AFTER_TRAIL] = 1 if f & R_TRAIL else 0
    if f & R_BAR or (f & R_TRAIL and after_trail):  # ("::" in characters is a bar line)
        if rs[r, _CUR_START] >= 0:
            k = rs[r, _N_BARS]
            if k < bars.shape[1]:
                bars[r, k, 0] = rs[r, _CUR_START]
                bars[r, k, 1] = rs[r, _CONTENT_END]
                bars[r, k, 2] = p + 1  # its bar line too (":|", "|")
            n = k + 1
            rs[r, _N_BARS] = n
            rs[r, _CUR_START] = -1
            rs[r, _REPLAY_POS] = 0
            rs[r, _REPLAY_END] = 0
            rs[r, _PENDING] = 0
            rs[r, _FREE] = 0
            rs[r, _MARKS] = 0
            if n < plans.shape[1] and n < bars.shape[1]:
                v = plans[r, n]
                if v >= 0 and v % R_PLAN_BARS < n:
                    rs[r, _PENDING] = 1
        rs[r, _IN_LINE] = 1
        return
    if rs[r, _IN_LINE] and f & R_JOIN:
        return
    if f & R_TRAIL:
        return
    rs[r, _IN_LINE] = 0
    if rs[r, _CUR_START] < 0:
        rs[r, _CUR_START] = p
    rs[r, _CONTENT_END] = p + 1


@njit(cache=True, error_model="numpy")
def _symbol_with(row, value):
    """The first symbol whose entry in a map row is `value`, -1 for none."""
    for v in range(row.shape[0]):
        if row[v] == value:
            return v
    return -1


@njit(cache=True, error_model="numpy")
def _movable(maps, code, v):
    """Can symbol v be moved by the map of `code` (a note letter or its mark, where the rows
    after the maps move notes whole; else whatever its map does not stop)?"""
    if maps.shape[0] > R_OCTAVE_ROW and (maps[R_STEP_ROW, v] >= 0 or maps[R_OCTAVE_ROW, v] != 0):
        return True
    return maps[code, v] != R_STOP


@njit(cache=True, error_model="numpy")
def _moved_note(maps, seq, r, pos, end, code):
    """A note letter at `pos` with the octave marks after it, moved by the shift of `code`
    (`R_STEP_ROW`): (the letter to write, the marks it needs, +n up or -n down, where the
    source goes on); the letter is -1 when the vocabulary has none for it."""
    step = maps[R_STEP_ROW, seq[r, pos]]
    nxt = pos + 1
    while nxt < end and maps[R_OCTAVE_ROW, seq[r, nxt]] != 0:
        step += 7 * maps[R_OCTAVE_ROW, seq[r, nxt]]
        nxt += 1
    step += code if code <= R_MAX_SHIFT else code - R_N_MAPS
    if step >= 14:  # (c' and up: a lower-case letter and marks up)
        letter, marks = 7 + step % 7, (step - 7) // 7
    elif step >= 0:
        letter, marks = step, 0
    else:  # (B, and down: an upper-case letter and marks down)
        letter, marks = step % 7, -((6 - step) // 7)
    return _symbol_with(maps[R_STEP_ROW], letter), marks, nxt


@njit(cache=True, error_model="numpy")
def _returns_next(rs, maps, seq, r, mask):
    """The next symbol of the bar row r is restating, through its map, while `mask` (None:
    no grammar) allows it; -1 when the restatement ends here (refused, or a symbol its map
    cannot move), and the rest of the bar is drawn freely."""
    pos, end, code = rs[r, _REPLAY_POS], rs[r, _REPLAY_END], rs[r, _REPLAY_MAP]
    marks = rs[r, _MARKS]
    nxt, free, left = pos, 0, 0
    if marks != 0:  # the octave marks a moved note needs, one per step
        v = _symbol_with(maps[R_OCTAVE_ROW], 1 if marks > 0 else -1)
        left = marks - 1 if marks > 0 else marks + 1
    else:
        src = seq[r, pos]
        v = maps[code, src]
        nxt = pos + 1
        if code != 0 and maps.shape[0] > R_OCTAVE_ROW and maps[R_STEP_ROW, src] >= 0:
            v, left, nxt = _moved_note(maps, seq, r, pos, end, code)
            if v >= 0 and left != 0 and _symbol_with(maps[R_OCTAVE_ROW], 1 if left > 0 else -1) < 0:
                v = R_STOP
        elif v == R_CHORD:  # the model's own chord: the source's is skipped to its closing quote
            while nxt < end and seq[r, nxt] != src:
                nxt += 1
            v, nxt, free = (src, nxt + 1, src + 1) if nxt < end else (R_STOP, nxt, 0)
        if v >= 0 and code != 0 and nxt < end and not _movable(maps, code, seq[r, nxt]):
            v = R_STOP  # (nor the symbol ahead of one that cannot move: `R_STOP`)
    if v >= 0 and (mask is None or mask[v]):
        rs[r, _REPLAY_POS] = nxt
        rs[r, _FREE] = free
        rs[r, _MARKS] = left
        rs[r, _FORCED] += 1
        return v
    rs[r, _REPLAY_POS] = 0
    rs[r, _REPLAY_END] = 0
    rs[r, _MARKS] = 0
    rs[r, _REFUSED] += 1
    return -1


@njit(cache=True, error_model="numpy")
def _returns_pick(rs, bars, plans, maps, flags, seq, r, drawn, mask):
    """The symbol row r writes instead of `drawn` (or `drawn` itself): the next symbol of
    the earlier bar it is restating (its notes, then its bar line), through the plan's map
    (`maps`: moved up or down the scale, or as written), while `mask` (None: no grammar)
    allows it; at the first symbol of a bar the plan restates, that bar's first symbol.
    A symbol the grammar refuses ends the restatement: the rest of the bar (or its bar
    line) is drawn freely. Inside a chord symbol the map leaves to the model, the model's
    draws are kept to its closing quote."""
    if rs[r, _FREE] > 0:
        if drawn == rs[r, _FREE] - 1:
            rs[r, _FREE] = 0
        return drawn
    if rs[r, _REPLAY_POS] < rs[r, _REPLAY_END] or rs[r, _MARKS] != 0:
        v = _returns_next(rs, maps, seq, r, mask)
        return drawn if v < 0 else v
    if rs[r, _PENDING] == 0 or rs[r, _BODY] == 0:
        return drawn
    f = flags[drawn]
    if f & R_BAR or f & R_TRAIL or (rs[r, _IN_LINE] and f & R_JOIN):
        return drawn  # still writing the bar line: the bar has not begun
    rs[r, _PENDING] = 0
    plan = plans[r, rs[r, _N_BARS]]
    i, code = plan % R_PLAN_BARS, plan // R_PLAN_BARS
    start, end = bars[r, i, 0], bars[r, i, 2]
    if bars[r, i, 1] <= start or code >= maps.shape[0]:
        return drawn
    rs[r, _REPLAY_POS] = start
    rs[r, _REPLAY_END] = end
    rs[r, _REPLAY_MAP] = code
    v = _returns_next(rs, maps, seq, r, mask)
    if v < 0:
        return drawn
    rs[r, _REPLAYED] += 1
    return v


@njit(cache=True, error_model="numpy")
def bar_spans(ids, flags):
    """The bars `_returns_track` reads in one sequence of ids (START first): for each, where
    its content starts and ends and where the bar line that closes it ends (-1: none, the
    last bar of an unfinished piece), in positions of `ids`. Used to measure the corpus's
    plans with the very bookkeeping the loop uses."""
    n = ids.shape[0]
    rs = np.zeros((1, R_FIELDS), dtype=np.int64)
    _returns_reset(rs, 0)
    bars = np.zeros((1, n + 1, 3), dtype=np.int64)
    plans = np.full((1, 0), -1, dtype=np.int32)
    for p in range(n):
        _returns_track(rs, bars, plans, flags, 0, ids[p], p)
    k = rs[0, _N_BARS]
    if rs[0, _CUR_START] >= 0:  # a last bar with no bar line after it
        bars[0, k, 0] = rs[0, _CUR_START]
        bars[0, k, 1] = rs[0, _CONTENT_END]
        bars[0, k, 2] = -1
        k += 1
    return bars[0, :k].copy()


@njit(cache=True, error_model="numpy", inline="always")
def _nats(logits, chosen):
    """-log p(chosen) under the model alone (temperature 1, no mask, no memory): what
    `sampler.surprise` counts, added up while sampling for `sampler.sample`'s takes."""
    m = logits[0]
    for j in range(1, logits.shape[0]):
        if logits[j] > m:
            m = logits[j]
    total = 0.0
    for j in range(logits.shape[0]):
        total += np.exp(np.float64(logits[j]) - m)
    return m + np.log(total) - np.float64(logits[chosen])


@njit(cache=True, error_model="numpy")
def _nats_rows(logits, chosen, active, nats):
    if nats.shape[0] == 0:  # (no takes to weigh: nothing asked)
        return
    for r in range(logits.shape[0]):
        if active[r]:
            nats[r] += _nats(logits[r], chosen[r])


@njit(cache=True, error_model="numpy")
def _trial_end(nats, lengths, active, pieces):
    """The end of the takes' trial (`sampler.sample`'s `trial`): of each piece's takes
    (take-major rows: take k of piece i is row k * pieces + i), the one with the fewest
    nats per symbol written so far goes on (ties: the earlier take; a take that has already
    ended is weighed as it stands) and the others stop there, their nats set to inf so
    that none of them is kept. Called again at the same draw it changes nothing."""
    takes = nats.shape[0] // pieces
    for i in range(pieces):
        best = -1
        score = np.inf
        for k in range(takes):
            r = k * pieces + i
            if lengths[r] > 0 and nats[r] < np.inf and nats[r] / lengths[r] < score:
                best, score = r, nats[r] / lengths[r]
        for k in range(takes):
            r = k * pieces + i
            if r != best:
                active[r] = False
                nats[r] = np.inf


@njit(cache=True, error_model="numpy")
def _draw_one(
    logits_row, mask, r, u, temperature, top_k, top_p, p, s, mq, mem, mseq, mmatch, mlen,
    end_id, leaning, line_rows, line_notes, line_steps, line_theta, line_phrases, line_phi,
    leaned, returns, rs, bars, plans, maps, flags, seq,
):  # fmt: skip
    """Row r's next symbol, as every loop draws it: its logits leaned by the line
    (`_lean`), drawn within `mask` (None: anything) with the piece's memory
    (`_memory_draw`), and with returns on, the restated symbol in its place
    (`_returns_pick`)."""
    row = logits_row
    if leaning and _lean(
        row, line_rows, r, line_notes, line_steps, line_theta, line_phrases, line_phi, leaned
    ):
        row = leaned
    chosen = _memory_draw(
        row, mask, temperature, top_k, top_p, u, p, s, mq, mem, mseq, mmatch, mlen, r, end_id
    )
    if returns:
        chosen = _returns_pick(rs, bars, plans, maps, flags, seq, r, chosen, mask)
    return chosen


@njit(cache=True, error_model="numpy")
def _keep(
    chosen, logits_row, r, out, lengths, tokens, weigh, nats, on, mseq, mmatch, mlen, cap,
    returns, rs, bars, plans, flags, seq, n_prime, leaning, line_rows, line_classes,
    line_steps, no_counts,
):  # fmt: skip
    """Row r keeps `chosen`: the line's tracker, the takes' nats, the memory, the returns'
    bookkeeping, the piece and the next step's input take it in, as in every loop."""
    if leaning:
        _track(line_rows, r, line_classes[chosen], line_steps[chosen], no_counts)
    if weigh:
        nats[r] += _nats(logits_row, chosen)
    if on:
        _memory_push(mseq, mmatch, mlen, r, chosen, cap)
    if returns:
        at = n_prime + lengths[r]
        seq[r, at] = chosen
        _returns_track(rs, bars, plans, flags, r, chosen, at)
    out[r, lengths[r]] = chosen
    lengths[r] += 1
    tokens[r] = chosen


@njit(cache=True, error_model="numpy")
def _row_goes_on(chosen, r, end_id, restart_id, max_tokens, kept, active, tokens, xh, cs, lbs):
    """After row r kept `chosen`: END ends the piece, or with `restart_id` (the audio way)
    ends a phrase and the piece goes on from a zero state with START fed (the grammar's
    state follows END's transition, as after any symbol), up to `max_tokens` kept."""
    if restart_id < 0:
        if chosen == end_id:
            active[r] = False
    elif chosen == end_id:
        _restart_row(xh, cs, lbs, r)
        tokens[r] = restart_id
    else:
        kept[r] += 1
        if kept[r] >= max_tokens:
            active[r] = False


@njit(cache=True, error_model="numpy")
def _loop(
    table,
    weights,
    biases,
    dense_w,
    dense_b,
    dense_relu,
    units,
    lb,
    split,
    prime,
    uniforms,
    temperature,
    top_k,
    top_p,
    end_id,
    restart_id,
    max_tokens,
    allowed,
    next_state,
    start,
    out,
    gemm_rows,
    flags,
    plans,
    maps,
    rs,
    seq,
    bars,
    mem,
    mseq,
    mmatch,
    mlen,
    nats,
    trial,
    pieces,
    line_classes,
    line_steps,
    line_notes,
    line_theta,
    line_rows,
    line_phrases,
    line_phi,
):
    """A whole batch of pieces; see `sample`. Returns each row's number of ids in `out`;
    `nats[r]` gains -log p of each id under the model alone (`_nats`), when `nats` is not
    empty (an empty array: not asked, no work). With `trial` > 0 the takes' trial ends
    before draw `trial` (`_trial_end`; `pieces`: the pieces the rows are takes of).

    Returns (`ml.returns`) are on when `flags` is not empty: `plans[r, j]` is the bar that
    row r's bar j restates (-1: none) plus `R_PLAN_BARS` times the code of its map in `maps`,
    `rs` receives each row's bookkeeping (`R_FIELDS`), `seq` and `bars` come walked through
    the prime (`_returns_rows_start`)."""
    rows, draws = uniforms.shape
    dense_widths = np.empty(len(dense_w), dtype=np.int64)
    for d in range(len(dense_w)):
        dense_widths[d] = dense_w[d].shape[1]
    xh, cs, zs, hs, lbs = _zero_state(rows, units, dense_widths, lb, prime.shape[0] + draws)
    V = table.shape[0]
    tokens = np.empty(rows, dtype=np.int64)
    active = np.ones(rows, dtype=np.bool_)
    lengths = np.zeros(rows, dtype=np.int64)
    kept = np.zeros(rows, dtype=np.int64)
    masked = allowed.shape[0] > 0
    state = np.full(rows, start, dtype=np.int64)
    has_any = np.zeros(allowed.shape[0], dtype=np.bool_)
    for q in range(allowed.shape[0]):
        for j in range(V):
            if allowed[q, j]:
                has_any[q] = True
                break
    p = np.empty(V, dtype=np.float32)
    s = np.empty(V, dtype=np.float32)
    returns = flags.shape[0] > 0
    n_prime = prime.shape[0]
    on = mem.shape[0] > 0  # (the memory's arrays come walked through the prime: `_Memory`)
    cap = max(mem.shape[0] - 1, 1)
    mq = np.zeros(V, dtype=np.float32)
    weigh = nats.shape[0] > 0  # (the takes' sums, only when asked)
    leaning = line_theta.shape[0] > 0  # (the trackers come walked through the prime)
    leaned = np.empty(V, dtype=np.float32)
    no_counts = np.zeros((0, 0), dtype=np.int64)
    logits = hs[len(dense_w)]
    for i in range(prime.shape[0]):
        tokens[:] = prime[i]
        logits = _step(
            table,
            weights,
            biases,
            dense_w,
            dense_b,
            dense_relu,
            units,
            lb,
            split,
            xh,
            cs,
            zs,
            hs,
            lbs,
            tokens,
            active,
            gemm_rows,
        )
    for t in range(draws):
        if weigh and 0 < trial == t:
            _trial_end(nats, lengths, active, pieces)
        all_done = True
        for r in range(rows):
            if not active[r]:
                continue
            q = state[r]
            if masked and q >= 0 and has_any[q]:
                chosen = _draw_one(
                    logits[r], allowed[q], r, uniforms[r, t], temperature, top_k, top_p, p, s,
                    mq, mem, mseq, mmatch, mlen, end_id, leaning, line_rows, line_notes,
                    line_steps, line_theta, line_phrases, line_phi, leaned, returns, rs, bars,
                    plans, maps, flags, seq,
                )  # fmt: skip
            else:
                chosen = _draw_one(
                    logits[r], None, r, uniforms[r, t], temperature, top_k, top_p, p, s,
                    mq, mem, mseq, mmatch, mlen, end_id, leaning, line_rows, line_notes,
                    line_steps, line_theta, line_phrases, line_phi, leaned, returns, rs, bars,
                    plans, maps, flags, seq,
                )  # fmt: skip
            _keep(
                chosen, logits[r], r, out, lengths, tokens, weigh, nats, on, mseq, mmatch,
                mlen, cap, returns, rs, bars, plans, flags, seq, n_prime, leaning, line_rows,
                line_classes, line_steps, no_counts,
            )  # fmt: skip
            if masked and q >= 0:
                state[r] = next_state[q, chosen]
            _row_goes_on(
                chosen, r, end_id, restart_id, max_tokens, kept, active, tokens, xh, cs, lbs
            )
            if active[r]:
                all_done = False
        if all_done:
            break
        logits = _step(
            table,
            weights,
            biases,
            dense_w,
            dense_b,
            dense_relu,
            units,
            lb,
            split,
            xh,
            cs,
            zs,
            hs,
            lbs,
            tokens,
            active,
            gemm_rows,
        )
    return lengths


@njit(cache=True, error_model="numpy")
def _choose_rows(
    logits, masks, use_mask, temperature, top_k, top_p, u, active, out, end_id,
    mem, mseq, mmatch, mlen,
):  # fmt: skip
    V = logits.shape[1]
    p = np.empty(V, dtype=np.float32)
    s = np.empty(V, dtype=np.float32)
    q = np.zeros(V, dtype=np.float32)
    for r in range(logits.shape[0]):
        if not active[r]:
            continue
        if use_mask[r]:
            out[r] = _memory_draw(
                logits[r], masks[r], temperature, top_k, top_p, u[r], p, s,
                q, mem, mseq, mmatch, mlen, r, end_id,
            )  # fmt: skip
        else:
            out[r] = _memory_draw(
                logits[r], None, temperature, top_k, top_p, u[r], p, s,
                q, mem, mseq, mmatch, mlen, r, end_id,
            )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _memory_push_rows(mseq, mmatch, mlen, chosen, active, cap):
    for r in range(chosen.shape[0]):
        if active[r]:
            _memory_push(mseq, mmatch, mlen, r, chosen[r], cap)


def _memory_weights(memory) -> np.ndarray:
    """The memory's weights as the loops take them: float32, one per match length from 0
    (whose weight is 0: no match, no memory) to the cap; empty when off."""
    if memory is None:
        return np.zeros(0, dtype=np.float32)
    mem = np.ascontiguousarray(memory, dtype=np.float32)
    if mem.ndim != 1 or mem.shape[0] < 2 or mem[0] != 0.0 or not np.all((mem >= 0) & (mem < 1)):
        raise ValueError("memory weights are one weight in [0, 1) per match length, 0 for no match")
    return mem


@njit(cache=True, error_model="numpy")
def memory_trace(ids, cap, end_id, best, q_true):
    """Walk one piece through the memory as the loops do (`ml.memory.memory_fit`): for each
    symbol after the first, the longest earlier match before it (`best`, 0: none) and the
    memory's probability of that symbol among the symbols other than `end_id` (`q_true`;
    0 for the end)."""
    n = ids.shape[0]
    mseq = np.zeros((1, n + 1), dtype=np.int64)
    mmatch = np.zeros((1, n + 1), dtype=np.int32)
    mlen = np.zeros(1, dtype=np.int64)
    V = 0
    for i in range(n):
        if ids[i] + 1 > V:
            V = ids[i] + 1
    q = np.zeros(V, dtype=np.float32)
    # As "weights", each match length itself: `_memory_q` then returns the longest match.
    lengths = np.arange(cap + 1).astype(np.float32)
    _memory_push(mseq, mmatch, mlen, 0, ids[0], cap)
    for t in range(1, n):
        b = int(_memory_q(mseq, mmatch, mlen, 0, lengths, q))
        best[t - 1] = b
        if b > 0:
            total = 0.0
            for j in range(V):
                if j != end_id:
                    total += q[j]
            if total > 0.0 and ids[t] != end_id:
                q_true[t - 1] = q[ids[t]] / total
        _memory_push(mseq, mmatch, mlen, 0, ids[t], cap)


class _Memory:
    """A batch's memory arrays (`ml.memory`): empty when the memory is off."""

    def __init__(self, memory, *, rows: int, width: int, prime) -> None:
        self.mem = _memory_weights(memory)
        on = self.mem.shape[0] > 0
        self.cap = max(self.mem.shape[0] - 1, 1)
        self.seq = np.zeros((rows if on else 0, width + 1), dtype=np.int64)
        self.match = np.zeros((rows if on else 0, width + 1), dtype=np.int32)
        self.len = np.zeros(rows if on else 0, dtype=np.int64)
        self.on = on
        if on:
            _memory_start(self.seq, self.match, self.len, np.asarray(prime, np.int64), self.cap)

    @property
    def args(self) -> tuple:
        return self.mem, self.seq, self.match, self.len

    def push(self, chosen, active) -> None:
        if self.on:
            _memory_push_rows(self.seq, self.match, self.len, chosen, active, self.cap)


@njit(cache=True, error_model="numpy")
def _returns_rows(rs, bars, plans, maps, flags, seq, chosen, masks, use_mask, active, at):
    """`_returns_pick` and `_returns_track` for every active row after a batch draw (the
    loops that look masks up between compiled steps): row r's symbol goes to `seq[r, at[r]]`."""
    for r in range(chosen.shape[0]):
        if not active[r]:
            continue
        if use_mask[r]:
            v = _returns_pick(rs, bars, plans, maps, flags, seq, r, chosen[r], masks[r])
        else:
            v = _returns_pick(rs, bars, plans, maps, flags, seq, r, chosen[r], None)
        chosen[r] = v
        seq[r, at[r]] = v
        _returns_track(rs, bars, plans, flags, r, v, at[r])


@njit(cache=True, error_model="numpy")
def _returns_start(rs, bars, plans, flags, seq, prime):
    """Every row's bookkeeping reset and walked through the prime (copied into `seq`)."""
    for r in range(rs.shape[0]):
        _returns_reset(rs, r)
        for i in range(prime.shape[0]):
            seq[r, i] = prime[i]
            _returns_track(rs, bars, plans, flags, r, prime[i], i)


# numba's typed lists built from Python compile their own methods (append, iteration) the
# first time in every process, about 1.2 CPU s that numba's disk cache does not keep: a
# sample worker's first job, and every process that samples, paid it. Built inside these
# cached functions instead, they cost nothing after `make setup` warmed the cache.
_MATRIX = types.float32[:, ::1]
_VECTOR = types.float32[::1]


@njit(cache=True)
def _matrices():
    return List.empty_list(_MATRIX)


@njit(cache=True)
def _cubes():
    return List.empty_list(types.float32[:, :, ::1])


@njit(cache=True)
def _vectors():
    return List.empty_list(_VECTOR)


@njit(cache=True)
def _push(items, item):
    items.append(item)


@njit(cache=True)
def _look_back_state(lb, rows, steps, units):
    """The look back's per-row cache for `steps` steps and its buffers (`_look_back`'s lbs):
    keys and values (rows, heads, steps, dim), steps cached, the previous and this step's
    output, the projections; empty without a look back."""
    heads, dim = lb[5][0], lb[5][1]
    if heads == 0:
        rows = steps = units = 0
    width = heads * dim
    return (
        np.zeros((rows, heads, steps, dim), dtype=np.float32),
        np.zeros((rows, heads, steps, dim), dtype=np.float32),
        np.zeros(rows, dtype=np.int64),
        np.zeros((rows, units), dtype=np.float32),
        np.zeros((rows, units), dtype=np.float32),
        np.zeros((rows, 2 * width), dtype=np.float32),
        np.zeros((rows, width), dtype=np.float32),
        np.zeros((rows, width), dtype=np.float32),
        np.zeros((rows, units), dtype=np.float32),
    )


@njit(cache=True)
def _zero_state(rows, units, dense_widths, lb, steps):
    """The step's buffers for `rows` rows and at most `steps` steps (`_step`'s xh, cs, zs,
    hs, lbs), all zeros."""
    xh, cs, zs, hs = _matrices(), _matrices(), _matrices(), _matrices()
    for k in range(units.shape[0]):
        prev = 0 if k == 0 else units[k - 1]
        xh.append(np.zeros((rows, prev + units[k]), dtype=np.float32))
        cs.append(np.zeros((rows, units[k]), dtype=np.float32))
        zs.append(np.zeros((rows, 4 * units[k]), dtype=np.float32))
    last = units[units.shape[0] - 1]
    looks = lb[5][0] > 0
    hs.append(np.zeros((rows, last * (2 if looks else 1)), dtype=np.float32))
    for d in range(dense_widths.shape[0]):
        hs.append(np.zeros((rows, dense_widths[d]), dtype=np.float32))
    return xh, cs, zs, hs, _look_back_state(lb, rows, steps, last)


def _look_back_args(net) -> tuple:
    """The net's look back as `_look_back` takes it; zero-sized arrays and 0 heads without."""
    lb = net.look_back

    def f32(a) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)

    if lb is None:
        empty = np.zeros((0, 0), dtype=np.float32)
        dims = np.zeros(2, dtype=np.int64)
        return (empty, empty, empty, empty, np.zeros(0, dtype=np.float32), dims)
    dims = np.array([lb.heads, lb.dim], dtype=np.int64)
    wqv = np.hstack([lb.wq, lb.wv_h])  # one product gives the query and the value's part
    return (f32(wqv), f32(lb.wk), f32(lb.vtable), f32(lb.wo), f32(lb.bo), dims)


class Compiled:
    """A net's weights in the layout the compiled functions take (gate columns i, f, o, g,
    the first three halved): those `sampler._fuse` left on the net (the sampler calls it
    before it calls here; this module does not import the sampler), copied once per net."""

    def __init__(self, net) -> None:
        fused = getattr(net, "_fused", None)
        if fused is None:
            raise ValueError("the net's gates are not fused yet: sample through sampler.sample")
        self.table = np.ascontiguousarray(net._table, dtype=np.float32)
        self.weights, self.biases = _matrices(), _vectors()
        # (a Python list beside the typed one: iterating a typed list from Python compiles
        # its methods in every process)
        self._lstm = [np.ascontiguousarray(w, dtype=np.float32) for w, _ in fused]
        for k, (_, b) in enumerate(fused):
            _push(self.weights, self._lstm[k])
            width = 4 * net.units[k]
            bias = np.zeros(width, dtype=np.float32) if b is None else b
            _push(self.biases, np.ascontiguousarray(bias, dtype=np.float32))
        self.dense_w, self.dense_b = _matrices(), _vectors()
        for w, b, _ in net.dense:
            _push(self.dense_w, np.ascontiguousarray(w, dtype=np.float32))
            _push(self.dense_b, np.ascontiguousarray(b, dtype=np.float32))
        self.dense_relu = np.array([relu for _, _, relu in net.dense], dtype=np.bool_)
        self.units = np.array(net.units, dtype=np.int64)
        self.dense_widths = np.array([w.shape[1] for w, _, _ in net.dense], dtype=np.int64)
        self.look_back = _look_back_args(net)
        self._splits: dict[int, tuple[List, int]] = {}

    def split(self, threads: int) -> tuple[List, int]:
        """The LSTM weights in `threads` column parts per layer (`_matmul_split`) and the
        number of parts, built once per count; empty, 1 part (the one-thread loops), for
        one thread or where a layer's gate columns do not divide into parts of whole
        64-byte lines. (The count is kept in Python: asking a typed list its length from
        Python compiles the method in every process.)"""
        if threads not in self._splits:
            parts, count = _cubes(), 1
            widths = [w.shape[1] for w in self._lstm]
            if threads > 1 and all(n % threads == 0 and n // threads % 16 == 0 for n in widths):
                for w in self._lstm:
                    n_in, n = w.shape
                    cube = w.reshape(n_in, threads, n // threads).transpose(1, 0, 2)
                    _push(parts, np.ascontiguousarray(cube))
                count = threads
            self._splits[threads] = (parts, count)
        return self._splits[threads]

    def zero_state(self, rows: int, steps: int) -> tuple:
        """Zeroed step buffers for `rows` rows and at most `steps` steps (xh, cs, zs, hs,
        lbs)."""
        return _zero_state(rows, self.units, self.dense_widths, self.look_back, steps)

    @property
    def args(self) -> tuple:
        """The loops' first arguments: the weights, and their split for `sample_threads()`
        (numba told to run that many threads in this thread's parallel calls). It reads the
        environment: a sampling call takes it once, not at every step."""
        split, threads = self.split(sample_threads())
        if threads > 1:
            numba.set_num_threads(threads)
        return (
            self.table,
            self.weights,
            self.biases,
            self.dense_w,
            self.dense_b,
            self.dense_relu,
            self.units,
            self.look_back,
            split,
        )


def sample_threads() -> int:
    """How many threads a piece's (or a batch's) LSTM products are split among: the
    environment's SAMPLE_THREADS (`config.sample_threads_asked`, 1 by default), at most
    the cores numba may use. Why not always all cores: the threads meet twice a step, so a
    thread that has to wait for a core (another sampler, a training) stalls the step; more
    than one suits a host whose sample processes leave cores free (`docs/operations.md`)."""
    return min(sample_threads_asked(), numba.config.NUMBA_NUM_THREADS)


def compiled(net) -> Compiled:
    cached = getattr(net, "_compiled", None)
    if cached is None:
        cached = net._compiled = Compiled(net)
    return cached


_NO_TABLES = (np.zeros((0, 0), dtype=np.bool_), np.zeros((0, 0), dtype=np.int32))


def _nats_out(nats: np.ndarray | None, rows: int) -> np.ndarray:
    """The loops' surprise accumulator: the caller's (float64 [rows]), or an empty one when
    none is asked (the loops then skip the sums: one take needs no weighing)."""
    if nats is None:
        return np.zeros(0, dtype=np.float64)
    if nats.shape != (rows,) or nats.dtype != np.float64:
        raise ValueError("nats must be float64, one per row")
    return nats


def _trial_args(trial: int, pieces: int, nats: np.ndarray | None, rows: int) -> tuple[int, int]:
    """(trial, pieces) for the loops: (0, 1), no trial, unless the takes are weighed."""
    if not trial or nats is None:
        return 0, 1
    if trial < 0 or pieces < 1 or rows % pieces:
        raise ValueError("a trial needs a positive length and rows that are takes of the pieces")
    return int(trial), int(pieces)


def _returns_arrays(returns, rows: int, vocab: int) -> tuple[np.ndarray, ...]:
    """(flags, plans, maps, rs) for the loops: empty flags when returns are off. `returns`
    is an `ml.returns.Returns` (flags over the vocabulary, one plan per row, the maps its
    codes name); its `state` is set to `rs`, each row's bookkeeping, after sampling (bars
    restated, refused…)."""
    if returns is None:
        return (
            np.zeros(0, dtype=np.int8),
            np.full((rows, 0), -1, dtype=np.int32),
            np.zeros((0, vocab), dtype=np.int32),
            np.zeros((rows, R_FIELDS), dtype=np.int64),
        )
    flags = np.ascontiguousarray(returns.flags, dtype=np.int8)
    plans = np.ascontiguousarray(returns.plans, dtype=np.int32)
    maps = np.ascontiguousarray(returns.maps, dtype=np.int32)
    if (
        flags.shape != (vocab,)
        or plans.ndim != 2
        or plans.shape[0] != rows
        or plans.shape[1] > R_PLAN_BARS
        or maps.ndim != 2
        or maps.shape[1] != vocab
        or not len(maps)
        or maps.max(initial=-1) >= vocab
    ):
        raise ValueError(
            f"returns of flags {flags.shape}, plans {plans.shape} and maps {maps.shape} do not "
            f"fit {rows} rows over a vocabulary of {vocab}"
        )
    rs = np.zeros((rows, R_FIELDS), dtype=np.int64)
    returns.state = rs
    return flags, plans, maps, rs


def _returns_rows_start(returns, rows: int, vocab: int, prime, draws: int) -> tuple:
    """`_returns_arrays`, and the rows' sequences (`seq`: the prime, then the ids drawn) and
    bars, walked through the prime (`_returns_start`), for every loop; `seq` and `bars` are
    empty when returns are off."""
    flags, plans, maps, rs = _returns_arrays(returns, rows, vocab)
    on = flags.shape[0] > 0
    seq = np.zeros((rows if on else 0, len(prime) + draws), dtype=np.int64)
    bars = np.zeros((rows if on else 0, plans.shape[1] if on else 0, 3), dtype=np.int64)
    if on:
        _returns_start(rs, bars, plans, flags, seq, np.asarray(prime, dtype=np.int64))
    return flags, plans, maps, rs, seq, bars


def sample(
    net,
    *,
    prime: Sequence[int],
    uniforms: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    max_tokens: int,
    end_id: int,
    restart_id: int | None,
    tables: GrammarTables | None,
    returns=None,
    memory=None,
    nats: np.ndarray | None = None,
    trial: int = 0,
    pieces: int = 0,
    line=None,
) -> list[list[int]]:
    """One piece per row of `uniforms` (rows × draws, float64), in one compiled call. See
    `sampler.sample` for what the arguments mean; `tables` masks the draws; `returns`
    (`ml.returns.Returns`) restates earlier bars where each row's plan says; `memory`
    (`ml.memory` weights by match length) mixes each draw with the piece's own past.
    `nats` (float64 [rows], or None) gains each row's -log p of every id it wrote under the
    model alone, as in every loop here; with `trial` > 0 (and `nats`) the rows are takes
    of `pieces` pieces, and all but each piece's least surprising take stop before draw
    `trial` (`_trial_end`). `line` (`ml.line.Line`) leans each candidate note by its move."""
    c = compiled(net)
    rows, draws = uniforms.shape
    flags, plans, maps, rs, seq, bars = _returns_rows_start(
        returns, rows, c.table.shape[0], prime, draws
    )
    out = np.zeros((rows, draws), dtype=np.int64)
    if tables is None:
        allowed, next_state, start = *_NO_TABLES, 0
    else:
        tables.check(c.table.shape[0])
        allowed = np.ascontiguousarray(tables.allowed, dtype=np.bool_)
        next_state = np.ascontiguousarray(tables.next_state, dtype=np.int32)
        start = int(tables.start)
    lengths = _loop(
        *c.args,
        np.asarray(prime, dtype=np.int64),
        np.ascontiguousarray(uniforms, dtype=np.float64),
        np.float32(temperature),
        int(top_k),
        float(top_p),
        int(end_id),
        -1 if restart_id is None else int(restart_id),
        int(max_tokens),
        allowed,
        next_state,
        start,
        out,
        GEMM_ROWS,
        flags,
        plans,
        maps,
        rs,
        seq,
        bars,
        *_Memory(memory, rows=rows, width=len(prime) + draws, prime=prime).args,
        _nats_out(nats, rows),
        *_trial_args(trial, pieces, nats, rows),
        *_line_args(line, rows, prime),
    )
    return [out[r, : lengths[r]].tolist() for r in range(rows)]


def sample_constrained(
    net,
    *,
    prime: Sequence[int],
    uniforms: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    max_tokens: int,
    end_id: int,
    restart_id: int | None,
    constraint: Callable[[int, list[int]], np.ndarray | None],
    memory=None,
    nats: np.ndarray | None = None,
    trial: int = 0,
    pieces: int = 0,
    line=None,
) -> list[list[int]]:
    """As `sample`, with a Python constraint asked for each unfinished row's mask at each
    step (it sees the prime and the ids drawn so far, and `restart_id` after an end in
    restart mode). The step and the draw are the compiled ones."""
    if line is not None:
        raise ValueError("the line's lean is not offered with a Python constraint")
    c = compiled(net)
    args = c.args  # (once per call: it reads the environment)
    rows, draws = uniforms.shape
    xh, cs, zs, hs, lbs = c.zero_state(rows, len(prime) + draws)
    vocab = c.table.shape[0]
    active = np.ones(rows, dtype=np.bool_)
    tokens = np.empty(rows, dtype=np.int64)
    for tok in prime:
        tokens[:] = tok
        logits = _step(*args, xh, cs, zs, hs, lbs, tokens, active, GEMM_ROWS)
    out: list[list[int]] = [[] for _ in range(rows)]
    history = [list(prime) for _ in range(rows)]
    kept = np.zeros(rows, dtype=np.int64)
    masks = np.ones((rows, vocab), dtype=np.bool_)
    use_mask = np.zeros(rows, dtype=np.bool_)
    chosen = np.zeros(rows, dtype=np.int64)
    temp = np.float32(temperature)
    mem = _Memory(memory, rows=rows, width=len(prime) + draws, prime=prime)
    trial, pieces = _trial_args(trial, pieces, nats, rows)
    nats = _nats_out(nats, rows)
    for t in range(draws):
        if 0 < trial == t:
            _trial_end(nats, np.array([len(o) for o in out], dtype=np.int64), active, pieces)
        for r in np.flatnonzero(active):
            mask = constraint(int(r), history[r])
            use_mask[r] = mask is not None
            if mask is not None:
                masks[r] = mask
        _choose_rows(
            logits, masks, use_mask, temp, int(top_k), float(top_p), uniforms[:, t], active, chosen,
            int(end_id), *mem.args,
        )  # fmt: skip
        _nats_rows(logits, chosen, active, nats)
        mem.push(chosen, active)
        for r in np.flatnonzero(active):
            tok = int(chosen[r])
            out[r].append(tok)
            history[r].append(tok)
            tokens[r] = tok
            if restart_id is None:
                active[r] = tok != end_id
            elif tok == end_id:
                _restart_row(xh, cs, lbs, r)
                tokens[r] = restart_id
                history[r].append(int(restart_id))
            else:
                kept[r] += 1
                active[r] = kept[r] < max_tokens
        if not active.any():
            break
        logits = _step(*args, xh, cs, zs, hs, lbs, tokens, active, GEMM_ROWS)
    return out


def sample_lazy_tables(
    net,
    *,
    prime: Sequence[int],
    uniforms: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    max_tokens: int,
    end_id: int,
    restart_id: int | None,
    automaton,
    compiled_loop: bool = True,
    returns=None,
    memory=None,
    shapes=None,
    nats: np.ndarray | None = None,
    trial: int = 0,
    pieces: int = 0,
    line=None,
) -> list[list[int]]:
    """As `sample`, with grammar tables built while sampling (an automaton with `start(prime)`
    → state id, `allowed` → bool [n_states, vocab] and `step(states, symbols)` → next
    states, building the successors not built yet): each step looks every row's mask up
    in one array operation and moves every row in one call, between compiled steps.
    An `ml.automaton.LazyAutomaton` samples in the compiled loop instead
    (`sample_registered_tables`); this path is its reference (`compiled_loop=False`),
    `returns` included (as in `sample`: the same compiled bookkeeping, `_returns_rows`
    here, `_returns_pick` and `_returns_track` there). `shapes` (one per row, or
    None): each row starts in its own state, `automaton.begin(prime, shape)` (the ABC form
    grammar's drawn shapes)."""
    if compiled_loop and hasattr(automaton, "variant"):
        return sample_registered_tables(
            net,
            prime=prime,
            uniforms=uniforms,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            max_tokens=max_tokens,
            end_id=end_id,
            restart_id=restart_id,
            automaton=automaton,
            returns=returns,
            memory=memory,
            shapes=shapes,
            nats=nats,
            trial=trial,
            pieces=pieces,
            line=line,
        )
    if line is not None:
        raise ValueError("the line's lean samples in the compiled loop over registered tables")
    c = compiled(net)
    args = c.args  # (once per call: it reads the environment)
    rows, draws = uniforms.shape
    flags, plans, maps, rs, seq, bars = _returns_rows_start(
        returns, rows, c.table.shape[0], prime, draws
    )
    on, n_prime = flags.shape[0] > 0, len(prime)
    xh, cs, zs, hs, lbs = c.zero_state(rows, len(prime) + draws)
    active = np.ones(rows, dtype=np.bool_)
    tokens = np.empty(rows, dtype=np.int64)
    for tok in prime:
        tokens[:] = tok
        logits = _step(*args, xh, cs, zs, hs, lbs, tokens, active, GEMM_ROWS)
    # (a LazyAutomaton also moves each row's registers: `advance`)
    registered = hasattr(automaton, "advance")
    start, regs0 = automaton.begin(list(prime)) if registered else (automaton.start(list(prime)), 0)
    states = np.full(rows, start, dtype=np.int64)
    regs = np.tile(regs0, (rows, 1)) if registered else None
    if shapes is not None:
        _shaped_starts(automaton, prime, shapes, states, regs)
    out = np.zeros((rows, draws), dtype=np.int64)
    lengths = np.zeros(rows, dtype=np.int64)
    kept = np.zeros(rows, dtype=np.int64)
    use_mask = np.ones(rows, dtype=np.bool_)
    chosen = np.zeros(rows, dtype=np.int64)
    temp = np.float32(temperature)
    mem = _Memory(memory, rows=rows, width=n_prime + draws, prime=prime)
    trial, pieces = _trial_args(trial, pieces, nats, rows)
    nats = _nats_out(nats, rows)
    for t in range(draws):
        if 0 < trial == t:
            _trial_end(nats, lengths, active, pieces)
        live = np.flatnonzero(active)
        masks = np.ascontiguousarray(automaton.allowed[states])
        _choose_rows(
            logits, masks, use_mask, temp, int(top_k), float(top_p), uniforms[:, t], active, chosen,
            int(end_id), *mem.args,
        )  # fmt: skip
        if on:
            at = n_prime + lengths
            _returns_rows(rs, bars, plans, maps, flags, seq, chosen, masks, use_mask, active, at)
        _nats_rows(logits, chosen, active, nats)
        mem.push(chosen, active)
        out[live, lengths[live]] = chosen[live]
        lengths[live] += 1
        if registered:
            states[live], regs[live] = automaton.advance(states[live], regs[live], chosen[live])
        else:
            states[live] = automaton.step(states[live], chosen[live])
        tokens[live] = chosen[live]
        ended = chosen[live] == end_id
        if restart_id is None:
            active[live[ended]] = False
        else:
            for r in live[ended]:
                _restart_row(xh, cs, lbs, r)
                tokens[r] = restart_id
            kept[live[~ended]] += 1
            active[live[kept[live] >= max_tokens]] = False
        if not active.any():
            break
        logits = _step(*args, xh, cs, zs, hs, lbs, tokens, active, GEMM_ROWS)
    return [out[r, : lengths[r]].tolist() for r in range(rows)]


@njit(cache=True, error_model="numpy")
def _lazy_loop(
    table,
    weights,
    biases,
    dense_w,
    dense_b,
    dense_relu,
    units,
    lb,
    split,
    xh,
    cs,
    zs,
    hs,
    lbs,
    uniforms,
    temperature,
    top_k,
    top_p,
    end_id,
    restart_id,
    max_tokens,
    t0,
    tokens,
    active,
    lengths,
    kept,
    out,
    states,
    regs,
    pending,
    allowed,
    group,
    next_group,
    line_op,
    pitch_op,
    notes_op,
    enter,
    variant,
    lo,
    hi,
    nlo,
    nhi,
    gemm_rows,
    mem,
    mseq,
    mmatch,
    mlen,
    nats,
    trial,
    pieces,
    flags,
    plans,
    maps,
    rs,
    seq,
    bars,
    n_prime,
    line_classes,
    line_steps,
    line_notes,
    line_theta,
    line_rows,
    line_phrases,
    line_phi,
):
    """`sample_lazy_tables`' steps from draw `t0` on, in one call, until a row needs a
    successor the tables have not built (then it returns the draw to resume at, with
    `pending[r]` set and `states[r]`, `lines[r]` left at the row's state and line before
    its last symbol, `regs[r]`) or every row has finished (then it returns -1). The
    logits of the last step stay in `hs`, so the caller resumes where it stopped.

    A row moves by the tables of `ml.automaton`: its group's successor
    `next_group[group[s], v]`, its registers (`regs[r]`: line, pitch, notes) by `line_op`
    (add, or a new line), `pitch_op` (keep, or set) and `notes_op` (add up to `nhi`, or
    set), and the state of that group in the registers' bucket, `variant[g, bucket]`
    (`LazyAutomaton.bucket`). A frame (`ml.automaton`): a symbol that opens one
    (`enter`) keeps the group it opened in (`regs[r, 3]`), and a successor EXIT (-4)
    closes it: the context group's successor and register ops are taken instead.

    Returns (`ml.returns`, as in `_loop`) are on when `flags` is not empty: the row's
    bookkeeping in `rs`, `seq` and `bars` (walked through the prime by `_returns_start`)
    picks the restated symbol in place of the draw, within the state's mask."""
    rows, draws = uniforms.shape
    V = table.shape[0]
    p = np.empty(V, dtype=np.float32)
    s = np.empty(V, dtype=np.float32)
    logits = hs[len(dense_w)]
    n_notes = nhi - nlo + 2 if nhi > 0 else 1
    n_lines = variant.shape[1] // n_notes
    mq = np.zeros(V, dtype=np.float32)
    weigh = nats.shape[0] > 0  # (the takes' sums, only when asked)
    on = mem.shape[0] > 0
    cap = max(mem.shape[0] - 1, 1)
    returns = flags.shape[0] > 0
    leaning = line_theta.shape[0] > 0
    leaned = np.empty(V, dtype=np.float32)
    no_counts = np.zeros((0, 0), dtype=np.int64)
    for t in range(t0, draws):
        for r in range(rows):
            if pending[r]:
                return t
        if weigh and 0 < trial == t:  # (again on resuming at t: it changes nothing then)
            _trial_end(nats, lengths, active, pieces)
        all_done = True
        for r in range(rows):
            if not active[r]:
                continue
            q = states[r]
            chosen = _draw_one(
                logits[r], allowed[q], r, uniforms[r, t], temperature, top_k, top_p, p, s,
                mq, mem, mseq, mmatch, mlen, end_id, leaning, line_rows, line_notes,
                line_steps, line_theta, line_phrases, line_phi, leaned, returns, rs, bars,
                plans, maps, flags, seq,
            )  # fmt: skip
            _keep(
                chosen, logits[r], r, out, lengths, tokens, weigh, nats, on, mseq, mmatch,
                mlen, cap, returns, rs, bars, plans, flags, seq, n_prime, leaning, line_rows,
                line_classes, line_steps, no_counts,
            )  # fmt: skip
            src = group[q]
            g = next_group[src, chosen]
            ctx = regs[r, 3]
            if g == -4:  # (EXIT: a frame closes; its context group moves on)
                src = ctx
                g = next_group[src, chosen]
                ctx = -1
            if enter[group[q], chosen]:
                ctx = group[q]
            if g < 0:
                pending[r] = True  # (not built yet, or the successor names the pitch)
            else:
                op = line_op[src, chosen]
                line = regs[r, 0] + op if op >= 0 else -op - 1
                b = 0
                if n_lines > 1 and line >= lo:
                    b = min(line, hi) - lo + 1
                op = notes_op[src, chosen]
                notes = min(regs[r, 2] + op, nhi) if op >= 0 else -op - 1
                if n_notes > 1 and notes >= nlo:
                    b = b * n_notes + min(notes, nhi) - nlo + 1
                else:
                    b = b * n_notes
                nxt = variant[g, b]
                if nxt < 0:
                    pending[r] = True
                else:
                    states[r] = nxt
                    regs[r, 0] = line
                    regs[r, 2] = notes
                    regs[r, 3] = ctx
                    pitch = pitch_op[src, chosen]
                    if pitch >= 0:
                        regs[r, 1] = pitch
            _row_goes_on(
                chosen, r, end_id, restart_id, max_tokens, kept, active, tokens, xh, cs, lbs
            )
            if active[r]:
                all_done = False
            elif pending[r]:
                pending[r] = False  # (a finished row's state no longer matters)
        if all_done:
            return -1
        logits = _step(
            table,
            weights,
            biases,
            dense_w,
            dense_b,
            dense_relu,
            units,
            lb,
            split,
            xh,
            cs,
            zs,
            hs,
            lbs,
            tokens,
            active,
            gemm_rows,
        )
    return -1


def _shaped_starts(automaton, prime, shapes, states: np.ndarray, regs) -> None:
    """Each row's start in its own shape (None: the shared start), in place. (The tables
    do not start again here: the shared start, already handed out, must stay valid.)"""
    if len(shapes) != len(states):
        raise ValueError("one shape per row")
    for r, shape in enumerate(shapes):
        if shape is not None:
            states[r], row_regs = automaton.begin(list(prime), shape, restart=False)
            if regs is not None:
                regs[r] = row_regs


def _line_args(line, rows: int, prime: Sequence[int]) -> tuple:
    """The loop's arguments for the line's lean (`ml.line.Line`; None: off): each row's
    tracker walked through the prime."""
    if line is None:
        empty = np.zeros(0, dtype=np.int64)
        return (
            empty,
            empty,
            empty,
            np.zeros((0, 0), dtype=np.float32),
            np.zeros((0, 0), dtype=np.int64),
            empty,
            np.zeros(0, dtype=np.float32),
        )
    return (
        line.classes,
        line.steps,
        line.notes,
        line.theta,
        line_rows(line, rows=rows, prime=prime),
        line.phrase_keys,
        line.phi,
    )


def sample_registered_tables(
    net,
    *,
    prime: Sequence[int],
    uniforms: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    max_tokens: int,
    end_id: int,
    restart_id: int | None,
    automaton,
    returns=None,
    memory=None,
    shapes=None,
    nats: np.ndarray | None = None,
    trial: int = 0,
    pieces: int = 0,
    line=None,
) -> list[list[int]]:
    """As `sample_lazy_tables`, for an `ml.automaton.LazyAutomaton` (tables with a line
    register): the steps run in the compiled loop (`_lazy_loop`), which leaves it only when
    a row reaches a successor not built yet; Python builds the successors of those rows
    (`automaton.advance`) and the loop resumes at the same draw."""
    c = compiled(net)
    args = c.args  # (once per call: it reads the environment)
    rows, draws = uniforms.shape
    xh, cs, zs, hs, lbs = c.zero_state(rows, len(prime) + draws)
    active = np.ones(rows, dtype=np.bool_)
    tokens = np.empty(rows, dtype=np.int64)
    for tok in prime:
        tokens[:] = tok
        _step(*args, xh, cs, zs, hs, lbs, tokens, active, GEMM_ROWS)
    start, regs0 = automaton.begin(list(prime))
    states = np.full(rows, start, dtype=np.int64)
    regs = np.ascontiguousarray(np.tile(regs0, (rows, 1)), dtype=np.int64)
    if shapes is not None:
        _shaped_starts(automaton, prime, shapes, states, regs)
    flags, plans, maps, rs, seq, bars = _returns_rows_start(
        returns, rows, c.table.shape[0], prime, draws
    )
    n_prime = len(prime)
    pending = np.zeros(rows, dtype=np.bool_)
    out = np.zeros((rows, draws), dtype=np.int64)
    lengths = np.zeros(rows, dtype=np.int64)
    kept = np.zeros(rows, dtype=np.int64)
    temp = np.float32(temperature)
    mem = _Memory(memory, rows=rows, width=len(prime) + draws, prime=prime)
    trial, pieces = _trial_args(trial, pieces, nats, rows)
    nats = _nats_out(nats, rows)
    line_args = _line_args(line, rows, prime)
    t = 0
    while t >= 0:
        t = _lazy_loop(
            *args, xh, cs, zs, hs, lbs, uniforms, temp, int(top_k), float(top_p), int(end_id),
            -1 if restart_id is None else int(restart_id), int(max_tokens), t, tokens, active,
            lengths, kept, out, states, regs, pending, automaton._allowed, automaton._group,
            automaton._next, automaton._line_op, automaton._pitch_op, automaton._notes_op,
            automaton._enter, automaton._variant, automaton.lo, automaton.hi, automaton.nlo,
            automaton.nhi, GEMM_ROWS, *mem.args, nats, trial, pieces, flags, plans, maps, rs,
            seq, bars, n_prime, *line_args,
        )  # fmt: skip
        if t >= 0:
            for r in np.flatnonzero(pending).tolist():
                last = int(out[r, lengths[r] - 1])
                states[r], regs[r] = automaton.advance_one(int(states[r]), regs[r].tolist(), last)
                pending[r] = False
    return [out[r, : lengths[r]].tolist() for r in range(rows)]


@njit(cache=True, error_model="numpy")
def _machine_loop(
    table, weights, biases, dense_w, dense_b, dense_relu, units, lb, split, xh, cs, zs, hs,
    lbs, uniforms, temperature, top_k, top_p, end_id, restart_id, max_tokens, tokens, active,
    lengths, kept, out, ps, sh, mp, vc, vf, start_id, gemm_rows, mem, mseq, mmatch,
    mlen, nats, trial, pieces, flags, plans, maps, rs, seq, bars, n_prime, line_classes,
    line_steps, line_notes, line_theta, line_rows, line_phrases, line_phi,
):  # fmt: skip
    """`sample_machine`'s draws in one call: each row carries its parser state (`ps[r]`,
    `ml.abc_machine`, its shape `sh[r]`), works out its mask by the compiled rules before
    each draw (`abc_machine.mask_of`) and folds the symbol drawn in; otherwise as `_loop`
    (returns, memory, the line's lean, the takes' trial)."""
    rows, draws = uniforms.shape
    V = table.shape[0]
    p = np.empty(V, dtype=np.float32)
    s = np.empty(V, dtype=np.float32)
    masks = np.zeros((rows, V), dtype=np.bool_)
    scratch = np.zeros(2 * am.TRIAL_WIDTH, dtype=np.int64)
    logits = hs[len(dense_w)]
    mq = np.zeros(V, dtype=np.float32)
    weigh = nats.shape[0] > 0
    on = mem.shape[0] > 0
    cap = max(mem.shape[0] - 1, 1)
    returns = flags.shape[0] > 0
    leaning = line_theta.shape[0] > 0
    leaned = np.empty(V, dtype=np.float32)
    no_counts = np.zeros((0, 0), dtype=np.int64)
    for t in range(draws):
        if weigh and 0 < trial == t:
            _trial_end(nats, lengths, active, pieces)
        all_done = True
        for r in range(rows):
            if not active[r]:
                continue
            if am.mask_of(ps[r], sh[r], mp, vc, vf, scratch, masks[r]):
                chosen = _draw_one(
                    logits[r], masks[r], r, uniforms[r, t], temperature, top_k, top_p, p, s,
                    mq, mem, mseq, mmatch, mlen, end_id, leaning, line_rows, line_notes,
                    line_steps, line_theta, line_phrases, line_phi, leaned, returns, rs, bars,
                    plans, maps, flags, seq,
                )  # fmt: skip
            else:
                chosen = _draw_one(
                    logits[r], None, r, uniforms[r, t], temperature, top_k, top_p, p, s,
                    mq, mem, mseq, mmatch, mlen, end_id, leaning, line_rows, line_notes,
                    line_steps, line_theta, line_phrases, line_phi, leaned, returns, rs, bars,
                    plans, maps, flags, seq,
                )  # fmt: skip
            _keep(
                chosen, logits[r], r, out, lengths, tokens, weigh, nats, on, mseq, mmatch,
                mlen, cap, returns, rs, bars, plans, flags, seq, n_prime, leaning, line_rows,
                line_classes, line_steps, no_counts,
            )  # fmt: skip
            am.feed_symbol(ps[r], sh[r], mp, vc, vf, chosen, start_id)
            _row_goes_on(
                chosen, r, end_id, restart_id, max_tokens, kept, active, tokens, xh, cs, lbs
            )
            if active[r]:
                all_done = False
        if all_done:
            break
        logits = _step(
            table, weights, biases, dense_w, dense_b, dense_relu, units, lb, split, xh, cs, zs,
            hs, lbs, tokens, active, gemm_rows,
        )  # fmt: skip
    return lengths


@njit(cache=True)
def _machine_starts(ps, mp, vc, vf, start_id, sh, prime):
    """Every row's parser state after the prime (each in its own shape)."""
    for r in range(ps.shape[0]):
        am.reset(ps[r])
        for v in prime:
            am.feed_symbol(ps[r], sh[r], mp, vc, vf, v, start_id)


def sample_machine(
    net,
    *,
    prime: Sequence[int],
    uniforms: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    max_tokens: int,
    end_id: int,
    restart_id: int | None,
    machine: am.Machine,
    returns=None,
    memory=None,
    shapes=None,
    nats: np.ndarray | None = None,
    trial: int = 0,
    pieces: int = 0,
    line=None,
) -> list[list[int]]:
    """As `sample`, under a grammar's compiled rules (`ml.abc_machine.Machine`): every row
    works out its own mask in the compiled loop (`_machine_loop`), which never calls
    Python; `shapes` (one per row, None for none) start each row in its drawn shape. The
    same masks as the grammar's own parser, so the same pieces as its tables give."""
    c = compiled(net)
    args = c.args
    rows, draws = uniforms.shape
    xh, cs, zs, hs, lbs = c.zero_state(rows, len(prime) + draws)
    active = np.ones(rows, dtype=np.bool_)
    tokens = np.empty(rows, dtype=np.int64)
    for tok in prime:
        tokens[:] = tok
        _step(*args, xh, cs, zs, hs, lbs, tokens, active, GEMM_ROWS)
    m = machine
    sh = m.shape_rows(shapes, rows)
    ps = np.zeros((rows, am.WIDTH), dtype=np.int64)
    prime_ids = np.asarray(list(prime), dtype=np.int64)
    _machine_starts(ps, m.params, m.codes, m.flags, m.start_id, sh, prime_ids)
    flags, plans, maps, rs, seq, bars = _returns_rows_start(
        returns, rows, c.table.shape[0], prime, draws
    )
    out = np.zeros((rows, draws), dtype=np.int64)
    lengths = np.zeros(rows, dtype=np.int64)
    kept = np.zeros(rows, dtype=np.int64)
    mem = _Memory(memory, rows=rows, width=len(prime) + draws, prime=prime)
    trial, pieces = _trial_args(trial, pieces, nats, rows)
    nats = _nats_out(nats, rows)
    _machine_loop(
        *args, xh, cs, zs, hs, lbs, uniforms, np.float32(temperature), int(top_k),
        float(top_p), int(end_id), -1 if restart_id is None else int(restart_id),
        int(max_tokens), tokens, active, lengths, kept, out, ps, sh, m.params, m.codes, m.flags,
        int(m.start_id), GEMM_ROWS, *mem.args, nats, trial, pieces,
        flags, plans, maps, rs, seq, bars, len(prime), *_line_args(line, rows, prime),
    )  # fmt: skip
    return [out[r, : lengths[r]].tolist() for r in range(rows)]


# --- the on-disk cache in worker processes ------------------------------------------------
def cache_read_only() -> int:
    """Stop this process writing the loop's functions to numba's on-disk cache (it still
    reads them); returns how many functions that covers.

    Why: a function compiled in a process that loaded its threaded helpers from the cache
    is written there broken, and every later process that loads it segfaults
    (docs/operations.md). `make setup` compiles every path the site samples by, in one
    process, first (`scripts/warm_numba.py`); a worker that still meets a new one (a path
    the warm-up left out) compiles it in memory, each time it starts, and logs which, instead
    of leaving a cache that would crash every worker after it."""
    import logging

    from numba.core.dispatcher import Dispatcher

    log = logging.getLogger(__name__)

    def skip(name: str):
        def save_overload(sig, data) -> None:
            log.warning(
                "numba compiled %s%s in this worker (not cached: scripts/warm_numba.py should "
                "compile it at setup)",
                name,
                sig,
            )

        return save_overload

    from musiclib.ml import line  # (the line's tracker: called by the loop and from Python)

    count = 0
    # (the line's tracker and the ABC grammar's compiled rules: called by the loop and from
    # Python)
    for name, obj in {**vars(line), **vars(am), **globals()}.items():  # (each function once)
        cache = getattr(obj, "_cache", None)
        if isinstance(obj, Dispatcher) and callable(getattr(cache, "save_overload", None)):
            cache.save_overload = skip(name)
            count += 1
    return count
