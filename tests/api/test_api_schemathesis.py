"""Schemathesis against the live schema: generated requests to every operation of
/api/schema/, sent over HTTP to the live server, never get a server error, and every
response conforms to the schema (status codes, content types, headers and bodies).

Bounded: 25 schema-valid and 10 schema-invalid examples per operation, no deadline,
derandomized. The long-running POSTs never start work here: anonymous requests get 401s
for staff writes and 429s for generation (the anonymous allowance is 0), and the staff pass
records the Celery tasks its requests queue instead of sending them to a worker."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.api.builders import make_gallery, make_import, make_world

EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 25, schemathesis.GenerationMode.NEGATIVE: 10}


@pytest.fixture
def live_api(live_server, settings):
    settings.ANON_GENERATIONS_PER_HOUR = 0
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_anon": "100000/min", "api_user": "100000/min"},
    }
    world = make_world()
    make_gallery(world)
    make_import(world.corpus)
    return live_server


def _check(operation, mode, examples, headers=None, excluded=()):
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(headers=headers, excluded_checks=list(excluded))

    check()


def _run(schema, *, headers=None, excluded=()):
    failures, tested = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples in EXAMPLES.items():
            try:
                _check(operation, mode, examples, headers, excluded)
            except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
                assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failure
                failures.append(f"{operation.label} ({mode}):\n{exc}")
        tested += 1
    return tested, failures


@pytest.mark.django_db(transaction=True)
def test_the_live_api_conforms_to_its_schema_and_never_errs_for_visitors(live_api):
    schema = schemathesis.openapi.from_url(f"{live_api.url}/api/schema/?format=json")
    tested, failures = _run(schema)
    assert tested >= 28
    assert not failures, "\n\n".join(failures)


@pytest.mark.django_db(transaction=True)
def test_the_live_api_conforms_to_its_schema_and_never_errs_for_staff(live_api, staff_user, queued):
    """Staff requests reach validation and the services; the work they queue is recorded,
    not sent to a worker, so nothing long runs. A schema-valid request may still be refused
    here for what no schema says (an id that names nothing, a run in the wrong state: a 400
    with the service's message), so "schema-valid is accepted" is not checked."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=staff_user)
    schema = schemathesis.openapi.from_url(f"{live_api.url}/api/schema/?format=json")
    tested, failures = _run(
        schema,
        headers={"Authorization": f"Token {token.key}"},
        excluded=[schemathesis.checks.positive_data_acceptance],
    )
    assert tested >= 28
    assert not failures, "\n\n".join(failures)


@pytest.mark.django_db(transaction=True)
def test_the_swagger_ui_assets_come_from_this_server(live_server):
    import re
    from urllib.request import urlopen

    html = urlopen(f"{live_server.url}/api/docs/").read().decode()
    assets = re.findall(r'src="(/static/drf_spectacular_sidecar/[^"]+)"', html)
    assert assets
    for asset in assets:
        with urlopen(f"{live_server.url}{asset}") as response:
            assert response.status == 200
