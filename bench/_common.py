"""Shared helpers for the benchmark scripts: setup and the way ratios are printed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import django

    django.setup()


def trained_abc_arguments(description: str):
    """An argument parser for a script over a model bench/quality.py trained: NET.npz,
    VOCAB.json and how it was trained (`trained_abc`'s corpus, preset and transposition)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("net")
    parser.add_argument("vocab")
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="oneills")
    parser.add_argument("--preset", default="quick", help="whose val_fraction splits the corpus")
    parser.add_argument("--transpose", action="store_true", help="trained with transpositions")
    return parser


def trained_abc(net_path: str, vocab_path: str, *, corpus: str, preset: str, transpose: bool):
    """A model bench/quality.py trained (its sampler file and vocabulary) and what `prepare`
    makes of its corpus, split as that run's was (seed 0): the held-out tunes its memory is
    fitted on, the training tunes its shapes and plans come from. Exits when the corpus's
    vocabulary is not the model's (another corpus, preset or transposition)."""
    import json

    setup_django()  # (the corpus folder is a setting)
    sys.path.insert(0, str(ROOT / "bench"))
    from quality import load_texts

    from musiclib.ml import sampler
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.abc_tokens import vocabulary_of

    net = sampler.load_net(net_path)
    vocab = json.loads(Path(vocab_path).read_text())
    # (the vocabulary it trained on, characters, tokens or bars, as its symbols tell)
    overrides = {"transpose": transpose, "vocabulary": vocabulary_of(vocab)}
    config = way.resolve_config(preset=preset, overrides=overrides)
    prepared = way.prepare(texts=load_texts(corpus), config=config, seed=0)
    if prepared.vocab != vocab:
        sys.exit("the corpus's vocabulary is not the model's: another corpus or preset?")
    return net, vocab, prepared


def timed(fn, *args, repeat: int = 1, **kwargs) -> tuple[float, object]:
    """Best wall time in seconds over `repeat` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, result


def ratio(label: str, fast: float, slow: float) -> str:
    """`label: 412×` — how many times faster `fast` is than `slow` (both are durations);
    two decimals below 1 (0.06×: a tenth either way would read 0.0× or 0.1×)."""
    x = slow / fast
    digits = ",.0f" if x >= 10 else ".1f" if x >= 1 else ".2f"
    return f"{label}: {x:{digits}}×"


def nottingham_abc_texts() -> list[str] | None:
    from django.conf import settings

    from musiclib.ways.abc_text import split_tunes

    folder = settings.NOTTINGHAM_DIR / "ABC_cleaned"
    if not folder.is_dir():
        return None
    texts = []
    for path in sorted(folder.glob("*.abc")):
        texts.extend(t for _, t in split_tunes(path.read_text(encoding="latin-1")))
    return texts


def oneills_texts() -> list[str]:
    from music21 import corpus

    from musiclib.ways.abc_text import split_tunes

    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    return texts


def judge_human_sides(*, corpus: str, preset: str, human_extra: int, seed: int = 0):
    """The human tunes bench/judge.py sets a model's beside, as texts: (the training split,
    the held-out split, the indexes of the training tunes it adds to the listener's human
    side, `human_extra` of them drawn by `seed`). The corpus split as bench/quality.py
    trained (the way's `prepare`, the preset's val_fraction, seed 0, no transpositions).
    bench/critic_fit.py leaves the added ones out of a critic's human side."""
    import numpy as np
    from quality import load_texts

    from musiclib.ways import get_way

    way = get_way("abc")
    config = way.resolve_config(preset=preset, overrides={})
    prepared = way.prepare(texts=load_texts(corpus), config=config, seed=0)
    train = [way.decode(vocab=prepared.vocab, ids=ids) for ids in prepared.train]
    held = [way.decode(vocab=prepared.vocab, ids=ids) for ids in prepared.val]
    picked = []
    if human_extra:
        rng = np.random.default_rng(seed)
        picked = [
            int(i) for i in rng.choice(len(train), min(human_extra, len(train)), replace=False)
        ]
    return train, held, picked
