"""Several trained nets of one vocabulary as one wider net whose logits are their mean.

Models trained apart from different first weights make different mistakes; averaging their
logits (the geometric mean of their distributions, renormalised) predicts held-out tunes
better than either alone. Written as one `sampler.Net` the blend needs nothing new from the
sampler: every LSTM layer becomes one layer of the summed width whose weights are
block-diagonal (each net's gates read only its own units), the look back one of the summed
heads (each net's heads read only its own output), and the last dense layer the nets' own
stacked and divided by their number. A step costs the sum of the nets' arithmetic and
more (the block-diagonal products multiply zeros), so it is for sampling that can afford it.
"""

from __future__ import annotations

import numpy as np

from musiclib.ml.sampler import LookBack, Net

GATES = 4  # Keras's LSTM columns: (i, f, g, o), each `units` wide


def nets_blend(*, nets: list[Net]) -> Net:
    """One net whose logits are the mean of `nets`' logits, step for step, for any tokens.

    The nets must share the vocabulary, the number of LSTM layers and dense layers, and
    either all have a look back of one key width or none; their widths may differ."""
    if len(nets) < 2:
        raise ValueError("a blend needs at least two nets")
    first = nets[0]
    for net in nets[1:]:
        if net.vocab_size != first.vocab_size:
            raise ValueError("the nets' vocabularies differ")
        if len(net.units) != len(first.units) or len(net.dense) != len(first.dense):
            raise ValueError("the nets' layers differ")
        if (net.look_back is None) != (first.look_back is None):
            raise ValueError("some nets look back and some do not")
        if net.look_back is not None and net.look_back.dim != first.look_back.dim:
            raise ValueError("the nets' look backs have different key widths")
        if any(r1 != r2 for (_, _, r1), (_, _, r2) in zip(net.dense, first.dense, strict=True)):
            raise ValueError("the nets' dense layers differ")

    layers = len(first.units)
    units = [sum(net.units[k] for net in nets) for k in range(layers)]
    table = _gates_side_by_side([net.table for net in nets], [net.units[0] for net in nets])
    recurrent, biases = [], []
    for k in range(layers):
        widths = [net.units[k] for net in nets]
        biases.append(_gates_side_by_side([net.biases[k] for net in nets], widths))
        if k == 0:
            recurrent.append(
                _gates_block_diagonal([net.recurrent[0] for net in nets], widths, widths)
            )
            continue
        # Layer k's rows are [W_k; U_k]: its input (layer k-1's output) above its own output.
        below = [net.units[k - 1] for net in nets]
        w = _gates_block_diagonal(
            [net.recurrent[k][:b] for net, b in zip(nets, below, strict=True)], below, widths
        )
        u = _gates_block_diagonal(
            [net.recurrent[k][b:] for net, b in zip(nets, below, strict=True)], widths, widths
        )
        recurrent.append(np.ascontiguousarray(np.vstack([w, u])))

    look_back = None
    if first.look_back is not None:
        lbs = [net.look_back for net in nets]
        look_back = LookBack(
            wq=_block_diagonal([lb.wq for lb in lbs]),
            wk=_block_diagonal([lb.wk for lb in lbs]),
            wv_h=_block_diagonal([lb.wv_h for lb in lbs]),
            vtable=np.ascontiguousarray(np.hstack([lb.vtable for lb in lbs])),
            wo=_block_diagonal([lb.wo for lb in lbs]),
            bo=np.concatenate([lb.bo for lb in lbs]),
            heads=sum(lb.heads for lb in lbs),
            dim=first.look_back.dim,
        )

    dense = []
    for j in range(len(first.dense)):
        ws = [net.dense[j][0] for net in nets]
        bs = [net.dense[j][1] for net in nets]
        relu = first.dense[j][2]
        # Each net's rows of this layer by the part of the blended input they read: after a
        # look back the input is [h, context], all the nets' h and then all their contexts.
        if j == 0 and first.look_back is not None:
            parts = [[(0, n), (n, 2 * n)] for n in (net.units[-1] for net in nets)]
        else:
            parts = [[(0, w.shape[0])] for w in ws]
        if j + 1 < len(first.dense):
            w = _rows_by_part(ws, parts, [w.shape[1] for w in ws])
            dense.append((w, np.concatenate(bs).astype(np.float32), relu))
            continue
        # The logits: every net's rows side by side over one set of columns, divided by the
        # number of nets, so the product is the mean of their logits.
        n = np.float32(len(nets))
        w = _rows_by_part([w / n for w in ws], parts, None)
        b = (np.sum(bs, axis=0) / n).astype(np.float32)
        dense.append((w, b, relu))
    return Net(
        table=table,
        recurrent=recurrent,
        biases=biases,
        dense=dense,
        units=units,
        look_back=look_back,
    )


def _gates_side_by_side(arrays: list[np.ndarray], widths: list[int]) -> np.ndarray:
    """(…, 4·Σwidths): gate g's columns of every net side by side, then gate g+1's."""
    cols = []
    for g in range(GATES):
        for a, w in zip(arrays, widths, strict=True):
            cols.append(a[..., g * w : (g + 1) * w])
    return np.ascontiguousarray(np.concatenate(cols, axis=-1)).astype(np.float32)


def _gates_block_diagonal(
    arrays: list[np.ndarray], rows: list[int], widths: list[int]
) -> np.ndarray:
    """(Σrows, 4·Σwidths): net i's rows reach only net i's columns of every gate."""
    out = np.zeros((sum(rows), GATES * sum(widths)), dtype=np.float32)
    total = sum(widths)
    r0 = 0
    for i, (a, r) in enumerate(zip(arrays, rows, strict=True)):
        c0 = sum(widths[:i])
        for g in range(GATES):
            w = widths[i]
            out[r0 : r0 + r, g * total + c0 : g * total + c0 + w] = a[:, g * w : (g + 1) * w]
        r0 += r
    return out


def _block_diagonal(arrays: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(
        (sum(a.shape[0] for a in arrays), sum(a.shape[1] for a in arrays)), dtype=np.float32
    )
    r0 = c0 = 0
    for a in arrays:
        out[r0 : r0 + a.shape[0], c0 : c0 + a.shape[1]] = a
        r0, c0 = r0 + a.shape[0], c0 + a.shape[1]
    return out


def _rows_by_part(
    arrays: list[np.ndarray], parts: list[list[tuple[int, int]]], widths: list[int] | None
) -> np.ndarray:
    """Stack each net's rows into the blended input's layout: the input is every net's
    first part, then every net's second part (the look back's [h…, context…]). With
    `widths`, each net's columns are its own (block layout); without, the columns are shared."""
    pieces = []
    for p in range(len(parts[0])):
        for i, (a, spans) in enumerate(zip(arrays, parts, strict=True)):
            lo, hi = spans[p]
            rows = a[lo:hi]
            if widths is not None:
                block = np.zeros((hi - lo, sum(widths)), dtype=np.float32)
                c0 = sum(widths[:i])
                block[:, c0 : c0 + widths[i]] = rows
                rows = block
            pieces.append(rows)
    return np.ascontiguousarray(np.vstack(pieces)).astype(np.float32)
