"""ML code in four parts: data (batches) → model → trainer (callbacks) → sampler.

Only `model` and `trainer` import TensorFlow; `sampler` is numpy, so generation workers and
the web process never load TensorFlow.
"""
