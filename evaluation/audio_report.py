"""The run report of an audio-way run: is what it generates music rather than noise?

Four sets of clips, measured with `musiclib.metrics.audio`: the run's generated pieces,
clips of its corpus's recordings, the same clips through encode + decode alone (the
representation's ceiling, "oracle", with the run's decoder) and with their token runs
shuffled ("control": real codes and durations without a model's order). The original raw-FFT
baseline needs a model of its own and is measured by bench/audio_quality.py (docs/audio.md).
Beside them, the codec on the oracle clips: the run's decoder against Griffin-Lim (spectral
convergence, log-spectral distance to the recording, CPU seconds per second of audio).
Measured by the run report task (`evaluation.services.run_report_measure` calls
`audio_report_build`) and stored on the run's RunReport row; `audio_report_key` says what it
was measured from (the last checkpoint, the pieces, AUDIO_REPORT_VERSION).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from common.errors import ServiceError
from common.storage import local_copy
from generator.models import Piece, TrainingRun
from musiclib.metrics import audio as am

CLIPS = 5
SECONDS = 10.0
# Bump when an audio measure changes: a stored report of another version is measured again
# (not the code version: web and workers may differ during a deploy; see REPORT_VERSION).
AUDIO_REPORT_VERSION = 1


def shuffled_runs(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cut a token sequence into runs of one repeated code and shuffle the runs' order."""
    runs = np.split(ids, np.flatnonzero(np.diff(ids)) + 1)
    return np.concatenate([runs[i] for i in rng.permutation(len(runs))])


def _pieces(run: TrainingRun) -> list[Piece]:
    """The generated clips measured: the last checkpoint's own pieces with audio, else its
    epoch samples."""
    qs = Piece.objects.filter(run=run, checkpoint=run.last_checkpoint).exclude(audio="")
    own = qs.filter(job__is_epoch_sample=False)
    return list((own if own.exists() else qs).order_by("pk")[:CLIPS])


def audio_report_key(*, run: TrainingRun) -> str:
    """What an audio run's report is measured from: a report with another key is stale."""
    last = run.last_checkpoint
    pieces = [p.pk for p in _pieces(run)] if last else []
    raw = f"audio|{AUDIO_REPORT_VERSION}|{last.pk if last else ''}|{pieces}"
    return hashlib.sha1(raw.encode()).hexdigest()


def audio_report_build(*, run: TrainingRun) -> dict[str, Any]:
    """The audio measures of the run's last checkpoint (tens of seconds: a task runs it)."""
    from generator.services.pieces import load_checkpoint_state
    from musiclib.audio import dsp
    from musiclib.ways import get_way
    from musiclib.ways.audio_frames import parse_tune_text

    last = run.last_checkpoint
    if last is None:
        raise ServiceError("The run has no checkpoint yet, so there is nothing to measure.")
    pieces = _pieces(run)
    way = get_way(run.way)
    state = load_checkpoint_state(last)
    book = way.codebook(state)
    decoder = dsp.decoder_used(book, str(state.get("way_decoder", "phase")))
    refine = int(state.get("way_decoder_refine", 0)) if decoder == "phase" else 0
    generated = []
    for piece in pieces:
        with piece.audio.open("rb") as fh:
            generated.append(dsp.read_wav_bytes(fh.read())[: int(SECONDS * dsp.SAMPLE_RATE)])
    rng = np.random.default_rng(run.seed)
    tunes = list(run.corpus.tunes.filter(pk__lte=run.tune_id_max or 0).order_by("pk"))
    corpus = []
    for i in range(min(CLIPS, 2 * len(tunes))):
        info = parse_tune_text(tunes[i % len(tunes)].text)
        offset = float(rng.uniform(0, max(float(info["seconds"]) - SECONDS, 0)))
        path = local_copy(info["audio"])
        corpus.append(dsp.load_clip(path, seconds=SECONDS, offset=offset))
    corpus_ids = [dsp.encode_samples(clip, book) for clip in corpus]
    # The codec on the oracle clips: the run's decoder and, beside it, Griffin-Lim (the
    # first decoder), by how close each comes to the magnitudes and to the recording.
    codec, oracle = [], []
    for name in dict.fromkeys([decoder, "griffinlim"]):
        n_iter = refine if name == "phase" else 0
        # One short decode first, untimed: a process's first decode also pays for loading
        # librosa's compiled functions (0.076 against 0.034 s per audio second seen).
        if corpus_ids:
            dsp.decode_tokens(corpus_ids[0][:64], book, seed=0, decoder=name, refine=n_iter)
        cpu = time.process_time()
        ys = [
            dsp.decode_tokens(ids, book, seed=i, decoder=name, refine=n_iter)
            for i, ids in enumerate(corpus_ids)
        ]
        cpu = time.process_time() - cpu
        audio_s = sum(y.size for y in ys) / dsp.SAMPLE_RATE
        if name == decoder:
            oracle = ys
        # Clips shorter than one STFT frame (a recording of a few ms) have no spectrum.
        pairs = [
            (y, ids, x)
            for y, ids, x in zip(ys, corpus_ids, corpus, strict=True)
            if min(y.size, x.size) >= dsp.N_FFT
        ]
        if pairs:
            sc = [am.spectral_convergence(y, book.magnitudes[ids].T) for y, ids, _ in pairs]
            lsd = [am.log_spectral_distance(y, x) for y, _, x in pairs]
            codec.append(
                {
                    "decoder": name if name == "griffinlim" else f"phase + {n_iter} Griffin-Lim",
                    "used": name == decoder,
                    "spectral_convergence": float(np.mean(sc)),
                    "log_spectral_distance": float(np.mean(lsd)),
                    "cpu_per_audio_second": cpu / audio_s if audio_s else None,
                }
            )
    control = [
        dsp.decode_tokens(shuffled_runs(ids, rng), book, seed=i, decoder=decoder, refine=refine)
        for i, ids in enumerate(corpus_ids)
    ]
    sets = {"generated": generated, "corpus": corpus, "oracle": oracle, "control": control}
    measured = {name: [am.clip_metrics(y) for y in ys] for name, ys in sets.items()}
    reference = am.summarise(measured["corpus"], reference=None)["pitch_classes"]
    data = {
        "epoch": last.epoch,
        "n_evaluated": len(pieces),
        "decoder": decoder,
        "codec": codec,
        "sets": [
            {"name": name, **am.summarise(clips, reference=reference)}
            for name, clips in measured.items()
        ],
    }
    return data
