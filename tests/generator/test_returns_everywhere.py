"""Bringing bars and phrases back (`returns`, within the folk form) is an
option wherever a generation can be asked for: the generate page and the API had it, and so
do `manage.py generate` and the admin, under the same rule (the service's
`generation_job_check`): returns without the folk form is refused on its own field, and
nothing is written."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from common.errors import sentence
from generator import services
from generator.models import GenerationJob
from tests.web.builders import make_world

pytestmark = pytest.mark.django_db

WITHOUT_THE_FORM = "bars come back within a folk tune's shape: switch on the folk tune's shape too"


@pytest.fixture
def world():
    return make_world()


def _refusal(world, **options) -> str:
    with pytest.raises(services.ServiceError) as caught:
        services.generation_job_check(checkpoint=world.checkpoint, **options)
    return caught.value.message


def test_the_command_queues_a_job_that_brings_bars_back(world, capsys):
    call_command(
        "generate",
        checkpoint=world.checkpoint.pk,
        grammar=True,
        folk_form=True,
        returns=True,
        memory=True,
    )
    job = GenerationJob.objects.exclude(pk=world.job.pk).get()
    assert (job.grammar, job.folk_form, job.returns, job.memory) == (True, True, True, True)
    assert f"queued generation job {job.pk}" in capsys.readouterr().out


def test_the_command_refuses_returns_without_the_folk_form_and_writes_nothing(world):
    assert _refusal(world, grammar=True, returns=True) == WITHOUT_THE_FORM
    with pytest.raises(CommandError) as caught:
        call_command("generate", checkpoint=world.checkpoint.pk, grammar=True, returns=True)
    assert str(caught.value) == f"--returns: {sentence(WITHOUT_THE_FORM)}"
    with pytest.raises(CommandError, match="^--folk-form: The folk-tune form is kept by"):
        call_command("generate", checkpoint=world.checkpoint.pk, folk_form=True)
    assert GenerationJob.objects.count() == 1  # the world's own job only


def _admin_add(client, world, **fields):
    form = {
        "checkpoint": world.checkpoint.pk,
        "count": 2,
        "temperature": 0.9,
        "top_k": 0,
        "top_p": 1.0,
        "seed": "",
        "max_length": 400,
        "prime": "",
        **{name: "on" for name, on in fields.items() if on},
    }
    return client.post(reverse("admin:generator_generationjob_add"), form)


def test_staff_generate_with_returns_from_the_admin_and_the_job_is_queued_after_commit(
    staff_client, world, django_capture_on_commit_callbacks
):
    page = staff_client.get(reverse("admin:generator_generationjob_add")).content.decode()
    assert "Bring bars and phrases back" in page and "Shape the tune as a folk tune" in page
    assert "Let figures come back" in page
    with django_capture_on_commit_callbacks() as callbacks:
        response = _admin_add(staff_client, world, grammar=True, folk_form=True, returns=True)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = GenerationJob.objects.exclude(pk=world.job.pk).get()
    assert (job.count, job.returns, job.folk_form, job.grammar) == (2, True, True, True)
    assert job.seed > 0 and job.requested_by is not None  # a random seed, and who asked
    assert len(callbacks) == 1  # its task, sent once the job is stored


def test_the_admin_refuses_returns_without_the_folk_form_on_its_field(staff_client, world):
    response = _admin_add(staff_client, world, grammar=True, returns=True)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"returns": [sentence(WITHOUT_THE_FORM)]}
    assert GenerationJob.objects.count() == 1


def test_a_stored_job_cannot_be_changed_in_the_admin(staff_client, world):
    url = reverse("admin:generator_generationjob_change", args=[world.job.pk])
    assert 'name="returns"' not in staff_client.get(url).content.decode()
    staff_client.post(url, {"returns": "on", "count": 99})
    world.job.refresh_from_db()
    assert world.job.count == 1 and world.job.returns is False
