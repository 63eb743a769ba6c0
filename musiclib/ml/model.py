"""The Keras model shared by every token way: embedding → stacked LSTM → dense → logits.

An embedding replaces the original's one-hot (ABC) or integer-divided-by-vocabulary (MIDI)
input: dividing ids by the vocabulary size tells the network that token 41 is "close to"
token 42, which is false for symbols; an embedding learns which symbols behave alike and
costs one table lookup instead of a vocabulary-wide matmul.

The LSTM layers keep Keras's defaults (tanh, sigmoid, no recurrent dropout, unroll off,
right padding, no mask), which is what lets TensorFlow pick the fused cuDNN kernel on a GPU.
"""

from __future__ import annotations

import functools
from typing import Any

# How a new model computes (its weights are float32 in every case):
# "float32" everywhere; "mixed_float16" (GPUs with tensor cores: float16 arithmetic,
# float32 weights, a dynamically scaled loss); "mixed_bfloat16" (float16's range, no loss
# scaling; newer GPUs and CPUs with AMX). The logits and the loss stay float32.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    return precision


def build_model(
    *, config: dict[str, Any], vocab_size: int, seed: int = 0, precision: str = "float32"
):
    import keras

    check_precision(precision)
    keras.utils.set_random_seed(int(seed) % (2**31))
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    # No mask: padding is only ever on the right, so padded steps cannot influence the real
    # ones before them, and their loss weight is 0. A mask would add a select per step.
    x = keras.layers.Embedding(vocab_size, int(config["embedding_dim"]), dtype=precision)(inputs)
    embedded = x
    for i, units in enumerate(config["units"]):
        if i > 0 and float(config["dropout"]) > 0:
            x = keras.layers.Dropout(float(config["dropout"]), dtype=precision)(x)
        x = keras.layers.LSTM(int(units), return_sequences=True, name=f"lstm_{i}", dtype=precision)(
            x
        )
    heads = int(config.get("look_back_heads") or 0)
    if heads:
        x = LookBack(
            heads=heads,
            key_dim=int(config.get("look_back_dim") or 32),
            name="look_back",
            dtype=precision,
        )([x, embedded])
    for j, units in enumerate(config.get("dense") or []):
        if float(config["dropout"]) > 0:
            x = keras.layers.Dropout(float(config["dropout"]), dtype=precision)(x)
        x = keras.layers.Dense(int(units), activation="relu", name=f"dense_{j}", dtype=precision)(x)
    # The logits in float32 whatever the precision: a softmax over float16 logits loses the
    # small probabilities the loss and the sampler need.
    logits = keras.layers.Dense(vocab_size, name="logits", dtype="float32")(x)
    model = keras.Model(inputs, logits)
    compile_model(model, config=config, precision=precision)
    return model


def compile_model(model, *, config: dict[str, Any], precision: str = "float32") -> None:
    import keras

    clip = float(config.get("clipnorm") or 0) or None
    optimizer = keras.optimizers.Adam(learning_rate=float(config["learning_rate"]), clipnorm=clip)
    if precision == "mixed_float16":
        # float16 gradients underflow without it; the scale adapts (halves on inf/nan).
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[],
    )


def model_precision(model) -> str:
    """The precision a built or loaded model computes in (one of PRECISIONS)."""
    policy = getattr(model.layers[1], "dtype_policy", None)  # the embedding
    name = getattr(policy, "name", "float32")
    return name if name in PRECISIONS else "float32"


def configure_tensorflow() -> list[str]:
    """Set up TensorFlow for training on this machine; returns the GPUs it found.

    Memory growth on every GPU: TensorFlow otherwise reserves all of a GPU's memory at the
    first operation, which starves anything else on the device. Must run before the first
    operation touches a GPU; a second call (or a call after that) changes nothing."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the device is already initialised: its setting stays
            pass
    return [gpu.name for gpu in gpus]


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return "CPU"


@functools.cache
def _look_back_class():
    """Built on first use: Keras is imported only when a model is built or loaded."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="musicsite")
    class LookBack(keras.layers.Layer):
        """Attention over the piece so far, keyed by the context *before* each earlier
        symbol and returning that symbol: where the tune stood as it stands now, what came
        next? A learned form of the piece's memory (`ml.memory`), which the sampler mixes
        in from outside: learned, the network decides when a return fits the line.

        Inputs [h, e]: the last LSTM's outputs (B, T, H) and the input symbols'
        embeddings (B, T, E). Position j's key reads h[j-1] (zeros at j = 0), its value
        [e[j], h[j]]; step t's query reads h[t]; j <= t. Output [h, context] (B, T, H + H)."""

        def __init__(self, *, heads: int, key_dim: int, **kwargs):
            super().__init__(**kwargs)
            self.heads, self.key_dim = int(heads), int(key_dim)

        def build(self, shapes):
            (_, _, units), (_, _, emb) = shapes
            width = self.heads * self.key_dim
            self.wq = self.add_weight(name="wq", shape=(units, width), initializer="glorot_uniform")
            self.wk = self.add_weight(name="wk", shape=(units, width), initializer="glorot_uniform")
            self.wv = self.add_weight(
                name="wv", shape=(emb + units, width), initializer="glorot_uniform"
            )
            self.wo = self.add_weight(name="wo", shape=(width, units), initializer="glorot_uniform")
            self.bo = self.add_weight(name="bo", shape=(units,), initializer="zeros")

        def call(self, inputs, starts=None):
            """`starts` (B, T), 1.0 where a piece begins in a row of several pieces end to
            end (the packed trainer): each step then looks back over its own piece only,
            and a piece's first key reads zeros, as it would alone."""
            h, e = inputs
            steps = ops.shape(h)[1]
            h_before = ops.pad(h[:, :-1], [[0, 0], [1, 0], [0, 0]])
            if starts is not None:
                h_before = h_before * ops.cast(1.0 - starts, h.dtype)[:, :, None]
            q = self._split(ops.matmul(h, self.wq))
            k = self._split(ops.matmul(h_before, self.wk))
            v = self._split(ops.matmul(ops.concatenate([e, h], axis=-1), self.wv))
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / float(self.key_dim) ** 0.5
            causal = ops.tril(ops.ones((steps, steps), dtype="bool"))[None, None]
            if starts is not None:
                piece = ops.cumsum(ops.cast(starts, "int32"), axis=1)  # (B, T): which piece
                causal = causal & (piece[:, None, :, None] == piece[:, None, None, :])
            scores = ops.where(causal, scores, ops.cast(-1e9, scores.dtype))
            context = ops.matmul(ops.softmax(scores, axis=-1), v)  # (B, heads, T, d)
            b = ops.shape(h)[0]
            context = ops.reshape(
                ops.transpose(context, (0, 2, 1, 3)), (b, steps, self.heads * self.key_dim)
            )
            return ops.concatenate([h, ops.matmul(context, self.wo) + self.bo], axis=-1)

        def _split(self, x):
            b, t = ops.shape(x)[0], ops.shape(x)[1]
            return ops.transpose(ops.reshape(x, (b, t, self.heads, self.key_dim)), (0, 2, 1, 3))

        def compute_output_shape(self, shapes):
            (b, t, units), _ = shapes
            return (b, t, 2 * units)

        def get_config(self):
            return {**super().get_config(), "heads": self.heads, "key_dim": self.key_dim}

    return LookBack


def LookBack(**kwargs):  # noqa: N802 (a layer, named as one)
    return _look_back_class()(**kwargs)


def is_look_back(layer) -> bool:
    return isinstance(layer, _look_back_class())


def register_layers() -> None:
    """Make the site's own layers known to Keras before a saved model is loaded."""
    _look_back_class()
