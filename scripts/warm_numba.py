"""Compile the numba functions the site uses, once and in one process (called by setup.sh).

Why: librosa's numba functions and the sampling loop (`musiclib/ml/fastloop.py`) are
cached on disk (`cache=True`), and
numba's cache is not safe against concurrent writers. Two processes that compile the same
function at once (two Celery workers, a test and its worker, two checkouts sharing a
virtualenv) can leave an index that points one signature at another's machine code; every
later process that loads it then segfaults. Seen here: after two processes first ran pYIN
together, `librosa.pyin` crashed in `util.localmin` in every new process. Compiling every
signature the site uses here, before anything runs in parallel, means later processes only
read the cache. One process after another is not safe either: a loop compiled in a
process that loaded its threaded helpers from the cache is cached broken (docs/operations.md),
so setup.sh deletes the project's caches before it runs this, and the whole loop is
compiled here.

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


def warm_folk_form() -> None:
    # The generate page's defaults for ABC: the folk form's grammar tables, a drawn shape
    # and a plan of returns per piece, the memory, takes with a trial (the lazily built
    # tables' loop, the returns' bookkeeping), the memory's fit the train worker runs, and
    # the moves' lean and their counts (`ml.line`, the train worker's fit of them).
    # Left out, they were compiled by the first job that used them, in a worker, and
    # written to the cache then. Seen here without this warm-up: after one process had
    # cached some of the loop's helpers, a second compiled and cached the plain loop, and
    # every later process that loaded it from the cache segfaulted. Two short tunes in the
    # form's shape (two parts of eight bars, repeated) give the shapes and the plans.
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
    from musiclib.ways.base import END_ID, SPECIALS, START_ID

    first = "|:GABc d2B2|c2A2 B2G2|GABc d2B2|c2A2 B2G2|GABc d2B2|c2A2 B2G2|A2c2 B2A2|G8:|\n"
    second = "|:d2g2 g2fe|d2B2 G4|d2g2 g2fe|d2c2 B4|d2g2 g2fe|d2B2 G4|A2c2 B2A2|G8:|\n"
    texts = [f"M:4/4\nL:1/8\nK:G\n{first}{second}", f"M:4/4\nL:1/8\nK:G\n{second}{first}"]
    vocab = [*SPECIALS, *sorted({ch for text in texts for ch in text})]
    index = {ch: i for i, ch in enumerate(vocab)}
    pieces = [np.array([START_ID, *(index[ch] for ch in t), END_ID]) for t in texts]
    library = returns_library(way=way, vocab=vocab, pieces=pieces)
    net = _small_net(len(vocab))
    # the memory's fit, as the train worker runs it at every checkpoint (MIN_SYMBOLS: the
    # two tunes three times over)
    fit = memory_fit(net, pieces * 3, end_id=END_ID)
    if fit is None:
        raise RuntimeError("warm_numba: too few symbols to fit the memory")
    tables = way.grammar(vocab=vocab, form=True).automaton()
    # the same grammar's compiled rules (`ml.abc_machine`: what the site samples characters
    # with)
    machine = way.grammar(vocab=vocab, form=True).machine()
    # the lean with the phrases' (the training tunes' phrases saved with a checkpoint)
    keys = phrase_state(vocab=vocab, pieces=pieces)[PHRASES_STATE]
    line = Line.of(vocab, np.zeros((CONTEXTS, MOVES)), phrase_keys=keys, phi=np.zeros(PHRASE + 1))
    for seeds in _batches():
        shapes = way.form_shapes_for(state=library, seeds=seeds)
        plans = way.returns_for(vocab=vocab, state=library, seeds=seeds, form=True)
        if shapes is None or plans is None:
            raise RuntimeError("warm_numba: the folk form's tunes gave no shape or plan")
        for takes, trial in ((1, 0), (2, 10)):
            for constraint in (tables, machine):
                sampler.sample(
                    net, prime=[START_ID], seeds=seeds, max_tokens=40, temperature=0.9,
                    top_p=0.9, constraint=constraint, shapes=shapes, returns=plans,
                    memory=fit.weights, takes=takes, trial=trial, line=line,
                )  # fmt: skip
    # the moves' and the phrases' counts, as the train worker fits a checkpoint's moves
    # (`ml.line`)
    text_counts(texts)
    moves = text_intervals(texts)
    phrase_counts(intervals=moves, index=phrase_index(moves), own=True)


if __name__ == "__main__":
    warm_librosa()
    warm_sampler()
    warm_folk_form()
    print("warm_numba: numba caches written")
