"""Fit a critic (`musiclib.metrics.critic`) on a model's own pieces against the human
tunes it trained on, as the site does when a run ends, for bench/form_samples.py --critic.

    # the model's own pieces, one take each, the site's default sampler, seeds far from
    # the ones measured later:
    .venv/bin/python bench/form_samples.py NET.npz VOCAB.json OWN.json --n 400 --form --shape \\
        --returns --memory --batch 50 --corpus nottingham --preset full --transpose \\
        --temperature 0.9 --first-seed 100001
    .venv/bin/python bench/critic_fit.py OWN.json CRITIC.json --corpus nottingham --preset full \\
        --leave-out 600

Human side: the training split (bench/quality.py's: the way's `prepare`, the preset's
val_fraction, seed 0). `--leave-out K` leaves out the K training tunes bench/judge.py's
`--human-extra K` adds to the listener's human side (same draw), so the critic never saw a
tune the listener compares with; the held-out split is never used. Prints the fit's sizes
and its balanced cross-validated accuracy. `--critic-features listener|second` fits it on
one listener's features alone (the site's reads both), for the cross-check in
docs/quality.md §6, *The critic*.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _common import ROOT, judge_human_sides, setup_django


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("own", help="the model's own pieces (bench/form_samples.py JSON)")
    parser.add_argument("out")
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="oneills")
    parser.add_argument("--preset", default="quick", help="whose val_fraction splits the corpus")
    parser.add_argument("--leave-out", type=int, default=0, help="judge.py's --human-extra")
    parser.add_argument("--seed", type=int, default=0, help="judge.py's --seed")
    parser.add_argument(
        "--critic-features",
        choices=["both", "listener", "second"],
        default="both",
        help="the site's critic reads both listeners' features; one alone, to see what the "
        "other listener hears of its choice",
    )
    args = parser.parse_args()
    setup_django()
    sys.path.insert(0, str(ROOT / "bench"))
    from musiclib.metrics import judge as jd
    from musiclib.metrics.critic import critic_fit, features_of
    from musiclib.ways import get_way

    t0 = time.perf_counter()
    way = get_way("abc")
    train, _, picked = judge_human_sides(
        corpus=args.corpus, preset=args.preset, human_extra=args.leave_out, seed=args.seed
    )
    left_out = set(picked)
    human = [t for i, t in enumerate(train) if i not in left_out]
    own = json.loads(Path(args.own).read_text())["texts"]
    own = [way.finish(t, title=f"Tune {k + 1}") for k, t in enumerate(own)]
    names = {"listener": jd.NAMES, "second": jd.SECOND_NAMES}.get(args.critic_features)

    def read(texts):
        rows = features_of(texts, melody="abc")
        return rows if names is None else [{n: r[n] for n in names} for r in rows]

    critic = critic_fit(human=read(human), machine=read(own))
    if critic is None:
        sys.exit("too few pieces a side to fit a critic")
    Path(args.out).write_text(json.dumps(critic.to_dict()))
    print(
        f"critic fitted on {critic.n_human} training tunes ({len(left_out)} left out) and "
        f"{critic.n_machine} of the model's pieces, {len(critic.names)} features: it tells "
        f"them apart at {critic.accuracy:.3f} (cross-validated, equal sides); "
        f"{time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
