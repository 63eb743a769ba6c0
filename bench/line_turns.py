"""Does the model turn the line as people do? Changes of melodic direction (the listener's
"turns": a move up after a move down, or down after up) three ways:

- people: how often the held-out tunes turn;
- the model fed people's tunes: at each of those notes, teacher forced, the chance the
  model gives a turn (its letters' probabilities, among the letters that move);
- the model writing alone: how often its sampled tunes (`--samples`, bench/form_samples.py's
  JSON) turn.

    .venv/bin/python bench/line_turns.py NET.npz VOCAB.json [--samples LABEL=PATH ...] \\
        [--corpus nottingham --preset full --transpose]

If the model fed people's tunes gives people's rate and its own tunes turn more, the
difference comes from writing alone (its own draws fed back), not from what it learned of
people's tunes. Notes are read from the text by letter: a note counts where it follows
another note that moved, it has no accidental, and it moves itself; its pitch is its
letter's step in the scale and its octave marks (the candidates' octave marks, drawn after
the letter, are not seen: a letter is taken in its case's octave). Header lines, chord
symbols and annotations ("…") are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from _common import ROOT

LETTERS = "CDEFGABcdefgab"


def notes_of(chars: list[str]) -> list[tuple[int, int, bool]]:
    """(position of the note's letter, its step in the scale, whether an accidental came
    before it) for each note of an ABC text, split into symbols."""
    out, i, n, quote, line_start = [], 0, len(chars), False, True
    while i < n:
        c = chars[i]
        if line_start and c.isalpha() and i + 1 < n and chars[i + 1] == ":":
            while i < n and chars[i] != "\n":
                i += 1
            i += 1
            continue
        line_start = c == "\n"
        if c == '"':
            quote = not quote
        if quote or c == '"':
            i += 1
            continue
        accidental = False
        while i < n and chars[i] in "^_=":
            accidental, i = True, i + 1
        if i < n and chars[i] in LETTERS:
            j, octave = i + 1, 0
            while j < n and chars[j] in ",'":
                octave += 1 if chars[j] == "'" else -1
                j += 1
            out.append((i, LETTERS.index(chars[i]) + 7 * octave, accidental))
            i = j
            continue
        i += 1
    return out


def turning_notes(chars: list[str]) -> list[tuple[int, int, int, bool]]:
    """(position, the step before, the last move's direction, whether this note turns) for
    each note that moves after a move, with no accidental."""
    out, prev, direction = [], None, 0
    for pos, step, accidental in notes_of(chars):
        if prev is not None and step != prev:
            move = 1 if step > prev else -1
            if direction and not accidental:
                out.append((pos, prev, direction, move == -direction))
            direction = move
        prev = step
    return out


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("net")
    parser.add_argument("vocab")
    parser.add_argument("--samples", nargs="*", default=[], help="LABEL=PATH")
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="nottingham")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--transpose", action="store_true")
    args = parser.parse_args()
    sys.path.append(str(ROOT))
    from _common import setup_django
    from quality import load_texts

    from musiclib.ml import sampler
    from musiclib.ways.abc_text import WAY as way

    setup_django()
    config = way.resolve_config(preset=args.preset, overrides={"transpose": args.transpose})
    prepared = way.prepare(texts=load_texts(args.corpus), config=config, seed=0)
    vocab = json.loads(open(args.vocab).read())
    if prepared.vocab != vocab:
        sys.exit(
            "the corpus's vocabulary is not the model's: another corpus, preset or --transpose?"
        )
    net = sampler.load_net(args.net)
    letter_ids = np.array([vocab.index(c) for c in LETTERS if c in vocab])
    letter_steps = np.array([LETTERS.index(vocab[i]) for i in letter_ids])

    expected, turned = [], []
    for ids in prepared.val:
        ids = np.asarray(ids, dtype=np.int64)
        wanted = {pos: (prev, d, t) for pos, prev, d, t in turning_notes([vocab[k] for k in ids])}
        state = sampler.State(net, 1)
        for t in range(len(ids) - 1):
            logits = sampler.step(net, state, ids[t : t + 1])[0].astype(np.float64)
            if t + 1 not in wanted:
                continue
            prev, direction, turns = wanted[t + 1]
            p = np.exp(logits[letter_ids] - logits[letter_ids].max())
            moves = np.sign(letter_steps - prev)
            if p[moves != 0].sum() > 0:
                expected.append(p[moves == -direction].sum() / p[moves != 0].sum())
                turned.append(turns)
    print(f"held-out tunes: {len(prepared.val)}, {len(turned):,} notes that move after a move")
    print(f"  people turn at {np.mean(turned):.3f} of them")
    print(f"  the model fed people's tunes gives a turn {np.mean(expected):.3f}")
    for item in args.samples:
        label, _, path = item.partition("=")
        texts = json.loads(open(path).read())["texts"]
        flags = [t for text in texts for *_, t in turning_notes(list(text))]
        share = np.mean(flags)
        print(f"  {label}: its {len(texts)} tunes turn at {share:.3f} of {len(flags):,} notes")


if __name__ == "__main__":
    main()
