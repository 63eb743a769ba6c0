"""Batches of token ids for training.

"tunes" mode trains on whole pieces from a zero state, exactly as the sampler generates
them, so the model has seen its state carried over every length it will be asked to sample.
Pieces of similar length are batched together so padding stays small.
"windows" mode reproduces the original write-up: independent fixed-length windows cut from
the concatenated corpus, each from a zero state.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

PAD_MULTIPLE = 16  # pad batch lengths up to a multiple of this: fewer distinct shapes


def tune_batches(
    pieces: list[np.ndarray], *, batch_size: int, seed: int, shuffle: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(inputs, targets, weights) batches of whole pieces, padded on the right with 0."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pieces)) if shuffle else np.arange(len(pieces))
    # Sort within chunks of 20 batches: similar lengths together, order still random.
    chunk = batch_size * 20
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(pieces[i]))
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if shuffle:
        rng.shuffle(batches)
    for idx in batches:
        longest = max(len(pieces[i]) for i in idx) - 1
        width = -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE
        x = np.zeros((len(idx), width), dtype=np.int32)
        y = np.zeros((len(idx), width), dtype=np.int32)
        for row, i in enumerate(idx):
            seq = pieces[i]
            x[row, : len(seq) - 1] = seq[:-1]
            y[row, : len(seq) - 1] = seq[1:]
        yield x, y, (y != 0).astype(np.float32)


def window_batches(
    pieces: list[np.ndarray],
    *,
    batch_size: int,
    seq_length: int,
    seed: int,
    shuffle: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Independent windows of seq_length tokens from the concatenated pieces."""
    stream = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    n = (len(stream) - 1) // seq_length
    if n <= 0:
        return
    starts = np.arange(n) * seq_length
    if shuffle:
        np.random.default_rng(seed).shuffle(starts)
    for b in range(0, n, batch_size):
        s = starts[b : b + batch_size]
        x = np.stack([stream[i : i + seq_length] for i in s])
        y = np.stack([stream[i + 1 : i + seq_length + 1] for i in s])
        yield x, y, np.ones_like(y, dtype=np.float32)


def batches(
    pieces: list[np.ndarray], *, config: dict, seed: int, shuffle: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    if config["sequence_mode"] == "windows":
        return window_batches(
            pieces,
            batch_size=int(config["batch_size"]),
            seq_length=int(config["seq_length"]),
            seed=seed,
            shuffle=shuffle,
        )
    return tune_batches(pieces, batch_size=int(config["batch_size"]), seed=seed, shuffle=shuffle)


def count_batches(pieces: list[np.ndarray], *, config: dict) -> int:
    if config["sequence_mode"] == "windows":
        total = int(sum(len(p) for p in pieces))
        return -(-max((total - 1) // int(config["seq_length"]), 0) // int(config["batch_size"]))
    return sum(
        -(-len(pieces[i : i + int(config["batch_size"]) * 20]) // int(config["batch_size"]))
        for i in range(0, len(pieces), int(config["batch_size"]) * 20)
    )
