"""How generated pieces begin: one rule for the generate page, the API and every caller.

A request may open its pieces with (one of)
- `prime`: the way's own text (ABC header fields and notes, MIDI event text), API only;
- `meter`, `key`, `opening`: ABC header fields and first notes, built into a prime here;
- a MIDI-way primer: `primer_tune` (a tune of the run's corpus) or `primer_midi` (an
  uploaded MIDI file), cut to `primer_bars` bars;
- an audio-way recording, `prime_audio`, that the pieces continue, and `seconds` of audio.

`generation_prime_build` checks which of these go together and with the checkpoint's way,
builds the prime a job stores and checks every symbol of it against the model's vocabulary.
Every refusal is a ServiceError naming the field it is about, by the names above (the API's
request fields); the generate form maps `prime`, which it does not have, to the form as a
whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from common.errors import ServiceError
from musiclib.ways import get_way, ways_taking
from musiclib.ways.abc_text import default_unit_length

from ..models import Checkpoint, TrainingRun, Tune
from .checkpoint_files import load_checkpoint_state
from .uploads import Upload, upload_read

DEFAULT_PRIMER_BARS = 4
# A job's `prime` holds the primer's event text; where it came from rides on a first line
# `%primer {json}` (the model never sees it), so the job row needs no new column and a
# reproduced piece keeps its provenance with its prime.
PRIMER_TAG = "%primer "
MIN_TOKENS = 16  # the shortest piece a job makes (generation_job_create's max_length)
HEADER_FORBIDDEN = "\n\r%:[]"  # a meter or key is one header value, not more header lines

# A primer's refusals are ServiceErrors naming primer_tune, primer_midi or primer_bars; the
# old name stays for callers that catch it.
PrimerError = ServiceError


@dataclass(frozen=True)
class GenerationPrime:
    """What a generation job is given: the prime it stores, and for an audio run asked for
    `seconds`, the length in tokens (None: the request's own `max_length`)."""

    prime: str
    max_length: int | None = None


def primer_build(
    *,
    run: TrainingRun,
    tune_id: int | None = None,
    upload: Upload | None = None,
    bars: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """A MIDI-way primer: the first `bars` bars of a tune of the run's corpus, or of an
    uploaded MIDI file, as event text the run's model knows every symbol of.

    Returns (event text, its source for the job). The upload is read in memory and never
    stored. Raises ServiceError naming the field (`primer_tune`, `primer_midi`,
    `primer_bars`); nothing is written either way."""
    from musiclib.ways import midi_notes

    field = "primer_midi" if upload is not None else "primer_tune"
    if (tune_id is None) == (upload is None):
        raise ServiceError(
            "give a corpus piece or a MIDI file as the primer, not both", field="primer_midi"
        )
    if ("midi_file" if upload is not None else "tune") not in get_way(
        run.way
    ).capabilities.openings:
        raise ServiceError(
            "a primer from a corpus piece or a MIDI file is for MIDI runs (primer_tune and "
            f"primer_midi are for MIDI-way runs); {run} is {run.get_way_display()}: give its "
            "opening as meter, key and notes instead",
            field=field,
        )
    bars = DEFAULT_PRIMER_BARS if bars is None else int(bars)
    if not 1 <= bars <= midi_notes.MAX_PRIMER_BARS:
        raise ServiceError(
            f"primer_bars must be 1..{midi_notes.MAX_PRIMER_BARS} (got {bars})", field="primer_bars"
        )
    if tune_id is not None:
        tune = (
            Tune.objects.filter(pk=tune_id, corpus_id=run.corpus_id)
            .only("pk", "title", "number", "text", "corpus_id")
            .first()
        )
        if tune is None:
            raise ServiceError(
                f"there is no tune {tune_id} in {run.corpus}, the corpus run {run.pk} learned",
                field=field,
            )
        what = f"tune {tune.pk} ({tune.title or f'No. {tune.number}'})"
        try:
            text = midi_notes.first_bars(tune.text, bars=bars)
        except midi_notes.MidiError as exc:
            raise ServiceError(f"{what} cannot be a primer: {exc}", field=field) from exc
        source: dict[str, Any] = {"kind": "tune", "tune": tune.pk, "title": tune.title}
    else:
        name, data = upload_read(upload, field=field)
        what = f"the file {name}"
        parts = midi_notes.vocab_parts(run.vocab)
        try:
            text = midi_notes.midi_primer_text(data=data, name=name, bars=bars, parts=parts)
        except midi_notes.MidiError as exc:
            raise ServiceError(f"{what} cannot be a primer: {exc}", field=field) from exc
        source = {"kind": "midi", "file": name, "parts": parts}
    try:
        ids = get_way(run.way).encode_prime(vocab=run.vocab, prime=text)
    except ValueError as exc:
        raise ServiceError(f"{what} cannot open this model's pieces: {exc}", field=field) from exc
    items = midi_notes.parse_text(text).items
    source["bars"] = items.count("|") + (0 if _ends_bar(items) else 1)
    source["tokens"] = len(ids) - 1
    return text, source


def _ends_bar(items: list) -> bool:
    """The primer ends with a bar line followed only by a meter change."""
    rest = [it for it in reversed(items) if not (isinstance(it, str) and it.startswith("M:"))]
    return bool(rest) and rest[0] == "|"


def prime_compose(*, text: str, source: dict[str, Any] | None) -> str:
    """What a job stores: the source line (when there is one) and the primer's text."""
    if not source:
        return text
    return f"{PRIMER_TAG}{json.dumps(source, sort_keys=True, ensure_ascii=False)}\n{text}"


def prime_split(prime: str) -> tuple[dict[str, Any] | None, str]:
    """A stored prime → (its source or None, the text the model is primed with)."""
    if not (prime or "").startswith(PRIMER_TAG):
        return None, prime or ""
    line, _, body = prime.partition("\n")
    try:
        source = json.loads(line[len(PRIMER_TAG) :])
    except ValueError:
        raise ServiceError("the prime's %primer line is not valid JSON", field="prime") from None
    if not isinstance(source, dict):
        raise ServiceError("the prime's %primer line is not a JSON object", field="prime")
    return source, body


def audio_prime_encode(*, checkpoint: Checkpoint, name: str, data: bytes) -> str:
    """An uploaded recording → the token text an audio model continues (its prime)."""
    way = get_way(checkpoint.run.way)
    if not hasattr(way, "encode_audio_prime"):
        raise ServiceError("only an audio model continues a recording", field="prime_audio")
    try:
        return way.encode_audio_prime(state=load_checkpoint_state(checkpoint), data=data, name=name)
    except ServiceError:
        raise
    except ValueError as exc:  # not audio, too short, unreadable: said by the way
        raise ServiceError(str(exc), field="prime_audio") from exc


def abc_header_prime(*, meter: str, key: str, opening: str) -> list[tuple[str, str]]:
    """`M:<meter>\\nL:<unit>\\nK:<key>\\n<opening>` as far as given, in parts: (the field
    each part comes from, its text)."""
    if not meter:
        return []
    parts = [("meter", f"M:{meter}\nL:{default_unit_length(meter)}\n")]
    if key:
        parts.append(("key", f"K:{key}\n"))
        if opening:
            parts.append(("opening", opening))
    return parts


def _check_symbols(run: TrainingRun, parts: list[tuple[str, str]]) -> None:
    """Every symbol of the prime is one the model saw; a refusal names the field whose part
    first brings an unknown one (the meter's header, the key's, or the opening notes)."""
    way = get_way(run.way)
    text = ""
    for field, part in parts:
        text += part
        try:
            way.encode_prime(vocab=run.vocab, prime=text)
        except ValueError as exc:
            raise ServiceError(str(exc), field=field) from exc


def _refuse(problems: list[ServiceError]) -> None:
    if problems:
        raise ServiceError.of(problems)


# The request fields that say how pieces begin, in words, for refusals.
FIELD_WORDS = {
    "prime": "a prime (the opening as text)",
    "meter": "a meter",
    "key": "a key",
    "opening": "opening notes",
    "primer_tune": "a primer from a corpus piece",
    "primer_midi": "a primer from a MIDI file",
    "seconds": "a length in seconds",
    "prime_audio": "an opening recording",
}


def generation_prime_build(
    *,
    checkpoint: Checkpoint,
    prime: str = "",
    meter: str = "",
    key: str = "",
    opening: str = "",
    primer_tune: int | None = None,
    primer_midi: Upload | None = None,
    primer_bars: int | None = None,
    prime_audio: Upload | None = None,
    seconds: float | None = None,
) -> GenerationPrime:
    """The opening of the pieces a request asks for, checked and built (see the module).

    Raises ServiceError naming its field (several at once when they are independent, e.g.
    a key without a meter and an opening without a key), UploadTooLarge for an upload over
    settings.MAX_UPLOAD_BYTES. Uploads are read in memory and never stored."""
    run = checkpoint.run
    meter, key = (meter or "").strip(), (key or "").strip()
    opening = (opening or "").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    prime = prime or ""

    problems: list[ServiceError] = []
    if prime.startswith(PRIMER_TAG):
        problems.append(
            ServiceError(
                "a prime may not start with %primer: give primer_tune or primer_midi",
                field="prime",
            )
        )
    for name, value, example in (("meter", meter, "6/8"), ("key", key, "D")):
        if any(ch in value for ch in HEADER_FORBIDDEN):
            problems.append(
                ServiceError(f"a {name} is one short value, like {example}", field=name)
            )
    _refuse(problems)

    given = [
        f for f, v in (("prime", prime), ("meter", meter), ("key", key), ("opening", opening)) if v
    ]
    has_primer = primer_tune is not None or primer_midi is not None
    primer_field = "primer_midi" if primer_midi is not None else "primer_tune"
    if primer_tune is not None and primer_midi is not None:
        raise ServiceError(
            "give a corpus piece or a MIDI file as the primer, not both", field="primer_midi"
        )
    if primer_bars is not None and not has_primer:
        raise ServiceError(
            "the number of bars (primer_bars) goes with a primer. Give primer_tune or "
            "primer_midi with it",
            field="primer_bars",
        )
    if has_primer and given:
        raise ServiceError(
            "give a primer, or prime/meter/key/opening, not both", field=primer_field
        )

    # What the run's way takes: one rule, here, for the generate page and the API alike.
    caps = get_way(run.way).capabilities
    audio = caps.length == "seconds" or "recording" in caps.openings
    asked = (
        ("prime_audio", prime_audio),
        ("primer_tune", primer_tune),
        ("primer_midi", primer_midi),
        ("seconds", seconds),
        ("prime", prime),
        ("meter", meter),
        ("key", key),
        ("opening", opening),
    )
    for name, value in asked:
        if value in (None, "") or name in caps.generation_fields:
            continue
        takers = " and ".join(w.noun for w in ways_taking(name)) or "no"
        problems.append(
            ServiceError(
                f"{FIELD_WORDS[name]} is for {takers} runs; run {run.pk} is "
                f"{run.get_way_display()}: {caps.starts_from()}.",
                field=name,
            )
        )
    _refuse(problems)
    if not run.vocab:
        raise ServiceError("the checkpoint's run has no vocabulary", field="checkpoint")

    if has_primer:
        text, source = primer_build(
            run=run, tune_id=primer_tune, upload=primer_midi, bars=primer_bars
        )
        return GenerationPrime(prime=prime_compose(text=text, source=source))
    if audio:
        max_length = None
        if seconds is not None:
            max_length = max(MIN_TOKENS, caps.tokens_for(float(seconds)))
        text = ""
        if prime_audio is not None:
            name, data = upload_read(prime_audio, field="prime_audio")
            text = audio_prime_encode(checkpoint=checkpoint, name=name, data=data)
        return GenerationPrime(prime=text, max_length=max_length)

    if prime and (meter or key or opening):
        raise ServiceError("give a prime, or meter/key/opening, not both", field="prime")
    if key and not meter:
        problems.append(
            ServiceError("give a meter as well: a tune names its meter first", field="key")
        )
    if opening and not (meter and key):
        problems.append(
            ServiceError("give a meter and a key for the opening notes", field="opening")
        )
    _refuse(problems)
    parts = abc_header_prime(meter=meter, key=key, opening=opening) or [("prime", prime)]
    _check_symbols(run, parts)
    return GenerationPrime(prime="".join(text for _, text in parts))
