"""Training: a loop over the way's batches that reports to the run after every epoch.

The loop knows nothing of Django: the service passes `hooks` that write checkpoints,
progress and samples to the run's row, answer whether the run was cancelled, and beat the
heartbeat that tells a dead worker from a slow one.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

import numpy as np

from . import data

HEARTBEAT_EVERY_S = 2.0  # seconds between heartbeat / cancel checks during an epoch


class Hooks(Protocol):
    def epoch_end(
        self, *, epoch: int, logs: dict[str, float], model: Any, seconds: float
    ) -> None: ...

    def should_stop(self) -> bool: ...

    def heartbeat(self, *, epoch: int, fraction: float) -> None: ...


class NullHooks:
    """Hooks that record nothing and never stop: for benchmarks and tests that train outside
    a run."""

    def epoch_end(self, *, epoch: int, logs: dict[str, float], model: Any, seconds: float) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def heartbeat(self, *, epoch: int, fraction: float) -> None:
        pass


class Steps:
    """The compiled training and evaluation steps of one model.

    Each is a `tf.function` with an input signature whose batch and time dimensions are
    None, so it is traced once and then runs every batch width without retracing (`traces`
    counts the traces; the library tests check it stays at one per step over an epoch of
    many widths). The loss is the mean cross-entropy per real token: padding has weight 0
    and does not count in the mean, so a batch's gradient does not depend on its padding.

    Every mode runs the model's own weights through `_forward`: each LSTM as one matrix
    product for every step's input and a loop over the steps for the rest (`_lstm_sequence`),
    which on a CPU is faster than Keras's loop, which does both at every step
    (docs/benchmarks.md). On a GPU, "tunes" mode runs the Keras model itself instead, for
    the fused cuDNN kernel (`scan` False). "carried" mode takes and returns the state, so a
    long batch is trained window by window with the state carried across windows. "packed"
    mode sets the state to zero wherever a row's next piece starts, so rows of several
    pieces train each from a zero state."""

    def __init__(
        self,
        model: Any,
        *,
        carried: bool = False,
        packed: bool = False,
        scan: bool | None = None,
        weight_drop: float = 0.0,
    ):
        import keras
        import tensorflow as tf

        self.model = model
        self.traces = {"train": 0, "evaluate": 0}
        self.lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
        # None: the loop above where no GPU is visible, Keras's model (cuDNN) where one is;
        # always the loop with a weight drop, which Keras's model does not apply
        self.weight_drop = float(weight_drop)
        if scan is None:
            scan = self.weight_drop > 0 or not tf.config.list_logical_devices("GPU")
        if self.weight_drop > 0 and not scan:
            raise ValueError("a weight drop is trained through the trainer's own loop only")
        self.scan = bool(scan)
        self.optimizer = model.optimizer
        if not self.optimizer.built:
            self.optimizer.build(model.trainable_variables)
        ids = tf.TensorSpec([None, None], tf.int32)
        weights = tf.TensorSpec([None, None], tf.float32)
        self.evaluate = tf.function(self._evaluate, input_signature=[ids, ids, weights])
        if carried:
            states = [
                (tf.TensorSpec([None, layer.units]), tf.TensorSpec([None, layer.units]))
                for layer in self.lstms
            ]
            self.train_carried = tf.function(
                self._train_carried, input_signature=[ids, ids, weights, states]
            )
        elif packed:
            self.train_packed = tf.function(
                self._train_packed, input_signature=[ids, ids, weights, weights]
            )
        else:
            self.train = tf.function(self._train, input_signature=[ids, ids, weights])

    # --- the arithmetic -------------------------------------------------------------------
    @staticmethod
    def _mean_loss(y, logits, w):
        import keras
        import tensorflow as tf

        logits = tf.cast(logits, tf.float32)  # mixed precision: the loss in float32
        per_token = keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True)
        tokens = tf.reduce_sum(w)
        return tf.reduce_sum(per_token * w) / tf.maximum(tokens, 1.0), tokens

    def _apply(self, tape, scaled_loss) -> None:
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(scaled_loss, variables), variables)

    def _logits(self, x, *, training: bool):
        """A batch of whole pieces from a zero state."""
        if self.scan:
            return self._forward(x, training=training)[0]
        return self.model(x, training=training)

    def _train(self, x, y, w):
        import tensorflow as tf

        self.traces["train"] += 1  # runs only while tracing
        with tf.GradientTape() as tape:
            loss, tokens = self._mean_loss(y, self._logits(x, training=True), w)
            scaled = self.optimizer.scale_loss(loss)  # mixed float16: scaled, else itself
        self._apply(tape, scaled)
        return loss, tokens

    def _evaluate(self, x, y, w):
        self.traces["evaluate"] += 1
        return self._mean_loss(y, self._logits(x, training=False), w)

    def _train_carried(self, x, y, w, states):
        import tensorflow as tf

        self.traces["train"] += 1
        with tf.GradientTape() as tape:
            logits, new_states = self._forward(x, states=states, training=True)
            loss, tokens = self._mean_loss(y, logits, w)
            scaled = self.optimizer.scale_loss(loss)
        self._apply(tape, scaled)
        carry = [tuple(tf.cast(tf.stop_gradient(t), tf.float32) for t in s) for s in new_states]
        return loss, tokens, carry

    def _train_packed(self, x, y, w, starts):
        import tensorflow as tf

        self.traces["train"] += 1
        with tf.GradientTape() as tape:
            logits, _ = self._forward(x, starts=starts, training=True)
            loss, tokens = self._mean_loss(y, logits, w)
            scaled = self.optimizer.scale_loss(loss)
        self._apply(tape, scaled)
        return loss, tokens

    def _forward(self, x, *, training: bool, states=None, starts=None):
        """The model's layers in order, the same weights and arithmetic as `model(x)` (a
        library test compares them); returns (logits, each LSTM's final (h, c)). Each LSTM
        starts from `states` (None: zeros) and, where `starts` is 1 (a packed row's next
        piece), from zeros again; a look back then looks over its own piece only."""
        import keras
        import tensorflow as tf

        from .model import is_look_back

        out, finals, embedded = x, [], None
        # (T, B, 1), 0.0 where a piece starts: made once, cast for each LSTM
        keep = None if starts is None else tf.transpose(1.0 - starts)[:, :, None]
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.LSTM):
                state = None if states is None else states[len(finals)]
                drop = self.weight_drop if training else 0.0
                out, final = _lstm_sequence(layer, out, state, keep=keep, drop=drop)
                finals.append(final)
            elif is_look_back(layer):
                out = layer([out, embedded], starts=starts, training=training)
            elif isinstance(
                layer, (keras.layers.Embedding, keras.layers.Dropout, keras.layers.Dense)
            ):
                out = layer(out, training=training)  # (each step on its own)
                if isinstance(layer, keras.layers.Embedding):
                    embedded = out
            else:  # a layer this loop does not know might mix steps (or pieces)
                raise ValueError(f"the trainer cannot run a model with a {layer.name} layer")
        return out, finals

    # --- batches --------------------------------------------------------------------------
    def zero_states(self, rows: int):
        import numpy as np

        return [
            (np.zeros((rows, n), np.float32), np.zeros((rows, n), np.float32))
            for n in (layer.units for layer in self.lstms)
        ]

    def train_batch(self, x, y, w, starts=None, *, window: int = 0) -> tuple[float, float]:
        """One batch; returns (mean loss per real token, real tokens). With `starts` (a
        packed batch), each row's pieces train from a zero state where they start. With
        `window`, the batch is trained `window` steps at a time, the state carried between
        windows."""
        if starts is not None:
            loss, tokens = self.train_packed(x, y, w, starts)
            return float(loss), float(tokens)
        if not window:
            loss, tokens = self.train(x, y, w)
            return float(loss), float(tokens)
        states = self.zero_states(x.shape[0])
        total = count = 0.0
        for start in range(0, x.shape[1], window):
            sl = slice(start, start + window)
            if not w[:, sl].any():
                break  # only padding is left: right padding, so nothing real follows
            loss, tokens, states = self.train_carried(x[:, sl], y[:, sl], w[:, sl], states)
            total, count = total + float(loss) * float(tokens), count + float(tokens)
        return total / max(count, 1.0), count


def _lstm_sequence(layer, inputs, state=None, *, keep=None, drop: float = 0.0):
    """A Keras LSTM layer (implementation 2, tanh/sigmoid, gates i, f, c, o) over `inputs`
    from `state` (None: zeros), the state multiplied by `keep` (T, B, 1) before each step (0
    where a packed row's next piece starts); returns (every step's output, the final
    (h, c)). The input projection of every step is one matrix product before the loop:
    Keras's own loop makes it step by step. The loop itself is `_recurrence`, whose
    gradient is written out rather than derived step by step.
    `drop` > 0: the recurrent weights dropped with that probability (the rest scaled by
    1 / (1 - drop)), one mask for the whole batch, so the model samples with them whole."""
    import tensorflow as tf

    cell = layer.cell
    dtype = inputs.dtype
    kernel = tf.cast(cell.kernel, dtype)
    # (a tensor, not the variable itself, which a cast to its own dtype returns: the loop's
    # written-out gradient takes it as an input)
    recurrent = tf.identity(tf.cast(cell.recurrent_kernel, dtype))
    if drop > 0:
        recurrent = tf.nn.dropout(recurrent, rate=drop)
    projected = tf.einsum("btd,dk->tbk", inputs, kernel) + tf.cast(cell.bias, dtype)
    if state is None:
        zeros = tf.zeros(tf.stack([tf.shape(inputs)[0], cell.units]), dtype)
        state = (zeros, zeros)
    h0, c0 = (tf.cast(t, dtype) for t in state)
    keep = None if keep is None else tf.cast(keep, dtype)
    hs, c_last = _recurrence(projected, recurrent, h0, c0, keep)
    return tf.transpose(hs, [1, 0, 2]), (hs[-1], c_last)


def _recurrence(projected, recurrent, h0, c0, keep=None):
    """The LSTM's loop over time-major `projected` (T, B, 4 units: each step's input
    product plus the bias) from (h0, c0), the state multiplied by `keep` (T, B, 1) before
    each step (None: kept whole); returns (every step's h, the last c).

    Its gradient is written out (`tf.custom_gradient`) because the one TensorFlow derives
    for a loop is slow on a CPU (docs/benchmarks.md: a layer forward and back 1.3-1.5 times
    as fast written out): it runs some twenty small operations a step, each with its own
    dispatch, and multiplies out the recurrent weights' gradient step by step. Here the
    gates' derivatives are computed for all steps at once after the forward loop, the
    backward loop is a handful of operations a step, and the recurrent weights' gradient is
    one matrix product over every step at the end. A library test compares it with the
    derived one."""
    import tensorflow as tf

    @tf.custom_gradient
    def loop(projected, recurrent, h0, c0):
        def step(carry, item):
            h, c = carry[0], carry[1]
            if keep is not None:
                z, k = item
                h, c = h * k, c * k
            else:
                z = item
            z = z + tf.matmul(h, recurrent)
            i, f, g, o = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c, z

        items = projected if keep is None else (projected, keep)
        zero = tf.zeros_like(projected[0])
        hs, cs, zs = tf.scan(step, items, initializer=(h0, c0, zero))

        def grad(d_hs, d_c_last):
            if d_c_last is None:  # (the last c unused)
                d_c_last = tf.zeros_like(c0)
            # the state each step started from (after `keep`)
            h_in = tf.concat([h0[None], hs[:-1]], 0)
            c_in = tf.concat([c0[None], cs[:-1]], 0)
            if keep is not None:
                h_in, c_in = h_in * keep, c_in * keep
            zi, zf, zg, zo = tf.split(zs, 4, axis=-1)
            i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
            tc = tf.tanh(cs)
            through = o * (1.0 - tc * tc)  # a step's dc gains its dh times this
            # a step's gate gradient dz is [dc, dc, dc, dh] times these
            factors = tf.concat(
                [g * i * (1.0 - i), c_in * f * (1.0 - f), i * (1.0 - g * g), tc * o * (1.0 - o)],
                axis=-1,
            )
            back_c = f if keep is None else f * keep  # dc before a step: dc after it times this
            recurrent_t = tf.transpose(recurrent)
            steps = tf.shape(projected)[0]

            def body(t, dh_next, dc_next, dzs):
                dh = d_hs[t] + dh_next
                dc = dc_next + dh * through[t]
                dz = tf.concat([dc, dc, dc, dh], axis=-1) * factors[t]
                dh_prev = tf.matmul(dz, recurrent_t)
                if keep is not None:
                    dh_prev = dh_prev * keep[t]
                return t - 1, dh_prev, dc * back_c[t], dzs.write(t, dz)

            dzs = tf.TensorArray(projected.dtype, size=steps)
            start = (steps - 1, tf.zeros_like(h0), d_c_last, dzs)
            _, dh0, dc0, dzs = tf.while_loop(lambda t, *_: t >= 0, body, start)
            dz = dzs.stack()
            d_recurrent = tf.einsum("tbu,tbk->uk", h_in, dz)
            return dz, d_recurrent, dh0, dc0

        return (hs, cs[-1]), grad

    return loop(projected, recurrent, h0, c0)


# Nats a validation loss must fall below the best before it to count as a gain, for early
# stopping and for the learning rate's cuts alike.
MIN_GAIN = 1e-4


def improvement_stop(history: list[dict], patience: int) -> bool:
    """The early-stopping rule: True when the last `patience` epochs of `history` (dicts
    with "val_loss") brought no validation loss below the best before them by more than
    1e-4 nats. Epochs without a validation loss do not count; patience 0 never stops."""
    losses = [h["val_loss"] for h in history if h.get("val_loss") is not None]
    if patience <= 0 or len(losses) <= patience:
        return False
    best_before = min(losses[:-patience])
    return min(losses[-patience:]) >= best_before - MIN_GAIN


def learning_rate_at(*, history: list[dict], config: dict) -> float:
    """The learning rate for the epoch after `history`: the configured `learning_rate`,
    multiplied by `lr_plateau_factor` each time `lr_plateau_patience` epochs in a row
    brought no validation loss below the best before them (by `MIN_GAIN`, as early
    stopping counts), at most `lr_plateau_cuts` times. Read from the epochs' logs alone, so
    a resumed run goes on at the rate it had reached, and the rate is part of a run's
    record rather than of a process's state."""
    rate = float(config["learning_rate"])
    patience = int(config.get("lr_plateau_patience") or 0)
    cuts = int(config.get("lr_plateau_cuts") or 0)
    if patience <= 0 or cuts <= 0:
        return rate
    factor = float(config.get("lr_plateau_factor") or 0.5)
    best, since = math.inf, 0
    for entry in history:
        val = entry.get("val_loss")
        if val is None:
            continue
        since = 0 if val < best - MIN_GAIN else since + 1
        best = min(best, val)
        if since >= patience and cuts > 0:
            rate, cuts, since = rate * factor, cuts - 1, 0
    return rate


def _set_learning_rate(optimizer: Any, rate: float) -> None:
    # (a mixed-float16 run's LossScaleOptimizer hands the rate to the optimizer it wraps)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    inner.learning_rate.assign(rate)


def validation_loss(steps: Steps, pieces: list[np.ndarray], *, config: dict, seed: int):
    """Mean cross-entropy per real token over `pieces`, in nats; None without pieces.
    "tunes", "carried" and "packed" runs are measured alike: whole tunes from a zero state,
    as the sampler generates them."""
    total = tokens = 0.0
    if config["sequence_mode"] == "packed":
        config = {**config, "sequence_mode": "tunes"}
    for x, y, w in data.batches(pieces, config=config, seed=seed, shuffle=False):
        loss, n = steps.evaluate(x, y, w)
        total, tokens = total + float(loss) * float(n), tokens + float(n)
    return total / tokens if tokens else None


def train(
    *,
    model: Any,
    train_pieces: list[np.ndarray],
    val_pieces: list[np.ndarray],
    config: dict,
    seed: int,
    epochs: int,
    initial_epoch: int,
    hooks: Hooks,
    history: list[dict] | None = None,
    steps: Steps | None = None,
    warmup_pieces: list[np.ndarray] | None = None,
) -> str:
    """Train epochs initial_epoch+1 .. epochs. Returns "finished", "cancelled" or "stopped
    early". Epoch numbers given to hooks count from 1; `loss` and `val_loss` are mean
    cross-entropy per real token, in nats; `learning_rate` is the epoch's rate
    (`learning_rate_at`). `history` holds the logs of the epochs already trained (a resumed
    run), so early stopping and the rate's cuts count across a resume.

    A plain loop over compiled steps rather than `fit` over a `tf.data` pipeline: the
    pipeline's prefetch thread kept calling the Python generator after `fit` returned, and
    when the garbage collector later freed its functions the process could crash (seen as a
    segfault in `context.remove_function`). Here nothing of TensorFlow runs between calls.

    With `warmup_pieces` (a second corpus's) and `config["warmup_epochs"]`, epochs up to
    that number (or until the warm-up stops lowering the validation loss) train on both
    corpora's pieces, later ones on `train_pieces` alone at half the learning rate, the
    rate's cuts and early stopping counting the epochs after the switch alone (`_phase`);
    validation stays on `val_pieces`, the run's own corpus."""
    warmup_epochs = int(config.get("warmup_epochs") or 0) if warmup_pieces else 0
    both, both_batches = train_pieces, 0
    if warmup_epochs:
        both = [*train_pieces, *warmup_pieces]
        both_batches = data.count_batches(both, config=config)
        if both_batches == 0:
            raise ValueError("the corpora are too small to make a single training batch")
    n_batches = data.count_batches(train_pieces, config=config)
    if n_batches == 0:
        raise ValueError("the corpus is too small to make a single training batch")
    carried = config["sequence_mode"] == "carried"
    window = int(config["seq_length"]) if carried else 0
    steps = steps or Steps(
        model,
        carried=carried,
        packed=config["sequence_mode"] == "packed",
        weight_drop=float(config.get("weight_drop") or 0.0),
    )
    patience = int(config.get("early_stopping_patience") or 0)
    seen = [dict(h) for h in (history or []) if h.get("epoch", 0) <= initial_epoch]
    if _stops(seen, initial_epoch, warmup_epochs, patience):
        return "stopped early"
    last_beat = 0.0  # the first batch beats, so a cancel is seen at once
    for epoch in range(initial_epoch, epochs):
        t0 = time.monotonic()
        warming = _warming(seen, epoch, warmup_epochs, patience)
        rate = learning_rate_at(history=_phase(seen, warming), config=config)
        if warmup_epochs and not warming:
            rate *= WARMUP_AFTER_RATE
        _set_learning_rate(steps.optimizer, rate)
        total = tokens = 0.0
        pieces, count = (both, both_batches) if warming else (train_pieces, n_batches)
        # seed + epoch: a resumed run shuffles epoch k exactly as an uninterrupted one would.
        batches = data.batches(pieces, config=config, seed=seed + epoch, shuffle=True)
        for i, batch in enumerate(batches):
            loss, n = steps.train_batch(*batch, window=window)
            total, tokens = total + loss * n, tokens + n
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_EVERY_S:
                last_beat = now
                hooks.heartbeat(epoch=epoch + 1, fraction=min(1.0, (i + 1) / count))
                if hooks.should_stop():
                    return "cancelled"  # an incomplete epoch gets no checkpoint
        logs = {"loss": total / max(tokens, 1.0), "learning_rate": rate}
        if val_pieces:
            val = validation_loss(steps, val_pieces, config=config, seed=seed)
            if val is not None:
                logs["val_loss"] = val
        if warmup_epochs:
            logs["warmup"] = warming
        hooks.epoch_end(epoch=epoch + 1, logs=logs, model=model, seconds=time.monotonic() - t0)
        if hooks.should_stop():
            return "cancelled"
        seen.append({"epoch": epoch + 1, **logs})
        if _stops(seen, epoch + 1, warmup_epochs, patience):
            return "stopped early"
    return "finished"


# The learning rate after a warm-up, as a share of the rate the run's schedule gives: the
# model has learned what the corpora share and now settles into the run's own.
WARMUP_AFTER_RATE = 0.5


def _warming(history: list[dict], epoch: int, warmup_epochs: int, patience: int) -> bool:
    """Whether epoch `epoch` + 1 trains on both corpora: one of the first `warmup_epochs`,
    while the warm-up still lowers the validation loss (early stopping's rule: where it
    would stop, the run goes on to its own corpus instead), and never after an epoch on the
    run's corpus alone (each epoch's log says which it was)."""
    if epoch >= warmup_epochs or any(h.get("warmup") is False for h in history):
        return False
    return not improvement_stop(history, patience)


def _phase(history: list[dict], warming: bool) -> list[dict]:
    """The epochs the learning rate and early stopping read: all of them during the warm-up
    (and in a run without one), the run's own epochs after it."""
    return history if warming else [h for h in history if not h.get("warmup")]


def _stops(history: list[dict], epoch: int, warmup_epochs: int, patience: int) -> bool:
    """Early stopping before epoch `epoch` + 1: only on the run's own corpus."""
    if _warming(history, epoch, warmup_epochs, patience):
        return False
    return improvement_stop(_phase(history, False), patience)


def save_model(model: Any, path: str) -> None:
    """Weights and optimizer state in one .keras file."""
    model.save(path)


def load_model(path: str) -> Any:
    import keras

    from .model import register_layers

    register_layers()
    return keras.models.load_model(path, compile=True)
