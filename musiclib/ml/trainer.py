"""Training: a loop over the way's batches that reports to the run after every epoch.

The loop knows nothing of Django: the service passes `hooks` that write checkpoints,
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


class NullHooks:
    """Hooks that record nothing and never stop: for benchmarks and tests that train outside
    a run."""

    def epoch_end(self, *, epoch: int, logs: dict[str, float], model: Any, seconds: float) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def heartbeat(self, *, epoch: int, fraction: float) -> None:
        pass


def _step(step_fn, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """One batch through `step_fn` (train_on_batch or test_on_batch). Returns (mean loss per
    real token, number of real tokens).

    Keras divides a weighted loss by every element, padding included, so a batch that is half
    padding would count half; scaling the weights to sum to the element count makes the loss,
    and its gradient, the mean over real tokens."""
    tokens = float(w.sum())
    if tokens <= 0:
        return 0.0, 0.0
    scaled = (w * (w.size / tokens)).astype(np.float32)
    logs = step_fn(x, y, sample_weight=scaled, return_dict=True)
    return float(logs["loss"]), tokens


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
    early". Epoch numbers given to hooks count from 1; `loss` and `val_loss` are mean
    cross-entropy per real token, in nats.

    A plain loop over `train_on_batch` rather than `fit` over a `tf.data` pipeline: the
    pipeline's prefetch thread kept calling the Python generator after `fit` returned, and
    when the garbage collector later freed its functions the process could crash (seen as a
    segfault in `context.remove_function`). Here nothing of TensorFlow runs between calls."""
    steps = data.count_batches(train_pieces, config=config)
    if steps == 0:
        raise ValueError("the corpus is too small to make a single training batch")
    patience = int(config.get("early_stopping_patience") or 0)
    best, bad_epochs = float("inf"), 0
    last_beat = 0.0  # the first batch beats, so a cancel is seen at once
    for epoch in range(initial_epoch, epochs):
        t0 = time.monotonic()
        total = tokens = 0.0
        # seed + epoch: a resumed run shuffles epoch k exactly as an uninterrupted one would.
        batches = data.batches(train_pieces, config=config, seed=seed + epoch, shuffle=True)
        for i, (x, y, w) in enumerate(batches):
            loss, n = _step(model.train_on_batch, x, y, w)
            total, tokens = total + loss * n, tokens + n
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_EVERY_S:
                last_beat = now
                hooks.heartbeat(epoch=epoch + 1, fraction=min(1.0, (i + 1) / steps))
                if hooks.should_stop():
                    return "cancelled"  # an incomplete epoch gets no checkpoint
        logs = {"loss": total / max(tokens, 1.0)}
        if val_pieces:
            v_total = v_tokens = 0.0
            for x, y, w in data.batches(val_pieces, config=config, seed=seed, shuffle=False):
                loss, n = _step(model.test_on_batch, x, y, w)
                v_total, v_tokens = v_total + loss * n, v_tokens + n
            if v_tokens:
                logs["val_loss"] = v_total / v_tokens
        hooks.epoch_end(epoch=epoch + 1, logs=logs, model=model, seconds=time.monotonic() - t0)
        if hooks.should_stop():
            return "cancelled"
        if patience and "val_loss" in logs:
            if logs["val_loss"] < best - 1e-4:
                best, bad_epochs = logs["val_loss"], 0
            else:
                bad_epochs += 1
                if bad_epochs >= patience:
                    return "stopped early"
    return "finished"


def save_model(model: Any, path: str) -> None:
    """Weights and optimizer state in one .keras file."""
    model.save(path)


def load_model(path: str) -> Any:
    import keras

    return keras.models.load_model(path, compile=True)
