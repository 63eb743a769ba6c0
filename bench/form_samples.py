"""Sample unprimed ABC tunes with the grammar, with or without the folk-tune form, for
bench/judge.py (its `--samples LABEL=PATH`).

    .venv/bin/python bench/form_samples.py NET.npz VOCAB.json OUT.json --n 240 \\
        --temperature 0.9 [--top-p 0.9] [--top-k 0] [--form] [--max-parts 2] [--part-lengths 8] \\
        [--returns] [--shape] [--memory] [--corpus nottingham --preset full]

NET.npz and VOCAB.json are what bench/quality.py leaves in var/quality/ (<tag>-best.npz,
<tag>-vocab.json). The site's sampling path: the grammar's compiled tables
(`AbcGrammar.automaton()`), the compiled loop, seeds 1..N in batches of `--batch`, at most
`--max-tokens` tokens a tune (the generate page's limit is 1,500 characters for ABC).
Writes {"texts": [...], "seconds": ..., "ended": ..., options...}; "ended" counts the tunes
that reached END before the limit.

`--returns`: bars restate earlier bars where a plan drawn by each tune's seed says
(`musiclib.ml.returns`); the plans are the training tunes' own (`metrics.form.returns_library`
over the training split `prepare` makes of `--corpus` with `--preset`'s val_fraction and
seed 0, as bench/quality.py trained the model), with `--form` those of the tunes in the
form's shape (one or two parts of 8 bars; with `--shape` those of every tune with a shape,
the tune its shape comes from), drawn as the site draws them (`returns_for`).
`--takes K`: each tune drawn K times, the take the model finds least surprising kept
(`sampler.sample`'s takes, as the generate page's "Takes per piece"); with `--critic C`
(bench/critic_fit.py's JSON) the take that critic draws, as "Keep the take: most like the
corpus's tunes" does; with `--trial S` only each tune's least surprising take after S
symbols goes on (`sampler.sample`'s `trial`).
`--plain`: no grammar at all (the plain sampler, for comparison).
`--memory`: each draw mixed with the piece's memory (`musiclib.ml.memory`), its weights
fitted on the held-out split of the same `prepare`.
Adds "restated", "refused" and "forced" (per tune: restatements begun, cut short by the
grammar, symbols fed from earlier bars).

`--shape` (with `--form`): each tune follows the shape of one training tune drawn by its
seed (the tune whose plan `--returns` draws): its parts, their bars, which repeat, the
last note's degree (`AbcWay.form_shapes_for`, the site's folk form). Adds "shapes".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from _common import ROOT

# --weigh choices: a symbol the model gave this probability or more (0..1) is no choice of the
# take's, so it neither lowers nor raises the take's nats a symbol
CHOICE_P = 0.8


def main() -> None:
    # One BLAS thread, as the sample worker runs (set before numpy loads): two threads spin
    # whenever another process holds a core of this 2-core machine (a set of 200 took
    # 165-197 s beside a training, 11-16 s with one thread). OPENBLAS_NUM_THREADS overrides.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("net")
    parser.add_argument("vocab")
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=240)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--plain", action="store_true", help="no grammar: the plain sampler")
    parser.add_argument("--form", action="store_true", help="the folk-tune form (folk_form)")
    parser.add_argument("--max-parts", type=int, default=None, help="form: parts before the end")
    parser.add_argument("--part-lengths", default=None, help="form: 8,16 or 8 bars a part")
    parser.add_argument("--max-tokens", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=60)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument(
        "--takes", type=int, default=1,
        help="draws per tune, the least surprising kept (sampler.sample's takes)",
    )  # fmt: skip
    parser.add_argument(
        "--critic",
        help="with --takes: keep the take this critic draws (bench/critic_fit.py's JSON), as "
        "the generate page's 'most like the corpus' does",
    )
    parser.add_argument(
        "--trial", type=int, default=0,
        help="takes: only the least surprising after this many symbols goes on (0: off)",
    )  # fmt: skip
    parser.add_argument(
        "--typical", action="store_true",
        help="with --takes: keep the take whose surprise is nearest the held-out tunes' median "
        "(an experiment: docs/quality.md, 'Takes nearest people's surprise')",
    )  # fmt: skip
    parser.add_argument(
        "--weigh", choices=["total", "half", "choices"], default=None,
        help="with --takes: weigh whole takes otherwise than by nats a symbol: total nats "
        "(the takes share a shape, so nats a bar), nats over symbols**0.5, or nats a symbol over "
        "the symbols the model gave under CHOICE_P (an experiment: docs/quality.md, 'What the "
        "takes reward')",
    )  # fmt: skip
    parser.add_argument("--returns", action="store_true", help="bars restate earlier bars")
    parser.add_argument("--shape", action="store_true", help="form: shapes drawn per tune")
    parser.add_argument(
        "--memory", action="store_true",
        help="mix in the piece's memory, fitted on the held-out split (musiclib.ml.memory)",
    )  # fmt: skip
    parser.add_argument(
        "--transpose", action="store_true",
        help="the model trained with transpositions (its vocabulary is the augmented corpus's)",
    )  # fmt: skip
    parser.add_argument(
        "--line",
        help="lean the notes' moves by these weights (bench/line_fit.py's .npy; musiclib.ml.line)",
    )
    parser.add_argument(
        "--phrases",
        help="with --line: lean each note by the longest phrase of the training tunes it ends, "
        "by these weights (bench/line_fit.py --phrases' .phi.npy; musiclib.ml.line)",
    )
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="nottingham")
    parser.add_argument("--preset", default="full", help="whose val_fraction splits the corpus")
    args = parser.parse_args()
    if args.phrases and not args.line:
        sys.exit("--phrases needs --line")
    sys.path.append(str(ROOT))
    from musiclib.ml import sampler
    from musiclib.ways.abc_grammar import AbcGrammar
    from musiclib.ways.abc_text import SHAPES_STATE as SHAPES
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID

    net = sampler.load_net(args.net)
    vocab = json.loads(open(args.vocab).read())
    prime = way.encode_prime(vocab=vocab, prime="")
    if args.max_parts is not None or args.part_lengths is not None:
        options = {"max_parts": args.max_parts} if args.max_parts is not None else {}
        if args.part_lengths is not None:
            options["part_lengths"] = tuple(int(n) for n in args.part_lengths.split(","))
        grammar = AbcGrammar(vocab, form=args.form, **options)
    else:
        grammar = way.grammar(vocab=vocab, form=args.form)
    tables = None if args.plain else grammar.automaton()
    if args.shape and not args.form:
        sys.exit("--shape needs --form")
    if args.plain and (args.form or args.returns):
        sys.exit("--plain samples without the grammar: no --form, --shape or --returns")
    library = memory = None
    if args.typical and (args.critic or args.trial or args.takes < 2):
        sys.exit("--typical chooses among whole takes: --takes 2 or more, no --critic or --trial")
    if args.weigh and (args.critic or args.trial or args.typical or args.takes < 2):
        sys.exit("--weigh chooses among whole takes: --takes 2 or more, no --critic or --trial")
    if args.returns or args.memory or args.shape or args.typical or args.phrases:
        from _common import setup_django
        from quality import load_texts

        setup_django()  # (the corpus folder is a setting)
        from musiclib.ways.abc_tokens import vocabulary_of

        overrides = {"transpose": args.transpose, "vocabulary": vocabulary_of(vocab)}
        config = way.resolve_config(preset=args.preset, overrides=overrides)
        prepared = way.prepare(texts=load_texts(args.corpus), config=config, seed=0)
        if prepared.vocab != vocab:
            if not set(prepared.vocab) <= set(vocab):
                sys.exit("the corpus's vocabulary is not the model's: another corpus or preset?")
            # A model trained on another corpus besides this one has a larger vocabulary:
            # the corpus's pieces in the model's ids.
            index = {tok: i for i, tok in enumerate(vocab)}
            ids = np.array([index[tok] for tok in prepared.vocab], dtype=np.int64)
            prepared.train = [ids[np.asarray(p)] for p in prepared.train]
            prepared.val = [ids[np.asarray(p)] for p in prepared.val]
    if args.memory:
        from musiclib.ml.memory import memory_fit

        fit = memory_fit(net, prepared.val, end_id=END_ID)
        memory = fit.weights
        print(
            f"memory fitted on {fit.symbols} held-out symbols: {fit.loss:.3f} nats a symbol "
            f"without, {fit.loss_memory:.3f} with (each half fitted on the other)"
        )
    if args.returns or args.shape:
        from musiclib.metrics.form import returns_library

        library = returns_library(way=way, vocab=vocab, pieces=prepared.train)
        print(
            f"{len(library['way_returns'])} plans from {len(prepared.train)} training tunes, "
            f"{int(library['way_returns_8bar'].sum())} in the folk form's shape"
        )
    choose, surprises = None, []
    if args.typical:
        pieces = [np.asarray(ids, dtype=np.int64) for ids in prepared.val]
        held = sampler.probabilities(net, pieces, end_id=END_ID)
        per_tune = np.array([-np.log(p).mean() for p, _ in held])
        target = float(np.median(per_tune))
        q1, q3 = np.percentile(per_tune, [25, 75])
        print(f"held-out tunes: median {target:.3f} nats a symbol (quartiles {q1:.3f}-{q3:.3f})")

        def choose(outs, scores):  # noqa: ARG001 (sampler.sample's chooser)
            surprises.append(scores.copy())
            return np.abs(scores - target).argmin(axis=0)

    if args.weigh:

        def choose(outs, scores):
            written = np.array([len(ids) for ids in outs], dtype=np.float64).reshape(scores.shape)
            if args.weigh == "total":
                return (scores * written).argmin(axis=0)
            if args.weigh == "half":
                return (scores * np.sqrt(written)).argmin(axis=0)
            pieces = [np.asarray([*prime, *ids], dtype=np.int64) for ids in outs]
            heard = sampler.probabilities(net, pieces, end_id=END_ID)
            weighed = []
            for (p, _), ids in zip(heard, outs, strict=True):
                p = p[len(prime) - 1 : len(prime) - 1 + len(ids)]  # (the symbols written)
                p = p[p < CHOICE_P]
                weighed.append(-np.log(p).mean() if len(p) else 0.0)
            return np.array(weighed).reshape(scores.shape).argmin(axis=0)

    critic = None
    if args.critic:
        from musiclib.metrics.critic import Critic, critic_chooser

        critic = Critic.from_dict(json.loads(open(args.critic).read()))

    def corpus_choice(critic, seeds):  # as the site's generation service chooses
        def text_of(seed, ids):
            return way.finish(way.decode(vocab=vocab, ids=ids), title="Tune")

        return critic_chooser(critic, seeds=seeds, melody="abc", text_of=text_of)

    line = None
    if args.line:
        from musiclib.ml.line import Line

        keys = phi = None
        if args.phrases:
            from musiclib.ml.line import phrase_index, piece_intervals, symbol_classes

            classes, steps = symbol_classes(vocab)
            keys = phrase_index(
                piece_intervals(ids=p, classes=classes, steps=steps) for p in prepared.train
            ).keys
            phi = np.load(args.phrases)
        line = Line.of(vocab, np.load(args.line), phrase_keys=keys, phi=phi)
    t0 = time.perf_counter()
    texts: list[str] = []
    ended = 0
    stats: dict[str, list[int]] = {"restated": [], "refused": [], "forced": []}
    all_shapes: list = []
    for start in range(0, args.n, args.batch):
        first = args.first_seed + start
        seeds = list(range(first, first + min(args.batch, args.n - start)))
        returns = shapes = None
        if args.shape:
            shapes = way.form_shapes_for(state=library, seeds=seeds)
            all_shapes += [[list(map(list, s.parts)), s.final] for s in shapes]
        if args.returns:  # as the site draws them (the plans of the form's tunes)
            # (without --shape, as before shapes: the plans of tunes of one or two 8-bar
            # parts, which the grammar's own form writes)
            plans = library if args.shape else {k: v for k, v in library.items() if k != SHAPES}
            returns = way.returns_for(vocab=vocab, state=plans, seeds=seeds, form=args.form)
        outs = sampler.sample(net, prime=prime, seeds=seeds, takes=args.takes,
                              choose=choose if critic is None else corpus_choice(critic, seeds),
                              trial=args.trial,
                              temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, max_tokens=args.max_tokens,
                              end_id=END_ID, constraint=tables, returns=returns,
                              shapes=shapes, memory=memory, line=line)  # fmt: skip
        if returns is not None:
            for name in stats:
                stats[name] += getattr(returns, name)
        ended += sum(1 for ids in outs if len(ids) and int(ids[-1]) == END_ID)
        texts += [way.decode(vocab=vocab, ids=ids) for ids in outs]
        print(f"{len(texts)} tunes, {time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    out = {"texts": texts, "seconds": seconds, "ended": ended, **vars(args)}
    if args.shape:
        out["shapes"] = all_shapes
    if args.returns:
        out.update(stats)
        print(
            f"per tune: {sum(stats['restated']) / len(texts):.1f} bars restated, "
            f"{sum(stats['refused']) / len(texts):.1f} cut short by the grammar, "
            f"{sum(stats['forced']) / len(texts):.0f} symbols fed from earlier bars"
        )
    if surprises:
        every = np.concatenate(surprises, axis=1)
        print(
            "takes' surprise, median of the least, all, the most: "
            f"{np.median(every.min(axis=0)):.3f}, {np.median(every):.3f}, "
            f"{np.median(every.max(axis=0)):.3f}"
        )
    with open(args.out, "w") as f:
        json.dump(out, f)
    print(f"{len(texts)} tunes in {seconds:.0f} s, {ended} ended before the limit")


if __name__ == "__main__":
    main()
