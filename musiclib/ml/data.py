"""Batches of token ids for training.

"tunes" mode trains on whole pieces from a zero state, exactly as the sampler generates
them, so the model has seen its state carried over every length it will be asked to sample.
Pieces of similar length are batched together so padding stays small (a few per cent).
"carried" mode uses the same batches of whole pieces, but the trainer cuts each into
windows of seq_length tokens and carries the LSTM state from one window to the next
(back-propagation truncated at window edges).
"packed" mode trains the same whole pieces from a zero state, several to a row: each row
holds pieces end to end, and the trainer sets the LSTM state to zero where a piece starts
(`starts`), so every batch has batch_size full rows and the long tunes do not sit in small
batches of their own.
"windows" mode reproduces the original write-up: independent fixed-length windows cut from
the concatenated corpus, each from a zero state.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import numpy as np

PAD_MULTIPLE = 8  # batch widths are multiples of this many tokens: a bounded set of shapes


def bucket_width(longest: int) -> int:
    """The padded width of a batch whose longest row has `longest` tokens: rounded up to a
    multiple of PAD_MULTIPLE, so every batch shape comes from a small fixed set (at most
    max_tokens / PAD_MULTIPLE widths)."""
    return max(PAD_MULTIPLE, -(-int(longest) // PAD_MULTIPLE) * PAD_MULTIPLE)


MAX_PADDING = 0.04  # share of an epoch's batch cells that may be padding, 0..1


def tune_order(pieces: list[np.ndarray], *, batch_size: int, seed: int, shuffle: bool = True):
    """Which pieces go in each batch: every piece exactly once per epoch, pieces of nearly
    equal length together, the batches in random order.

    All pieces are sorted by length plus a random jitter of under PAD_MULTIPLE tokens (so
    a batch's members change from epoch to epoch among tunes of about the same length),
    then cut into runs of at most batch_size consecutive pieces. Where lengths are sparse
    (the few longest tunes) a batch of batch_size would pad its shorter rows heavily, so
    the cut is chosen by `_cut`: as few, full batches as keep the epoch's padding under
    MAX_PADDING. Sorting the whole corpus, rather than within chunks of a few batches, is
    what keeps padding to a few per cent."""
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    rng = np.random.default_rng(seed)
    key = lengths + rng.uniform(0.0, PAD_MULTIPLE, size=len(pieces)) if shuffle else lengths
    order = np.argsort(key, kind="stable")
    batches = [order[a:b] for a, b in _cut(lengths[order], batch_size)]
    if shuffle:
        rng.shuffle(batches)
    return batches


def _cut(lengths: np.ndarray, batch_size: int) -> list[tuple[int, int]]:
    """Cut (nearly) sorted lengths into runs [a, b) of at most batch_size.

    A step over a batch costs about width × (rows + overhead): time steps run one after
    another, and each has a fixed cost besides its rows. For an overhead of `rows_cost`
    rows, dynamic programming finds the cut of least total cost; the largest overhead whose
    cut pads under MAX_PADDING wins (a large overhead favours full batches, a small one
    short batches with little padding)."""
    n = len(lengths)
    if n == 0:
        return []
    widths_of = np.maximum(PAD_MULTIPLE, -(-(lengths - 1) // PAD_MULTIPLE) * PAD_MULTIPLE)
    real = float((lengths - 1).sum())

    def cut(rows_cost: float) -> tuple[list[tuple[int, int]], float]:
        cost = np.zeros(n + 1)
        take = np.zeros(n + 1, dtype=np.int64)
        for i in range(1, n + 1):
            k = np.arange(1, min(batch_size, i) + 1)
            # the width of the run ending at i with k rows: its longest piece, rounded up
            width = np.maximum.accumulate(widths_of[i - 1 :: -1][: len(k)])
            total = cost[i - k] + width * (rows_cost + k)
            j = int(np.argmin(total))
            cost[i], take[i] = total[j], k[j]
        runs, i = [], n
        while i > 0:
            runs.append((i - int(take[i]), i))
            i -= int(take[i])
        runs.reverse()
        cells = sum(float(widths_of[a:b].max()) * (b - a) for a, b in runs)
        return runs, 1.0 - real / cells

    runs, padding = cut(batch_size / 4)
    if padding <= MAX_PADDING:
        return runs
    low, high = 0.0, batch_size / 4  # bisect: the largest overhead that pads little enough
    runs, _ = cut(low)
    for _ in range(7):
        mid = (low + high) / 2
        trial, padding = cut(mid)
        if padding <= MAX_PADDING:
            low, runs = mid, trial
        else:
            high = mid
    return runs


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


def tune_packs(
    pieces: list[np.ndarray], *, batch_size: int, seed: int, shuffle: bool = True
) -> list[list[list[int]]]:
    """Which pieces go in each row of each batch in "packed" mode: every piece with a target
    exactly once per epoch, whole, a row holding one or more pieces end to end (a piece of
    one token has nothing to predict and is left out: at a full row's end its start would
    fall past the row).

    First fit, longest first: a batch is as wide as the longest piece left (rounded up to
    PAD_MULTIPLE), and each of its batch_size rows takes the longest piece left that still
    fits, then the next, until none fits. So the longest tunes fill their rows' ends with
    short ones rather than padding, and every batch but the last has batch_size rows. Pieces
    of equal length are taken in a random order (a new one each epoch), and the batches come
    in random order."""
    lengths = [len(p) - 1 for p in pieces]
    rng = np.random.default_rng(seed)
    tie = rng.uniform(0.0, 1.0, size=len(pieces)) if shuffle else np.zeros(len(pieces))
    order = sorted(
        (i for i in range(len(pieces)) if lengths[i] > 0), key=lambda i: lengths[i] + tie[i]
    )
    keys = [lengths[i] + tie[i] for i in order]  # ascending; a key < n + 1 is a length <= n
    packs = []
    while order:
        width = bucket_width(lengths[order[-1]])
        rows = []
        for _ in range(batch_size):
            row, room = [], width
            while order:
                k = bisect.bisect_left(keys, room + 1) - 1  # the longest piece that fits
                if k < 0:
                    break
                row.append(order.pop(k))
                keys.pop(k)
                room -= lengths[row[-1]]
            if not row:
                break
            rows.append(row)
        packs.append(rows)
    if shuffle:
        rng.shuffle(packs)
    return packs


def packed_batches(
    pieces: list[np.ndarray], *, batch_size: int, seed: int, shuffle: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(inputs, targets, weights, starts) batches of pieces packed end to end in rows
    (`tune_packs`), padded on the right with 0; `starts` is 1.0 where a piece begins (the
    LSTM state is zero there) and 0.0 elsewhere."""
    for rows in tune_packs(pieces, batch_size=batch_size, seed=seed, shuffle=shuffle):
        width = bucket_width(max(sum(len(pieces[i]) - 1 for i in row) for row in rows))
        x = np.zeros((len(rows), width), dtype=np.int32)
        y = np.zeros((len(rows), width), dtype=np.int32)
        starts = np.zeros((len(rows), width), dtype=np.float32)
        for r, row in enumerate(rows):
            at = 0
            for i in row:
                seq = pieces[i]
                n = len(seq) - 1
                x[r, at : at + n] = seq[:-1]
                y[r, at : at + n] = seq[1:]
                starts[r, at] = 1.0
                at += n
        yield x, y, (y != 0).astype(np.float32), starts


def padding_share(batches) -> float:
    """Share of the batch cells that are padding (weight 0), 0..1."""
    cells = real = 0.0
    for _, _, w, *_ in batches:
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
) -> Iterator[tuple[np.ndarray, ...]]:
    """The training batches of the run's sequence mode: (inputs, targets, weights), and
    in "packed" mode the rows' `starts` after them."""
    if config["sequence_mode"] == "windows":
        return window_batches(
            pieces,
            batch_size=int(config["batch_size"]),
            seq_length=int(config["seq_length"]),
            seed=seed,
            shuffle=shuffle,
        )
    if config["sequence_mode"] == "packed":
        return packed_batches(
            pieces, batch_size=int(config["batch_size"]), seed=seed, shuffle=shuffle
        )
    return tune_batches(pieces, batch_size=int(config["batch_size"]), seed=seed, shuffle=shuffle)


def count_batches(pieces: list[np.ndarray], *, config: dict) -> int:
    """Batches in an epoch (for progress): exact for windows and an unshuffled epoch of
    tunes; a shuffled epoch's jitter may cut one or two more or fewer."""
    if config["sequence_mode"] == "windows":
        total = int(sum(len(p) for p in pieces))
        return -(-max((total - 1) // int(config["seq_length"]), 0) // int(config["batch_size"]))
    if config["sequence_mode"] == "packed":
        return len(tune_packs(pieces, batch_size=int(config["batch_size"]), seed=0, shuffle=False))
    return len(tune_order(pieces, batch_size=int(config["batch_size"]), seed=0, shuffle=False))
