"""Phrases: training chunks end with END at a recording's real end, and sampling starts a new
phrase after an END instead of stopping (no database)."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from musiclib import config as musiclib_config
from musiclib.audio import dsp
from musiclib.ml import sampler
from musiclib.ways.audio_frames import CORPUS_FOLDER, WAY, tune_text
from musiclib.ways.base import END_ID, PAD_ID, START_ID
from tests.library.ways_audio.melodies import SCALE, melody


def random_net(vocab: int = 10, units: int = 8, end_bias: float = 1.5) -> sampler.Net:
    """A small untrained LSTM whose logits favour END, so phrases end often."""
    rng = np.random.default_rng(0)
    bias = np.zeros(vocab, dtype=np.float32)
    bias[END_ID] = end_bias
    return sampler.Net(
        table=rng.standard_normal((vocab, 4 * units)).astype(np.float32),
        recurrent=[rng.standard_normal((units, 4 * units)).astype(np.float32)],
        biases=[np.zeros(4 * units, dtype=np.float32)],
        dense=[(rng.standard_normal((units, vocab)).astype(np.float32), bias, False)],
        units=[units],
    )


def test_sampling_with_restart_starts_a_new_phrase_after_end_and_lasts_the_tokens_asked():
    net = random_net()
    plain = sampler.sample(net, prime=[START_ID], seeds=[3, 4, 5], max_tokens=60)
    phrased = sampler.sample(net, prime=[START_ID], seeds=[3, 4, 5], max_tokens=60, restart_id=1)
    for ended, carried in zip(plain, phrased, strict=True):
        # Without restart a piece stops at its END, as the ABC and MIDI ways expect.
        assert ended[-1] == END_ID and ended.count(END_ID) == 1
        # With it the same draws run up to that END, then the piece carries on.
        assert carried[: len(ended)] == ended
        assert carried.count(END_ID) >= 2
        assert sum(t != END_ID for t in carried) == 60


def test_a_restarted_phrase_begins_from_a_fresh_state_as_a_new_piece_does():
    net = random_net(end_bias=0.0)
    state = sampler.State(net, 2)
    first = sampler.step(net, state, np.array([START_ID, START_ID]))
    for tok in (5, 6, 7):
        sampler.step(net, state, np.array([tok, tok]))
    # What `sample` does to a row that drew END: zero its state, feed START.
    for k in range(len(net.units)):
        state.xh[k][1] = 0.0
        state.c[k][1] = 0.0
    again = sampler.step(net, state, np.array([8, START_ID]))
    assert np.allclose(again[1], first[1]) and not np.allclose(again[0], first[0])


def test_the_audio_grammar_allows_end_except_straight_after_start():
    vocab = ["<pad>", "<s>", "</s>", "a0", "a1"]
    constraint = WAY.grammar(vocab=vocab)
    after_start = constraint(0, [START_ID])
    later = constraint(0, [START_ID, 3, 4])
    assert not after_start[END_ID] and later[END_ID]
    assert not later[PAD_ID] and not later[START_ID] and later[3:].all()


def test_training_chunks_drop_the_edges_and_end_with_end_at_each_recordings_end(tmp_path):
    sr = dsp.SAMPLE_RATE
    folder = musiclib_config.media_root() / CORPUS_FOLDER
    texts = []
    for i in range(3):
        tune = melody([SCALE[(i + j) % len(SCALE)] for j in range(12)], sr=sr)
        y = np.concatenate([np.zeros(sr // 2), tune, np.zeros(2 * sr)]).astype(np.float32)
        raw = tmp_path / f"padded_{i}.wav"
        sf.write(raw, y, sr)
        final, seconds, sha = dsp.write_canonical(raw, name=raw.name, folder=folder)
        name = str(final.relative_to(musiclib_config.media_root()))
        texts.append(tune_text(data_name=name, seconds=seconds, sha256=sha, title=raw.name))
    config = WAY.resolve_config(preset="tiny", overrides={"val_fraction": 0.34})
    prepared = WAY.prepare(texts=texts, config=config, seed=0)
    chunks = prepared.train + prepared.val
    assert all(c[0] == START_ID and len(c) <= config["max_tokens"] for c in chunks)
    # One END per recording, closing its last chunk, and none anywhere else.
    ends = [c for c in chunks if END_ID in c]
    assert len(ends) == 3 and all(c[-1] == END_ID and list(c).count(END_ID) == 1 for c in ends)
    # About 2.5 s of silence a recording (107 frames) is gone; the notes are all kept.
    per_recording = prepared.stats["frames_trimmed"] / 3
    assert 0.85 * 2.5 * dsp.FRAME_RATE < per_recording < 2.5 * dsp.FRAME_RATE + 4
    kept = sum(len(c) - 1 - (c[-1] == END_ID) for c in chunks) / 3
    assert kept >= 12 * 0.4 * dsp.FRAME_RATE - 4
    untrimmed = WAY.prepare(texts=texts, config={**config, "trim_db": 0}, seed=0)
    assert untrimmed.stats["frames_trimmed"] == 0
