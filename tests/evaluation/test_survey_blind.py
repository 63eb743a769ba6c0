"""Nothing a listener receives tells a generated piece from a human tune: not the page, not
the audio's URL, headers, file name or tags, not its codec or its length rule."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.test import Client

from evaluation.survey.audio import TAIL_SECONDS, normalise_midi, parse_midi
from evaluation.survey.models import Listener
from musiclib.render import audio_duration
from musiclib.ways import get_way
from tests.evaluation.survey_builders import MACHINE_TITLE, make_survey

pytestmark = pytest.mark.django_db


def probe(data: bytes) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "clip")
        path.write_bytes(data)
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            check=True,
        ).stdout
    return json.loads(out)


def bar_seconds(text: str, tempo_qpm: float) -> float:
    _, _, (num, den) = parse_midi(get_way("abc").to_midi(text))
    return 4 * num / den * 60 / tempo_qpm


def test_the_normalised_midi_keeps_notes_and_drops_names_texts_and_tempos():
    abc = "X:1\nT:A Secret Title\nC:Composer Name\nM:3/4\nL:1/4\nQ:1/4=200\nK:G\n" + (
        "G A B | c d e | " * 12
    )
    clip = normalise_midi(get_way("abc").to_midi(abc), tempo_qpm=90, target_seconds=10)
    # 3/4 at 90 quarter notes a minute: 2 s a bar, so 5 whole bars in 10 s
    assert (clip.bars, clip.seconds) == (5, pytest.approx(10.0))
    assert b"Secret" not in clip.midi and b"Composer" not in clip.midi
    assert clip.midi.count(b"\xff\x51\x03") == 1  # one tempo event: ours
    assert b"\xff\x51\x03" + round(60_000_000 / 90).to_bytes(3, "big") in clip.midi
    division, events, signature = parse_midi(clip.midi)
    assert signature == (3, 4)
    last_note = max(t for t, m in events if m[0] & 0xF0 in (0x80, 0x90))
    assert last_note <= 5 * 3 * division  # nothing sounds past the cut at the bar line


@pytest.mark.slow
def test_clips_of_machine_and_human_pieces_are_indistinguishable_in_every_byte_served():
    survey = make_survey(tunes=3, pieces=3, clips_per_listener=6)
    clips = list(survey.clips.select_related("piece", "tune"))
    assert {c.source for c in clips} == {"machine", "human"} and len(clips) == 6
    titles = [MACHINE_TITLE.encode()] + [c.tune.title.encode() for c in clips if c.tune]

    client = Client()
    client.post(f"/survey/{survey.pk}/", {"consent": "on"})
    listener = Listener.objects.get()
    headers, probes = {}, {}
    for clip in clips:
        url = f"/survey/audio/{clip.token}/"
        response = client.get(url)
        assert response.status_code == 200
        data = b"".join(response)  # streamed from the storage
        part = client.get(url, HTTP_RANGE="bytes=100-199")  # seeking asks for ranges
        assert part.status_code == 206 and b"".join(part) == data[100:200]
        for title in titles:
            assert title not in data
        assert b"abc2midi" not in data and b"TITLE=" not in data.upper()
        varying = ("Content-Length", "Last-Modified")
        headers[clip.source] = {k: v for k, v in response.headers.items() if k not in varying}
        info = probe(data)
        (stream,) = info["streams"]
        # no tag but the encoder's name (no title, artist, comment, version)
        assert set(info["format"].get("tags", {})) | set(stream.get("tags", {})) <= {"encoder"}
        probes.setdefault(clip.source, []).append(
            (
                info["format"]["format_name"],
                info["format"].get("tags", {}),
                stream["codec_name"],
                stream["sample_rate"],
                stream["channels"],
                stream.get("tags", {}),
            )
        )
        # the length rule: whole bars of the piece's meter at the survey's tempo, plus the tail
        text = clip.piece.text if clip.piece else clip.tune.text
        assert clip.seconds == pytest.approx(clip.bars * bar_seconds(text, survey.tempo_qpm))
        assert clip.seconds <= survey.clip_seconds
        assert audio_duration(data=data) == pytest.approx(clip.seconds + TAIL_SECONDS, abs=0.01)
        # 128 random bits, and the stored file has another random name
        assert len(clip.token) == 22 and clip.token not in clip.audio.name
    assert headers["machine"] == headers["human"]
    assert headers["human"]["Content-Disposition"] == 'inline; filename="clip.ogg"'
    # codec, sample rate, channels and every metadata tag are the same for all clips
    assert len({repr(p) for ps in probes.values() for p in ps}) == 1

    # The listening pages of all clips are the same page but for the token and progress.
    pages = {}
    for _ in range(len(clips)):
        page = client.get(f"/survey/{survey.pk}/listen/")
        html = page.content.decode()
        token = page.context["token"]
        clip = next(c for c in clips if c.token == token)
        assert html.count(token) == 3  # the audio source, its fallback link, the hidden field
        assert MACHINE_TITLE not in html and (clip.tune is None or clip.tune.title not in html)
        pages.setdefault(clip.source, set()).add(normalise_page(html, token))
        client.post(
            f"/survey/{survey.pk}/listen/",
            {"clip": token, "origin": "human", "confidence": 1, "liking": 1, "coherence": 1},
        )
    assert len(pages["human"] | pages["machine"]) == 1
    assert listener.responses.count() == len(clips)


def normalise_page(html: str, token: str) -> str:
    html = html.replace(token, "TOKEN")
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)
    html = re.sub(r"Clip \d+ of \d+", "Clip N of M", html)
    html = re.sub(r'aria-valuenow="\d+"', "NOW", html)
    html = re.sub(r"width: \d+%", "WIDTH", html)
    return html.replace(">Finish<", ">Next clip<")
