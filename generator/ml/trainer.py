"""Training: `model.fit` over the way's batches, with a callback that reports to the run.

The callback knows nothing of Django: the service passes `hooks` that write checkpoints,
progress and samples to the run's row, answer whether the run was cancelled, and beat the
heartbeat that tells a dead worker from a slow one.
"""

from __future__ import annotations

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


def _dataset(
    pieces: list[np.ndarray],
    *,
    config: dict,
    seed: int,
    first_epoch: int,
    shuffle: bool,
):
    import tensorflow as tf

    def gen():
        epoch = first_epoch
        while True:
            yield from data.batches(pieces, config=config, seed=seed + epoch, shuffle=shuffle)
            if not shuffle:
                return
            epoch += 1

    spec = (
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None, None), tf.float32),
    )
    return tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(4)


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
) -> str:
    """Train epochs initial_epoch+1 .. epochs. Returns "finished", "cancelled" or "stopped
    early". Epoch numbers given to hooks count from 1."""
    import warnings

    import keras

    # The dataset is shuffled by `data.batches` itself; Keras's notice about it is noise.
    warnings.filterwarnings("ignore", message=".*shuffle=True.*tf.data.Dataset.*")
    steps = data.count_batches(train_pieces, config=config)
    if steps == 0:
        raise ValueError("the corpus is too small to make a single training batch")
    patience = int(config.get("early_stopping_patience") or 0)
    outcome = {"reason": "finished"}

    class RunCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.last_beat = 0.0
            self.t0 = time.monotonic()
            self.best = float("inf")
            self.bad_epochs = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.monotonic()
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if now - self.last_beat < HEARTBEAT_EVERY_S:
                return
            self.last_beat = now
            hooks.heartbeat(epoch=self.epoch + 1, fraction=(batch + 1) / steps)
            if hooks.should_stop():
                outcome["reason"] = "cancelled"
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if outcome["reason"] == "cancelled":
                return  # a cancelled epoch is incomplete: no checkpoint for it
            logs = {k: float(v) for k, v in (logs or {}).items()}
            hooks.epoch_end(
                epoch=epoch + 1,
                logs=logs,
                model=self.model,
                seconds=time.monotonic() - self.t0,
            )
            if hooks.should_stop():
                outcome["reason"] = "cancelled"
                self.model.stop_training = True
            elif patience and "val_loss" in logs:
                if logs["val_loss"] < self.best - 1e-4:
                    self.best, self.bad_epochs = logs["val_loss"], 0
                else:
                    self.bad_epochs += 1
                    if self.bad_epochs >= patience:
                        outcome["reason"] = "stopped early"
                        self.model.stop_training = True

    train_ds = _dataset(
        train_pieces, config=config, seed=seed, first_epoch=initial_epoch, shuffle=True
    )
    val_ds, val_steps = None, None
    if val_pieces:
        val_ds = _dataset(val_pieces, config=config, seed=seed, first_epoch=0, shuffle=False)
        val_steps = data.count_batches(val_pieces, config=config) or None
    model.fit(
        train_ds,
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps,
        validation_data=val_ds,
        validation_steps=val_steps,
        callbacks=[RunCallback()],
        verbose=0,
    )
    return outcome["reason"]


def save_model(model: Any, path: str) -> None:
    """Weights and optimizer state in one .keras file."""
    model.save(path)


def load_model(path: str) -> Any:
    import keras

    return keras.models.load_model(path, compile=True)
