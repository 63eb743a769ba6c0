"""A model told which bar of its part it is in: bar numbers written into the training text.

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        .venv/bin/python bench/bar_markers.py plain|marker MINUTES OUT.json
    .venv/bin/python bench/judge.py --groups --corpus oneills --preset quick --human-extra 200 \
        --samples "no markers=OUT-plain.json" "bar markers=OUT-marker.json"

An experiment, not a site feature. With `marker`, after every bar line of a tune's body a
marker symbol (1 to 20, as the characters U+2460..) says which bar of its part follows: a
part restarts after a bar line with `:`, `||` or `|]`, and a second ending is numbered as
the first ending it replaces. The model (O'Neill's tunes, the `quick` preset, seed 0)
trains for MINUTES of wall time, then 200 unprimed tunes (seeds 1-200, T 0.9, at most 1,500
symbols) are sampled with the plain sampler (no grammar: the model must count by itself)
and written with the markers removed, for `bench/judge.py`. `plain` trains and samples the
same way without markers. The model is the last epoch's (no early stopping), so compare
runs of the same MINUTES.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from _common import setup_django

MARKS = [chr(0x2460 + k) for k in range(20)]  # ① .. ⑳


def is_section(run: str) -> bool:
    """Whether a bar line closes a part (a repeat sign, a double bar or an end bar)."""
    return ":" in run or "||" in run or "|]" in run or any(c.isdigit() for c in run) or "[" in run


def _in_bar_line(body: str, start: int, j: int) -> bool:
    """Whether body[j] continues the bar line that began at `start` (`|`, `:`, `]`, an
    ending's number right after `|` or `[`, or a `[` that opens an ending)."""
    c = body[j]
    if c in "|:]":
        return True
    if c in "12" and j > start and body[j - 1] in "|[":
        return True
    return c == "[" and j + 1 < len(body) and body[j + 1] in "12"


def add_markers(text: str) -> str:
    """The tune with a marker after every bar line of its body: the bar of its part that
    follows."""
    key = text.find("\nK:")
    if key < 0:
        return text
    body_at = text.find("\n", key + 1)
    if body_at < 0:
        return text
    head, body = text[: body_at + 1], text[body_at + 1 :]
    out = []
    i, n = 0, len(body)
    quoted = False
    bar = ending_bar = 1
    while i < n:
        c = body[i]
        if c == '"':
            quoted = not quoted
            out.append(c)
            i += 1
            continue
        opens_ending = c == "[" and i + 1 < n and body[i + 1] in "12"
        if not quoted and (c in "|:" or opens_ending):
            j = i
            while j < n and _in_bar_line(body, i, j):
                j += 1
            run = body[i:j]
            out.append(run)
            if "1" in run:
                bar = ending_bar = bar + 1
            elif "2" in run:
                bar = ending_bar
            else:
                bar = 1 if is_section(run) else bar + 1
            out.append(MARKS[min(bar, 20) - 1])
            i = j
            continue
        out.append(c)
        i += 1
    return head + "".join(out)


def strip(text: str) -> str:
    """The text without its markers."""
    return "".join(c for c in text if c not in MARKS)


def main() -> None:
    mode, minutes, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    setup_django()
    import quality

    from musiclib.ml import sampler, trainer
    from musiclib.ml.model import build_model
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID, START_ID

    config = way.resolve_config(preset="quick", overrides={})
    prep = way.prepare(texts=quality.load_texts("oneills"), config=config, seed=0)
    train = [way.decode(vocab=prep.vocab, ids=i) for i in prep.train]
    val = [way.decode(vocab=prep.vocab, ids=i) for i in prep.val]
    if mode == "marker":
        train, val = [add_markers(t) for t in train], [add_markers(t) for t in val]
    vocab = list(prep.vocab) + (MARKS if mode == "marker" else [])

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
    texts = [strip(way.decode(vocab=vocab, ids=ids)) for ids in outs]
    json.dump({"texts": texts}, open(out, "w"))
    print("sampled", len(texts))


if __name__ == "__main__":
    main()
