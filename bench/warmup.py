"""A second corpus first: the look-back recipe on Nottingham `full`, trained for a budget of
minutes on Nottingham's training tunes and O'Neill's tunes together, then for a second
budget on Nottingham's alone at half the learning rate, from the first stage's best weights
(docs/quality.md §6, *A second corpus first*). The site's runs do the same by epochs
(`warmup_corpus`, `warmup_epochs`: `trainer.train(warmup_pieces=)`); this script counts
minutes so that its budget compares with a one-corpus run's.

    NOTTINGHAM_DIR=... TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \\
      .venv/bin/python bench/warmup.py 45 42 nottingham-full-s26-pre [transpose]

Writes var/quality/<tag>-{s1,s2}-{best,last}.keras, <tag>-{s1,s2}-history.json,
<tag>-vocab.json and <tag>-best.npz (the second stage's best, for bench/form_samples.py).
The validation split is bench/quality.py's (seed 0); "transpose" augments O'Neill's tunes
as Nottingham's are (without it, O'Neill's tunes go in as written).
"""

import json
import sys
import time

import numpy as np
from _common import ROOT, nottingham_abc_texts, oneills_texts, setup_django


def main() -> None:
    setup_django()
    import quality

    from musiclib.ml import sampler, trainer
    from musiclib.ml.model import build_model
    from musiclib.ways import get_way

    stage1_min, stage2_min, tag = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    transpose_other = len(sys.argv) > 4 and sys.argv[4] == "transpose"
    out = ROOT / "var" / "quality"
    out.mkdir(parents=True, exist_ok=True)
    way = get_way("abc")
    overrides = {
        "transpose": True, "early_stopping_patience": 6, "lr_plateau_patience": 2,
        "lr_plateau_cuts": 3, "look_back_heads": 4, "look_back_dim": 32, "dropout": 0.4,
    }  # fmt: skip
    config = way.resolve_config(preset="full", overrides=overrides)
    nott = way.prepare(texts=nottingham_abc_texts(), config=config, seed=0)
    one = way.prepare(
        texts=oneills_texts(), config={**config, "transpose": transpose_other}, seed=0
    )
    # One vocabulary: Nottingham's, then the symbols only O'Neill's tunes have.
    vocab = list(nott.vocab) + [t for t in one.vocab if t not in set(nott.vocab)]
    index = {t: i for i, t in enumerate(vocab)}

    def remap(pieces, old):
        ids = np.array([index[t] for t in old], dtype=np.int64)
        return [ids[np.asarray(p)].astype(np.asarray(p).dtype) for p in pieces]

    n_train, n_val = remap(nott.train, nott.vocab), remap(nott.val, nott.vocab)
    other = remap(one.train, one.vocab) + remap(one.val, one.vocab)
    print(
        f"vocab nott {len(nott.vocab)} oneills {len(one.vocab)} union {len(vocab)}; "
        f"nott train {len(n_train)} val {len(n_val)} oneills {len(other)}",
        flush=True,
    )
    (out / f"{tag}-vocab.json").write_text(json.dumps(vocab))

    def stage(name, model, train, minutes, cfg):
        hooks = quality.BestHooks(
            best_path=out / f"{tag}-{name}-best.keras",
            last_path=out / f"{tag}-{name}-last.keras",
            deadline=time.monotonic() + minutes * 60,
        )
        t0 = time.monotonic()
        outcome = trainer.train(
            model=model, train_pieces=train, val_pieces=n_val, config=cfg, seed=1,
            epochs=300, initial_epoch=0, hooks=hooks,
        )  # fmt: skip
        print(
            f"{name}: {len(hooks.history)} epochs in {(time.monotonic() - t0) / 60:.1f} min "
            f"({outcome}); best val {hooks.best:.4f} at epoch {hooks.best_epoch}",
            flush=True,
        )
        (out / f"{tag}-{name}-history.json").write_text(json.dumps(hooks.history))
        return out / f"{tag}-{name}-best.keras"

    model = build_model(config=config, vocab_size=len(vocab), seed=1)
    best1 = stage("s1", model, n_train + other, stage1_min, config)
    model = trainer.load_model(str(best1))
    after = {**config, "learning_rate": float(config["learning_rate"]) * trainer.WARMUP_AFTER_RATE}
    best2 = stage("s2", model, n_train, stage2_min, after)
    net = sampler.net_from_keras(trainer.load_model(str(best2)))
    sampler.save_net(net, str(out / f"{tag}-best.npz"))
    print("done", flush=True)


if __name__ == "__main__":
    main()
