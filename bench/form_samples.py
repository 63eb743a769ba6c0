"""Sample unprimed ABC tunes with the grammar, with or without the folk-tune form, for
bench/judge.py (its `--samples LABEL=PATH`).

    .venv/bin/python bench/form_samples.py NET.npz VOCAB.json OUT.json --n 240 \\
        --temperature 0.9 [--top-p 0.9] [--top-k 0] [--form] [--max-parts 2] [--part-lengths 8]

NET.npz and VOCAB.json are what bench/quality.py leaves in var/quality/ (<tag>-best.npz,
<tag>-vocab.json). The site's sampling path: the grammar's compiled tables
(`AbcGrammar.automaton()`), the compiled loop, seeds 1..N in batches of `--batch`, at most
`--max-tokens` tokens a tune (the generate page's limit is 1,500 characters for ABC).
Writes {"texts": [...], "seconds": ..., "ended": ..., options...}; "ended" counts the tunes
that reached END before the limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from _common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("net")
    parser.add_argument("vocab")
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=240)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--form", action="store_true", help="the folk-tune form (folk_form)")
    parser.add_argument("--max-parts", type=int, default=None, help="form: parts before the end")
    parser.add_argument("--part-lengths", default=None, help="form: 8,16 or 8 bars a part")
    parser.add_argument("--max-tokens", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=60)
    parser.add_argument("--first-seed", type=int, default=1)
    args = parser.parse_args()
    sys.path.append(str(ROOT))
    from musiclib.ml import sampler
    from musiclib.ways.abc_grammar import AbcGrammar
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
    tables = grammar.automaton()
    t0 = time.perf_counter()
    texts: list[str] = []
    ended = 0
    for start in range(0, args.n, args.batch):
        first = args.first_seed + start
        seeds = list(range(first, first + min(args.batch, args.n - start)))
        outs = sampler.sample(net, prime=prime, seeds=seeds, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, max_tokens=args.max_tokens,
                              end_id=END_ID, constraint=tables)  # fmt: skip
        ended += sum(1 for ids in outs if len(ids) and int(ids[-1]) == END_ID)
        texts += [way.decode(vocab=vocab, ids=ids) for ids in outs]
        print(f"{len(texts)} tunes, {time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    out = {"texts": texts, "seconds": seconds, "ended": ended, **vars(args)}
    with open(args.out, "w") as f:
        json.dump(out, f)
    print(f"{len(texts)} tunes in {seconds:.0f} s, {ended} ended before the limit")


if __name__ == "__main__":
    main()
