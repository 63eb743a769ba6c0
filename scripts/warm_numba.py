"""Compile the numba functions the site uses, once and in one process (called by setup.sh).

Why: librosa's numba functions and the sampling loop (`musiclib/ml/fastloop.py`) are
cached on disk (`cache=True`), and
numba's cache is not safe against concurrent writers. Two processes that compile the same
function at once (two Celery workers, a test and its worker, two checkouts sharing a
virtualenv) can leave an index that points one signature at another's machine code; every
later process that loads it then segfaults. Seen here: after two processes first ran pYIN
together, `librosa.pyin` crashed in `util.localmin` in every new process. Compiling every
signature the site uses here, before anything runs in parallel, means later processes only
read the cache.

Exit status: 0 when every function ran. setup.sh runs this in a child process, and when it
dies of a signal (a cache already corrupted) deletes the numba caches and runs it again.
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


def warm_sampler() -> None:
    # Every path of the compiled loop: a few rows (plain loops) and many (BLAS), top-k and
    # top-p, restarts, grammar tables and a Python constraint, on one thread and with the
    # products split among two (SAMPLE_THREADS). The types are the same for every net, so
    # one small net compiles them all (8 units: gate columns that split into whole lines).
    import os
    from unittest import mock

    from musiclib.ml import fastloop, sampler

    rng = np.random.default_rng(0)
    vocab, units = 8, [8, 8]

    def w(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    net = sampler.Net(
        table=w(vocab, 32),
        recurrent=[w(8, 32), w(16, 32)],
        biases=[w(32), w(32)],
        dense=[(w(8, 6), w(6), True), (w(6, vocab), w(vocab), False)],
        units=units,
    )
    allowed = np.ones((1, vocab), dtype=bool)
    tables = fastloop.GrammarTables(
        allowed=allowed, next_state=np.zeros((1, vocab), dtype=np.int32), start=0
    )
    for split in ("1", "2"):
        with mock.patch.dict(os.environ, {"SAMPLE_THREADS": split}):
            for rows in (1, fastloop.GEMM_ROWS):
                seeds = list(range(rows))
                sampler.sample(net, prime=[1], seeds=seeds, max_tokens=4, top_k=3, top_p=0.9)
                sampler.sample(
                    net, prime=[1], seeds=seeds, max_tokens=4, restart_id=1, constraint=tables
                )
                sampler.sample(
                    net, prime=[1], seeds=seeds, max_tokens=4, constraint=lambda r, ids: None
                )


if __name__ == "__main__":
    warm_librosa()
    warm_sampler()
    print("warm_numba: numba caches written")
