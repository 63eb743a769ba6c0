"""Site-wide: header and navigation, sign in and out, error pages, labels, no TensorFlow."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.web.builders import make_piece

pytestmark = pytest.mark.django_db


def page_urls(world, piece):
    return [
        reverse("gallery"),
        piece.get_absolute_url(),
        reverse("generate"),
        piece.job.get_absolute_url(),
        reverse("run_list"),
        world.run.get_absolute_url(),
        reverse("corpus_list"),
        world.corpus.get_absolute_url(),
        reverse("login"),
    ]


def test_every_page_has_the_header_navigation_and_footer(client, world):
    piece = make_piece(world)
    for url in page_urls(world, piece):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for target in ("gallery", "generate", "run_list", "corpus_list"):
            assert f'href="{reverse(target)}"' in html, (url, target)
        assert 'aria-label="Main"' in html and "<footer" in html and "Sign in" in html
        assert "Admin" not in html


def test_staff_see_the_admin_link_and_can_sign_out(staff_client, staff_user):
    html = staff_client.get(reverse("gallery")).content.decode()
    assert f'href="{reverse("admin:index")}"' in html
    assert "Sign out" in html and staff_user.username in html
    response = staff_client.post(reverse("logout"))
    assert response.status_code == 302
    assert "Sign in" in staff_client.get(reverse("gallery")).content.decode()


def test_signing_in_returns_to_the_page_you_came_from(client, staff_user):
    response = client.post(
        reverse("login"),
        {"username": staff_user.username, "password": staff_user.raw_password, "next": "/runs/"},
    )
    assert response.status_code == 302 and response["Location"] == "/runs/"


def test_a_wrong_password_is_said_next_to_the_form(client, staff_user):
    response = client.post(reverse("login"), {"username": "staff", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_an_unknown_url_is_the_404_page(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "This tune is not in the book" in response.content.decode()


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids_needing_labels: list[str] = []
        self.labelled: set[str] = set()
        self.unnamed_buttons = 0
        self.images_without_alt = 0
        self._button_text = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            if "aria-label" not in a and a.get("aria-hidden") != "true":
                self.ids_needing_labels.append(a.get("id") or "<no id>")
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"])
        if tag == "img" and "alt" not in a:
            self.images_without_alt += 1


@pytest.mark.parametrize("who", ["visitor", "staff"])
def test_every_form_control_has_a_label_and_every_image_alt_text(client, staff_client, world, who):
    piece = make_piece(world)
    browser = staff_client if who == "staff" else client
    for url in page_urls(world, piece):
        parser = _Inputs()
        parser.feed(browser.get(url).content.decode())
        missing = [i for i in parser.ids_needing_labels if i not in parser.labelled]
        assert not missing, (url, missing)
        assert parser.images_without_alt == 0, url


def test_nothing_user_given_is_marked_safe_in_the_templates():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    uses = [
        (path.name, line.strip())
        for path in root.rglob("*.html")
        for line in path.read_text().splitlines()
        if re.search(r"\|\s*safe|autoescape off", line)
    ]
    # Only the score: SVG that musiclib.render sanitises.
    assert uses == [("_score.html", uses[0][1])] and "svg|safe" in uses[0][1]


def test_the_web_process_never_imports_tensorflow():
    code = (
        "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'musicsite.settings');"
        "import django; django.setup();"
        "import musicsite.urls, generator.views, generator.selectors, generator.forms;"
        "from django.test import Client;"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False", out.stderr[-2000:]
