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


class PageSampler:
    """The generate page's default sampler over a model bench/quality.py trained (see
    `page_sampler`): the memory fitted on the held-out tunes, the training tunes' returns
    library (plans and shapes), the folk-form grammar's tables (the process's, kept across
    batches as a worker keeps them) and the empty prime."""

    def __init__(self, net, vocab: list[str], prepared) -> None:
        from musiclib.metrics.form import returns_library
        from musiclib.ml.memory import memory_fit
        from musiclib.ways.abc_text import WAY as way
        from musiclib.ways.base import END_ID

        self.net, self.vocab, self.prepared, self.way = net, vocab, prepared, way
        self.memory = memory_fit(net, prepared.val, end_id=END_ID).weights
        self.library = returns_library(way=way, vocab=vocab, pieces=prepared.train)
        self.tables = way.grammar(vocab=vocab, form=True).automaton()
        self.prime = way.encode_prime(vocab=vocab, prime="")

    def arguments(self, seeds: list[int], *, grammar: bool = True) -> dict:
        """`sampler.sample`'s arguments for a batch of these seeds at T 0.9 (its shapes and
        plans drawn here, untimed); without the grammar, no shape or returns either (they
        need it). The caller adds the takes, the trial and the length."""
        from musiclib.ways.base import END_ID

        shapes = returns = None
        if grammar:
            shapes = self.way.form_shapes_for(state=self.library, seeds=seeds)
            returns = self.way.returns_for(
                vocab=self.vocab, state=self.library, seeds=seeds, form=True
            )
        return dict(net=self.net, prime=self.prime, seeds=seeds, temperature=0.9,
                    end_id=END_ID, constraint=self.tables if grammar else None,
                    returns=returns, shapes=shapes, memory=self.memory)  # fmt: skip


def page_sampler(args) -> PageSampler:
    """The page's sampler for the model `trained_abc_arguments`' `args` name."""
    net, vocab, prepared = trained_abc(
        args.net, args.vocab, corpus=args.corpus, preset=args.preset, transpose=args.transpose
    )
    return PageSampler(net, vocab, prepared)


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
