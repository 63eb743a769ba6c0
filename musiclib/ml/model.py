"""The Keras model shared by every token way: embedding → stacked LSTM → dense → logits.

An embedding replaces the original's one-hot (ABC) or integer-divided-by-vocabulary (MIDI)
input: dividing ids by the vocabulary size tells the network that token 41 is "close to"
token 42, which is false for symbols; an embedding learns which symbols behave alike and
costs one table lookup instead of a vocabulary-wide matmul.

The LSTM layers keep Keras's defaults (tanh, sigmoid, no recurrent dropout, unroll off,
right padding, no mask), which is what lets TensorFlow pick the fused cuDNN kernel on a GPU.
"""

from __future__ import annotations

from typing import Any


def build_model(*, config: dict[str, Any], vocab_size: int, seed: int = 0):
    import keras

    keras.utils.set_random_seed(int(seed) % (2**31))
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    # No mask: padding is only ever on the right, so padded steps cannot influence the real
    # ones before them, and their loss weight is 0. A mask would add a select per step.
    x = keras.layers.Embedding(vocab_size, int(config["embedding_dim"]))(inputs)
    for i, units in enumerate(config["units"]):
        if i > 0 and float(config["dropout"]) > 0:
            x = keras.layers.Dropout(float(config["dropout"]))(x)
        x = keras.layers.LSTM(int(units), return_sequences=True, name=f"lstm_{i}")(x)
    for j, units in enumerate(config.get("dense") or []):
        if float(config["dropout"]) > 0:
            x = keras.layers.Dropout(float(config["dropout"]))(x)
        x = keras.layers.Dense(int(units), activation="relu", name=f"dense_{j}")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    model = keras.Model(inputs, logits)
    compile_model(model, config=config)
    return model


def compile_model(model, *, config: dict[str, Any]) -> None:
    import keras

    clip = float(config.get("clipnorm") or 0) or None
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=float(config["learning_rate"]), clipnorm=clip
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[],
    )


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return "CPU"
