"""The trainer's batches, its compiled steps and early stopping, on tiny models."""

from __future__ import annotations

import os

import numpy as np
import pytest

from musiclib.ml import data, trainer
from musiclib.ml.model import build_model
from musiclib.ways import get_way

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
WAY = get_way("abc")
VOCAB = 20


def folk_like_pieces(count: int, *, seed: int = 0) -> list[np.ndarray]:
    """Pieces with the spread of lengths of folk-tune corpora (Nottingham: median about 300
    characters, a long tail past 1,000), cut at 2,000 tokens as `max_tokens` does."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(300), 0.5, count).astype(int), 20, 2000)
    return [np.r_[1, rng.integers(3, VOCAB, n - 2), 2].astype(np.int32) for n in lengths]


def tiny_config(**overrides):
    return WAY.resolve_config(preset="tiny", overrides={"sample_every": 0, **overrides})


class Recorder(trainer.NullHooks):
    def __init__(self):
        self.logs: list[dict] = []

    def epoch_end(self, *, epoch, logs, model, seconds):
        self.logs.append({"epoch": epoch, **logs})


# --- batches -----------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [8, 32, 64])
def test_whole_tune_batches_cover_every_tune_once_per_epoch_with_under_5_percent_padding(
    batch_size,
):
    pieces = folk_like_pieces(1000)
    for seed in (0, 1):
        batches = list(data.tune_batches(pieces, batch_size=batch_size, seed=seed))
        rows = sorted(tuple(x[r][: int(w[r].sum())]) for x, _, w in batches for r in range(len(x)))
        assert rows == sorted(tuple(p[:-1]) for p in pieces)  # each tune once, whole
        assert data.padding_share(batches) < 0.05
        assert all(x.shape[1] % data.PAD_MULTIPLE == 0 for x, _, _ in batches)
    unshuffled = list(data.tune_batches(pieces, batch_size=batch_size, seed=0, shuffle=False))
    assert len(unshuffled) == data.count_batches(pieces, config=tiny_config(batch_size=batch_size))


def test_each_epoch_shuffles_the_batches_and_their_members():
    pieces = folk_like_pieces(400)
    first = [tuple(idx) for idx in data.tune_order(pieces, batch_size=16, seed=1)]
    second = [tuple(idx) for idx in data.tune_order(pieces, batch_size=16, seed=2)]
    assert first != second  # another order of batches
    assert set(first) != set(second)  # and other tunes side by side
    assert first == [tuple(idx) for idx in data.tune_order(pieces, batch_size=16, seed=1)]


def spans_of_row(w: np.ndarray, starts: np.ndarray) -> list[tuple[int, int]]:
    """Where each piece of one packed row lies, [a, b): from its start to the next one's
    (the row's real tokens come first, the padding after them)."""
    at = [int(i) for i in np.flatnonzero(starts)] + [int(w.sum())]
    return list(zip(at, at[1:], strict=False))


@pytest.mark.parametrize("batch_size", [8, 32, 64])
def test_packed_batches_hold_every_tune_once_whole_in_full_rows_with_under_5_percent_padding(
    batch_size,
):
    pieces = folk_like_pieces(1000)
    for seed in (0, 1):
        batches = list(data.packed_batches(pieces, batch_size=batch_size, seed=seed))
        held = [
            tuple(x[r, a:b])
            for x, _, w, starts in batches
            for r in range(len(x))
            for a, b in spans_of_row(w[r], starts[r])
        ]
        assert sorted(held) == sorted(tuple(p[:-1]) for p in pieces)  # each tune once, whole
        assert data.padding_share(batches) < 0.05
        assert sum(len(x) < batch_size for x, *_ in batches) <= 1  # full rows but the last
        tunes = list(data.tune_batches(pieces, batch_size=batch_size, seed=seed))
        assert len(batches) <= len(tunes)  # fuller batches, so no more of them
    unshuffled = list(data.packed_batches(pieces, batch_size=8, seed=0, shuffle=False))
    config = tiny_config(batch_size=8, sequence_mode="packed")
    assert len(unshuffled) == data.count_batches(pieces, config=config)
    first = data.tune_packs(pieces, batch_size=16, seed=1)
    assert first != data.tune_packs(pieces, batch_size=16, seed=2)  # each epoch its own
    assert first == data.tune_packs(pieces, batch_size=16, seed=1)


def test_packing_leaves_out_a_piece_with_nothing_to_predict():
    pieces = [np.arange(1, 10, dtype=np.int32), np.array([1], np.int32)]  # 8 targets, none
    (x, y, w, starts), *rest = data.packed_batches(pieces, batch_size=2, seed=0)
    assert not rest and x.shape == (1, 8) and starts.sum() == 1
    assert x[0].tolist() == list(range(1, 9)) and w.sum() == 8


@pytest.mark.parametrize("look_back", [0, 2])
def test_a_packed_row_trains_each_of_its_tunes_from_a_zero_state(look_back):
    # with a look back, each step also looks back over its own tune only
    config = tiny_config(
        units=[16, 12], dense=[10], sequence_mode="packed", look_back_heads=look_back
    )
    model = build_model(config=config, vocab_size=VOCAB, seed=2)
    for weight in model.weights:  # a fresh model's outputs are near 0; these are not
        weight.assign(weight * 4.0)
    steps = trainer.Steps(model, packed=True)
    rng = np.random.default_rng(4)  # short pieces: each is also run alone, eagerly
    pieces = [
        np.r_[1, rng.integers(3, VOCAB, n), 2].astype(np.int32) for n in (60, *range(8, 40, 4))
    ]
    x, y, w, starts = next(data.packed_batches(pieces, batch_size=3, seed=0, shuffle=False))
    assert (starts.sum(axis=1) >= 2).sum() >= 2  # rows of several tunes
    packed = steps._forward(x, starts=starts, training=False)[0].numpy()
    for r in range(len(x)):
        for a, b in spans_of_row(w[r], starts[r]):
            alone = model(x[r : r + 1, a:b], training=False).numpy()[0]
            np.testing.assert_allclose(packed[r, a:b], alone, rtol=1e-4, atol=1e-4)


# --- compiled steps ----------------------------------------------------------------------
def test_an_epoch_over_many_batch_widths_traces_each_step_once():
    pieces = folk_like_pieces(160, seed=3)
    config = tiny_config(batch_size=8)
    widths = {x.shape[1] for x, _, _ in data.batches(pieces, config=config, seed=0)}
    assert len(widths) >= 8  # many shapes, so a shape-specialised step would retrace
    model = build_model(config=config, vocab_size=VOCAB, seed=0)
    steps = trainer.Steps(model)
    outcome = trainer.train(
        model=model,
        train_pieces=pieces[:140],
        val_pieces=pieces[140:],
        config=config,
        seed=0,
        epochs=2,
        initial_epoch=0,
        hooks=trainer.NullHooks(),
        steps=steps,
    )
    assert outcome == "finished"
    assert steps.traces == {"train": 1, "evaluate": 1}


def test_the_loss_is_the_mean_over_real_tokens_whatever_the_padding():
    config = tiny_config()
    model = build_model(config=config, vocab_size=VOCAB, seed=0)
    steps = trainer.Steps(model)
    x, y, w = next(data.tune_batches(folk_like_pieces(8), batch_size=8, seed=0))
    loss, tokens = steps.evaluate(x, y, w)
    pad = np.zeros((x.shape[0], 64), np.int32)
    wider = [np.concatenate([a, pad.astype(a.dtype)], axis=1) for a in (x, y, w)]
    loss_wide, tokens_wide = steps.evaluate(*wider)
    assert float(tokens) == float(tokens_wide) == w.sum()
    assert float(loss) == pytest.approx(float(loss_wide), rel=1e-5)


def test_the_carried_state_loop_computes_what_the_keras_model_computes():
    config = tiny_config(units=[16, 12], dense=[10])
    model = build_model(config=config, vocab_size=VOCAB, seed=2)
    steps = trainer.Steps(model, carried=True)
    x = np.random.default_rng(0).integers(3, VOCAB, (3, 40)).astype(np.int32)
    expected = model(x, training=False).numpy()
    whole, _ = steps._forward(x, states=steps.zero_states(3), training=False)
    first, state = steps._forward(x[:, :25], states=steps.zero_states(3), training=False)
    rest, _ = steps._forward(x[:, 25:], states=state, training=False)
    np.testing.assert_allclose(whole.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), expected, atol=1e-5)


def test_the_trainers_own_loop_trains_as_the_keras_model_does():
    # On a CPU the trainer runs each LSTM's input projection for all steps at once and
    # loops over the rest; on a GPU the Keras model (cuDNN). Same losses, same weights after.
    config = tiny_config(units=[16, 12], dense=[10], look_back_heads=2)
    x = np.random.default_rng(5).integers(3, VOCAB, (4, 41)).astype(np.int32)
    w = np.ones((4, 40), np.float32)
    w[1, 30:] = 0.0  # a shorter piece, padded
    trained = []
    for scan in (True, False):
        model = build_model(config=config, vocab_size=VOCAB, seed=3)
        steps = trainer.Steps(model, scan=scan)
        losses = [steps.train_batch(x[:, :-1], x[:, 1:], w)[0] for _ in range(3)]
        losses.append(float(steps.evaluate(x[:, :-1], x[:, 1:], w)[0]))
        trained.append((losses, [v.numpy() for v in model.trainable_variables]))
    (scan_losses, scan_weights), (keras_losses, keras_weights) = trained
    np.testing.assert_allclose(scan_losses, keras_losses, rtol=1e-5)
    assert scan_losses[-1] < scan_losses[0]
    for a, b in zip(scan_weights, keras_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def derived_recurrence(projected, recurrent, h0, c0, keep):
    """The LSTM loop as plain TensorFlow operations, for TensorFlow to derive the gradient."""
    import tensorflow as tf

    def step(carry, item):
        z, k = item
        h, c = carry[0] * k, carry[1] * k
        i, f, g, o = tf.split(z + tf.matmul(h, recurrent), 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c

    hs, cs = tf.scan(step, (projected, keep), initializer=(h0, c0))
    return hs, cs[-1]


@pytest.mark.parametrize("restarts", [False, True])
def test_the_loops_written_out_gradient_is_the_one_tensorflow_derives(restarts):
    import tensorflow as tf

    rng = np.random.default_rng(7)
    steps, rows, units = 23, 3, 5
    inputs = [
        tf.constant(rng.normal(0, 1, shape).astype(np.float32))
        for shape in ((steps, rows, 4 * units), (units, 4 * units), (rows, units), (rows, units))
    ]
    keep = np.ones((steps, rows, 1), np.float32)
    if restarts:  # a packed row's next pieces start here
        keep[[0, 9, 17], [0, 1, 1]] = 0.0
    keep = tf.constant(keep)
    results = []
    for loop in (trainer._recurrence, derived_recurrence):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            hs, c_last = loop(*inputs, keep if restarts or loop is derived_recurrence else None)
            # every output and the last cell state reach the loss, each with its own weight
            loss = tf.reduce_sum(tf.sin(3.0 * hs)) + tf.reduce_sum(tf.cos(2.0 * c_last))
        results.append((hs.numpy(), c_last.numpy(), tape.gradient(loss, inputs)))
    (hs, c_last, grads), (hs_ref, c_ref, grads_ref) = results
    np.testing.assert_allclose(hs, hs_ref, atol=1e-6)
    np.testing.assert_allclose(c_last, c_ref, atol=1e-6)
    for name, got, want in zip(("input", "recurrent", "h0", "c0"), grads, grads_ref, strict=True):
        assert np.abs(want.numpy()).max() > 1e-3, name  # a gradient that reaches it
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_weight_drop_drops_recurrent_weights_in_training_only():
    config = tiny_config(units=[16, 12], weight_drop=0.5)
    model = build_model(config=config, vocab_size=VOCAB, seed=2)
    steps = trainer.Steps(model, weight_drop=config["weight_drop"])
    x = np.random.default_rng(6).integers(3, VOCAB, (3, 30)).astype(np.int32)
    whole = model(x, training=False).numpy()
    evaluated, _ = steps._forward(x, training=False)
    np.testing.assert_allclose(evaluated.numpy(), whole, atol=1e-5)  # sampled whole
    first, _ = steps._forward(x, training=True)
    second, _ = steps._forward(x, training=True)
    assert np.abs(first.numpy() - whole).max() > 1e-3  # dropped while training
    assert np.abs(first.numpy() - second.numpy()).max() > 1e-3  # a new mask each batch
    with pytest.raises(ValueError, match="own loop"):
        trainer.Steps(model, scan=False, weight_drop=0.5)


@pytest.mark.parametrize("value", [-0.1, 0.95, "0.3", True])
def test_a_weight_drop_out_of_range_is_refused_naming_the_field(value):
    with pytest.raises(ValueError, match="weight_drop must be a number, 0..0.9"):
        tiny_config(weight_drop=value)


@pytest.mark.parametrize(
    "mode, weight_drop",
    [("tunes", 0.0), ("carried", 0.0), ("packed", 0.0), ("windows", 0.0), ("tunes", 0.3)],
)
def test_every_sequence_mode_lowers_the_loss(mode, weight_drop):
    rng = np.random.default_rng(0)
    # A learnable pattern: each piece counts up through the vocabulary from a random start.
    pieces = [
        np.r_[1, (rng.integers(3, VOCAB) + np.arange(n)) % (VOCAB - 3) + 3, 2].astype(np.int32)
        for n in rng.integers(40, 200, 64)
    ]
    config = tiny_config(sequence_mode=mode, seq_length=32, weight_drop=weight_drop)
    model = build_model(config=config, vocab_size=VOCAB, seed=0)
    hooks = Recorder()
    trainer.train(
        model=model,
        train_pieces=pieces[:56],
        val_pieces=pieces[56:],
        config=config,
        seed=0,
        epochs=4,
        initial_epoch=0,
        hooks=hooks,
    )
    assert hooks.logs[-1]["val_loss"] < hooks.logs[0]["val_loss"] * 0.8


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_a_mixed_precision_model_computes_in_half_precision_and_trains(precision):
    config = tiny_config()
    model = build_model(config=config, vocab_size=VOCAB, seed=0, precision=precision)
    lstm = model.get_layer("lstm_0")
    assert lstm.compute_dtype == precision.removeprefix("mixed_")
    assert lstm.cell.kernel.dtype == "float32"  # the weights stay float32
    assert model.get_layer("logits").compute_dtype == "float32"
    steps = trainer.Steps(model)
    x, y, w = next(data.tune_batches(folk_like_pieces(8), batch_size=8, seed=0))
    losses = [steps.train_batch(x, y, w)[0] for _ in range(5)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        build_model(config=tiny_config(), vocab_size=VOCAB, precision="float8")


# --- early stopping ----------------------------------------------------------------------
def test_the_early_stopping_rule_counts_epochs_without_a_lower_validation_loss():
    history = [{"val_loss": v} for v in (3.0, 2.5, 2.4, 2.45, 2.41)]
    assert trainer.improvement_stop(history, 2)  # 2.45 and 2.41 are not below 2.4
    assert not trainer.improvement_stop(history, 3)  # 2.4 came within the last 3
    assert not trainer.improvement_stop(history, 0)  # off
    assert not trainer.improvement_stop([*history, {"val_loss": 2.3}], 2)


def test_a_tiny_run_stops_early_when_validation_loss_stops_improving():
    """Training and validation pieces are unrelated random tokens: nothing learnt from the
    one helps the other, so after an epoch or two validation loss stops falling."""
    rng = np.random.default_rng(5)
    pieces = [np.r_[1, rng.integers(3, VOCAB, 60), 2].astype(np.int32) for _ in range(48)]
    config = tiny_config(learning_rate=0.05, early_stopping_patience=2)
    model = build_model(config=config, vocab_size=VOCAB, seed=0)
    hooks = Recorder()
    outcome = trainer.train(
        model=model,
        train_pieces=pieces[:40],
        val_pieces=pieces[40:],
        config=config,
        seed=0,
        epochs=30,
        initial_epoch=0,
        hooks=hooks,
    )
    assert outcome == "stopped early"
    assert len(hooks.logs) < 30
    val = [h["val_loss"] for h in hooks.logs]
    assert min(val[-2:]) >= min(val[:-2]) - 1e-4  # the last two brought nothing lower

    # A resumed run counts the epochs before the resume: it stops without training more.
    again = Recorder()
    outcome = trainer.train(
        model=model,
        train_pieces=pieces[:40],
        val_pieces=pieces[40:],
        config=config,
        seed=0,
        epochs=30,
        initial_epoch=len(hooks.logs),
        hooks=again,
        history=hooks.logs,
    )
    assert outcome == "stopped early" and again.logs == []


def test_patience_outside_its_range_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="early_stopping_patience"):
        tiny_config(early_stopping_patience=-1)
    with pytest.raises(ValueError, match="early_stopping_patience"):
        tiny_config(early_stopping_patience="3")


# --- the learning rate cut on a plateau ---------------------------------------------------
def test_the_learning_rate_halves_after_epochs_without_a_lower_validation_loss():
    config = tiny_config(learning_rate=0.01, lr_plateau_patience=2, lr_plateau_cuts=2)
    at = [
        trainer.learning_rate_at(history=[{"val_loss": v} for v in losses], config=config)
        for losses in (
            [3.0, 2.5],  # still falling
            [3.0, 2.5, 2.6],  # one epoch without a gain
            [3.0, 2.5, 2.6, 2.55],  # two: the first cut
            [3.0, 2.5, 2.6, 2.55, 2.4],  # a gain after the cut keeps the rate
            [3.0, 2.5, 2.6, 2.55, 2.4, 2.45, 2.41],  # two more: the second cut
            [3.0, 2.5, 2.6, 2.55, 2.4, 2.45, 2.41, 2.5, 2.5],  # no third: cuts are spent
        )
    ]
    assert at == [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]
    assert (
        trainer.learning_rate_at(history=[{"val_loss": 3.0}] * 9, config=tiny_config())
        == (tiny_config()["learning_rate"])
    )  # off unless asked for


def test_a_run_trains_each_epoch_at_the_rate_its_history_gives_and_resumes_at_it():
    """Unrelated random pieces on each side: validation loss soon stops falling, so the
    rate is cut; the optimizer's own rate is the one logged, and a resumed run (a fresh
    model, as a worker loads a checkpoint) starts at the rate the history had reached."""
    rng = np.random.default_rng(5)
    pieces = [np.r_[1, rng.integers(3, VOCAB, 60), 2].astype(np.int32) for _ in range(48)]
    config = tiny_config(learning_rate=0.05, lr_plateau_patience=1, lr_plateau_cuts=3)

    class Rates(Recorder):
        def epoch_end(self, *, epoch, logs, model, seconds):
            super().epoch_end(epoch=epoch, logs=logs, model=model, seconds=seconds)
            self.logs[-1]["optimizer"] = float(model.optimizer.learning_rate.numpy())

    model = build_model(config=config, vocab_size=VOCAB, seed=0)
    hooks = Rates()
    trainer.train(
        model=model, train_pieces=pieces[:40], val_pieces=pieces[40:], config=config, seed=0,
        epochs=8, initial_epoch=0, hooks=hooks,
    )  # fmt: skip
    rates = [h["learning_rate"] for h in hooks.logs]
    assert [h["optimizer"] for h in hooks.logs] == pytest.approx(rates)
    assert rates[0] == 0.05 and min(rates) < 0.05  # cut at least once
    assert all(b in (a, a / 2) for a, b in zip(rates[:-1], rates[1:], strict=True))
    for k, h in enumerate(hooks.logs):
        assert h["learning_rate"] == trainer.learning_rate_at(history=hooks.logs[:k], config=config)

    again = Rates()
    trainer.train(
        model=build_model(config=config, vocab_size=VOCAB, seed=0), train_pieces=pieces[:40],
        val_pieces=pieces[40:], config=config, seed=0, epochs=9, initial_epoch=8, hooks=again,
        history=hooks.logs,
    )  # fmt: skip
    assert again.logs[0]["optimizer"] == pytest.approx(
        trainer.learning_rate_at(history=hooks.logs, config=config)
    )


def test_learning_rate_cut_settings_outside_their_ranges_are_refused_naming_the_field():
    for field, value in [
        ("lr_plateau_patience", -1),
        ("lr_plateau_patience", 2.5),
        ("lr_plateau_factor", 1.0),
        ("lr_plateau_factor", 0),
        ("lr_plateau_cuts", 21),
    ]:
        with pytest.raises(ValueError, match=field):
            tiny_config(**{field: value})


def test_the_large_preset_has_folk_rnns_sizes_and_stops_early():
    config = WAY.resolve_config(preset="large", overrides=None)
    assert config["units"] == [512, 512, 512]
    assert config["early_stopping_patience"] > 0 and config["val_fraction"] > 0


# --- a warm-up on a second corpus ----------------------------------------------------------
def _counting_batches(monkeypatch) -> list[int]:
    """The number of pieces each training epoch shuffles into batches."""
    seen: list[int] = []
    batches = data.batches

    def spy(pieces, *, config, seed, shuffle=True):
        if shuffle:
            seen.append(len(pieces))
        return batches(pieces, config=config, seed=seed, shuffle=shuffle)

    monkeypatch.setattr(data, "batches", spy)
    return seen


def test_a_warm_up_trains_on_both_corpora_then_on_the_runs_own_at_half_the_rate(monkeypatch):
    rng = np.random.default_rng(7)
    own = [np.r_[1, rng.integers(3, 11, 60), 2].astype(np.int32) for _ in range(48)]
    other = [np.r_[1, rng.integers(11, VOCAB, 60), 2].astype(np.int32) for _ in range(24)]
    config = tiny_config(learning_rate=0.01, warmup_epochs=2)
    trained = _counting_batches(monkeypatch)
    hooks = Recorder()
    run = dict(train_pieces=own[:40], val_pieces=own[40:], config=config, seed=0)
    model = build_model(config=config, vocab_size=VOCAB, seed=0)
    outcome = trainer.train(
        model=model, **run, epochs=4, initial_epoch=0, hooks=hooks, warmup_pieces=other
    )
    assert outcome == "finished"
    assert trained == [64, 64, 40, 40]
    assert [h["warmup"] for h in hooks.logs] == [True, True, False, False]
    assert [h["learning_rate"] for h in hooks.logs] == [0.01, 0.01, 0.005, 0.005]

    # Resumed after the switch, a run goes on with its own corpus at the rate after it.
    trained.clear()
    again = Recorder()
    trainer.train(
        model=model, **run, epochs=5, initial_epoch=4, hooks=again, history=hooks.logs,
        warmup_pieces=other,
    )  # fmt: skip
    assert trained == [40] and again.logs[0]["learning_rate"] == 0.005
    assert again.logs[0]["warmup"] is False


def test_a_warm_up_that_stops_lowering_the_loss_hands_over_to_the_runs_corpus(monkeypatch):
    """Unrelated random pieces everywhere: validation loss soon stops falling. Where early
    stopping would end the warm-up, the run goes on to its own corpus, whose epochs count
    afresh: it stops early only after `patience` of them."""
    rng = np.random.default_rng(5)
    own = [np.r_[1, rng.integers(3, VOCAB, 60), 2].astype(np.int32) for _ in range(48)]
    other = [np.r_[1, rng.integers(3, VOCAB, 60), 2].astype(np.int32) for _ in range(24)]
    config = tiny_config(learning_rate=0.05, early_stopping_patience=2, warmup_epochs=20)
    trained = _counting_batches(monkeypatch)
    hooks = Recorder()
    outcome = trainer.train(
        model=build_model(config=config, vocab_size=VOCAB, seed=0), train_pieces=own[:40],
        val_pieces=own[40:], config=config, seed=0, epochs=40, initial_epoch=0, hooks=hooks,
        warmup_pieces=other,
    )  # fmt: skip
    flags = [h["warmup"] for h in hooks.logs]
    switch = flags.index(False)
    assert 0 < switch < 20 and not any(flags[switch:])  # before its 20 epochs, for good
    assert trained == [64] * switch + [40] * (len(flags) - switch)
    assert [h["epoch"] for h in hooks.logs] == list(range(1, len(flags) + 1))  # no gap
    assert outcome == "stopped early" and len(flags) - switch >= 3  # patience 2, afresh


def test_without_a_warm_up_corpus_the_warm_up_epochs_change_nothing(monkeypatch):
    rng = np.random.default_rng(7)
    own = [np.r_[1, rng.integers(3, VOCAB, 60), 2].astype(np.int32) for _ in range(48)]
    config = tiny_config(learning_rate=0.01, warmup_epochs=2)
    trained = _counting_batches(monkeypatch)
    hooks = Recorder()
    trainer.train(
        model=build_model(config=config, vocab_size=VOCAB, seed=0), train_pieces=own[:40],
        val_pieces=own[40:], config=config, seed=0, epochs=3, initial_epoch=0, hooks=hooks,
    )  # fmt: skip
    assert trained == [40, 40, 40]
    assert [h["learning_rate"] for h in hooks.logs] == [0.01] * 3
    assert all("warmup" not in h for h in hooks.logs)
