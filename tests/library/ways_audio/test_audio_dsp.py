"""Reading, codebook, decoding and the measures, on synthetic audio (no database)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musiclib.audio import dsp
from musiclib.metrics import audio as am
from musiclib.metrics.audio import clip_metrics, pitch_class_distance
from tests.library.ways_audio.melodies import hz, melody


def test_a_sine_melody_keeps_its_pitches_through_encode_and_decode(tmp_path):
    notes = [60, 64, 67, 72, 67, 64, 60, 62]
    path = tmp_path / "tune.wav"
    sf.write(path, melody(notes, sr=44100, note_s=0.5), 44100)
    book = dsp.fit_codebook(
        lambda: [dsp.audio_frames(dsp.iter_samples(path))], k=24, seed=0, sample_size=5000
    )
    tokens = dsp.encode_file(path, book)
    assert tokens.size == 1 + int(4.0 * dsp.SAMPLE_RATE) // dsp.HOP
    y = dsp.decode_tokens(tokens, book, seed=1)
    from musiclib.metrics.audio import pitch_track

    midi = pitch_track(y)
    frames_per_note = tokens.size / len(notes)
    for i, note in enumerate(notes):
        middle = midi[int((i + 0.3) * frames_per_note) : int((i + 0.7) * frames_per_note)]
        assert np.nanmedian(middle) == pytest.approx(note, abs=0.3), (i, note)


def test_streamed_frames_equal_librosas_stft():
    import librosa

    y = np.random.default_rng(1).standard_normal(70000).astype(np.float32)
    ours = np.concatenate(list(dsp.audio_frames([y[:30000], y[30000:50001], y[50001:]])))
    ref = np.abs(librosa.stft(y, n_fft=dsp.N_FFT, hop_length=dsp.HOP, pad_mode="constant")).T
    assert ours.shape == ref.shape
    assert np.allclose(ours, ref, atol=1e-2)


def test_it_rejects_a_file_that_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_bytes(b"X:1\nT:not a recording\nK:D\nabc|\n" * 20)
    with pytest.raises(dsp.AudioError, match="not audio that can be read"):
        dsp.probe(path)


def test_it_rejects_an_empty_file_and_a_file_with_no_frames(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(dsp.AudioError, match="empty"):
        dsp.probe(empty)
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros(0, dtype=np.float32), 22050)
    with pytest.raises(dsp.AudioError, match="no audio frames"):
        dsp.probe(header_only)


def test_it_rejects_an_unsupported_sample_rate(tmp_path):
    path = tmp_path / "odd.wav"
    sf.write(path, np.zeros(1000, dtype=np.float32), 11111)
    with pytest.raises(dsp.AudioError, match="11111 Hz, which is not supported"):
        dsp.probe(path)


def test_it_rejects_a_recording_longer_than_the_limit(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(22050 * 3, dtype=np.float32), 22050)
    with pytest.raises(dsp.AudioError, match="minutes long"):
        dsp.probe(path, max_seconds=2.0)


def test_a_silent_file_is_refused_and_leaves_no_file(tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(22050, dtype=np.float32), 22050)
    out = tmp_path / "out"
    with pytest.raises(dsp.AudioError, match="silent"):
        dsp.write_canonical(path, name="quiet.wav", folder=out)
    assert list(out.iterdir()) == []


def test_the_measures_tell_a_melody_from_white_noise_and_silence():
    tune = clip_metrics(melody([60, 62, 64, 65, 67, 65, 64, 62] * 3, sr=22050))
    noise = clip_metrics(
        0.3 * np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32)
    )
    silence = clip_metrics(np.zeros(22050 * 2, dtype=np.float32))
    assert tune["flatness"] < 0.005 and not tune["noise"]
    # 0.4 s notes: the frames within 0.05 s of each change of note cannot be stable.
    assert tune["stable_fraction"] > 0.6
    assert 2.0 < tune["note_rate"] < 3.0  # 2.5 notes a second
    assert noise["flatness"] > 0.3 and noise["noise"]
    assert noise["stable_fraction"] < 0.05
    assert silence["silent"] and silence["stable_fraction"] == 0.0
    c_major = clip_metrics(melody([60, 64, 67] * 4, sr=22050))["pitch_classes"]
    f_sharp = clip_metrics(melody([66, 70, 73] * 4, sr=22050))["pitch_classes"]
    assert pitch_class_distance(c_major, c_major) == 0.0
    assert pitch_class_distance(c_major, f_sharp) > 0.9
    assert hz(69) == 440.0


def test_the_pitch_track_is_librosas_pyin_frame_for_frame():
    """`pitch_track` decodes pYIN's model within each state's bands of predecessors:
    the same path as librosa's dense Viterbi on a melody, a leap wider than the bands allow
    in a frame, white noise, a melody broken by silence and noise, and a melody at twice
    the sample rate (whose bands are narrower)."""
    import librosa

    sr, rng = 22050, np.random.default_rng(1)
    t = np.arange(3 * sr) / sr
    broken = melody([60, 67, 64, 72, 55, 62, 69], sr=sr)
    broken[sr // 2 : sr] = 0.0
    broken[2 * sr :] += 0.2 * rng.standard_normal(broken.size - 2 * sr).astype(np.float32)
    clips = [
        melody([60, 62, 64, 65, 67, 65, 64, 62], sr=sr),
        (0.3 * np.sin(2 * np.pi * np.cumsum(np.where(t < 1.5, 70.0, 1000.0)) / sr)).astype(
            np.float32
        ),
        (0.3 * rng.standard_normal(t.size)).astype(np.float32),
        broken,
    ]
    # (and a tune at twice the rate: a frame is half as long, so pitch moves half as far)
    runs = [(y, sr) for y in clips] + [(melody([60, 72, 64, 55], sr=2 * sr), 2 * sr)]
    for y, rate in runs:
        f0, voiced, _ = librosa.pyin(
            y, fmin=am.FMIN, fmax=am.FMAX, sr=rate, frame_length=am.N_FFT, hop_length=am.HOP
        )
        expected = librosa.hz_to_midi(f0)
        expected[~voiced] = np.nan
        assert np.array_equal(am.pitch_track(y, sr=rate), expected, equal_nan=True)
