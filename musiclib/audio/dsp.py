"""Streamed audio → magnitude spectra → codebook tokens, and tokens → spectra → waveform.

Representation (the audio way's "notes"): STFT magnitude frames of 2048 samples every 512
at 22.05 kHz (43 frames a second, 10.8 Hz per bin, enough to tell semitones apart from
~100 Hz up). A frame is clustered by the log magnitudes of its bins below 4 kHz (where the
pitch and its first harmonics are); each codeword also keeps the mean *linear* magnitude
over all bins of the corpus frames assigned to it, and decoding looks those up and rebuilds
phase with Griffin-Lim. The original write-up fed raw FFT values to an LSTM as tokens: one
token per coefficient, thousands a second, each meaningless alone (see `baseline`).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
FRAME_RATE = SAMPLE_RATE / HOP  # ≈ 43.07 frames (tokens) a second
BINS = N_FFT // 2 + 1
FEAT_BINS = int(4000 * N_FFT / SAMPLE_RATE) + 1  # bins below 4 kHz: 372
SUPPORTED_RATES = (16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}
BLOCK = 65536  # samples read at a time
MAX_SECONDS = 30 * 60  # one recording; a longer one is a broken or hostile file
SILENCE_PEAK = 1e-4  # a file whose peak stays below this (-80 dBFS) is silence
PEAK = 0.89  # decoded audio is scaled to -1 dBFS peak
BIN_ADVANCE = 2 * np.pi * HOP * np.arange(BINS) / N_FFT  # radians a bin's centre turns a hop
DECODERS = ("phase", "griffinlim")  # see `decode_tokens`
GRIFFIN_LIM_ITERS = 32
TRIM_DB = 30.0  # training drops a recording's edge frames this far below its loud level
MAX_GAP_FRAMES = int(round(1.0 * FRAME_RATE))  # a quiet stretch over 1 s splits a recording
PEAK_FLOOR_DB = 60.0  # spectral peaks this far below a frame's loudest bin are not locked


class AudioError(ValueError):
    """A file that cannot be used; the message is the reason shown to the user."""


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    samplerate: int
    frames: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate


def probe(path: str | Path, *, name: str | None = None, max_seconds: float = MAX_SECONDS) -> Probe:
    """What soundfile says about a file, or an AudioError saying why it cannot be used."""
    import soundfile as sf

    name = name or Path(path).name
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise AudioError(f"{name} cannot be read: {exc.strerror}") from exc
    if size == 0:
        raise AudioError(f"{name} is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # LibsndfileError, RuntimeError: "not a sound file"
        raise AudioError(
            f"{name} is not audio that can be read (WAV, FLAC or OGG Vorbis expected)"
        ) from exc
    if info.frames <= 0:
        raise AudioError(f"{name} holds no audio frames")
    if info.samplerate not in SUPPORTED_RATES:
        rates = ", ".join(str(r) for r in SUPPORTED_RATES)
        raise AudioError(
            f"{name} has a sample rate of {info.samplerate} Hz, which is not supported; "
            f"use one of {rates} Hz"
        )
    found = Probe(samplerate=int(info.samplerate), frames=int(info.frames), channels=info.channels)
    if found.seconds > max_seconds:
        raise AudioError(
            f"{name} is {found.seconds / 60:.1f} minutes long; one recording may be at most "
            f"{max_seconds / 60:g} minutes"
        )
    return found


def iter_samples(path: str | Path, *, name: str | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks at SAMPLE_RATE, read and resampled block by block."""
    import soundfile as sf
    import soxr

    info = probe(path, name=name)
    stream = None
    if info.samplerate != SAMPLE_RATE:
        stream = soxr.ResampleStream(info.samplerate, SAMPLE_RATE, 1, dtype="float32")
    try:
        for block in sf.blocks(str(path), blocksize=BLOCK, dtype="float32", always_2d=True):
            mono = np.ascontiguousarray(block.mean(axis=1), dtype=np.float32)
            out = mono if stream is None else stream.resample_chunk(mono)
            if out.size:
                yield out
        if stream is not None:
            tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                yield tail
    except AudioError:
        raise
    except Exception as exc:  # a truncated or corrupt body after a good header
        raise AudioError(f"{name or Path(path).name} is damaged: {exc}") from exc


def write_canonical(path: str | Path, *, name: str, folder: Path) -> tuple[Path, float, str]:
    """Stream a recording into `folder` as mono 16-bit FLAC at SAMPLE_RATE.

    Returns (file, seconds, sha256 of its samples). Written under a temporary name and renamed
    to its content hash, so a failure leaves no file and equal audio gives the same file."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".flac")
    os.close(fd)
    digest, count, peak = hashlib.sha256(), 0, 0.0
    try:
        with sf.SoundFile(tmp, "w", samplerate=SAMPLE_RATE, channels=1, format="FLAC") as out:
            for block in iter_samples(path, name=name):
                pcm = np.clip(np.round(block * 32767.0), -32768, 32767).astype("<i2")
                digest.update(pcm.tobytes())
                out.write(pcm)
                count += pcm.size
                peak = max(peak, float(np.abs(block).max()))
        if peak < SILENCE_PEAK:
            raise AudioError(f"{name} is silent")
        sha = digest.hexdigest()
        final = folder / f"{sha[:40]}.flac"
        os.replace(tmp, final)
        return final, count / SAMPLE_RATE, sha
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_canonical(path: str | Path) -> Iterator[np.ndarray]:
    return iter_samples(path)


def load_clip(path: str | Path, *, seconds: float | None = None, offset: float = 0.0) -> np.ndarray:
    """Up to `seconds` of a file from `offset`, mono at SAMPLE_RATE (for metrics and primes)."""
    start = int(offset * SAMPLE_RATE)
    stop = None if seconds is None else start + int(seconds * SAMPLE_RATE)
    parts, have = [], 0
    for block in iter_samples(path):
        lo, hi = have, have + block.size
        have = hi
        if hi <= start:
            continue
        parts.append(block[max(start - lo, 0) : None if stop is None else max(stop - lo, 0)])
        if stop is not None and have >= stop:
            break
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


# --- spectra ---------------------------------------------------------------------------------


def _window() -> np.ndarray:
    from scipy.signal import get_window

    return get_window("hann", N_FFT, fftbins=True).astype(np.float32)  # as librosa.stft


def audio_spectra(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Complex STFT frames (n, BINS) of a stream of sample blocks, block by block.

    Centred like librosa.stft(center=True) with zero padding: frame t covers samples
    t*HOP - N_FFT/2 .. t*HOP + N_FFT/2, so frames and a decoded signal line up."""
    window = _window()
    buf = np.zeros(N_FFT // 2, dtype=np.float32)

    def take(buf: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        n = (buf.size - N_FFT) // HOP + 1
        if n <= 0:
            return None, buf
        idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
        spec = np.fft.rfft(buf[idx] * window, axis=1).astype(np.complex64)
        return spec, buf[n * HOP :]

    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, dtype=np.float32)])
        spec, buf = take(buf)
        if spec is not None:
            yield spec
    # The last frames: pad like librosa so every sample is covered by a frame centre.
    spec, _ = take(np.concatenate([buf, np.zeros(N_FFT // 2, dtype=np.float32)]))
    if spec is not None:
        yield spec


def audio_frames(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """STFT magnitude frames (n, BINS) of a stream of sample blocks (see `audio_spectra`)."""
    for spec in audio_spectra(blocks):
        yield np.abs(spec).astype(np.float32)


def features(mag: np.ndarray) -> np.ndarray:
    """What frames are clustered by: log magnitude of the bins below 4 kHz."""
    return np.log1p(mag[:, :FEAT_BINS]).astype(np.float32)


# --- codebook --------------------------------------------------------------------------------


@dataclass
class Codebook:
    centroids: np.ndarray  # (K, FEAT_BINS) in feature space: what a frame is matched to
    magnitudes: np.ndarray  # (K, BINS) mean linear magnitude of the corpus frames of each code
    counts: np.ndarray  # (K,) corpus frames per code
    # (K, BINS) radians in [-pi, pi]: each bin's phase advance over one hop into a frame of
    # this code, the magnitude-weighted circular mean over the corpus (the bin's
    # instantaneous frequency). None in codebooks saved before phase-coherent decoding.
    advance: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.centroids.shape[0])

    def assign(self, mag: np.ndarray) -> np.ndarray:
        return nearest(features(mag), self.centroids)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "centroids": self.centroids.astype(np.float32),
            "magnitudes": self.magnitudes.astype(np.float32),
            "counts": self.counts.astype(np.int64),
        }
        if self.advance is not None:
            arrays["advance"] = self.advance.astype(np.float32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Codebook:
        try:
            book = cls(
                centroids=np.asarray(arrays["centroids"], dtype=np.float32),
                magnitudes=np.asarray(arrays["magnitudes"], dtype=np.float32),
                counts=np.asarray(arrays["counts"], dtype=np.int64),
            )
        except KeyError as exc:
            raise ValueError(f"the codebook is incomplete: no {exc}") from exc
        advance = arrays.get("advance")
        if advance is not None and np.shape(advance) == book.magnitudes.shape:
            book.advance = np.asarray(advance, dtype=np.float32)
        return book


def nearest(x: np.ndarray, centroids: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Index of the nearest centroid (squared Euclidean) of each row, in chunks (BLAS)."""
    c2 = (centroids.astype(np.float32) ** 2).sum(axis=1)
    out = np.empty(x.shape[0], dtype=np.int64)
    for s in range(0, x.shape[0], chunk):
        part = x[s : s + chunk]
        out[s : s + chunk] = np.argmin(c2[None, :] - 2.0 * part @ centroids.T, axis=1)
    return out


def kmeans(x: np.ndarray, *, k: int, seed: int, iters: int = 20) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding on a (bounded) sample of frames."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    k = min(k, n)
    centroids = np.empty((k, x.shape[1]), dtype=np.float32)
    centroids[0] = x[rng.integers(n)]
    d2 = ((x - centroids[0]) ** 2).sum(axis=1)
    x2 = (x**2).sum(axis=1)
    for j in range(1, k):
        total = float(d2.sum())
        pick = rng.integers(n) if total <= 0 else rng.choice(n, p=d2 / total)
        centroids[j] = x[pick]
        d2 = np.minimum(d2, x2 - 2.0 * x @ centroids[j] + float(centroids[j] @ centroids[j]))
        np.maximum(d2, 0, out=d2)
    for _ in range(iters):
        labels = nearest(x, centroids)
        sums = np.zeros_like(centroids, dtype=np.float64)
        np.add.at(sums, labels, x)
        counts = np.bincount(labels, minlength=k)
        moved = counts > 0
        new = centroids.copy()
        new[moved] = (sums[moved] / counts[moved, None]).astype(np.float32)
        # An empty cluster takes the frame worst served by its centroid.
        for j in np.flatnonzero(~moved):
            far = int(np.argmax(((x - new[labels]) ** 2).sum(axis=1)))
            new[j], labels[far] = x[far], j
        if np.allclose(new, centroids, atol=1e-5):
            centroids = new
            break
        centroids = new
    return centroids


def fit_codebook(
    sources: Callable[[], Iterable[Iterable[np.ndarray]]],
    *,
    k: int,
    seed: int,
    sample_size: int = 20000,
) -> Codebook:
    """Fit a codebook in two streamed passes over `sources()` (one frame-block stream per
    recording): a reservoir sample of `sample_size` frames for k-means, then every frame
    once to count codes and average their full magnitude spectra. Memory: the reservoir and
    K×BINS sums, whatever the corpus length.

    Blocks may be magnitudes (`audio_frames`) or complex spectra (`audio_spectra`); from
    complex ones the second pass also averages each code's per-bin phase advance between a
    frame and the one before it (`Codebook.advance`), for phase-coherent decoding."""
    rng = np.random.default_rng(seed)
    reservoir = np.empty((sample_size, FEAT_BINS), dtype=np.float32)
    seen = 0
    for frames in sources():
        for block in frames:
            feats = features(np.abs(block))
            g = seen + np.arange(feats.shape[0])
            slots = np.where(g < sample_size, g, rng.integers(0, g + 1))
            keep = slots < sample_size
            reservoir[slots[keep]] = feats[keep]
            seen += feats.shape[0]
    if seen == 0:
        raise AudioError("the recordings hold no audio frames")
    centroids = kmeans(reservoir[: min(seen, sample_size)], k=k, seed=seed)
    book = Codebook(
        centroids=centroids,
        magnitudes=np.zeros((centroids.shape[0], BINS), dtype=np.float32),
        counts=np.zeros(centroids.shape[0], dtype=np.int64),
    )
    sums = np.zeros((book.size, BINS), dtype=np.float64)
    # X_t * conj(X_{t-1}): its angle is the phase advance over one hop, its size the product
    # of the two magnitudes, so summing them is a magnitude-weighted circular mean.
    cross = np.zeros((book.size, BINS), dtype=np.complex128)
    complex_seen = False
    for frames in sources():
        prev = None  # the recording's previous complex frame, across block boundaries
        for block in frames:
            mag = np.abs(block).astype(np.float32)
            labels = book.assign(mag)
            np.add.at(sums, labels, mag)
            book.counts += np.bincount(labels, minlength=book.size)
            if np.iscomplexobj(block):
                complex_seen = True
                before = block[:-1] if prev is None else np.vstack([prev, block[:-1]])
                after, codes = (block[1:], labels[1:]) if prev is None else (block, labels)
                np.add.at(cross, codes, after * np.conj(before))
                prev = block[-1:]
    used = book.counts > 0
    book.magnitudes[used] = (sums[used] / book.counts[used, None]).astype(np.float32)
    # A code no frame uses (possible only with duplicate frames) decodes from its centroid.
    book.magnitudes[~used, :FEAT_BINS] = np.expm1(centroids[~used])
    if complex_seen:
        # A bin never seen with energy advances at its own centre frequency.
        centre = np.broadcast_to(BIN_ADVANCE, cross.shape)
        book.advance = np.where(
            np.abs(cross) > 0, np.angle(cross), np.angle(np.exp(1j * centre))
        ).astype(np.float32)
    return book


def encode_file(path: str | Path, book: Codebook) -> np.ndarray:
    """A recording's token ids (codebook indices), one per frame."""
    parts = [book.assign(mag) for mag in audio_frames(iter_samples(path))]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def encode_file_levels(path: str | Path, book: Codebook) -> tuple[np.ndarray, np.ndarray]:
    """A recording's token ids and each frame's level in dB (10·log10 of its energy)."""
    ids, levels = [], []
    for mag in audio_frames(iter_samples(path)):
        ids.append(book.assign(mag))
        levels.append(10 * np.log10(np.square(mag, dtype=np.float64).sum(axis=1) + 1e-20))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ids), np.concatenate(levels)


def sounding_spans(
    levels: np.ndarray, *, trim_db: float = TRIM_DB, max_gap: int = MAX_GAP_FRAMES
) -> list[tuple[int, int]]:
    """(first, stop) frame spans of a recording that sound: from the first to the last frame
    within `trim_db` of its loud level (its 90th-percentile frame), so without leading
    silence and trailing release, and split where it stays quieter than that for more than
    `max_gap` frames (a rest of over a second is a break, not a held sound). trim_db 0
    keeps every frame as one span."""
    if levels.size == 0:
        return []
    if trim_db <= 0:
        return [(0, int(levels.size))]
    loud = np.flatnonzero(levels >= np.percentile(levels, 90) - trim_db)
    breaks = np.flatnonzero(np.diff(loud) > max_gap + 1)
    starts = [int(loud[0]), *(int(loud[j + 1]) for j in breaks)]
    stops = [*(int(loud[j]) + 1 for j in breaks), int(loud[-1]) + 1]
    return list(zip(starts, stops, strict=True))


def encode_samples(samples: np.ndarray, book: Codebook) -> np.ndarray:
    parts = [book.assign(mag) for mag in audio_frames([samples])]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def decoder_used(book: Codebook, decoder: str = "phase") -> str:
    """The decoder that will run: "phase" needs the codebook's phase advances, which
    codebooks saved before it lack; those decode with Griffin-Lim, as they always did."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)} (got {decoder!r})")
    return "phase" if decoder == "phase" and book.advance is not None else "griffinlim"


def decode_tokens(
    tokens: np.ndarray | list[int],
    book: Codebook,
    *,
    seed: int = 0,
    decoder: str = "phase",
    refine: int = 0,
) -> np.ndarray:
    """Codebook indices → waveform at -1 dBFS peak, from each code's mean magnitude spectrum.

    decoder "phase": phase-coherent (`coherent_phases`), then `refine` fast Griffin-Lim
        iterations (0..64) starting from that phase; falls back to "griffinlim" for a
        codebook without phase advances (see `decoder_used`);
    decoder "griffinlim": phase by Griffin-Lim from random phase (32 iterations, momentum
        0.99), the first decoder."""
    ids = np.asarray(tokens, dtype=np.int64)
    if ids.size < 2:
        return np.zeros(0, dtype=np.float32)
    if not 0 <= int(refine) <= 64:
        raise ValueError(f"refine must be 0..64 Griffin-Lim iterations (got {refine!r})")
    mags = book.magnitudes[ids].T.astype(np.float32)
    length = (ids.size - 1) * HOP
    if decoder_used(book, decoder) == "phase":
        phase = coherent_phases(ids, book, seed=seed)
        y = griffin_lim(mags, n_iter=int(refine), phase=phase, length=length)
    else:
        import librosa

        y = librosa.griffinlim(
            mags,
            n_iter=GRIFFIN_LIM_ITERS,
            hop_length=HOP,
            win_length=N_FFT,
            n_fft=N_FFT,
            window="hann",
            center=True,
            length=length,
            random_state=int(seed) % (2**32),
        )
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > 0:
        y = y * (PEAK / peak)
    return y.astype(np.float32)


def coherent_phases(ids: np.ndarray, book: Codebook, *, seed: int = 0) -> np.ndarray:
    """(BINS, T) phases for the codes `ids`, phase-vocoder style with peak locking.

    A stationary sinusoid seen through this STFT (Hann window centred on the frame, FFT
    origin at the frame's start) gives every bin of its main lobe the phase psi + pi*k,
    where psi is the sinusoid's phase at the frame centre. So per frame: find the spectral
    peaks of the code's magnitude; each peak's psi advances by the code's stored phase
    advance at that bin (its instantaneous frequency, measured on the corpus); every bin
    takes the psi of its nearest peak (vertical coherence inside a partial) plus pi*k.
    Horizontal coherence comes from integrating psi frame to frame, so a held note is one
    steady sinusoid per partial instead of Griffin-Lim's random-start compromise."""
    if book.advance is None:
        raise ValueError("the codebook has no phase advances (saved before phase decoding)")
    mags = book.magnitudes[ids]
    advance = book.advance[ids]
    k = np.arange(BINS)
    psi = np.random.default_rng(int(seed) % (2**32)).uniform(-np.pi, np.pi, BINS)
    out = np.empty((BINS, ids.size), dtype=np.float32)
    for t in range(ids.size):
        m = mags[t]
        floor = float(m.max()) * 10 ** (-PEAK_FLOOR_DB / 20)
        inner = (m[1:-1] > m[:-2]) & (m[1:-1] >= m[2:]) & (m[1:-1] > floor)
        peaks = np.flatnonzero(inner) + 1
        if peaks.size == 0:
            psi = psi + advance[t]
        else:
            moved = psi[peaks] + (advance[t, peaks] if t else 0.0)
            # Each bin belongs to its nearest peak: boundaries half-way between peaks.
            owner = np.searchsorted((peaks[:-1] + peaks[1:]) / 2.0, k)
            psi = moved[owner]
        psi = np.angle(np.exp(1j * psi))  # keep it in [-pi, pi] so float32 stays exact
        out[:, t] = psi + np.pi * k
    return out


def griffin_lim(
    mags: np.ndarray, *, n_iter: int, phase: np.ndarray, length: int, momentum: float = 0.99
) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin et al. 2013, as librosa's) from a given phase; with
    n_iter 0 it is the inverse STFT of mags at that phase."""
    import librosa

    kw = {"hop_length": HOP, "win_length": N_FFT, "n_fft": N_FFT, "window": "hann"}
    angles = np.exp(1j * phase.astype(np.float64)).astype(np.complex64)
    prev = None
    for _ in range(n_iter):
        y = librosa.istft(mags * angles, length=length, **kw)
        rebuilt = librosa.stft(y, pad_mode="constant", **kw)[:, : mags.shape[1]]
        step = rebuilt if prev is None else rebuilt - (momentum / (1 + momentum)) * prev
        angles = step / (np.abs(step) + 1e-12)
        prev = rebuilt
    return librosa.istft(mags * angles, length=length, **kw)


def wav_bytes(y: np.ndarray, *, samplerate: int = SAMPLE_RATE) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(y, dtype=np.float32), samplerate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def read_wav_bytes(data: bytes) -> np.ndarray:
    """WAV bytes written by `wav_bytes` → float32 samples."""
    import soundfile as sf

    y, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return y if y.ndim == 1 else y.mean(axis=1)


# --- measures of a clip (musiclib.metrics.audio uses them too) -------------------------------
SILENT_DB = 60.0  # frames this far below the loudest are silence (not judged for flatness)


def power_spectrum(y: np.ndarray) -> np.ndarray:
    """|STFT|² of a clip (N_FFT, HOP), bins × frames."""
    import librosa

    return np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2


def loudness_and_flatness(y: np.ndarray) -> tuple[float, float | None]:
    """(RMS of the clip, mean spectral flatness over its non-silent frames or None)."""
    y = np.asarray(y, dtype=np.float32)
    if y.size < N_FFT:
        return 0.0, None
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    power = power_spectrum(y)
    energy = power.sum(axis=0)
    if energy.max() <= 0:
        return rms, None
    loud = energy >= energy.max() * 10 ** (-SILENT_DB / 10)
    p = np.maximum(power[:, loud], 1e-20)
    flat = np.exp(np.mean(np.log(p), axis=0)) / np.mean(p, axis=0)
    return rms, float(np.mean(flat))
