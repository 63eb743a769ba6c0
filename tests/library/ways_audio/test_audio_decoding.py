"""Decoding tokens to audio: phase-coherent against Griffin-Lim, and old codebooks (no DB)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musiclib.audio import dsp
from musiclib.metrics.audio import (
    log_spectral_distance,
    pitch_track,
    spectral_convergence,
)
from tests.library.ways_audio.melodies import melody

NOTES = [60, 64, 67, 72, 67, 64, 60, 62]


@pytest.fixture
def sine_tune(tmp_path):
    y = melody(NOTES, sr=22050, note_s=0.5)
    path = tmp_path / "tune.wav"
    sf.write(path, y, 22050)
    book = dsp.fit_codebook(
        lambda: [dsp.audio_spectra(dsp.iter_samples(path))], k=24, seed=0, sample_size=5000
    )
    return y, book, dsp.encode_file(path, book)


def test_a_codebook_fitted_on_complex_spectra_learns_each_codes_phase_advance(sine_tune):
    y, book, tokens = sine_tune
    assert book.advance is not None and book.advance.shape == book.magnitudes.shape
    # The code held through the first note (C4, 261.6 Hz): at its loudest bin the phase
    # turns by 2π·f·HOP/SR a hop, the sinusoid's frequency, not the bin centre's.
    code = int(np.bincount(tokens[5:15]).argmax())
    peak = int(book.magnitudes[code].argmax())
    expected = np.angle(np.exp(2j * np.pi * 261.63 * dsp.HOP / dsp.SAMPLE_RATE))
    assert book.advance[code, peak] == pytest.approx(expected, abs=0.05)
    again = dsp.Codebook.from_arrays(book.to_arrays())
    assert np.array_equal(again.advance, book.advance)


def test_phase_coherent_decoding_beats_griffin_lim_on_a_sine_melody(sine_tune):
    y, book, tokens = sine_tune
    target = book.magnitudes[tokens].T
    griffin = dsp.decode_tokens(tokens, book, seed=1, decoder="griffinlim")
    coherent = dsp.decode_tokens(tokens, book, seed=1, decoder="phase", refine=8)
    assert coherent.size == griffin.size == (tokens.size - 1) * dsp.HOP
    # Closer to the magnitudes asked for, with a quarter of Griffin-Lim's iterations.
    assert spectral_convergence(coherent, target) < spectral_convergence(griffin, target)
    # As close to the original recording (within 0.2 dB; the codebook's own error dominates).
    assert log_spectral_distance(coherent, y) < log_spectral_distance(griffin, y) + 0.2
    # And it keeps the melody's pitches.
    midi = pitch_track(coherent)
    per_note = tokens.size / len(NOTES)
    for i, note in enumerate(NOTES):
        middle = midi[int((i + 0.3) * per_note) : int((i + 0.7) * per_note)]
        assert np.nanmedian(middle) == pytest.approx(note, abs=0.3), (i, note)


def test_phase_integration_alone_is_consistent_without_any_griffin_lim(sine_tune):
    y, book, tokens = sine_tune
    target = book.magnitudes[tokens].T
    coherent = dsp.decode_tokens(tokens, book, seed=1, decoder="phase", refine=0)
    # Random phase, no iterations: what Griffin-Lim starts from. Integration is far closer.
    rng = np.random.default_rng(0)
    random_phase = dsp.griffin_lim(
        target, n_iter=0, phase=rng.uniform(-np.pi, np.pi, target.shape), length=coherent.size
    )
    assert spectral_convergence(coherent, target) < 0.5 * spectral_convergence(random_phase, target)


def test_a_codebook_saved_without_phase_advances_decodes_with_griffin_lim(sine_tune):
    y, book, tokens = sine_tune
    old = {k: v for k, v in book.to_arrays().items() if k != "advance"}
    old_book = dsp.Codebook.from_arrays(old)
    assert old_book.advance is None
    assert dsp.decoder_used(old_book, "phase") == "griffinlim"
    assert dsp.decoder_used(book, "phase") == "phase"
    out = dsp.decode_tokens(tokens, old_book, seed=1, decoder="phase", refine=8)
    assert np.array_equal(out, dsp.decode_tokens(tokens, old_book, seed=1, decoder="griffinlim"))
    with pytest.raises(ValueError, match="decoder must be one of"):
        dsp.decode_tokens(tokens, book, decoder="wavenet")
    with pytest.raises(ValueError, match="refine must be 0..64"):
        dsp.decode_tokens(tokens, book, refine=100)


def test_the_sounding_spans_drop_silence_and_the_release_and_split_at_long_breaks(tmp_path):
    sr = dsp.SAMPLE_RATE
    tune = melody(NOTES, sr=sr, note_s=0.5)
    release = 0.4 * np.sin(2 * np.pi * 262 * np.arange(sr) / sr)
    release *= np.exp(-np.arange(sr) / (0.1 * sr))  # a fading note: -43 dB after 1 s
    y = np.concatenate([np.zeros(sr), tune, release, np.zeros(2 * sr)]).astype(np.float32)
    path = tmp_path / "padded.wav"
    sf.write(path, y, sr)
    book = dsp.fit_codebook(
        lambda: [dsp.audio_frames(dsp.iter_samples(path))], k=16, seed=0, sample_size=3000
    )
    ids, levels = dsp.encode_file_levels(path, book)
    assert ids.size == levels.size == 1 + y.size // dsp.HOP
    [(first, stop)] = dsp.sounding_spans(levels, trim_db=30.0)
    # It starts within a frame or two of the melody (frames are 2048 samples wide) and
    # stops inside the release, well before the silence.
    assert abs(first - sr / dsp.HOP) <= 3
    tune_end = (sr + tune.size) / dsp.HOP  # the melody's end, in frames
    assert tune_end - 2 <= stop - 1 <= tune_end + 0.6 * dsp.FRAME_RATE
    assert dsp.sounding_spans(levels, trim_db=0) == [(0, ids.size)]
    # A break of 2 s inside a recording splits it; a rest of half a second does not.
    gap = np.zeros(2 * sr, dtype=np.float32)
    rest = np.zeros(sr // 2, dtype=np.float32)
    y = np.concatenate([tune, rest, tune, gap, tune]).astype(np.float32)
    mags = np.concatenate(list(dsp.audio_frames([y])))
    levels = 10 * np.log10(np.square(mags, dtype=np.float64).sum(axis=1) + 1e-20)
    spans = dsp.sounding_spans(levels)
    assert len(spans) == 2
    assert spans[0][1] == pytest.approx((2 * tune.size + rest.size) / dsp.HOP, abs=3)
    assert spans[1][0] == pytest.approx((2 * tune.size + rest.size + gap.size) / dsp.HOP, abs=3)


def test_an_old_checkpoints_state_without_phase_advances_still_renders(sine_tune):
    from musiclib.ways.audio_frames import WAY, decoder_state

    y, book, tokens = sine_tune
    text = " ".join(f"a{int(t)}" for t in tokens)
    new = {"way_" + k: v for k, v in book.to_arrays().items()}
    new.update(decoder_state({"decoder": "phase", "decoder_refine": 8}))
    # As saved before this decoder: the codebook's three arrays and no decoder choice.
    old = {k: v for k, v in new.items() if k in ("way_centroids", "way_magnitudes", "way_counts")}
    wav_new, checks_new = WAY.render(text=text, state=new, seed=1)
    wav_old, checks_old = WAY.render(text=text, state=old, seed=1)
    assert checks_new["decoder"] == "phase" and checks_old["decoder"] == "griffinlim"
    assert checks_old["plays"] and checks_new["plays"]
    length = (tokens.size - 1) * dsp.HOP
    assert dsp.read_wav_bytes(wav_old).size == dsp.read_wav_bytes(wav_new).size == length
