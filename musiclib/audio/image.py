"""A spectrogram as a PNG, from numpy alone (zlib + struct): no plotting library needed."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .dsp import HOP, N_FFT, SAMPLE_RATE

# A dark-to-warm colour ramp (black → indigo → magenta → orange → pale yellow).
_STOPS = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float64,
)


def _png(rgb: np.ndarray) -> bytes:
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return (
            struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def spectrogram_png(
    y: np.ndarray,
    *,
    height: int = 256,
    width: int = 1000,
    low_hz: float = 50.0,
    top_hz: float = 5000.0,
) -> bytes:
    """Log-magnitude spectrogram, 80 dB range, `width` x `height` pixels whatever the clip's
    length (a short clip is stretched, not drawn as a sliver). The frequency axis is
    logarithmic from `low_hz` to `top_hz`, low at the bottom, so an octave is the same
    height everywhere, as on a keyboard."""
    from .dsp import audio_frames

    y = np.asarray(y, dtype=np.float32)
    mags = list(audio_frames([y])) if y.size else []
    mag = np.concatenate(mags) if mags else np.zeros((1, N_FFT // 2 + 1), dtype=np.float32)
    top = int(top_hz * N_FFT / SAMPLE_RATE) + 1
    db = 20 * np.log10(np.maximum(mag[:, :top], 1e-6))
    db = np.clip((db - (db.max() - 80.0)) / 80.0, 0.0, 1.0)
    cols = mag.shape[0]
    xi = np.minimum((np.arange(width) * cols / width).astype(int), cols - 1)
    rows_hz = np.geomspace(low_hz, top_hz, height)[::-1]  # top row first
    yi = np.minimum(np.round(rows_hz * N_FFT / SAMPLE_RATE).astype(int), top - 1)
    img = db[xi][:, yi].T  # (height, width), low frequencies last row
    pos = img * (len(_STOPS) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(_STOPS) - 1)
    frac = (pos - lo)[..., None]
    rgb = (_STOPS[lo] * (1 - frac) + _STOPS[hi] * frac).round().astype(np.uint8)
    return _png(rgb)


__all__ = ["HOP", "spectrogram_png"]
