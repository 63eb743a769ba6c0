"""The incremental sampler: the LSTM stack run step by step, state carried forward.

`sample` runs the compiled loop (`fastloop`); `sample_numpy` and `step` are the same
arithmetic in numpy, the reference the loop is tested and benchmarked against.

The original called `model.predict` on the last 100 characters for every new character:
100 LSTM steps plus a TensorFlow call (~70 ms) per character. Here the weights are copied
out of the Keras model once, each step feeds one token per row and carries (h, c), and many
pieces are sampled as one batch. The first layer's input projection is folded into a
table (embedding @ kernel + bias), so the token input costs a row lookup, not a matmul.

Sampling is a pure function of (weights, prime, temperature, top-k, top-p, seeds): each row draws
its uniforms from its own generator seeded by that piece's seed, so a piece is reproduced
by its seed alone, whatever batch it was sampled in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .abc_machine import Machine
from .automaton import LazyAutomaton
from .line import Line

if TYPE_CHECKING:
    from .fastloop import GrammarTables
    from .returns import Returns

LOOK_BACK_ARRAYS = ("wq", "wk", "wv_h", "vtable", "wo", "bo")  # LookBack's, as saved
MAX_TAKES = 8  # takes of one piece `sample` may weigh against each other (1: one draw)
PROBABILITY_BATCH = 64  # pieces run through the LSTM at once by `probabilities`

# A constraint sees (row, ids so far) and returns a boolean mask over the vocabulary of the
# allowed next tokens, or None for "anything goes". Used by grammar-aware sampling.
Constraint = Callable[[int, list[int]], np.ndarray | None]


@dataclass
class LookBack:
    """`ml.model.LookBack`'s weights as the sampler uses them (width = heads × dim)."""

    wq: np.ndarray  # (H, width): the query, from the last LSTM's output
    wk: np.ndarray  # (H, width): the key, from the output one step before
    wv_h: np.ndarray  # (H, width): the value's part from the output
    vtable: np.ndarray  # (V, width): the value's part from the symbol, embedding @ Wv
    wo: np.ndarray  # (width, H)
    bo: np.ndarray  # (H,)
    heads: int
    dim: int


@dataclass
class Net:
    table: np.ndarray  # (V, 4H0): embedding @ W0 + b0, the first layer's input projection
    recurrent: list[np.ndarray]  # layer 0: U0 (H0, 4H0); layer k>0: [W_k; U_k] stacked
    biases: list[np.ndarray]  # layer k>0 bias (4H_k); layer 0's is folded into the table
    dense: list[tuple[np.ndarray, np.ndarray, bool]]  # (W, b, relu?) ..., logits last
    units: list[int]
    look_back: LookBack | None = None  # after the last LSTM: its output becomes [h, context]

    @property
    def vocab_size(self) -> int:
        return self.table.shape[0]


def net_from_keras(model) -> Net:
    """Copy the weights of a model built by `ml.model.build_model` into a Net."""
    emb = look = None
    lstms, dense = [], []
    for layer in model.layers:
        kind = type(layer).__name__
        weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
        if kind == "Embedding":
            emb = weights[0]
        elif kind == "LSTM":
            lstms.append(weights)
        elif kind == "Dense":
            relu = getattr(layer.activation, "__name__", "") == "relu"
            dense.append((weights[0], weights[1], relu))
        elif kind == "LookBack":
            look = (layer, weights)
        elif kind not in ("InputLayer", "Dropout"):
            raise ValueError(f"the sampler does not know the layer {kind}")
    if emb is None or not lstms or not dense:
        raise ValueError("the model is not an embedding → LSTM → dense stack")
    w0, u0, b0 = lstms[0]
    table = emb @ w0 + b0
    recurrent, biases, units = [u0], [b0], [u0.shape[0]]
    for w, u, b in lstms[1:]:
        recurrent.append(np.ascontiguousarray(np.vstack([w, u])))
        biases.append(b)
        units.append(u.shape[0])
    look_back = None
    if look is not None:
        layer, (wq, wk, wv, wo, bo) = look
        e = emb.shape[1]
        look_back = LookBack(
            wq=wq, wk=wk, wv_h=np.ascontiguousarray(wv[e:]), vtable=emb @ wv[:e], wo=wo, bo=bo,
            heads=int(layer.heads), dim=int(layer.key_dim),
        )  # fmt: skip
    return Net(
        table=np.ascontiguousarray(table),
        recurrent=recurrent,
        biases=biases,
        dense=dense,
        units=units,
        look_back=look_back,
    )


def _fuse(net: Net) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per layer (weights, bias) with gate columns reordered from Keras's (i, f, g, o) to
    (i, f, o, g) and the i, f, o columns halved: then one tanh over all 4H columns gives
    both tanh(g) and sigmoid(x) = 0.5 * tanh(x / 2) + 0.5 for the three gates."""
    cached = getattr(net, "_fused", None)
    if cached is not None:
        return cached

    def reorder(a: np.ndarray, units: int) -> np.ndarray:
        i, f, g, o = (a[..., k * units : (k + 1) * units] for k in range(4))
        return np.ascontiguousarray(np.concatenate([0.5 * i, 0.5 * f, 0.5 * o, g], axis=-1))

    fused = []
    for k, units in enumerate(net.units):
        bias = None if k == 0 else reorder(net.biases[k], units).astype(np.float32)
        fused.append((reorder(net.recurrent[k], units).astype(np.float32), bias))
    net._fused = fused
    net._table = reorder(net.table, net.units[0]).astype(np.float32)
    return fused


class State:
    """(h, c) for every layer and row, in preallocated buffers.

    Layer k's input and its previous output sit side by side in `xh[k]`, so one matmul
    computes the input and recurrent projections together."""

    def __init__(self, net: Net, rows: int):
        _fuse(net)
        self.xh, self.c, self.z, self.tmp = [], [], [], []
        prev = 0
        for units in net.units:
            self.xh.append(np.zeros((rows, prev + units), dtype=np.float32))
            self.c.append(np.zeros((rows, units), dtype=np.float32))
            self.z.append(np.empty((rows, 4 * units), dtype=np.float32))
            self.tmp.append(np.empty((rows, units), dtype=np.float32))
            prev = units
        # The look back's cache: each row's keys and values so far (`seen[r]` of them, in
        # arrays grown by doubling, so a step appends in place instead of stacking the
        # row's whole past again), its previous output.
        width = (net.look_back.heads, net.look_back.dim) if net.look_back is not None else (0, 0)
        self.keys = np.zeros((rows, width[0], 0, width[1]), dtype=np.float32)
        self.values = np.zeros_like(self.keys)
        self.seen = np.zeros(rows, dtype=np.int64)
        self.before = np.zeros((rows, prev), dtype=np.float32)

    def restart(self, rows: np.ndarray) -> None:
        """The rows `rows` (a boolean mask) start again from zeros, nothing looked back on."""
        for xh, c in zip(self.xh, self.c, strict=True):
            xh[rows] = 0.0
            c[rows] = 0.0
        self.seen[rows] = 0
        self.before[rows] = 0.0

    @property
    def h(self) -> list[np.ndarray]:
        return [xh[:, xh.shape[1] - c.shape[1] :] for xh, c in zip(self.xh, self.c, strict=True)]


def step(net: Net, state: State, tokens: np.ndarray) -> np.ndarray:
    """Feed one token per row, update the state in place, return the logits (rows, V)."""
    fused = _fuse(net)
    layers = len(net.units)
    for k, units in enumerate(net.units):
        w, b = fused[k]
        xh, c, z, tmp = state.xh[k], state.c[k], state.z[k], state.tmp[k]
        np.matmul(xh, w, out=z)
        z += net._table[tokens] if k == 0 else b
        np.tanh(z, out=z)
        gates = z[:, : 3 * units]
        gates *= 0.5
        gates += 0.5  # sigmoid of i, f, o
        np.multiply(z[:, :units], z[:, 3 * units :], out=tmp)  # i * g
        c *= z[:, units : 2 * units]  # f * c
        c += tmp
        h = xh[:, xh.shape[1] - units :]
        np.tanh(c, out=h)
        h *= z[:, 2 * units : 3 * units]  # o * tanh(c)
        if k + 1 < layers:
            state.xh[k + 1][:, :units] = h
    x = h if net.look_back is None else _look_back(net.look_back, state, h, tokens)
    for w, b, relu in net.dense:
        x = x @ w
        x += b
        if relu:
            np.maximum(x, 0, out=x)
    return x


def _look_back(lb: LookBack, state: State, h: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """[h, context] for every row (see `ml.model.LookBack`), the row's cache grown by this
    step's key and value. Rows look back over their own `seen` positions only (a restarted
    row over fewer), so the batch shares one product per head and the longest past."""
    rows, units = h.shape
    out = np.empty((rows, 2 * units), dtype=np.float32)
    out[:, :units] = h
    heads, dim = lb.heads, lb.dim
    keys = (state.before @ lb.wk).reshape(rows, heads, dim)
    values = (lb.vtable[tokens] + h @ lb.wv_h).reshape(rows, heads, dim)
    queries = (h @ lb.wq).reshape(rows, heads, 1, dim)
    if state.seen.max() >= state.keys.shape[2]:
        grown = max(64, 2 * state.keys.shape[2])
        for name in ("keys", "values"):
            old = getattr(state, name)
            new = np.zeros((rows, heads, grown, dim), dtype=np.float32)
            new[:, :, : old.shape[2]] = old
            setattr(state, name, new)
    at = np.arange(rows)
    state.keys[at, :, state.seen] = keys
    state.values[at, :, state.seen] = values
    state.seen += 1
    t = int(state.seen.max())
    scale = np.float32(1.0 / np.sqrt(dim))
    scores = (queries @ state.keys[:, :, :t].transpose(0, 1, 3, 2))[:, :, 0] * scale
    if int(state.seen.min()) < t:  # a restarted row: nothing past its own positions
        scores = np.where(
            (np.arange(t)[None, :] < state.seen[:, None])[:, None, :], scores, -np.inf
        ).astype(np.float32)
    weights = np.exp(scores - scores.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    context = (weights[:, :, None, :] @ state.values[:, :, :t])[:, :, 0].reshape(rows, -1)
    out[:, units:] = context @ lb.wo + lb.bo
    state.before[:] = h
    return out


def _choose(
    logits: np.ndarray, *, temperature: float, top_k: int, u: np.ndarray, top_p: float = 1.0
) -> np.ndarray:
    z = logits / temperature
    if 0 < top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    if top_p < 1.0:
        # Nucleus: keep the most likely symbols until their weights first reach top_p of
        # the total, and any tied with the last one kept.
        desc = -np.sort(-p, axis=1)
        cum = np.cumsum(desc, axis=1)
        n = (cum < np.float32(top_p) * cum[:, -1:]).sum(axis=1)
        thr = desc[np.arange(p.shape[0]), np.minimum(n, p.shape[1] - 1)][:, None]
        p = np.where(p < thr, np.float32(0.0), p)
    cdf = np.cumsum(p, axis=1)
    # Inverse-CDF draw with each row's own uniform number.
    return np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=1), z.shape[1] - 1)


def sample(
    net: Net,
    *,
    prime: Sequence[int],
    seeds: Sequence[int],
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    max_tokens: int = 1000,
    end_id: int = 2,
    constraint: Constraint | GrammarTables | None = None,
    restart_id: int | None = None,
    returns: Returns | None = None,
    memory: np.ndarray | None = None,
    shapes: Sequence[Hashable] | None = None,
    takes: int = 1,
    choose: Callable[[list[list[int]], np.ndarray], np.ndarray] | None = None,
    trial: int = 0,
    line: Line | None = None,
) -> list[list[int]]:
    """Sample one piece per seed, all as one batch, in the compiled loop (`fastloop`).
    Returns the new ids of each piece (the prime excluded), up to and including `end_id`
    when the piece ended.

    `takes` (1..MAX_TAKES) draws each piece that many times and keeps the take the
    model itself finds least surprising (`surprise`: fewest nats per symbol it wrote, the
    LSTM alone at temperature 1, without the mask or the memory that steered the draw). The
    first take is the piece `takes=1` gives; the others draw from streams of the same
    seed (`_uniforms`) with the same shape and plan of returns, so a piece is still
    reproduced by its seed and the number of takes. A draw steered by the grammar's form,
    the returns or the memory sometimes goes where the model would not (a figure that fits
    another bar, a restated bar entered by a leap): the model's own view picks the take
    where the steering and the model agreed best. `choose(takes_ids, surprise)` keeps
    another take instead: it is given every take's ids, take-major (take k of piece i at
    k * n + i), and their surprise as a (takes, n) array, and returns the take kept for
    each piece (`metrics.critic`: the take most like the corpus).

    `trial` (symbols, 0: off) shortens the takes: once every take of a piece has written
    `trial` symbols (or ended), only the least surprising so far goes on, and it is the
    one kept. The kept piece is that take whole, as its stream draws it alone; the others
    cost `trial` symbols instead of a whole piece. With one take it changes nothing; not
    with `choose`, which weighs finished takes.

    `temperature` divides the logits (> 0); `top_k` keeps the k most likely symbols (0:
    all); `top_p` (0 < p <= 1, 1: off) keeps the most likely symbols until their weights
    first reach p of the total (nucleus sampling); both may be on (top-k first).

    `constraint` masks the draws: `GrammarTables` (looked up inside the compiled loop), an
    automaton that builds its tables while sampling (an `ml.automaton.LazyAutomaton`:
    looked up inside the compiled loop, which leaves it only for what is not built yet;
    or any object with `start(prime)`, `allowed`, `step(states, symbols)`: looked up for
    all rows at once between compiled steps), an
    object whose `tables(prime)` gives fixed tables (None: no tables for this prime), or a
    Python `Constraint` (asked per row per step between compiled steps, slower).

    With `restart_id` (the audio way's START), a row that draws `end_id` does not end: the
    end stays in its ids, its state is reset to zeros and `restart_id` fed, exactly as a new
    piece begins, and it carries on with a new phrase until it holds `max_tokens` ids other
    than `end_id` (at most 2 * max_tokens draws). Constraints then see `restart_id` after
    the end in the row's history; tables follow END's transition.

    `returns` (`ml.returns.Returns`: one plan per seed, in the seeds' order) makes bars
    restate earlier bars of the same piece where its plan says: the earlier bar's symbols
    are fed again (the LSTM's state carries on from them), each still under the grammar's
    mask (a refused symbol ends the restatement; the rest of the bar is drawn). Not with a
    Python `Constraint` nor with `restart_id`; `sample_numpy` has no returns.

    `memory` (`ml.memory`: a weight per match length, fitted on held-out pieces) mixes
    each draw with what followed the longest earlier match in the same piece, so figures,
    bars and phrases come back as often as in people's pieces. `sample_numpy` has none.

    `shapes` (one per seed, None for a row without): each row starts the grammar in a state
    of its own (`LazyAutomaton.begin(prime, shape)`: the ABC form grammar's drawn shape,
    `AbcWay.form_shapes_for`). Only with an automaton built while sampling.

    The same arguments give the same pieces as `sample_numpy` (the numpy reference)."""
    _check(temperature=temperature, top_k=top_k, top_p=top_p, prime=prime)
    if not 1 <= int(takes) <= MAX_TAKES:
        raise ValueError(f"takes must be 1..{MAX_TAKES}")
    if returns is not None and restart_id is not None:
        raise ValueError("returns restate bars of one piece: not with phrase restarts")
    if trial < 0 or trial and choose is not None:
        raise ValueError("trial is 0 (off) or a number of symbols, and not with choose")
    _fuse(net)  # the gate layout both loops read (fastloop takes it from the net)
    loop = dict(
        prime=prime,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        max_tokens=max_tokens,
        end_id=end_id,
        restart_id=restart_id,
        memory=memory,
        line=line,
    )
    if takes == 1:
        uniforms = _uniforms(seeds, max_tokens=max_tokens, restart_id=restart_id)
        return _sample_rows(
            net, uniforms=uniforms, constraint=constraint, returns=returns, shapes=shapes, **loop
        )
    n = len(seeds)
    # Take-major rows: row k * n + i is take k of piece i.
    uniforms = np.concatenate([
        _uniforms(seeds, max_tokens=max_tokens, restart_id=restart_id, take=k)
        for k in range(takes)
    ])  # fmt: skip
    nats = np.zeros(len(uniforms), dtype=np.float64)
    tiled = None
    if returns is not None:
        from .returns import Returns

        tiled = Returns(
            flags=returns.flags, plans=np.tile(returns.plans, (takes, 1)), maps=returns.maps
        )
    outs = _sample_rows(
        net,
        uniforms=uniforms,
        constraint=constraint,
        returns=tiled,
        shapes=None if shapes is None else list(shapes) * takes,
        nats=nats,
        trial=int(trial),
        pieces=n,
        **loop,
    )
    # Each take's surprise, added up by the loop as it wrote (what `surprise` computes
    # again from the ids, without a second pass through the LSTM).
    written = np.array([len(ids) for ids in outs], dtype=np.float64)
    scores = np.where(written > 0, nats / np.maximum(written, 1.0), np.inf).reshape(takes, n)
    if choose is None:
        best = scores.argmin(axis=0)  # ties: the earlier take
    else:
        best = np.asarray(choose(outs, scores), dtype=np.int64)
        if best.shape != (n,) or best.min() < 0 or best.max() >= takes:
            raise ValueError(f"choose must return one take in 0..{takes - 1} per piece")
    rows = [int(k) * n + i for i, k in enumerate(best)]
    if returns is not None and tiled.state is not None:
        returns.state = tiled.state[rows]
    return [outs[r] for r in rows]


def _sample_rows(
    net: Net,
    *,
    uniforms: np.ndarray,
    constraint,
    returns: Returns | None,
    shapes: Sequence[Hashable] | None,
    nats: np.ndarray | None = None,
    trial: int = 0,
    pieces: int = 0,
    **loop,
) -> list[list[int]]:
    """One row per row of `uniforms`, in the loop that fits the constraint; `loop`: the
    loops' common arguments as `sample` takes them (`nats`, `trial`, `pieces`: see
    `fastloop.sample`)."""
    from . import fastloop

    prime = loop["prime"]
    common = dict(uniforms=uniforms, nats=nats, trial=trial, pieces=pieces, **loop)
    tables = constraint if isinstance(constraint, fastloop.GrammarTables) else None
    if isinstance(constraint, Machine):  # the grammar's rules, compiled
        return fastloop.sample_machine(
            net, machine=constraint, returns=returns, shapes=shapes, **common
        )
    if tables is None and hasattr(constraint, "step") and hasattr(constraint, "allowed"):
        # Tables built while sampling (an automaton whose successors are made on demand).
        return fastloop.sample_lazy_tables(
            net, automaton=constraint, returns=returns, shapes=shapes, **common
        )
    if shapes is not None and any(shape is not None for shape in shapes):
        raise ValueError("shapes need a grammar compiled while sampling (an automaton)")
    if constraint is not None and tables is None and hasattr(constraint, "tables"):
        tables = constraint.tables(list(prime))
    if constraint is None or tables is not None:
        return fastloop.sample(net, tables=tables, returns=returns, **common)
    if returns is not None:
        raise ValueError("returns need a grammar compiled into tables (or no grammar)")
    return fastloop.sample_constrained(net, constraint=constraint, **common)


def _check(*, temperature: float, top_k: int, top_p: float, prime: Sequence[int]) -> None:
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    if top_k < 0:
        raise ValueError("top_k must be 0 (off) or positive")
    if not 0 < top_p <= 1:
        raise ValueError("top_p must be more than 0 and at most 1 (1: off)")
    if not prime:
        raise ValueError("the prime must contain at least the start token")


def _uniforms(
    seeds: Sequence[int], *, max_tokens: int, restart_id: int | None, take: int = 0
) -> np.ndarray:
    """Each row's uniform numbers, from its own generator seeded by the piece's seed (take
    k > 0 of a piece: by the pair (seed, k), a stream no plain seed gives). The first
    max_tokens are the same whatever the number of draws (one stream per seed)."""
    draws = max_tokens if restart_id is None else 2 * max_tokens
    key = (lambda s: int(s)) if take == 0 else (lambda s: [int(s), int(take)])
    return np.stack([np.random.default_rng(key(s)).random(draws) for s in seeds])


def probabilities(
    net: Net, pieces: Sequence[np.ndarray], *, end_id: int, restart_id: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each piece (ids from START), the LSTM's probability of each symbol after the
    first and of the end there: teacher forced from a zero state, temperature 1, no mask, as
    the trainer's loss counts them. With `restart_id`, an `end_id` inside a piece restarts
    it as the sampler does (state to zeros, `restart_id` fed instead of the end)."""
    out: list = [None] * len(pieces)
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
    for a in range(0, len(order), PROBABILITY_BATCH):
        idx = order[a : a + PROBABILITY_BATCH]
        width = max(len(pieces[i]) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            ids[row, : len(pieces[i])] = pieces[i]
        state = State(net, len(idx))
        probs = np.zeros((len(idx), width), dtype=np.float64)
        ends = np.zeros((len(idx), width), dtype=np.float64)
        for t in range(width - 1):
            fed = ids[:, t]
            if restart_id is not None and t > 0:
                again = fed == end_id
                if again.any():
                    state.restart(again)
                    fed = np.where(again, restart_id, fed)
            logits = step(net, state, fed).astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            total = e.sum(axis=1)
            probs[:, t + 1] = e[np.arange(len(idx)), ids[:, t + 1]] / total
            ends[:, t + 1] = e[:, end_id] / total
        for row, i in enumerate(idx):
            n = len(pieces[i])
            out[i] = (np.maximum(probs[row, 1:n], 1e-12), ends[row, 1:n])
    return out


def surprise(
    net: Net,
    *,
    prime: Sequence[int],
    pieces: Sequence[Sequence[int]],
    end_id: int,
    restart_id: int | None = None,
) -> np.ndarray:
    """Nats per symbol the model gives each piece's own symbols (`pieces`: the new ids after
    `prime`, as `sample` returns them), its end included, the prime only heard: the mean of
    -log p over what was written. inf for a piece with nothing written. The figure `sample`
    weighs takes by (its loops add it up while they write: the same, without this second
    pass through the LSTM)."""
    full = [np.asarray([*prime, *ids], dtype=np.int64) for ids in pieces]
    out = np.full(len(full), np.inf)
    for i, (p, _) in enumerate(probabilities(net, full, end_id=end_id, restart_id=restart_id)):
        written = p[len(prime) - 1 :]
        if len(written):
            out[i] = float(-np.log(written).mean())
    return out


def sample_numpy(
    net: Net,
    *,
    prime: Sequence[int],
    seeds: Sequence[int],
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    max_tokens: int = 1000,
    end_id: int = 2,
    constraint: Constraint | LazyAutomaton | None = None,
    restart_id: int | None = None,
) -> list[list[int]]:
    """The numpy reference `sample` is checked against (tests and `bench/sampler.py`): the
    same pieces, one numpy step per token, a Python constraint asked per row per step, or
    a grammar's lazily built tables (`ml.automaton`) looked up per step."""
    _check(temperature=temperature, top_k=top_k, top_p=top_p, prime=prime)
    rows = len(seeds)
    uniforms = _uniforms(seeds, max_tokens=max_tokens, restart_id=restart_id)
    draws = uniforms.shape[1]
    state = State(net, rows)
    logits = None
    for tok in prime:
        logits = step(net, state, np.full(rows, tok, dtype=np.int64))
    out: list[list[int]] = [[] for _ in range(rows)]
    done = np.zeros(rows, dtype=bool)
    kept = np.zeros(rows, dtype=np.int64)  # ids other than end_id, in restart mode
    # A grammar's tables (`ml.automaton`): each row's parser state is a number, its mask a
    # table row (the same masks as calling the grammar); Python runs only for successors
    # not built yet.
    automaton = constraint if isinstance(constraint, LazyAutomaton) else None
    if automaton is not None and restart_id is not None:
        raise ValueError("lazily built grammar tables do not follow phrase restarts")
    states = regs = None
    if automaton is not None:
        start, regs0 = automaton.begin(prime)
        states, regs = np.full(rows, start, np.int64), np.tile(regs0, (rows, 1))
    history = [list(prime) for _ in range(rows)] if constraint and automaton is None else None
    for t in range(draws):
        if automaton is not None:
            logits[~automaton.allowed[states]] = -np.inf
        elif constraint is not None:
            for r in range(rows):
                if not done[r]:
                    mask = constraint(r, history[r])
                    if mask is not None:
                        logits[r, ~mask] = -np.inf
        chosen = _choose(
            logits, temperature=temperature, top_k=top_k, top_p=top_p, u=uniforms[:, t]
        )
        if automaton is not None:  # (a finished row's state no longer matters)
            live = ~done
            states[live], regs[live] = automaton.advance(states[live], regs[live], chosen[live])
        for r in np.flatnonzero(~done):
            out[r].append(int(chosen[r]))
            if history is not None:
                history[r].append(int(chosen[r]))
        if restart_id is None:
            done |= chosen == end_id
        else:
            ended = (chosen == end_id) & ~done
            kept += (~ended & ~done).astype(np.int64)
            done |= kept >= max_tokens
            chosen = chosen.copy()
            state.restart(ended)
            for r in np.flatnonzero(ended):
                chosen[r] = restart_id
                if history is not None:
                    history[r].append(int(restart_id))
        if done.all():
            break
        logits = step(net, state, chosen)
    return out


def sample_windowed(
    net: Net,
    *,
    prime: Sequence[int],
    seeds: Sequence[int],
    window: int = 100,
    temperature: float = 1.0,
    max_tokens: int = 1000,
    end_id: int = 2,
) -> list[list[int]]:
    """The original's way of sampling, for comparison: every token is predicted by running
    the network from a zero state over the last `window` tokens only."""
    rows = len(seeds)
    uniforms = np.stack([np.random.default_rng(int(s)).random(max_tokens) for s in seeds])
    seqs = [list(prime) for _ in range(rows)]
    out: list[list[int]] = [[] for _ in range(rows)]
    done = np.zeros(rows, dtype=bool)
    for t in range(max_tokens):
        state = State(net, rows)
        ctx = np.array([s[-window:] for s in seqs], dtype=np.int64)
        for j in range(ctx.shape[1]):
            logits = step(net, state, ctx[:, j])
        chosen = _choose(logits, temperature=temperature, top_k=0, u=uniforms[:, t])
        for r in range(rows):
            seqs[r].append(int(chosen[r]))
            if not done[r]:
                out[r].append(int(chosen[r]))
        done |= chosen == end_id
        if done.all():
            break
    return out


def save_net(net: Net, path: str, *, extra: dict[str, np.ndarray] | None = None) -> None:
    """Write the sampler's weights as one .npz (read back without TensorFlow), with a way's
    `extra` arrays (their names start with "way_") beside them."""
    arrays: dict[str, np.ndarray] = {**(extra or {})}
    arrays.update({"table": net.table, "units": np.asarray(net.units)})
    for k, (r, b) in enumerate(zip(net.recurrent, net.biases, strict=True)):
        arrays[f"recurrent_{k}"], arrays[f"bias_{k}"] = r, b
    for j, (w, b, relu) in enumerate(net.dense):
        arrays[f"dense_w_{j}"], arrays[f"dense_b_{j}"] = w, b
        arrays[f"dense_relu_{j}"] = np.asarray(relu)
    if net.look_back is not None:
        lb = net.look_back
        for name in LOOK_BACK_ARRAYS:
            arrays[f"look_back_{name}"] = getattr(lb, name)
        arrays["look_back_shape"] = np.asarray([lb.heads, lb.dim])
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_extra(path: str, *, prefix: str = "way_") -> dict[str, np.ndarray]:
    """The way's arrays saved beside the weights by `save_net(extra=...)`."""
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files if k.startswith(prefix)}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"the checkpoint's sampler file is missing or corrupt ({exc})") from exc


def load_net(path: str) -> Net:
    try:
        with np.load(path) as z:
            units = [int(u) for u in z["units"]]
            recurrent = [z[f"recurrent_{k}"] for k in range(len(units))]
            biases = [z[f"bias_{k}"] for k in range(len(units))]
            dense, j = [], 0
            while f"dense_w_{j}" in z:
                dense.append((z[f"dense_w_{j}"], z[f"dense_b_{j}"], bool(z[f"dense_relu_{j}"])))
                j += 1
            table = z["table"]
            look_back = None
            if "look_back_shape" in z:
                heads, dim = (int(n) for n in z["look_back_shape"])
                arrays = {name: z[f"look_back_{name}"] for name in LOOK_BACK_ARRAYS}
                look_back = LookBack(**arrays, heads=heads, dim=dim)
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise ValueError(f"the checkpoint's sampler file is missing or corrupt ({exc})") from exc
    return Net(
        table=table,
        recurrent=recurrent,
        biases=biases,
        dense=dense,
        units=units,
        look_back=look_back,
    )
