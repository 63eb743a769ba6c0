"""The original write-up's audio approach, rebuilt small for comparison: raw FFT values as tokens.
bench/audio_quality.py trains and samples it beside the audio way (`--no-baseline` skips it).

It cut the signal into short frames, took their FFT and fed the raw values to an LSTM as a
vocabulary. Here: frames of 64 samples without overlap, the 33 complex coefficients as 66
real values, each rounded to one of 256 levels (a token), the whole stream concatenated;
an LSTM over windows of 100 tokens (the write-up's `windows` training), sampled from the
last 100 tokens' state, and tokens turned back into FFT frames and inverse-transformed.
One second of audio is ~22,700 tokens, so only a few seconds of corpus fit an epoch on CPU.
"""

from __future__ import annotations

import numpy as np

FRAME = 64
LEVELS = 256
SCALE = 4.0  # token = round(value * SCALE) + 128, clipped to 0..255
VALUES = 2 * (FRAME // 2 + 1)


def raw_fft_tokens(y: np.ndarray) -> np.ndarray:
    n = y.size // FRAME
    spec = np.fft.rfft(y[: n * FRAME].reshape(n, FRAME), axis=1)
    vals = np.stack([spec.real, spec.imag], axis=2).reshape(n, VALUES)
    return (np.clip(np.round(vals * SCALE), -128, 127) + 128).astype(np.int64).ravel()


def raw_fft_decode(tokens: np.ndarray) -> np.ndarray:
    t = np.asarray(tokens, dtype=np.float64)
    n = t.size // VALUES
    vals = ((t[: n * VALUES] - 128) / SCALE).reshape(n, VALUES // 2, 2)
    y = np.fft.irfft(vals[..., 0] + 1j * vals[..., 1], n=FRAME, axis=1).ravel()
    peak = float(np.abs(y).max()) if y.size else 0.0
    return (y * (0.89 / peak) if peak > 0 else y).astype(np.float32)


class _Quiet:
    def epoch_end(self, **kwargs) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def heartbeat(self, **kwargs) -> None:
        pass


def train_and_sample(
    clips: list[np.ndarray], *, seconds: float, count: int, seed: int, sr: int, epochs: int = 1
) -> list[np.ndarray]:
    """Train the raw-FFT LSTM on `clips` and sample `count` clips of `seconds`."""
    from musiclib.ml import model as ml_model
    from musiclib.ml import sampler, trainer
    from musiclib.ways.base import COMMON_DEFAULTS

    offset = 3  # pad, start, end come first as in every way's vocabulary
    pieces = [np.concatenate([[1], raw_fft_tokens(c) + offset]).astype(np.int32) for c in clips]
    config = {
        **COMMON_DEFAULTS,
        "units": [128],
        "sequence_mode": "windows",
        "seq_length": 100,
        "batch_size": 64,
    }
    model = ml_model.build_model(config=config, vocab_size=LEVELS + offset, seed=seed)
    trainer.train(
        model=model,
        train_pieces=pieces,
        val_pieces=[],
        config=config,
        seed=seed,
        epochs=epochs,
        initial_epoch=0,
        hooks=_Quiet(),
    )
    net = sampler.net_from_keras(model)
    n_tokens = int(seconds * sr / FRAME) * VALUES
    outs = sampler.sample(
        net,
        prime=[1],
        seeds=[seed + i for i in range(count)],
        max_tokens=n_tokens,
        end_id=-1,  # a raw stream has no end
    )
    return [raw_fft_decode(np.clip(np.asarray(o) - offset, 0, LEVELS - 1)) for o in outs]
