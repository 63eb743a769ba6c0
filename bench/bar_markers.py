"""A model told which bar of its part it is in: bar numbers written into the training text.

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        .venv/bin/python bench/bar_markers.py plain|marker MINUTES OUT.json
    .venv/bin/python bench/judge.py --groups --corpus oneills --preset quick --human-extra 200 \
        --samples "no markers=OUT-plain.json" "bar markers=OUT-marker.json"

An experiment. With `marker`, after every bar line of a tune's body a
marker symbol (1 to 20, as the characters U+2460..) says which bar of its part follows: a
part restarts after a bar line with `:`, `||` or `|]`, and a second ending is numbered as
the first ending it replaces. The model (O'Neill's tunes, the `quick` preset, seed 0)
trains for MINUTES of wall time, then 200 unprimed tunes (seeds 1-200, T 0.9, at most 1,500
symbols) are sampled with the plain sampler (no grammar: the model must count by itself)
and written with the markers removed, for `bench/judge.py`. `plain` trains and samples the
same way without markers. The model is the last epoch's (no early stopping), so compare
runs of the same MINUTES. The markers are the site's `bars` vocabulary's
(`abc_tokens.add_markers`), whose grammar writes them itself; the figures in docs/quality.md
(*A model told which bar of its part it is in*) came from this script's first version,
which also took the colon of a body's K: or M: line for a bar line.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from _common import setup_django


def main() -> None:
    mode, minutes, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    setup_django()
    import quality

    from musiclib.ml import sampler, trainer
    from musiclib.ml.model import build_model
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.abc_tokens import MARKS, add_markers, strip_markers
    from musiclib.ways.base import END_ID, START_ID

    config = way.resolve_config(preset="quick", overrides={})
    prep = way.prepare(texts=quality.load_texts("oneills"), config=config, seed=0)
    train = [way.decode(vocab=prep.vocab, ids=i) for i in prep.train]
    val = [way.decode(vocab=prep.vocab, ids=i) for i in prep.val]
    if mode == "marker":
        train, val = [add_markers(t) for t in train], [add_markers(t) for t in val]
    vocab = list(prep.vocab) + (list(MARKS) if mode == "marker" else [])

    def enc(t):
        return np.array([*way.encode_prime(vocab=vocab, prime=t), END_ID], dtype=np.int64)

    tr, va = [enc(t) for t in train], [enc(t) for t in val]
    model = build_model(config=config, vocab_size=len(vocab), seed=0)

    class Hooks(trainer.NullHooks):
        t0 = time.monotonic()

        def epoch_end(self, *, epoch, logs, model, seconds):
            print(f"epoch {epoch}: {logs} ({seconds:.0f} s)", flush=True)

        def should_stop(self):
            return time.monotonic() - self.t0 > minutes * 60

    trainer.train(model=model, train_pieces=tr, val_pieces=va, config=config, seed=0,
                  epochs=200, initial_epoch=0, hooks=Hooks())  # fmt: skip
    net = sampler.net_from_keras(model)
    outs = sampler.sample(net, prime=[START_ID], seeds=list(range(1, 201)), temperature=0.9,
                          max_tokens=1500, end_id=END_ID)  # fmt: skip
    texts = [strip_markers(way.decode(vocab=vocab, ids=ids)) for ids in outs]
    json.dump({"texts": texts}, open(out, "w"))
    print("sampled", len(texts))


if __name__ == "__main__":
    main()
