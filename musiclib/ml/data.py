"""Batches of token ids for training.

"tunes" mode trains on whole pieces from a zero state, exactly as the sampler generates
them, so the model has seen its state carried over every length it will be asked to sample.
Pieces of similar length are batched together so padding stays small (a few per cent).
"carried" mode uses the same batches of whole pieces, but the trainer cuts each into
windows of seq_length tokens and carries the LSTM state from one window to the next
(back-propagation truncated at window edges).
"windows" mode reproduces the original write-up: independent fixed-length windows cut from
the concatenated corpus, each from a zero state.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

PAD_MULTIPLE = 16  # batch widths are multiples of this many tokens: a bounded set of shapes


def bucket_width(longest: int) -> int:
    """The padded width of a batch whose longest row has `longest` tokens: rounded up to a
    multiple of PAD_MULTIPLE, so every batch shape comes from a small fixed set (at most
    max_tokens / PAD_MULTIPLE widths)."""
    return max(PAD_MULTIPLE, -(-int(longest) // PAD_MULTIPLE) * PAD_MULTIPLE)


def tune_order(pieces: list[np.ndarray], *, batch_size: int, seed: int, shuffle: bool = True):
    """Which pieces go in each batch: every piece exactly once per epoch, pieces of nearly
    equal length together, the batches in random order.

    All pieces are sorted by length plus a random jitter of under PAD_MULTIPLE tokens (so
    a batch's members change from epoch to epoch among tunes of about the same length),
    then cut into consecutive batches. Sorting the whole corpus, rather than within chunks
    of a few batches, is what keeps padding under a few per cent."""
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.float64, count=len(pieces))
    if shuffle:
        rng = np.random.default_rng(seed)
        key = lengths + rng.uniform(0.0, PAD_MULTIPLE, size=len(pieces))
    else:
        key = lengths
    order = np.argsort(key, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(batches)
    return batches


def tune_batches(
    pieces: list[np.ndarray], *, batch_size: int, seed: int, shuffle: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(inputs, targets, weights) batches of whole pieces, padded on the right with 0."""
    for idx in tune_order(pieces, batch_size=batch_size, seed=seed, shuffle=shuffle):
        width = bucket_width(max(len(pieces[i]) for i in idx) - 1)
        x = np.zeros((len(idx), width), dtype=np.int32)
        y = np.zeros((len(idx), width), dtype=np.int32)
        for row, i in enumerate(idx):
            seq = pieces[i]
            x[row, : len(seq) - 1] = seq[:-1]
            y[row, : len(seq) - 1] = seq[1:]
        yield x, y, (y != 0).astype(np.float32)


def padding_share(batches) -> float:
    """Share of the batch cells that are padding (weight 0), 0..1."""
    cells = real = 0.0
    for _, _, w in batches:
        cells += w.size
        real += float(w.sum())
    return 1.0 - real / cells if cells else 0.0


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
    return -(-len(pieces) // int(config["batch_size"]))
