"""Is it music rather than noise? Measures of audio clips, pure functions over samples.

spectral flatness   geometric / arithmetic mean of the power spectrum, averaged over the
                    frames that are not silent: ~0.5 for white noise, ~1e-4 for a tone
stable pitch        share of all frames (silence included) where pYIN hears a pitch that
                    stays within ±STABLE_BAND semitones over STABLE_SECONDS around it
note rate           held notes a second: runs of stable frames on one semitone
pitch classes       histogram of the stable frames' pitch classes; its distance to the
                    corpus's is the total variation (0 = same, 1 = disjoint)

And of a codec (decode against what was asked for):
spectral convergence  ||(|STFT(y)|) - S|| / ||S||: how far the decoded audio's magnitudes
                    are from the magnitudes S it was decoded from (0 = exactly them; a
                    decoder whose phases do not fit together cancels or smears energy)
log-spectral distance  RMS over bins of the dB difference between the decoded audio's power
                    spectrum and the original recording's, averaged over frames (0 dB = same)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

# The audio way checks its own renders with these too, so they live below the ways, in dsp.
from ..audio.dsp import SILENT_DB, loudness_and_flatness  # noqa: F401  (re-exported)
from ..audio.dsp import power_spectrum as _power

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
FMIN, FMAX = 65.4, 1046.5  # C2..C6: chorale voices, sine melodies
STABLE_SECONDS = 0.1
STABLE_BAND = 0.25  # semitones either side: a note "held" when its pitch stays this close
SILENCE_RMS = 1e-3  # a clip quieter than -60 dBFS RMS is silence
NOISE_FLATNESS = 0.05  # a clip flatter than this is noise (white noise ≈ 0.5, music ≈ 1e-3)


def pitch_track(y: np.ndarray, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """MIDI pitch per frame (float, NaN where pYIN hears no pitch): `librosa.pyin` with
    FMIN..FMAX, N_FFT and HOP, frame for frame (a test compares them on tones, a leap, noise
    and a tune broken by silence, at two sample rates), its hidden Markov model decoded by
    `_viterbi_banded`."""
    import librosa

    probs, n_bins = _pyin_observations(np.asarray(y, dtype=np.float32), sr=sr)
    into, starts, stops, floor = _pyin_transition(n_bins, sr=sr)
    eps = np.finfo(probs.dtype).tiny  # (as librosa.sequence.viterbi: log(p + tiny))
    log_p_init = np.log(np.full(2 * n_bins, 1.0 / (2 * n_bins)) + eps)
    states = _viterbi_banded(np.log(probs + eps).T, log_p_init, into, starts, stops, floor)
    freqs = FMIN * 2 ** (np.arange(n_bins) / (12 * PYIN_BINS_PER_SEMITONE))
    midi = librosa.hz_to_midi(freqs[states % n_bins])
    midi[states >= n_bins] = np.nan
    return midi


# pYIN's defaults (librosa 0.11), which `pitch_track` keeps: thresholds and their beta prior,
# the Boltzmann prior over troughs, 0.1-semitone bins, at most 35.92 octaves a second
# between frames, a 1 % chance a frame switches between voiced and unvoiced.
PYIN_THRESHOLDS, PYIN_BETA, PYIN_BOLTZMANN = 100, (2, 18), 2
PYIN_BINS_PER_SEMITONE, PYIN_MAX_RATE, PYIN_SWITCH, PYIN_NO_TROUGH = 10, 35.92, 0.01, 0.01


def _pyin_observations(y: np.ndarray, *, sr: int) -> tuple[np.ndarray, int]:
    """pYIN's observation probabilities (2 * bins states: voiced pitch bins, then unvoiced;
    × frames) for one clip, by librosa's own steps (`librosa.pyin` up to its Viterbi)."""
    import librosa
    import scipy.stats
    from librosa.core import pitch as lp

    y = np.pad(y, (N_FFT // 2, N_FFT // 2), mode="constant")  # (center=True)
    frames = librosa.util.frame(y, frame_length=N_FFT, hop_length=HOP)
    min_period = int(np.floor(sr / FMAX))
    max_period = min(int(np.ceil(sr / FMIN)), N_FFT - 1)
    yin = lp._cumulative_mean_normalized_difference(frames, min_period, max_period)
    shifts = lp._parabolic_interpolation(yin)
    thresholds = np.linspace(0, 1, PYIN_THRESHOLDS + 1)
    beta_probs = np.diff(scipy.stats.beta.cdf(thresholds, *PYIN_BETA))
    n_bins = int(np.floor(12 * PYIN_BINS_PER_SEMITONE * np.log2(FMAX / FMIN))) + 1
    helper = getattr(lp, "__pyin_helper")  # (module-private: librosa is pinned)
    probs, _ = helper(
        yin, shifts, sr, thresholds, PYIN_BOLTZMANN, beta_probs, PYIN_NO_TROUGH,
        min_period, FMIN, n_bins, PYIN_BINS_PER_SEMITONE,
    )  # fmt: skip
    return probs[0], n_bins


_TRANSITIONS: dict[tuple[int, int], tuple] = {}


def _pyin_transition(n_bins: int, *, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """pYIN's transition matrix as log(p + tiny) (librosa's), transposed (`into[j, k]`: from
    k to j), and for each state j the range of states that reach it with a nonzero
    probability, one range per voicing block (the matrix is banded within each block):
    (into, starts, stops, log(tiny))."""
    if (n_bins, sr) not in _TRANSITIONS:
        import librosa

        per_frame = round(PYIN_MAX_RATE * 12 * HOP / sr)  # (semitones a frame may move)
        local = librosa.sequence.transition_local(
            n_bins, per_frame * PYIN_BINS_PER_SEMITONE + 1, window="triangle", wrap=False
        )
        transition = np.kron(librosa.sequence.transition_loop(2, 1 - PYIN_SWITCH), local)
        eps = np.finfo(np.float64).tiny
        starts = np.zeros((2 * n_bins, 2), dtype=np.int64)
        stops = np.zeros((2 * n_bins, 2), dtype=np.int64)
        for j in range(2 * n_bins):
            for b in range(2):
                (ks,) = np.nonzero(transition[b * n_bins : (b + 1) * n_bins, j])
                if ks.size:
                    starts[j, b], stops[j, b] = b * n_bins + ks[0], b * n_bins + ks[-1] + 1
        # (transposed, so that a state's predecessors lie side by side in memory)
        into = np.ascontiguousarray(np.log(transition + eps).T)
        _TRANSITIONS[n_bins, sr] = (into, starts, stops, float(np.log(eps)))
    return _TRANSITIONS[n_bins, sr]


@njit(cache=True)
def _viterbi_banded(log_prob, log_p_init, into, starts, stops, floor):
    """The most likely state path, exactly as `librosa.sequence.viterbi` (its `_viterbi`:
    the same sums in the same order, ties to the lowest state), looking at each state's
    predecessors within its bands (`starts`..`stops`) instead of all of them. Outside the
    bands the transition is log(tiny) = `floor`, so a predecessor there scores at most the
    previous frame's best plus `floor`; where the bands' best does not beat that, the state
    scans every predecessor, as librosa does. log_prob: (frames, states); into[j, k]: the
    log transition from k to j."""
    n_steps, n_states = log_prob.shape
    # (only the last frame's values are needed: two rows, not librosa's frames × states)
    prev = log_prob[0] + log_p_init
    cur = np.empty(n_states)
    ptr = np.zeros((n_steps, n_states), dtype=np.int32)
    for t in range(1, n_steps):
        beyond = prev.max() + floor
        for j in range(n_states):
            best, arg = -np.inf, 0
            for b in range(starts.shape[1]):
                for k in range(starts[j, b], stops[j, b]):
                    v = prev[k] + into[j, k]
                    if v > best:
                        best, arg = v, k
            if not best > beyond:
                best, arg = -np.inf, 0
                for k in range(n_states):
                    v = prev[k] + into[j, k]
                    if v > best:
                        best, arg = v, k
            ptr[t, j] = arg
            cur[j] = log_prob[t, j] + best
        prev, cur = cur, prev
    state = np.zeros(n_steps, dtype=np.int64)
    state[-1] = np.argmax(prev)
    for t in range(n_steps - 2, -1, -1):
        state[t] = ptr[t + 1, state[t + 1]]
    return state


def stable_frames(midi: np.ndarray, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Frames whose pitch, and every pitch within STABLE_SECONDS/2 of them, stays in the band."""
    n = midi.size
    half = max(1, int(round(STABLE_SECONDS * sr / HOP / 2)))
    ok = np.zeros(n, dtype=bool)
    for t in range(half, n - half):
        w = midi[t - half : t + half + 1]
        if not np.isnan(w).any() and w.max() - w.min() <= 2 * STABLE_BAND:
            ok[t] = True
    return ok


def clip_metrics(y: np.ndarray, *, sr: int = SAMPLE_RATE) -> dict[str, Any]:
    """Every measure of one clip, and whether it is silence or noise."""
    y = np.asarray(y, dtype=np.float32)
    seconds = y.size / sr
    rms, flatness = loudness_and_flatness(y)
    midi = pitch_track(y, sr=sr) if rms >= SILENCE_RMS else np.full(1 + y.size // HOP, np.nan)
    stable = stable_frames(midi, sr=sr)
    semis = np.where(stable, np.round(np.nan_to_num(midi)), -1).astype(int)
    notes, prev = 0, -1
    for s in semis:  # a note starts where a stable run starts or changes semitone
        if s >= 0 and s != prev:
            notes += 1
        prev = s
    hist = np.bincount(semis[semis >= 0] % 12, minlength=12).astype(float)
    return {
        "seconds": round(seconds, 2),
        "rms": rms,
        "flatness": flatness,
        "stable_fraction": float(stable.mean()) if stable.size else 0.0,
        "note_rate": notes / seconds if seconds else 0.0,
        "pitch_classes": (hist / hist.sum()).tolist() if hist.sum() else [0.0] * 12,
        "silent": rms < SILENCE_RMS,
        "noise": flatness is not None and flatness > NOISE_FLATNESS,
    }


def spectral_convergence(y: np.ndarray, target: np.ndarray) -> float:
    """||a|STFT(y)| - S||_F / ||S||_F with `target` S (bins, frames), where a is the
    least-squares gain (decoders normalise loudness, so only the shape counts)."""
    mag = np.sqrt(_power(np.asarray(y, dtype=np.float32)))
    n = min(mag.shape[1], target.shape[1])
    mag, target = mag[:, :n].astype(np.float64), np.asarray(target[:, :n], dtype=np.float64)
    denom = float((mag * mag).sum())
    gain = float((mag * target).sum()) / denom if denom > 0 else 0.0
    return float(np.linalg.norm(gain * mag - target) / max(np.linalg.norm(target), 1e-12))


def log_spectral_distance(y: np.ndarray, x: np.ndarray, *, floor_db: float = 80.0) -> float:
    """Mean over frames of the RMS over bins of 10·log10(P_y / P_x) in dB, after matching
    the two clips' total power; powers are floored `floor_db` below the original's loudest
    bin so that near-silent bins do not dominate."""
    py, px = _power(np.asarray(y, dtype=np.float32)), _power(np.asarray(x, dtype=np.float32))
    n = min(py.shape[1], px.shape[1])
    py, px = py[:, :n].astype(np.float64), px[:, :n].astype(np.float64)
    if px.sum() <= 0 or py.sum() <= 0:
        return float("inf")
    py *= px.sum() / py.sum()
    floor = px.max() * 10 ** (-floor_db / 10)
    diff = 10 * np.log10(np.maximum(py, floor) / np.maximum(px, floor))
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def pitch_class_distance(a: list[float], b: list[float]) -> float | None:
    """Total variation distance between two pitch-class histograms, 0..1."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.sum() <= 0 or b.sum() <= 0:
        return None
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def summarise(clips: list[dict[str, Any]], *, reference: list[float] | None) -> dict[str, Any]:
    """Mean, min and max of each measure over a set of clips, and the set's pitch-class
    histogram's distance to `reference` (the corpus's)."""
    if not clips:
        return {"n": 0}
    out: dict[str, Any] = {"n": len(clips)}
    for key in ("flatness", "stable_fraction", "note_rate", "rms"):
        vals = [c[key] for c in clips if c.get(key) is not None]
        if vals:
            out[key] = {"mean": float(np.mean(vals)), "min": min(vals), "max": max(vals)}
    hist = np.sum([c["pitch_classes"] for c in clips], axis=0)
    out["pitch_classes"] = (hist / hist.sum()).tolist() if hist.sum() else [0.0] * 12
    out["pc_distance"] = (
        pitch_class_distance(out["pitch_classes"], reference) if reference is not None else None
    )
    out["silent"] = sum(bool(c["silent"]) for c in clips)
    out["noise"] = sum(bool(c["noise"]) for c in clips)
    return out
