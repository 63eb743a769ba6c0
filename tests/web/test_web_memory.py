"""The generate form's memory option: offered checked, stored as chosen, shown on the job
and piece pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generator.models import GenerationJob
from tests.web.builders import make_piece
from tests.web.test_web_generate import form_data

pytestmark = pytest.mark.django_db


def test_the_memory_is_offered_checked_and_stored_as_chosen(client, world):
    page = client.get(reverse("generate")).content.decode()
    box = re.search(r'<input type="checkbox" name="memory"[^>]*>', page)
    assert box and "checked" in box[0]  # on by default: people's tunes are shaped so
    assert "Let figures come back" in page
    client.post(reverse("generate"), form_data(world, grammar="on", memory="on"),
                REMOTE_ADDR="10.0.2.4")  # fmt: skip
    client.post(reverse("generate"), form_data(world, grammar="on"), REMOTE_ADDR="10.0.2.5")
    remembering = GenerationJob.objects.get(requester_ip="10.0.2.4")
    plain = GenerationJob.objects.get(requester_ip="10.0.2.5")
    assert (remembering.memory, plain.memory) == (True, False)
    shown = client.get(remembering.get_absolute_url()).content.decode()
    assert "<dt>Memory</dt><dd>figures come back" in shown


def test_a_piece_page_says_its_figures_came_back_from_the_memory(client, world):
    job = world.job
    GenerationJob.objects.filter(pk=job.pk).update(memory=True)
    job.refresh_from_db()
    piece = make_piece(world, job=job)
    assert "<dt>Memory</dt>" in client.get(piece.get_absolute_url()).content.decode()
    GenerationJob.objects.filter(pk=job.pk).update(memory=False)
    assert "<dt>Memory</dt>" not in client.get(piece.get_absolute_url()).content.decode()


def test_the_run_page_gives_the_held_out_loss_with_the_memory_beside_the_plain_one(client, world):
    run = world.run
    history = [dict(h, val_loss_memory=round(h["val_loss"] * 0.8, 4)) for h in run.history]
    type(run).objects.filter(pk=run.pk).update(history=history)
    html = client.get(run.get_absolute_url()).content.decode()
    best = min(history, key=lambda h: h["val_loss"])
    assert f"{best['val_loss_memory']:.4f} with the piece's memory" in html
    assert ">With memory</th>" in html
    type(run).objects.filter(pk=run.pk).update(history=run.history)  # a run before the memory
    html = client.get(run.get_absolute_url()).content.decode()
    assert "with the piece's memory" not in html
