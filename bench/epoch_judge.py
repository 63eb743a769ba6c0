"""What one epoch's verdict costs the report task: drawing the listener's tunes from a
checkpoint and judging them (evaluation/listener.py, `_epochs`).

    .venv/bin/python bench/epoch_judge.py [--pieces 40] [--chars 800]

Draws `--pieces` tunes of `--chars` symbols (END ignored, so every row does the full work)
from a model of the `full` preset's sizes (random weights: they do not change the cost) in
one batch, as `generator.services.pieces.epoch_sample_texts` does on the default worker: with BLAS
limited to one thread (what it does) beside BLAS's default threads (the straightforward
call, what a default worker would use without the limit), best of two each. Then describes
and judges that many O'Neill tunes against 200 others (the listener's features, the
cross-validated classifier and its control), which is the rest of an epoch's row.
"""

from __future__ import annotations

import argparse
import sys

from _common import ROOT, oneills_texts, ratio, timed
from sampler import _random_net
from threadpoolctl import threadpool_limits


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from musiclib.metrics import judge as jd
    from musiclib.metrics.form import shape_from_text
    from musiclib.ml import sampler
    from musiclib.ways import get_way

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=40, help="tunes drawn (1..400)")
    parser.add_argument("--chars", type=int, default=800, help="symbols a tune (10..5000)")
    args = parser.parse_args()

    net = _random_net(80)
    seeds = list(range(args.pieces))

    def draw():
        return sampler.sample(net, prime=[1], seeds=seeds, max_tokens=args.chars, end_id=-1)

    sampler.sample(net, prime=[1], seeds=[0], max_tokens=10)  # compile the loop first

    def one_thread():
        with threadpool_limits(limits=1, user_api="blas"):
            return draw()

    default_s, _ = timed(draw, repeat=2)
    one_s, _ = timed(one_thread, repeat=2)
    print(f"model: LSTM [256, 256], vocab 80; {args.pieces} tunes of {args.chars} symbols")
    print(f"draw, BLAS default threads: {default_s:.2f} s")
    print(f"draw, BLAS one thread (the report task): {one_s:.2f} s")
    print(ratio("one thread against default threads", one_s, default_s))

    way = get_way("abc")
    texts = [way.normalise(t) for t in oneills_texts()[: args.pieces + 200]]

    def describe_and_judge():
        rows = [jd.describe(shape_from_text(text=t, melody="abc")) for t in texts]
        return jd.judge(machine=rows[: args.pieces], human=rows[args.pieces :], seed=1)

    judge_s, verdict = timed(describe_and_judge, repeat=2)
    print(
        f"describe {len(texts)} tunes and judge {verdict['n']} a side: {judge_s:.2f} s "
        f"(two sets of O'Neill tunes: accuracy {verdict['accuracy']:.2f})"
    )


if __name__ == "__main__":
    main()
