"""Security of the web layer: headers, no inline script, hostile titles stay text everywhere
(pages, API, engraved SVG), CSRF on every form, downloads confined to media storage, secrets
only from the environment."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from generator.models import Corpus, Piece, Tune
from generator.services import corpus_import
from tests.web.builders import make_piece, make_world

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HOSTILE_ABC = f"""X:1
T:{HOSTILE}
C:<img src=x onerror=alert(2)>
M:6/8
L:1/8
K:G
|:GAG GBd|ede dBG|GAG GBd|cBA BGG:|
"""


# --- headers ------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/api/v1/", "/no-such-page/", "/health/", "/runs/"])
def test_every_response_carries_the_security_headers(client, url):
    response = client.get(url)
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


@pytest.mark.django_db
def test_only_the_swagger_page_may_run_an_inline_script(client):
    assert "'unsafe-inline'" in client.get("/api/docs/")["Content-Security-Policy"]
    assert "script-src 'self';" in client.get("/api/redoc/")["Content-Security-Policy"]


class _Scripts(HTMLParser):
    """Collects inline <script> bodies and on* handler attributes of a page."""

    def __init__(self):
        super().__init__()
        self.inline, self.handlers, self._in_inline = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.handlers += [k for k in attrs if k.startswith("on")]
        self._in_inline = tag == "script" and not attrs.get("src")
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self.inline.append(tag)

    def handle_endtag(self, tag):
        self._in_inline = False


@pytest.mark.django_db
def test_no_site_page_needs_an_inline_script(staff_client, trained_run):
    """The CSP forbids inline script: no page of the site may rely on one."""
    piece = Piece.objects.filter(run=trained_run).first()
    tune = Tune.objects.filter(corpus=trained_run.corpus).first()
    job = piece.job
    urls = [
        "/",
        f"/pieces/{piece.pk}/",
        "/generate/",
        f"/generate/?run={trained_run.pk}",
        f"/jobs/{job.pk}/",
        "/runs/",
        f"/runs/{trained_run.pk}/",
        "/corpora/",
        f"/corpora/{trained_run.corpus_id}/",
        f"/tunes/{tune.pk}/",
        f"/evaluation/runs/{trained_run.pk}/",
        f"/evaluation/corpora/{trained_run.corpus_id}/",
        "/ops/",
        "/admin/",
        "/admin/generator/trainingrun/",
        f"/admin/generator/trainingrun/{trained_run.pk}/change/",
    ]
    for client, url in [(staff_client, u) for u in urls] + [(Client(), "/accounts/login/")]:
        response = client.get(url)
        assert response.status_code == 200, url
        parser = _Scripts()
        parser.feed(response.content.decode())
        assert parser.inline == [], f"inline script on {url}"
        assert parser.handlers == [], f"inline event handlers {parser.handlers} on {url}"


# --- hostile titles ------------------------------------------------------------
@cache
def _chorale_midi() -> bytes:
    """A real MIDI file: a Bach chorale from music21's corpus, written by music21."""
    from music21 import corpus
    from music21.midi.translate import streamToMidiFile

    return streamToMidiFile(corpus.parse("bach/bwv269")).writestr()


def _with_track_name(midi: bytes, name: str) -> bytes:
    """The same MIDI file with a track-name event at the start of its first track."""
    pos = 8 + int.from_bytes(midi[4:8], "big")
    assert midi[pos : pos + 4] == b"MTrk"
    length = int.from_bytes(midi[pos + 4 : pos + 8], "big")
    raw = name.encode()
    event = b"\x00\xff\x03" + bytes([len(raw)]) + raw
    body = event + midi[pos + 8 : pos + 8 + length]
    return midi[:pos] + b"MTrk" + len(body).to_bytes(4, "big") + body + midi[pos + 8 + length :]


@pytest.fixture
def hostile(db, in_process_import):
    """A tune imported from an ABC upload, one from a MIDI upload, both titled with a script,
    and a generated piece with that title and text."""
    abc_corpus = Corpus.objects.create(name=f"{HOSTILE} corpus", source="tests")
    job = corpus_import(corpus=abc_corpus, upload=(f"{HOSTILE}.abc", HOSTILE_ABC.encode()))
    assert job.status == "succeeded", job.error
    midi_corpus = Corpus.objects.create(name="MIDI corpus", source="tests", way="midi")
    job = corpus_import(
        corpus=midi_corpus, upload=("evil.mid", _with_track_name(_chorale_midi(), HOSTILE))
    )
    assert job.status == "succeeded", (job.error, job.failures)
    world = make_world()
    piece = make_piece(world, title=HOSTILE, text=HOSTILE_ABC)
    return {
        "abc_tune": abc_corpus.tunes.get(),
        "midi_tune": midi_corpus.tunes.get(),
        "piece": piece,
        "abc_corpus": abc_corpus,
        "midi_corpus": midi_corpus,
    }


def _assert_text_only(html: str, where: str) -> None:
    assert HOSTILE not in html, f"raw script tag in {where}"
    assert "<img src=x" not in html, f"raw img tag in {where}"
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"inline script in {where}"


@pytest.mark.django_db
def test_a_script_in_an_uploaded_title_stays_text_on_every_page(hostile, client):
    assert hostile["abc_tune"].title == HOSTILE
    assert hostile["midi_tune"].title == HOSTILE
    pages = {
        "gallery": "/",
        "gallery search": f"/?q={HOSTILE}",
        "piece page": f"/pieces/{hostile['piece'].pk}/",
        "ABC tune page": f"/tunes/{hostile['abc_tune'].pk}/",
        "MIDI tune page": f"/tunes/{hostile['midi_tune'].pk}/",
        "ABC corpus page": f"/corpora/{hostile['abc_corpus'].pk}/",
        "MIDI corpus page": f"/corpora/{hostile['midi_corpus'].pk}/",
        "corpus list": "/corpora/",
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        html = response.content.decode()
        _assert_text_only(html, where)
        if where != "gallery search":
            assert ESCAPED in html, f"the title is not shown (escaped) on the {where}"
    cards = client.get("/pieces/cards.json")
    assert cards["Content-Type"].startswith("application/json")
    _assert_text_only(json.dumps(cards.json()), "cards.json")


@pytest.mark.django_db
def test_the_api_returns_hostile_titles_as_json_strings(hostile, client):
    for url in (
        f"/api/v1/pieces/{hostile['piece'].pk}/",
        f"/api/v1/tunes/{hostile['abc_tune'].pk}/",
        f"/api/v1/tunes/{hostile['midi_tune'].pk}/",
    ):
        response = client.get(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.json()["title"] == HOSTILE  # data round-trips exactly, as data


@pytest.mark.django_db
def test_the_engraved_svg_keeps_a_hostile_title_as_text(hostile):
    from musiclib.render.score import score_svg

    for title in (True, False):
        pages = score_svg(data=HOSTILE_ABC, fmt="abc", title=title)
        assert pages
        for svg in pages:
            assert "<script" not in svg.lower()
            # The hostile composer line may appear, escaped, as text; never as markup.
            assert not re.search(r"<[^>]*\son\w+\s*=", svg, re.IGNORECASE)
            assert "<img" not in svg and "javascript:" not in svg.lower()
    from musiclib.render.score import sanitize_svg

    evil = (
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
        '<a href="javascript:alert(1)"><text onclick="alert(1)">x</text></a>'
        "<foreignObject><div>hi</div></foreignObject></svg>"
    )
    clean = sanitize_svg(svg=evil)
    assert "<script" not in clean and "javascript:" not in clean
    assert "onclick" not in clean and "foreignObject" not in clean


# --- CSRF ------------------------------------------------------------
class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.posts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.posts.append(attrs.get("action") or "")


@pytest.mark.django_db
def test_every_form_on_the_site_refuses_a_post_without_its_csrf_token(trained_run, staff_user):
    """Forms are found by reading the pages (as staff, who sees every form); each is posted
    without a token by a signed-in staff session and must get 403, then with the token not."""
    piece = Piece.objects.filter(run=trained_run).first()
    pages = [
        "/",
        f"/pieces/{piece.pk}/",
        "/generate/",
        f"/generate/?run={trained_run.pk}",
        f"/runs/{trained_run.pk}/",
        "/admin/generator/trainingrun/",
        "/admin/generator/corpus/add/",
        f"/admin/generator/trainingrun/{trained_run.pk}/change/",
        "/admin/password_change/",
    ]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    actions: set[str] = set()
    for url in pages:
        response = browser.get(url)
        assert response.status_code == 200, url
        parser = _Forms()
        parser.feed(response.content.decode())
        actions |= {a or url for a in parser.posts}
    # Forms a staff member sees on these pages, plus the POST-only API actions.
    assert {"/generate/", "/accounts/logout/"} <= actions
    run = trained_run.pk
    actions |= {f"/runs/{run}/cancel/", f"/runs/{run}/resume/", f"/pieces/{piece.pk}/more/"}
    actions |= {"/api/v1/generate/", f"/api/v1/runs/{run}/cancel/"}
    # The sign-in form (shown to visitors who are not signed in) refuses a tokenless post too.
    visitor = Client(enforce_csrf_checks=True)
    login = visitor.get("/accounts/login/")
    assert 'name="csrfmiddlewaretoken"' in login.content.decode()
    assert visitor.post("/accounts/login/", {"username": "staff"}).status_code == 403
    for action in sorted(actions):
        response = browser.post(action, {"x": "1"})
        assert response.status_code == 403, (action, response.status_code)
    token = browser.cookies["csrftoken"].value
    response = browser.post("/generate/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 200  # the form, with its errors: the token was accepted
    assert len(actions) >= 8


# --- downloads stay inside media storage --------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/media/../../etc/passwd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/..%2f..%2fmusicsite%2fsettings.py",
        "/static/../musicsite/settings.py",
        "/static/..%2fmusicsite%2fsettings.py",
        "/pieces/1/download/..%2f..%2fmusicsite%2fsettings.py/",
        "/tunes/1/download/..%2f..%2fetc%2fpasswd/",
        "/pieces/1/download/%2e%2e/",
    ],
)
def test_a_path_traversal_url_is_a_404(client, url):
    response = client.get(url)
    assert response.status_code == 404, (url, response.status_code)
    assert b"root:" not in response.content and b"SECRET_KEY" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/passwd", "pieces/midi/gone.mid"])
def test_a_row_pointing_outside_media_or_at_a_missing_file_downloads_as_a_404(client, name):
    world = make_world()
    piece = make_piece(world, audio=False)
    Piece.objects.filter(pk=piece.pk).update(midi=name, audio=name)
    for url in (
        f"/pieces/{piece.pk}/download/midi/",
        f"/pieces/{piece.pk}/audio/",
        f"/pieces/{piece.pk}/download/audio/",
    ):
        response = client.get(url)
        assert response.status_code == 404, (url, response.status_code)
        assert b"root:" not in response.content


# --- secrets ------------------------------------------------------------
def _manage_check(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_production_refuses_to_start_without_a_secret_key_from_the_environment():
    result = _manage_check(DEBUG="0", ALLOWED_HOSTS="example.org")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_secret_key_comes_from_the_environment():
    key = secrets.token_urlsafe(50)
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": key, "ALLOWED_HOSTS": "example.org"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip().splitlines()[-1] == key, result.stderr


def test_no_secret_is_committed():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    patterns = re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,}"
        r"|SECRET_KEY\s*=\s*['\"][^'\"]{20,}['\"]|postgres://[^:@/\s]+:[^@\s]{6,}@(?!db\.example)"
    )
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for match in patterns.finditer(text):
            placeholders = ("dev-only-insecure", "change-me", "user:password@", "pass@")
            if any(p in match.group(0) for p in placeholders):
                continue
            hits.append((name, match.group(0)[:60]))
    assert hits == []
