"""The look back (`ml.model.LookBack`): attention over the piece so far, keyed by the context
before each earlier symbol. Keras trains it; the sampler computes the same logits step by
step, from a saved .npz as from the model."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.ml import sampler, trainer
from musiclib.ml.model import build_model
from musiclib.ways import get_way

CONFIG = {
    "embedding_dim": 12,
    "units": [24],
    "dropout": 0.0,
    "dense": [],
    "learning_rate": 0.01,
    "clipnorm": 5.0,
    "look_back_heads": 2,
    "look_back_dim": 8,
}
VOCAB = 12


def repeated_blocks(rng, rows: int, block: int = 8) -> np.ndarray:
    """START, a block of random symbols, the same block again: the second half is certain
    to a network that can look back, and random to one that cannot remember it."""
    first = rng.integers(3, VOCAB, (rows, block))
    return np.concatenate([np.ones((rows, 1), int), first, first], axis=1).astype(np.int32)


@pytest.fixture(scope="module")
def model():
    m = build_model(config=CONFIG, vocab_size=VOCAB, seed=0)
    rng = np.random.default_rng(0)
    for v in m.weights:  # away from the initial weights, so every part of the layer counts
        v.assign(np.asarray(v) + rng.normal(0, 0.3, v.shape).astype(np.float32))
    return m


def test_the_look_back_sees_only_what_came_before(model):
    x = np.random.default_rng(1).integers(3, VOCAB, (2, 30)).astype(np.int32)
    later = x.copy()
    later[:, 20:] = 4
    a, b = model(x).numpy(), model(later).numpy()
    assert np.abs(a[:, :20] - b[:, :20]).max() == 0.0
    assert np.abs(a[:, 20:] - b[:, 20:]).max() > 1e-3


def test_the_sampler_steps_compute_the_keras_models_logits(model, tmp_path):
    x = np.random.default_rng(2).integers(3, VOCAB, (3, 40)).astype(np.int32)
    expected = model(x).numpy()
    sampler.save_net(sampler.net_from_keras(model), str(tmp_path / "net.npz"))
    net = sampler.load_net(str(tmp_path / "net.npz"))
    assert net.look_back is not None and (net.look_back.heads, net.look_back.dim) == (2, 8)
    state = sampler.State(net, 3)
    steps = [sampler.step(net, state, x[:, t].astype(np.int64)).copy() for t in range(40)]
    assert np.allclose(np.stack(steps, axis=1), expected, atol=1e-4)


def test_a_restarted_row_looks_back_only_on_its_new_piece(model, tmp_path):
    # 150 steps: the cache grows past its first size (64) on the way.
    x = np.random.default_rng(3).integers(3, VOCAB, (3, 150)).astype(np.int64)
    sampler.save_net(sampler.net_from_keras(model), str(tmp_path / "net.npz"))
    net = sampler.load_net(str(tmp_path / "net.npz"))
    state = sampler.State(net, 3)
    batch = []
    for t in range(150):
        if t == 90:
            state.restart(np.array([False, True, False]))
        batch.append(sampler.step(net, state, x[:, t]).copy())
    alone = sampler.State(net, 1)
    again = [sampler.step(net, alone, x[1:2, t]).copy() for t in range(90, 150)]
    assert np.allclose(np.stack(batch[90:])[:, 1], np.stack(again)[:, 0], atol=1e-5)
    whole = model(x[[0, 2]].astype(np.int32)).numpy()
    assert np.allclose(np.stack(batch, axis=1)[[0, 2]], whole, atol=1e-4)


def test_a_saved_model_with_a_look_back_loads_and_computes_the_same(model, tmp_path):
    x = np.random.default_rng(3).integers(3, VOCAB, (2, 25)).astype(np.int32)
    trainer.save_model(model, str(tmp_path / "m.keras"))
    again = trainer.load_model(str(tmp_path / "m.keras"))
    assert np.array_equal(again(x).numpy(), model(x).numpy())


def test_a_look_back_learns_to_repeat_what_the_lstm_alone_cannot_remember():
    rng = np.random.default_rng(4)
    train, held = repeated_blocks(rng, 256), repeated_blocks(rng, 64)

    def second_half_loss(config) -> float:
        m = build_model(config=config, vocab_size=VOCAB, seed=0)
        steps = trainer.Steps(m)
        weights = np.ones(train[:, :-1].shape, np.float32)
        for _ in range(40):
            for b in range(0, len(train), 64):
                x = train[b : b + 64]
                steps.train_batch(x[:, :-1], x[:, 1:], weights[: len(x)])
        w = np.zeros(held[:, :-1].shape, np.float32)
        w[:, 8:] = 1.0  # the targets of the second block
        loss, _ = steps.evaluate(held[:, :-1], held[:, 1:], w)
        return float(loss)

    looking = second_half_loss(CONFIG)
    plain = second_half_loss({**CONFIG, "look_back_heads": 0})
    assert plain > 1.0  # about log(9) = 2.2: the block is not remembered
    assert looking < 0.3 * plain


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"look_back_heads": 17}, "look_back_heads must be a whole number of heads"),
        ({"look_back_heads": 2, "look_back_dim": 2}, "look_back_dim must be a whole number"),
        ({"look_back_heads": 2, "sequence_mode": "carried"}, "a look back sees the whole tune"),
    ],
)
def test_look_back_settings_out_of_range_are_refused_naming_the_field(overrides, words):
    with pytest.raises(ValueError, match=words):
        get_way("abc").resolve_config(preset="tiny", overrides=overrides)
