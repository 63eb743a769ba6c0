"""Compile the numba functions the site uses, once, before anything else runs (called by
setup.sh).

Why: librosa's numba functions, the sampling loop (`musiclib/ml/fastloop.py`) and the
grammar's compiled rules (`musiclib/ml/abc_machine.py`) are cached on disk (`cache=True`),
and numba's cache is not safe against concurrent writers. Two processes that compile the
same function at once (two Celery workers, a test and its worker, two checkouts sharing a
virtualenv) can leave an index that points one signature at another's machine code; every
later process that loads it then segfaults. Seen here: after two processes first ran pYIN
together, `librosa.pyin` crashed in `util.localmin` in every new process. Compiling every
signature the site uses here, before anything runs in parallel, means later processes only
read the cache. One process after another is not safe either: a loop compiled in a
process that loaded its threaded helpers from the cache is cached broken (docs/operations.md),
so setup.sh deletes the project's caches before it runs this, and the whole loop is
compiled here, in one process (`main`). Two processes do share the work, on functions
neither compiles twice: librosa's and the grammar's rules (no threads in them) compile in a
second process beside the loop's.

Exit status: 0 when every function ran. setup.sh runs this in a child process, then again
in another (which loads what the first wrote), and when either dies of a signal (a cache
corrupted) deletes the numba caches and runs it again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def warm_librosa() -> None:
    # The calls the audio way and its measures make, with the dtypes they pass (float32).
    from musiclib.audio import dsp
    from musiclib.metrics import audio as metrics

    sr = metrics.SAMPLE_RATE
    t = np.arange(sr, dtype=np.float64) / sr
    y = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    metrics.clip_metrics(y)
    mag = np.sqrt(metrics._power(y)).astype(np.float32)
    dsp.griffin_lim(mag, n_iter=2, phase=np.zeros_like(mag), length=y.size)


def _small_net(vocab: int):
    """A random net of the site's layout (two LSTMs of 8 units: gate columns that split into
    whole lines; a ReLU layer, then the logits): the loop's types are the same for every
    net, so a small one compiles them all."""
    from musiclib.ml import sampler

    rng = np.random.default_rng(0)

    def w(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    return sampler.Net(
        table=w(vocab, 32),
        recurrent=[w(8, 32), w(16, 32)],
        biases=[w(32), w(32)],
        dense=[(w(8, 6), w(6), True), (w(6, vocab), w(vocab), False)],
        units=[8, 8],
    )


def _batches():
    """The seeds of a few rows (plain loops) and of many (BLAS), on one thread and with the
    products split among two (SAMPLE_THREADS set while each is sampled)."""
    import os
    from unittest import mock

    from musiclib.ml import fastloop

    for split in ("1", "2"):
        with mock.patch.dict(os.environ, {"SAMPLE_THREADS": split}):
            for rows in (1, fastloop.GEMM_ROWS):
                yield list(range(rows))


def warm_sampler() -> None:
    # Every path of the compiled loop: top-k and top-p, restarts, grammar tables and a
    # Python constraint, for each of `_batches`.
    from musiclib.ml import fastloop, sampler

    vocab = 8
    net = _small_net(vocab)
    allowed = np.ones((1, vocab), dtype=bool)
    tables = fastloop.GrammarTables(
        allowed=allowed, next_state=np.zeros((1, vocab), dtype=np.int32), start=0
    )
    for seeds in _batches():
        sampler.sample(net, prime=[1], seeds=seeds, max_tokens=4, top_k=3, top_p=0.9)
        sampler.sample(net, prime=[1], seeds=seeds, max_tokens=4, restart_id=1, constraint=tables)
        sampler.sample(net, prime=[1], seeds=seeds, max_tokens=4, constraint=lambda r, ids: None)


def _folk_form():
    """Two short tunes in the folk form's shape (two parts of eight bars, repeated), their
    vocabulary and ids, and a small net over it."""
    from musiclib.ways.base import END_ID, SPECIALS, START_ID

    first = "|:GABc d2B2|c2A2 B2G2|GABc d2B2|c2A2 B2G2|GABc d2B2|c2A2 B2G2|A2c2 B2A2|G8:|\n"
    second = "|:d2g2 g2fe|d2B2 G4|d2g2 g2fe|d2c2 B4|d2g2 g2fe|d2B2 G4|A2c2 B2A2|G8:|\n"
    texts = [f"M:4/4\nL:1/8\nK:G\n{first}{second}", f"M:4/4\nL:1/8\nK:G\n{second}{first}"]
    vocab = [*SPECIALS, *sorted({ch for text in texts for ch in text})]
    index = {ch: i for i, ch in enumerate(vocab)}
    pieces = [np.array([START_ID, *(index[ch] for ch in t), END_ID]) for t in texts]
    return texts, vocab, pieces, _small_net(len(vocab))


def warm_rules() -> None:
    # The grammar's compiled rules (`ml.abc_machine`) with the types the loop passes them
    # (rows of the rows' states and shapes). They run no threads and call nothing that
    # does, so `main` compiles them in a process of their own, beside the loop, and the
    # loop's process then loads them from the cache (what every later process does too).
    from musiclib.ml import abc_machine as am
    from musiclib.ways.abc_text import WAY as way

    _, vocab, pieces, _ = _folk_form()
    machine = way.grammar(vocab=vocab, form=True).machine()
    rows = 2
    states = np.zeros((rows, am.WIDTH), dtype=np.int64)
    shapes = machine.shape_rows(None, rows)
    masks = np.zeros((rows, len(vocab)), dtype=np.bool_)
    scratch = np.zeros(2 * am.TRIAL_WIDTH, dtype=np.int64)
    p, codes, flags = machine.params, machine.codes, machine.flags
    for r in range(rows):
        am.reset(states[r])
        for v in pieces[r][:60]:
            am.feed_symbol(states[r], shapes[r], p, codes, flags, v, machine.start_id)
            am.mask_of(states[r], shapes[r], p, codes, flags, scratch, masks[r])


def warm_folk_form(*, machine: bool) -> None:
    # The generate page's defaults for ABC: the folk form's grammar tables (`machine`
    # False) or its compiled rules (True: what the site samples characters with), a drawn
    # shape and a plan of returns per piece, the memory, takes with a trial (the lazily
    # built tables' loop, the returns' bookkeeping), the memory's fit the train worker runs,
    # and the moves' lean and their counts (`ml.line`, the train worker's fit of them).
    # Left out, they were compiled by the first job that used them, in a worker, and
    # written to the cache then. Seen here without this warm-up: after one process had
    # cached some of the loop's helpers, a second compiled and cached the plain loop, and
    # every later process that loaded it from the cache segfaulted.
    from musiclib.metrics.form import returns_library
    from musiclib.ml import sampler
    from musiclib.ml.line import (
        CONTEXTS,
        MOVES,
        PHRASE,
        PHRASES_STATE,
        Line,
        phrase_counts,
        phrase_index,
        phrase_state,
        text_counts,
        text_intervals,
    )
    from musiclib.ml.memory import memory_fit
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID, START_ID

    texts, vocab, pieces, net = _folk_form()
    library = returns_library(way=way, vocab=vocab, pieces=pieces)
    # the memory's fit, as the train worker runs it at every checkpoint (MIN_SYMBOLS: the
    # two tunes three times over)
    fit = memory_fit(net, pieces * 3, end_id=END_ID)
    if fit is None:
        raise RuntimeError("warm_numba: too few symbols to fit the memory")
    grammar = way.grammar(vocab=vocab, form=True)
    constraint = grammar.machine() if machine else grammar.automaton()
    # the lean with the phrases' (the training tunes' phrases saved with a checkpoint)
    keys = phrase_state(vocab=vocab, pieces=pieces)[PHRASES_STATE]
    line = Line.of(vocab, np.zeros((CONTEXTS, MOVES)), phrase_keys=keys, phi=np.zeros(PHRASE + 1))
    for seeds in _batches():
        shapes = way.form_shapes_for(state=library, seeds=seeds)
        plans = way.returns_for(vocab=vocab, state=library, seeds=seeds, form=True)
        if shapes is None or plans is None:
            raise RuntimeError("warm_numba: the folk form's tunes gave no shape or plan")
        for takes, trial in ((1, 0), (2, 10)):
            sampler.sample(
                net, prime=[START_ID], seeds=seeds, max_tokens=40, temperature=0.9,
                top_p=0.9, constraint=constraint, shapes=shapes, returns=plans,
                memory=fit.weights, takes=takes, trial=trial, line=line,
            )  # fmt: skip
    if not machine:
        # a Python constraint with the memory on, as the MIDI way samples (its mask asked
        # per row between compiled steps; the memory's rows pushed after each draw)
        for seeds in _batches():
            sampler.sample(
                net, prime=[START_ID], seeds=seeds, max_tokens=8, constraint=lambda r, ids: None,
                memory=fit.weights,
            )  # fmt: skip
        # the moves' and the phrases' counts, as the train worker fits a checkpoint's moves
        # (`ml.line`)
        text_counts(texts)
        moves = text_intervals(texts)
        phrase_counts(intervals=moves, index=phrase_index(moves), own=True)


def _beside() -> None:
    """What another process compiles beside the loop's (`main`): librosa's functions and the
    grammar's rules, which share nothing with the loop's threaded helpers."""
    warm_librosa()
    warm_rules()


def main() -> int:
    """The two halves side by side on two cores (the whole took 159 s on one, 8 Dec 2026),
    each compiling functions the other never does; the loop under the compiled rules last,
    in the loop's process, once the rules are in the cache. Exit status as a child's that
    died of a signal (128 + its number) when the other half did, so setup.sh knows it."""
    import multiprocessing

    beside = multiprocessing.get_context("spawn").Process(target=_beside)
    beside.start()
    warm_sampler()
    warm_folk_form(machine=False)
    beside.join()
    if beside.exitcode:
        code = beside.exitcode
        print(f"warm_numba: the compile beside the loop's failed ({code})", file=sys.stderr)
        return 128 - code if code < 0 else code
    warm_folk_form(machine=True)
    print("warm_numba: numba caches written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
