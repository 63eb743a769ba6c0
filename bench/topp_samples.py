"""Sample unprimed ABC tunes with the grammar and nucleus (top-p) sampling, for bench/judge.py.

    .venv/bin/python bench/topp_samples.py NET.npz VOCAB.json OUT.json N TEMPERATURE TOP_P

NET.npz and VOCAB.json are what bench/quality.py leaves in var/quality/ (<tag>-best.npz,
<tag>-vocab.json). Seeds 1..N, batches of 60, at most 1,500 tokens a tune; writes
{"texts": [...], "seconds": ..., "temperature": ..., "top_p": ...}. Needs a sampler with
`top_p` (branch `loop`); docs/quality.md §6 ran it from that branch's checkout.
"""

from __future__ import annotations

import json
import sys
import time

from _common import ROOT


def main() -> None:
    sys.path.append(str(ROOT))  # after PYTHONPATH: another checkout's sampler may be named
    from musiclib.ml import sampler
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID

    net_path, vocab_path, out_path = sys.argv[1:4]
    n, temperature, top_p = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    net = sampler.load_net(net_path)
    vocab = json.loads(open(vocab_path).read())
    prime = way.encode_prime(vocab=vocab, prime="")
    t0 = time.perf_counter()
    texts: list[str] = []
    for start in range(0, n, 60):
        seeds = list(range(1 + start, 1 + min(n, start + 60)))
        outs = sampler.sample(net, prime=prime, seeds=seeds, temperature=temperature,
                              top_p=top_p, max_tokens=1500, end_id=END_ID,
                              constraint=way.grammar(vocab=vocab))  # fmt: skip
        texts += [way.decode(vocab=vocab, ids=ids) for ids in outs]
    seconds = time.perf_counter() - t0
    out = {"texts": texts, "seconds": seconds, "temperature": temperature, "top_p": top_p}
    with open(out_path, "w") as f:
        json.dump(out, f)
    print(f"{len(texts)} tunes in {seconds:.0f} s")


if __name__ == "__main__":
    main()
