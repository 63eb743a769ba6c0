"""Fuzzed bad input: ABC and MIDI imports, the generate form and the API.

Hundreds of generated cases (the counts are in FUZZ_EXAMPLES); each must end as a clear
refusal or a success, never a 500, an exception out of a service, or a half-written row.
The examples are derived from fixed seeds (derandomize=True), so every run tries the same
cases and a failure reproduces."""

from __future__ import annotations

import json
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.models import Corpus, GenerationJob, ImportJob, JobStatus, Piece, Tune
from generator.services import corpus_import
from musiclib.ways.abc_text import MAX_TUNE_CHARS
from musiclib.ways.midi_notes import MAX_FILE_BYTES, parse_midi_file
from tests.factories import oneills_tunes

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

FUZZ_EXAMPLES = {
    "abc": 60,
    "midi_read": 250,
    "midi_import": 40,
    "form": 80,
    "api": 100,
    "query": 60,
}
FUZZ = dict(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@cache
def real_tunes() -> tuple[str, ...]:
    return tuple(oneills_tunes(8))


@cache
def chorale_midi() -> bytes:
    """A real MIDI file: a Bach chorale from music21's corpus, written by music21."""
    from music21 import corpus
    from music21.midi.translate import streamToMidiFile

    return streamToMidiFile(corpus.parse("bach/bwv269")).writestr()


# --- mutations ---------------------------------------------------------------------------------
ABC_ALPHABET = st.sampled_from(
    list("ABCDEFGabcdefgz|:[]()^_=,'/0123456789<>{}!\"-~.+%&*# \n\tXTMLKQ")
    + ["\x00", "é", "\u202e", "\ufeff", "K:", "M:", "L:", "X:", "T:", "|:", ":|", "[K:", "\r\n"]
)


@st.composite
def mutated_text(draw, base: str) -> str:
    text = base
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup", "truncate"]))
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        if op == "insert":
            text = text[:at] + "".join(draw(st.lists(ABC_ALPHABET, max_size=20))) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif op == "replace" and text:
            text = text[:at] + draw(ABC_ALPHABET) + text[at + 1 :]
        elif op == "dup":
            text = text[:at] + text[at : at + draw(st.integers(1, 200))] * 3 + text[at:]
        else:
            text = text[:at]
    return text


@st.composite
def abc_uploads(draw) -> bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "several", "random", "bytes"]))
    tunes = real_tunes()
    if kind == "mutated":
        return draw(mutated_text(draw(st.sampled_from(tunes)))).encode("utf-8", "surrogatepass")
    if kind == "several":
        picked = draw(st.lists(st.sampled_from(tunes), min_size=2, max_size=4))
        return "\n\n".join(draw(mutated_text(t)) for t in picked).encode()
    if kind == "random":
        return draw(st.text(max_size=600)).encode("utf-8", "replace")
    return draw(st.binary(max_size=600))


@st.composite
def mutated_midi(draw) -> bytes:
    data = bytearray(chorale_midi())
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "flip", "set", "truncate", "delete", "insert"]))
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0xF0, 0xF7]))
        elif op == "truncate":
            del data[at:]
            if not data:
                break
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        if not data:
            break
    return bytes(data)


# --- imports -----------------------------------------------------------------------------------
def _assert_import_is_whole(job: ImportJob, corpus: Corpus, before: int) -> None:
    job.refresh_from_db()
    assert job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    assert job.finished_at is not None
    added = corpus.tunes.count() - before
    assert added == job.imported  # every tune reported is stored, nothing more
    if job.status == JobStatus.FAILED:
        assert job.error or job.failures
    for failure in job.failures:
        assert isinstance(failure["reason"], str) and failure["reason"]
    for tune in corpus.tunes.all():
        assert len(tune.text) <= MAX_TUNE_CHARS
        assert tune.content_hash


def test_fuzzed_abc_uploads_are_imported_or_refused_with_reasons(in_process_import):
    corpus = Corpus.objects.create(name="fuzz abc", source="tests")
    seen = {"succeeded": 0, "failed": 0}

    @settings(max_examples=FUZZ_EXAMPLES["abc"], **FUZZ)
    @given(abc_uploads())
    def check(raw: bytes) -> None:
        before = corpus.tunes.count()
        job = corpus_import(corpus=corpus, upload=("fuzz.abc", raw))
        _assert_import_is_whole(job, corpus, before)
        seen[job.status] += 1

    check()
    assert seen["succeeded"] and seen["failed"]  # the cases reach both outcomes


def test_fuzzed_midi_files_parse_or_fail_with_a_reason():
    outcomes = {"ok": 0, "refused": 0}

    @settings(max_examples=FUZZ_EXAMPLES["midi_read"], **FUZZ)
    @given(mutated_midi())
    def check(data: bytes) -> None:
        item = parse_midi_file(data=data, name="fuzz.mid", number=1, parts="all")
        if item.failure:
            assert isinstance(item.failure, str) and len(item.failure) > 5
            outcomes["refused"] += 1
        else:
            assert item.text
            outcomes["ok"] += 1

    check()
    assert outcomes["ok"] and outcomes["refused"]


def test_fuzzed_midi_uploads_import_whole_or_not_at_all():
    corpus = Corpus.objects.create(name="fuzz midi", source="tests", way="midi")

    @settings(max_examples=FUZZ_EXAMPLES["midi_import"], **FUZZ)
    @given(mutated_midi())
    def check(data: bytes) -> None:
        before = corpus.tunes.count()
        job = corpus_import(corpus=corpus, upload=("fuzz.mid", data))
        _assert_import_is_whole(job, corpus, before)

    check()


def test_the_size_limits_refuse_with_clear_messages(in_process_import, settings):
    corpus = Corpus.objects.create(name="limits", source="tests")
    long_tune = real_tunes()[0].rstrip("\n") + "\n" + "|GABc dedB" * (MAX_TUNE_CHARS // 10)
    job = corpus_import(corpus=corpus, upload=("long.abc", long_tune.encode()))
    assert job.status == JobStatus.FAILED
    assert f"longer than {MAX_TUNE_CHARS} characters" in job.failures[0]["reason"]
    settings.MAX_UPLOAD_BYTES = 1000
    job = corpus_import(corpus=corpus, upload=("big.abc", b"X:1\n" * 400))
    assert job.status == JobStatus.FAILED and "larger than 1000 bytes" in job.error
    item = parse_midi_file(
        data=b"MThd" + b"\0" * MAX_FILE_BYTES, name="big.mid", number=1, parts="all"
    )
    assert "are refused" in item.failure
    assert Tune.objects.filter(corpus=corpus).count() == 0


# --- the generate form ------------------------------------------------------------------------
FORM_VALUE = st.one_of(
    st.text(max_size=30),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "0", "1", "16", "17", "0.1", "3.0", "3.01", "1e308", "nan", "-0", "６"]),
)


@st.composite
def generate_forms(draw, checkpoint_ids: list[int]) -> dict[str, str]:
    form = {
        "checkpoint": draw(
            st.one_of(st.sampled_from([str(i) for i in checkpoint_ids]), FORM_VALUE)
        ),
        "temperature": draw(st.one_of(st.just("1.0"), FORM_VALUE)),
        "count": draw(st.one_of(st.just("1"), FORM_VALUE)),
        "max_length": draw(st.one_of(st.just("64"), FORM_VALUE)),
        "top_k": draw(st.one_of(st.just("0"), FORM_VALUE)),
        "top_p": draw(st.one_of(st.just("1"), st.just("0.9"), FORM_VALUE)),
        "seed": draw(st.one_of(st.just(""), FORM_VALUE)),
        "meter": draw(st.one_of(st.just(""), st.sampled_from(["6/8", "4/4", "C|"]), FORM_VALUE)),
        "key": draw(st.one_of(st.just(""), st.sampled_from(["G", "Dmix", "Ador"]), FORM_VALUE)),
        "opening": draw(st.one_of(st.just(""), mutated_text("|:GAG GBd|"), st.text(max_size=500))),
    }
    drop = draw(st.sets(st.sampled_from(sorted(form)), max_size=3))
    return {
        k: v.replace("\x00", "") if draw(st.booleans()) else v
        for k, v in form.items()
        if k not in drop
    }


def test_fuzzed_generate_forms_never_fail_the_server(trained_run, staff_client):
    checkpoints = list(trained_run.checkpoints.values_list("pk", flat=True))
    outcomes = {"queued": 0, "refused": 0}

    @settings(max_examples=FUZZ_EXAMPLES["form"], **FUZZ)
    @given(generate_forms(checkpoints))
    def check(form: dict[str, str]) -> None:
        jobs = GenerationJob.objects.count()
        response = staff_client.post("/generate/", form)
        assert response.status_code in (200, 302), (form, response.status_code)
        if response.status_code == 302:  # a job was made, with parameters in range
            job = GenerationJob.objects.order_by("-pk").first()
            assert GenerationJob.objects.count() == jobs + 1
            assert 1 <= job.count <= 16 and 16 <= job.max_length <= 5000
            assert 0.1 <= job.temperature <= 3.0 and job.status == JobStatus.QUEUED
            outcomes["queued"] += 1
        else:  # the form again, with its errors, and no row
            assert GenerationJob.objects.count() == jobs
            assert b"error" in response.content.lower()
            outcomes["refused"] += 1

    check()
    assert outcomes["queued"] and outcomes["refused"]


# --- the API -----------------------------------------------------------------------------------
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
API_FIELDS = [
    "run",
    "checkpoint",
    "count",
    "temperature",
    "top_k",
    "top_p",
    "max_length",
    "seed",
    "prime",
    "grammar",
    "meter",
    "key",
    "opening",
]


@st.composite
def api_bodies(draw, run_id: int, checkpoint_ids: list[int]) -> bytes:
    kind = draw(st.sampled_from(["fields", "fields", "fields", "json", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(JSON_VALUE)).encode()
    body = (
        {"run": run_id}
        if draw(st.booleans())
        else {"checkpoint": draw(st.sampled_from(checkpoint_ids))}
    )
    for field in draw(st.sets(st.sampled_from(API_FIELDS), max_size=5)):
        body[field] = draw(JSON_VALUE)
    return json.dumps(body).encode()


def test_fuzzed_api_generation_requests_are_answered_without_a_500(trained_run, staff_client):
    checkpoints = list(trained_run.checkpoints.values_list("pk", flat=True))
    statuses: dict[int, int] = {}

    @settings(max_examples=FUZZ_EXAMPLES["api"], **FUZZ)
    @given(api_bodies(trained_run.pk, checkpoints))
    def check(body: bytes) -> None:
        jobs = GenerationJob.objects.count()
        response = staff_client.post("/api/v1/generate/", body, content_type="application/json")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (202, 400, 404, 413, 415), (body, response.status_code)
        if response.status_code == 202:
            assert GenerationJob.objects.count() == jobs + 1
        else:
            assert GenerationJob.objects.count() == jobs
            error = response.json()["error"]
            assert error["code"] and error["message"]

    check()
    assert 202 in statuses and 400 in statuses


QUERY_KEYS = [
    "q",
    "way",
    "key",
    "meter",
    "run",
    "corpus",
    "valid",
    "ordering",
    "cursor",
    "page_size",
    "status",
    "novelty_min",
    "likely_copy",
    "checkpoint",
    "created_after",
]


def test_fuzzed_api_list_queries_are_answered_without_a_500(trained_run, client):
    @settings(max_examples=FUZZ_EXAMPLES["query"], **FUZZ)
    @given(
        st.sampled_from(
            [
                "/api/v1/pieces/",
                "/api/v1/tunes/",
                "/api/v1/runs/",
                "/api/v1/jobs/",
                "/api/v1/corpora/",
                "/",
            ]
        ),
        st.dictionaries(
            st.sampled_from(QUERY_KEYS),
            st.text(max_size=30).map(lambda s: s.replace("\x00", "")),
            max_size=4,
        ),
    )
    def check(path: str, query: dict[str, str]) -> None:
        response = client.get(path, query)
        assert response.status_code in (200, 400, 404, 429), (path, query, response.status_code)

    check()
    assert Piece.objects.count() >= 1
