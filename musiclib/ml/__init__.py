"""ML code in four parts: data (batches) → model → trainer (callbacks) → sampler.

Only `model` and `trainer` import TensorFlow; `sampler` (numpy) and `fastloop` (its
numba-compiled loop, which every way samples through) do not, so generation workers and
the web process never load TensorFlow.
"""
