"""The audio way: learn from recordings, generate audio.

The original write-up fed raw FFT values to an LSTM as a vocabulary: one token per
coefficient, so a second of audio was tens of thousands of tokens, each meaningless alone,
and every recording was held in memory at once. It produced noise and ran out of memory.

Here a recording becomes a sequence of *audio tokens*: short-time magnitude spectra (2048
samples every 512 at 22.05 kHz, 43 a second) quantised into a codebook of a few hundred
codewords fitted with k-means on a streamed sample of the run's training frames. The token
LSTM is the shared one (`musiclib.ml`), trained with the same runs, checkpoints, epoch
samples and resume as the ABC and MIDI ways. Tokens decode to each codeword's mean magnitude
spectrum and a waveform by Griffin-Lim (`musiclib.audio.dsp`). The codebook is saved into
every checkpoint's sampler file, so a checkpoint decodes on its own.

Texts:
  a corpus piece (Tune.text): JSON {"audio": media path of the mono 22.05 kHz FLAC,
      "seconds": …, "sha256": … of its samples, "title": …}
  a generated piece or a prime: space-separated tokens "a17 a17 a203 …" (codeword numbers)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.dsp import FRAME_RATE
from .base import END_ID, SPECIALS, START_ID, Capabilities, ImportRefused, Prepared, Way

STATE_PREFIX = "way_"  # arrays of the way's state in a checkpoint's sampler .npz
CORPUS_FOLDER = "corpora/audio"  # under MEDIA_ROOT
DEFAULT_BACH_LIMIT = 40  # chorales rendered for `music21:bach-audio` unless #limit= says
PARTS = ("melody", "all")


@dataclass(frozen=True)
class PhraseMask:
    """What may follow in an audio piece: `allowed` straight after START (a phrase begins),
    `with_end` after anything else. A sampling constraint (called with a row and its ids)
    and, compiled, two grammar states: 0 after START, 1 after a codeword; END leads back
    to 0, as the sampler restarts the phrase with START."""

    allowed: np.ndarray
    with_end: np.ndarray

    def __call__(self, row: int, ids: list[int]) -> np.ndarray:
        return self.allowed if not ids or ids[-1] == START_ID else self.with_end

    def tables(self, prime: list[int]):
        from ..ml.fastloop import GrammarTables

        size = self.allowed.size
        next_state = np.ones((2, size), dtype=np.int32)
        next_state[:, END_ID] = 0
        next_state[0, ~self.allowed] = -1
        next_state[1, ~self.with_end] = -1
        start = 0 if not prime or prime[-1] == START_ID else 1
        return GrammarTables(
            allowed=np.stack([self.allowed, self.with_end]), next_state=next_state, start=start
        )


@dataclass
class AudioItem:
    """One candidate recording for `corpus_import`; `failure` set means list it, skip it."""

    file: str
    number: int
    text: str = ""
    n_notes: int = 0
    failure: str | None = None
    data_name: str = ""  # the canonical FLAC, relative to MEDIA_ROOT


def tune_text(*, data_name: str, seconds: float, sha256: str, title: str) -> str:
    return json.dumps(
        {"audio": data_name, "seconds": round(seconds, 3), "sha256": sha256, "title": title},
        sort_keys=True,
    )


def parse_tune_text(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("this is not an audio corpus piece (its text is not JSON)") from exc
    if not isinstance(data, dict) or "audio" not in data:
        raise ValueError("this is not an audio corpus piece (no audio file named)")
    return data


def decoder_state(config: dict[str, Any]) -> dict[str, np.ndarray]:
    """The run's decoder choice, saved beside the codebook so a checkpoint decodes alone."""
    return {
        STATE_PREFIX + "decoder": np.asarray(str(config.get("decoder", "phase"))),
        STATE_PREFIX + "decoder_refine": np.asarray(int(config.get("decoder_refine", 0))),
    }


def media_root() -> Path:
    from .. import config

    return config.media_root()


def token_ids(text: str) -> list[int]:
    """Token text "a3 a3 a17" → codeword numbers [3, 3, 17]; anything else raises."""
    out = []
    for tok in text.split():
        if not (tok.startswith("a") and tok[1:].isdigit()):
            raise ValueError(f"{tok[:20]!r} is not an audio token (a<number>)")
        out.append(int(tok[1:]))
    return out


class AudioWay(Way):
    name = "audio"
    label = "Audio frames"
    short_label = "audio"
    capabilities = Capabilities(
        is_audio=True,  # pieces are decoded to audio when they are made, with no MIDI
        text_format="text",
        title_style="plain",  # a recording is not a jig or a reel
        openings=frozenset({"recording"}),
        length="seconds",
        tokens_per_second=FRAME_RATE,  # one token a frame
        grammar=False,  # always masked (`always_grammar`): there is nothing to switch on
    )
    has_state = True  # a codebook travels with the run (see `prepare` and checkpoints)
    always_grammar = True  # sampling always masks the special tokens (see `grammar`)
    restarts_phrases = True  # on END, sampling starts a new phrase (see `grammar`, `prepare`)
    presets = {
        # For tests: a model and codebook that train in seconds on a few short recordings.
        "tiny": {
            "embedding_dim": 16,
            "units": [48],
            "batch_size": 8,
            "learning_rate": 0.01,
            "max_tokens": 128,
            "codebook_size": 32,
            "kmeans_sample": 2000,
            "samples_per_epoch": 1,
            "sample_max_tokens": 86,  # 2 s
            "trim_db": 30.0,
            "decoder": "phase",
            "decoder_refine": 8,
        },
        # ~2 s an epoch on two CPU cores for a few minutes of audio.
        "quick": {
            "embedding_dim": 64,
            "units": [128],
            "batch_size": 16,
            "learning_rate": 0.005,
            "max_tokens": 256,  # training chunks of ~6 s
            "codebook_size": 256,  # codewords (audio tokens), 16..1024
            "kmeans_sample": 20000,  # frames sampled from the corpus to fit the codebook
            "samples_per_epoch": 2,
            "sample_max_tokens": 431,  # 10 s of audio
            # Frames quieter than this many dB below a recording's loud level are not trained
            # on at its start and end, and a stretch of them over 1 s splits it into phrases
            # (0 = train on every frame; 10..60).
            "trim_db": 30.0,
            # "phase": phase-coherent decoding from each code's learnt phase advances;
            # "griffinlim": Griffin-Lim from random phase, 32 iterations (the first decoder).
            "decoder": "phase",
            "decoder_refine": 8,  # Griffin-Lim iterations after "phase", 0..64
        },
        "full": {
            "embedding_dim": 128,
            "units": [384, 384],
            "dropout": 0.1,
            "batch_size": 32,
            "max_tokens": 512,
            "codebook_size": 384,
            "kmeans_sample": 50000,
            "samples_per_epoch": 2,
            "sample_max_tokens": 431,
            "trim_db": 30.0,
            "decoder": "phase",
            "decoder_refine": 8,
        },
    }

    def resolve_config(self, *, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
        config = super().resolve_config(preset=preset, overrides=overrides)
        size, sample = config["codebook_size"], config["kmeans_sample"]
        if not (isinstance(size, int) and 16 <= size <= 1024):
            raise ValueError(f"codebook_size must be 16..1024 (got {size!r})")
        if not (isinstance(sample, int) and 1000 <= sample <= 200_000):
            raise ValueError(f"kmeans_sample must be 1000..200000 frames (got {sample!r})")
        from ..audio.dsp import DECODERS

        if config["decoder"] not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}")
        refine = config["decoder_refine"]
        if not (isinstance(refine, int) and 0 <= refine <= 64):
            raise ValueError(f"decoder_refine must be 0..64 iterations (got {refine!r})")
        trim = config["trim_db"]
        if not (isinstance(trim, (int, float)) and (trim == 0 or 10 <= trim <= 60)):
            raise ValueError(f"trim_db must be 0 (off) or 10..60 dB (got {trim!r})")
        if config["sequence_mode"] != "tunes":
            raise ValueError("the audio way trains on chunks of recordings: sequence_mode tunes")
        return config

    # --- tokens ------------------------------------------------------------------------------
    def prepare(
        self,
        *,
        texts: list[str],
        config: dict[str, Any],
        seed: int,
        state: dict[str, np.ndarray] | None = None,
    ) -> Prepared:
        """Fit the codebook on the training recordings (or reuse `state`'s, on resume), encode
        every recording and cut it into chunks of max_tokens. Recordings are split between
        training and validation whole, never inside one."""
        from ..audio import dsp

        if not texts:
            raise ValueError("the corpus is empty: there is nothing to train on")
        paths = []
        for text in texts:
            path = media_root() / parse_tune_text(text)["audio"]
            if not path.is_file():
                raise ValueError(f"the recording {path.name} is missing from the media folder")
            paths.append(path)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(paths))
        n_val = int(round(len(paths) * float(config["val_fraction"])))
        n_val = min(max(n_val, 1 if config["val_fraction"] > 0 else 0), len(paths) - 1)
        val_idx = sorted(order[:n_val].tolist())
        train_idx = sorted(order[n_val:].tolist())
        if state:
            book = self.codebook(state)
        else:
            # Complex spectra: the codebook also learns each code's phase advance per bin.
            book = dsp.fit_codebook(
                lambda: (dsp.audio_spectra(dsp.iter_samples(paths[i])) for i in train_idx),
                k=int(config["codebook_size"]),
                seed=seed,
                sample_size=int(config["kmeans_sample"]),
            )
        chunk = int(config["max_tokens"]) - 2  # START + chunk (+ END) ≤ max_tokens
        offset = len(SPECIALS)
        trim_db = float(config.get("trim_db", 0.0))
        trimmed = [0]

        def chunks(i: int) -> list[np.ndarray]:
            ids, levels = dsp.encode_file_levels(paths[i], book)
            # Only the spans that sound: without leading silence, trailing release and breaks
            # of over a second. Trained on those, the model learnt a silence code that it
            # never left (two of eight 10 s clips held it throughout; one recording of the
            # chorale corpus has 38 s of silence inside it). Each span ends with END.
            spans = dsp.sounding_spans(levels, trim_db=trim_db)
            trimmed[0] += ids.size - sum(stop - first for first, stop in spans)
            out = []
            for first, stop in spans:
                span = ids[first:stop].astype(np.int32) + offset
                # START then tokens; a span's last chunk ends with END. Sampling restarts a
                # phrase on END (`restarts_phrases`), so a piece lasts the seconds asked for.
                for s in range(0, len(span), chunk):
                    part = span[s : s + chunk]
                    last = s + chunk >= len(span)
                    if len(part) >= 2 or (last and len(part) >= 1):
                        tail = [END_ID] if last else []
                        out.append(np.concatenate([[START_ID], part, tail]).astype(np.int32))
            return out

        train = [c for i in train_idx for c in chunks(i)]
        val = [c for i in val_idx for c in chunks(i)]
        if not train:
            raise ValueError("no recording of the corpus produced any frames")
        vocab = [*SPECIALS, *(f"a{k}" for k in range(book.size))]
        stats = {
            "recordings_train": len(train_idx),
            "recordings_val": len(val_idx),
            "pieces_train": len(train),
            "pieces_val": len(val),
            "tokens_train": int(sum(len(a) for a in train)),
            "tokens_val": int(sum(len(a) for a in val)),
            "vocab_size": len(vocab),
            "codebook_size": book.size,
            "codes_used": int((book.counts > 0).sum()),
            "frame_rate": round(dsp.FRAME_RATE, 3),
            "frames_trimmed": trimmed[0],  # silent or fading frames not trained on
            "decoder": dsp.decoder_used(book, str(config.get("decoder", "phase"))),
        }
        return Prepared(
            vocab=vocab,
            train=train,
            val=val,
            stats=stats,
            state={
                **{STATE_PREFIX + k: v for k, v in book.to_arrays().items()},
                **decoder_state(config),
            },
        )

    def tokenize(self, text: str) -> list[str]:
        return [f"a{i}" for i in token_ids(text)]

    def decode(self, *, vocab: list[str], ids: list[int] | np.ndarray) -> str:
        """Sampled ids → token text. An END closes a phrase and the next one follows (the
        sampler restarts on it), so it is skipped rather than cutting the piece short."""
        return self.detokenize([vocab[int(i)] for i in ids if vocab[int(i)] not in SPECIALS])

    def detokenize(self, tokens: list[str]) -> str:
        # A leading space: the generation service glues the prime's text and this together.
        return " " + " ".join(t for t in tokens if t not in SPECIALS)

    # --- pieces ------------------------------------------------------------------------------
    def describe(self, text: str) -> dict[str, Any]:
        if text.lstrip().startswith("{"):
            return {"title": str(parse_tune_text(text).get("title") or "")}
        return {"title": "", "meter": "", "key": ""}

    def normalise(self, text: str) -> str:
        """A recording is the same recording whatever its title: its samples' hash."""
        if text.lstrip().startswith("{"):
            return parse_tune_text(text)["sha256"]
        return text

    def finish(self, text: str, *, title: str) -> str:
        return " ".join(text.split())

    def validate(self, text: str) -> dict[str, Any]:
        try:
            n = len(token_ids(text))
            return {
                "parses": n > 0,
                "plays": None,
                "bar_accuracy": None,
                "n_notes": 0,
                "messages": [] if n else ["no audio tokens"],
                "tokens": n,
            }
        except ValueError as exc:
            return {
                "parses": False,
                "plays": False,
                "bar_accuracy": None,
                "n_notes": 0,
                "messages": [str(exc)],
            }

    def to_midi(self, text: str) -> bytes:
        raise ValueError("an audio piece has no notes, so no MIDI")

    def to_musicxml(self, text: str) -> bytes:
        raise ValueError("an audio piece has no notes, so no score")

    def grammar(self, *, vocab: list[str]) -> PhraseMask:
        """Audio tokens, and END (a phrase's end: the sampler then starts a new phrase, see
        `restarts_phrases`) except straight after a START, so no phrase is empty. Models
        trained before END was taught give it almost no weight."""
        allowed = np.array([tok not in SPECIALS for tok in vocab], dtype=bool)
        with_end = allowed.copy()
        if len(vocab) > END_ID and vocab[END_ID] == SPECIALS[END_ID]:
            with_end[END_ID] = True
        return PhraseMask(allowed=allowed, with_end=with_end)

    def codebook(self, state: dict[str, np.ndarray]):
        from ..audio import dsp

        return dsp.Codebook.from_arrays(
            {k[len(STATE_PREFIX) :]: v for k, v in state.items() if k.startswith(STATE_PREFIX)}
        )

    def render(self, *, text: str, state: dict[str, np.ndarray], seed: int) -> tuple[bytes, dict]:
        """A piece's tokens → (WAV bytes, checks: seconds, RMS, spectral flatness, plays)."""
        from ..audio import dsp

        book = self.codebook(state)
        ids = token_ids(text)
        if any(i >= book.size for i in ids):
            raise ValueError("the piece uses codewords its checkpoint's codebook lacks")
        decoder = str(state.get(STATE_PREFIX + "decoder", "phase"))
        refine = int(state.get(STATE_PREFIX + "decoder_refine", 0))
        y = dsp.decode_tokens(np.asarray(ids), book, seed=seed, decoder=decoder, refine=refine)
        rms, flatness = dsp.loudness_and_flatness(y)
        checks = {
            "decoder": dsp.decoder_used(book, decoder),
            "seconds": round(y.size / dsp.SAMPLE_RATE, 2),
            "rms": round(rms, 4),
            "spectral_flatness": round(flatness, 5) if flatness is not None else None,
            "plays": bool(rms > 1e-3),
        }
        return dsp.wav_bytes(y), checks

    def encode_audio_prime(
        self, *, state: dict[str, np.ndarray], data: bytes, name: str, max_seconds: float = 30.0
    ) -> str:
        """An uploaded recording → prime token text with the checkpoint's codebook."""
        from ..audio import dsp

        suffix = Path(name).suffix.lower()
        if suffix not in dsp.AUDIO_SUFFIXES:
            raise dsp.AudioError(f"{name} is not a WAV, FLAC or OGG file")
        fd, tmp = tempfile.mkstemp(suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            dsp.probe(tmp, name=name, max_seconds=max_seconds)
            ids = dsp.encode_samples(dsp.load_clip(tmp), self.codebook(state))
        finally:
            Path(tmp).unlink(missing_ok=True)
        return " ".join(f"a{int(i)}" for i in ids)

    # --- import ------------------------------------------------------------------------------
    def claims_source(self, source: str) -> bool:
        return source.startswith("music21:bach-audio")  # chorales rendered as recordings

    def import_items(
        self,
        *,
        source: str,
        upload: tuple[str, bytes] | None,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        processes: int | None = None,
    ) -> list[AudioItem]:
        """Recordings → canonical mono 22.05 kHz FLAC files under MEDIA_ROOT, one item each.

        `source`: a folder (every .wav/.flac/.ogg below it), one file, or `music21:bach-audio`
        (Bach chorales from music21's corpus rendered with FluidSynth, nothing downloaded;
        options `#limit=40,parts=melody|all`); `upload`: (file name, bytes). A bad file in a
        folder is listed as a failure; a bad upload refuses the import with the reason.
        Recordings are read one by one in this process (`processes` is not used)."""
        from ..audio import dsp
        from .midi_notes import split_source

        base, options = split_source(source or "")
        if limit is None and "limit" in options:
            if not options["limit"].isdigit() or int(options["limit"]) < 1:
                raise _refused(f"limit must be a positive number (got {options['limit']})")
            limit = int(options["limit"])
        folder = media_root() / CORPUS_FOLDER
        if upload is not None:
            name, data = upload
            return [self._import_upload(name=name, data=data, folder=folder)]
        if base.startswith("music21:"):
            if base != "music21:bach-audio":
                raise _refused(f"the audio way imports music21:bach-audio, not {base!r}")
            parts = options.get("parts", "melody")
            if parts not in PARTS:
                raise _refused(f"parts must be one of {', '.join(PARTS)} (got {parts!r})")
            return render_bach(
                limit=limit or DEFAULT_BACH_LIMIT, parts=parts, folder=folder, progress=progress
            )
        path = Path(base)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in dsp.AUDIO_SUFFIXES
            )
            if not files:
                raise _refused(f"{base} holds no .wav, .flac or .ogg files")
            pairs = [(p, str(p.relative_to(path))) for p in files[:limit]]
        elif path.is_file():
            pairs = [(path, path.name)]
        else:
            raise _refused(f"{base} does not exist")
        items = []
        for n, (p, rel) in enumerate(pairs, start=1):
            items.append(_import_file(p, name=rel, number=n, folder=folder))
            if progress:
                progress(n, len(pairs))
        return items

    def _import_upload(self, *, name: str, data: bytes, folder: Path) -> AudioItem:
        from ..audio import dsp

        suffix = Path(name).suffix.lower()
        if suffix not in dsp.AUDIO_SUFFIXES:
            raise _refused(f"{name} is not a WAV, FLAC or OGG file")
        fd, tmp = tempfile.mkstemp(suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            item = _import_file(Path(tmp), name=name, number=1, folder=folder)
        finally:
            Path(tmp).unlink(missing_ok=True)
        if item.failure:
            raise _refused(item.failure)
        return item


def _import_file(path: Path, *, name: str, number: int, folder: Path, title: str = "") -> AudioItem:
    from ..audio import dsp

    try:
        final, seconds, sha = dsp.write_canonical(path, name=name, folder=folder)
    except dsp.AudioError as exc:
        return AudioItem(file=name, number=number, failure=str(exc))
    rel = str(final.relative_to(media_root()))
    title = title or Path(name).stem
    return AudioItem(
        file=name,
        number=number,
        text=tune_text(data_name=rel, seconds=seconds, sha256=sha, title=title),
        data_name=rel,
    )


def render_bach(
    *, limit: int, parts: str, folder: Path, progress: Callable[[int, int], None] | None = None
) -> list[AudioItem]:
    """Bach chorales from music21's bundled corpus → MIDI (the MIDI way) → FluidSynth → FLAC."""
    from ..render import midi_to_audio
    from .midi_notes import WAY as MIDI

    midi_items = MIDI.import_items(source=f"music21:bach#parts={parts}", upload=None, limit=limit)
    out = []
    for n, item in enumerate(midi_items, start=1):
        if item.failure:
            out.append(AudioItem(file=item.file, number=n, failure=item.failure))
            continue
        title = MIDI.describe(item.text).get("title") or Path(item.file).stem
        try:
            wav = midi_to_audio(midi=MIDI.to_midi(item.text), fmt="wav")
        except ValueError as exc:
            out.append(AudioItem(file=item.file, number=n, failure=f"cannot render: {exc}"))
            continue
        fd, tmp = tempfile.mkstemp(suffix=".wav")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(wav)
            out.append(
                _import_file(Path(tmp), name=item.file, number=n, folder=folder, title=title)
            )
        finally:
            Path(tmp).unlink(missing_ok=True)
        if progress:
            progress(n, len(midi_items))
    return out


def _refused(message: str) -> ValueError:
    return ImportRefused(message)


WAY = AudioWay()
