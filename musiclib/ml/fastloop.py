"""The sampling loop compiled with numba: the whole per-character step in one call.

At batch size 1 the numpy step spends more time dispatching its twenty small array
operations than in the two matrix-vector products that must read the weights; here those
products are the only BLAS calls and everything elementwise is one fused loop. Results
equal the numpy step (same uniforms, same inverse-CDF draw) up to the last float32 digits of tanh.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.typed import List


@njit(cache=True, fastmath=True, inline="always")
def _tanh(x):
    """tanh as Eigen computes it for float32: a 13/6 rational approximation, accurate to a
    few float32 ulps, which LLVM vectorises (libm's scalar tanh does not)."""
    x = min(max(x, -7.90531110763549805), 7.90531110763549805)
    x2 = x * x
    p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13
    p = x2 * p + -8.60467152213735e-11
    p = x2 * p + 5.12229709037114e-08
    p = x2 * p + 1.48572235717979e-05
    p = x2 * p + 6.37261928875436e-04
    p = x2 * p + 4.89352455891786e-03
    q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04
    q = x2 * q + 2.26843463243900e-03
    q = x2 * q + 4.89352518554385e-03
    return x * p / q


@njit(cache=True, fastmath=True)
def _loop(
    table,
    weights,
    biases,
    dense_w,
    dense_b,
    dense_relu,
    units,
    prime,
    uniforms,
    inv_temperature,
    top_k,
    end_id,
    max_tokens,
    out,
):
    rows = uniforms.shape[0]
    n_layers = units.shape[0]
    xh = List()
    cs = List()
    for k in range(n_layers):
        prev = 0 if k == 0 else units[k - 1]
        xh.append(np.zeros((rows, prev + units[k]), dtype=np.float32))
        cs.append(np.zeros((rows, units[k]), dtype=np.float32))
    lengths = np.zeros(rows, dtype=np.int64)
    done = np.zeros(rows, dtype=np.bool_)
    tokens = np.empty(rows, dtype=np.int64)
    tokens[:] = prime[0]
    n_prime = prime.shape[0]
    vocab = dense_b[len(dense_b) - 1].shape[0]
    probs = np.empty(vocab, dtype=np.float64)
    t = 0
    step = 0
    while True:
        # --- one LSTM step for every row -------------------------------------------------
        for k in range(n_layers):
            H = units[k]
            xk = xh[k]
            z = xk @ weights[k]
            c = cs[k]
            b = biases[k]
            nxt = xh[k + 1] if k + 1 < n_layers else xk
            off = xk.shape[1] - H
            for r in range(rows):
                zr = z[r]
                add = table[tokens[r]] if k == 0 else b
                # Two branch-free loops LLVM can vectorise: gates, then the cell.
                for j in range(3 * H):
                    zr[j] = 0.5 * _tanh(0.5 * (zr[j] + add[j])) + 0.5
                for j in range(3 * H, 4 * H):
                    zr[j] = _tanh(zr[j] + add[j])
                for j in range(H):
                    cn = zr[H + j] * c[r, j] + zr[j] * zr[3 * H + j]
                    c[r, j] = cn
                    xk[r, off + j] = zr[2 * H + j] * _tanh(cn)
                if k + 1 < n_layers:
                    nxt[r, :H] = xk[r, off:]
        last = xh[n_layers - 1]
        x = np.ascontiguousarray(last[:, last.shape[1] - units[n_layers - 1] :])
        for d in range(len(dense_w)):
            x = x @ dense_w[d]
            for r in range(rows):
                for j in range(x.shape[1]):
                    v = x[r, j] + dense_b[d][j]
                    x[r, j] = max(v, 0.0) if dense_relu[d] else v
        step += 1
        if step < n_prime:
            tokens[:] = prime[step]
            continue
        # --- draw the next token of every unfinished row ------------------------------------
        all_done = True
        for r in range(rows):
            if done[r]:
                continue
            m = -np.inf
            for j in range(vocab):
                m = max(m, x[r, j] * inv_temperature)
            cut = -np.inf
            if 0 < top_k < vocab:
                cut = np.sort(x[r] * inv_temperature)[vocab - top_k]
            total = 0.0
            for j in range(vocab):
                v = x[r, j] * inv_temperature
                p = np.exp(v - m) if v >= cut else 0.0
                total += p
                probs[j] = total
            target = uniforms[r, t] * total
            chosen = vocab - 1
            for j in range(vocab):
                if probs[j] > target:
                    chosen = j
                    break
            out[r, lengths[r]] = chosen
            lengths[r] += 1
            tokens[r] = chosen
            if chosen == end_id:
                done[r] = True
            else:
                all_done = False
        t += 1
        if all_done or t >= max_tokens:
            return lengths


def fused_arrays(net) -> tuple:
    """The net's weights in the layout `_loop` expects (Keras gate order, nothing halved)."""
    cached = getattr(net, "_numba", None)
    if cached is None:
        weights, biases = List(), List()
        for k in range(len(net.units)):
            weights.append(np.ascontiguousarray(net.recurrent[k], dtype=np.float32))
            biases.append(np.ascontiguousarray(net.biases[k], dtype=np.float32))
        dense_w, dense_b = List(), List()
        for w, b, _ in net.dense:
            dense_w.append(np.ascontiguousarray(w, dtype=np.float32))
            dense_b.append(np.ascontiguousarray(b, dtype=np.float32))
        relu = np.array([r for _, _, r in net.dense], dtype=np.bool_)
        units = np.array(net.units, dtype=np.int64)

        # Keras order is (i, f, g, o); `_loop` reads (i, f, o, g): reorder once here.
        def ifog(a, h):
            return np.ascontiguousarray(
                np.concatenate(
                    [a[..., :h], a[..., h : 2 * h], a[..., 3 * h :], a[..., 2 * h : 3 * h]], axis=-1
                ),
                dtype=np.float32,
            )

        table = ifog(net.table, net.units[0])
        for k in range(len(net.units)):
            weights[k] = ifog(weights[k], net.units[k])
            biases[k] = ifog(biases[k], net.units[k])
        cached = (table, weights, biases, dense_w, dense_b, relu, units)
        net._numba = cached
    return cached


def sample_loop(net, *, prime, uniforms, temperature, top_k, end_id, max_tokens) -> list[list[int]]:
    table, weights, biases, dense_w, dense_b, relu, units = fused_arrays(net)
    rows = uniforms.shape[0]
    out = np.zeros((rows, max_tokens), dtype=np.int64)
    lengths = _loop(
        table,
        weights,
        biases,
        dense_w,
        dense_b,
        relu,
        units,
        np.asarray(prime, dtype=np.int64),
        uniforms,
        1.0 / float(temperature),
        int(top_k),
        int(end_id),
        int(max_tokens),
        out,
    )
    return [out[r, : lengths[r]].tolist() for r in range(rows)]
