"""The survey as a listener and as staff sees it, through Django's test client: consent,
balanced assignment, one answer per clip, the honeypot, throttling, permissions, exports."""

from __future__ import annotations

import csv
import io
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import IntegrityError, close_old_connections, transaction
from django.test import Client
from django.utils import timezone

from evaluation.survey import services
from evaluation.survey.models import Listener, SurveyResponse
from tests.evaluation.survey_builders import make_survey

pytestmark = pytest.mark.django_db

ANSWER = {"origin": "computer", "confidence": "4", "liking": "2", "coherence": "3"}


@pytest.fixture(autouse=True)
def _clear_throttle_counts():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def start(client: Client, survey, **profile) -> None:
    response = client.post(f"/survey/{survey.pk}/", {"consent": "on", **profile})
    assert response.status_code == 302 and response["Location"] == f"/survey/{survey.pk}/listen/"


def current_token(client: Client, survey) -> str:
    response = client.get(f"/survey/{survey.pk}/listen/")
    assert response.status_code == 200
    return response.context["token"]


def answer(client: Client, survey, token: str, **extra):
    return client.post(f"/survey/{survey.pk}/listen/", {"clip": token, **ANSWER, **extra})


def test_a_listener_consents_answers_every_clip_and_is_thanked():
    survey = make_survey(render=False, clips_per_listener=4)
    client = Client()
    page = client.get("/survey/")  # the only open survey: straight to its consent page
    assert page.status_code == 302 and page["Location"] == f"/survey/{survey.pk}/"
    consent = client.get(f"/survey/{survey.pk}/")
    assert b"You may stop at any time" in consent.content
    assert b"csrfmiddlewaretoken" in consent.content
    start(client, survey, experience="amateur", familiarity="some")
    listener = Listener.objects.get(survey=survey)
    assert (listener.experience, listener.familiarity) == ("amateur", "some")
    seen = []
    for _ in range(4):
        token = current_token(client, survey)
        seen.append(token)
        response = answer(client, survey, token, comment="  nice  ")
        assert response.status_code == 302
    assert len(set(seen)) == 4
    assert client.get(f"/survey/{survey.pk}/listen/")["Location"] == f"/survey/{survey.pk}/thanks/"
    assert b"You rated 4 clips" in client.get(f"/survey/{survey.pk}/thanks/").content
    listener.refresh_from_db()
    assert listener.finished_at is not None
    assert set(SurveyResponse.objects.values_list("comment", flat=True)) == {"nice"}


def test_without_consent_nothing_is_stored_and_the_form_says_why():
    survey = make_survey(render=False)
    response = Client().post(f"/survey/{survey.pk}/", {"experience": "none"})
    assert response.status_code == 400
    assert b"Please tick the box" in response.content
    assert not Listener.objects.exists()


def test_a_missing_answer_is_a_form_error_not_a_stored_row():
    survey = make_survey(render=False)
    client = Client()
    start(client, survey)
    token = current_token(client, survey)
    response = client.post(f"/survey/{survey.pk}/listen/", {"clip": token, "liking": "9"})
    assert response.status_code == 400
    assert b"Please choose a person or a computer" in response.content
    assert not SurveyResponse.objects.exists()


def test_a_closed_or_unbuilt_survey_takes_no_listeners():
    survey = make_survey(render=False)
    survey.closes_at = timezone.now() - timedelta(minutes=1)
    survey.save()
    response = Client().post(f"/survey/{survey.pk}/", {"consent": "on"})
    assert response.status_code == 200 and b"not open" in response.content
    assert not Listener.objects.exists()


def test_a_survey_that_closes_mid_way_keeps_the_answers_given_and_takes_no_more():
    survey = make_survey(render=False, clips_per_listener=3)
    client = Client()
    start(client, survey)
    assert answer(client, survey, current_token(client, survey)).status_code == 302
    token = current_token(client, survey)
    survey.closes_at = timezone.now()
    survey.save()
    page = client.get(f"/survey/{survey.pk}/listen/")
    assert page.status_code == 200 and b"This survey has closed" in page.content
    assert answer(client, survey, token).status_code == 400
    assert SurveyResponse.objects.count() == 1


def test_listeners_get_the_clips_with_the_fewest_responses():
    survey = make_survey(render=False, tunes=3, pieces=3, clips_per_listener=2)  # 6 clips
    for _ in range(6):
        listener = services.listener_start(survey=survey)
        for assignment in listener.assignments.select_related("clip"):
            services.response_record(
                listener=listener,
                clip_token=assignment.clip.token,
                answer=services.Answer("human", 3, 3, 3),
            )
    counts = Counter(SurveyResponse.objects.values_list("clip_id", flat=True))
    assert len(counts) == 6 and set(counts.values()) == {2}  # 12 answers over 6 clips: 2 each


def test_each_listener_hears_their_clips_in_their_own_order():
    survey = make_survey(render=False, tunes=3, pieces=3, clips_per_listener=6)
    orders = {
        tuple(services.listener_start(survey=survey).assignments.values_list("clip_id", flat=True))
        for _ in range(5)
    }
    assert len(orders) > 1  # the same 6 clips, shuffled per listener (5 equal orders: 1 in 6!⁴)


def test_the_database_allows_one_response_per_listener_and_clip():
    survey = make_survey(render=False)
    listener = services.listener_start(survey=survey)
    clip = listener.assignments.first().clip
    fields = dict(survey=survey, listener=listener, clip=clip, origin="human")
    SurveyResponse.objects.create(**fields, confidence=1, liking=1, coherence=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.create(**fields, confidence=2, liking=2, coherence=2)
    with pytest.raises(IntegrityError), transaction.atomic():  # ratings are 1 to 5
        SurveyResponse.objects.create(
            survey=survey,
            listener=listener,
            clip=listener.assignments.last().clip,
            origin="human",
            confidence=6,
            liking=1,
            coherence=1,
        )


def test_a_second_submit_of_the_same_clip_is_treated_as_already_answered():
    survey = make_survey(render=False)
    client = Client()
    start(client, survey)
    token = current_token(client, survey)
    assert answer(client, survey, token).status_code == 302
    again = answer(client, survey, token, liking="5")
    assert again.status_code == 302  # no error page: the first answer stands
    assert SurveyResponse.objects.get().liking == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submits_store_one_response_and_never_fail():
    survey = make_survey(render=False)
    listener = services.listener_start(survey=survey)
    token = listener.assignments.first().clip.token
    barrier = threading.Barrier(8)
    results, errors = [], []

    def submit():
        try:
            barrier.wait()
            results.append(
                services.response_record(
                    listener=listener, clip_token=token, answer=services.Answer("human", 3, 3, 3)
                )[1]
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert SurveyResponse.objects.filter(listener=listener).count() == 1


def test_a_clip_that_is_not_the_listeners_is_refused():
    survey = make_survey(render=False, clips_per_listener=2)
    client = Client()
    start(client, survey)
    mine = set(Listener.objects.get().assignments.values_list("clip__token", flat=True))
    other = survey.clips.exclude(token__in=mine).first().token
    assert answer(client, survey, other).status_code == 400
    assert not SurveyResponse.objects.exists()


def test_a_filled_honeypot_is_refused_and_nothing_is_stored():
    survey = make_survey(render=False)
    bot = Client()
    response = bot.post(f"/survey/{survey.pk}/", {"consent": "on", "website": "http://spam"})
    assert response.status_code == 400 and not Listener.objects.exists()
    start(bot, survey)
    token = current_token(bot, survey)
    assert answer(bot, survey, token, website="buy now").status_code == 400
    assert not SurveyResponse.objects.exists()


def test_answering_faster_than_the_limit_is_throttled(settings):
    settings.SURVEY_ANSWERS_PER_MINUTE_PER_LISTENER = 2
    survey = make_survey(render=False, clips_per_listener=4)
    client = Client()
    start(client, survey)
    for _ in range(2):
        assert answer(client, survey, current_token(client, survey)).status_code == 302
    throttled = answer(client, survey, current_token(client, survey))
    assert throttled.status_code == 429 and throttled["Retry-After"] == "60"
    assert SurveyResponse.objects.count() == 2


def test_too_many_new_listeners_from_one_address_are_throttled(settings):
    settings.SURVEY_LISTENERS_PER_HOUR_PER_IP = 3
    survey = make_survey(render=False)
    for _ in range(3):
        start(Client(), survey)
    assert Client().post(f"/survey/{survey.pk}/", {"consent": "on"}).status_code == 429
    assert Listener.objects.count() == 3


def test_a_tampered_cookie_is_not_a_listener():
    survey = make_survey(render=False)
    client = Client()
    start(client, survey)
    name = f"survey{survey.pk}"
    client.cookies[name] = client.cookies[name].value.replace(":", ":x", 1)
    assert client.get(f"/survey/{survey.pk}/listen/")["Location"] == f"/survey/{survey.pk}/"


def test_results_csv_and_api_are_for_staff_only(staff_client, user):
    survey = make_survey(render=False)
    urls = [
        f"/survey/{survey.pk}/results/",
        f"/survey/{survey.pk}/responses.csv",
    ]
    api = f"/api/v1/surveys/{survey.pk}/results/"
    signed_in = Client()
    signed_in.force_login(user)
    for client in (Client(), signed_in):
        for url in urls:
            assert client.get(url).status_code == 403, url
        assert client.get(api).status_code in (401, 403)
    for url in urls:
        assert staff_client.get(url).status_code == 200, url
    assert staff_client.get(api).status_code == 200


def test_a_public_summary_shows_groups_but_not_the_clips_or_the_csv(staff_client):
    survey = make_survey(render=False, public_results=True)
    page = Client().get(f"/survey/{survey.pk}/results/")
    assert page.status_code == 200
    assert b"By source" in page.content and b"Per clip" not in page.content
    assert Client().get(f"/survey/{survey.pk}/responses.csv").status_code == 403
    assert b"Per clip" in staff_client.get(f"/survey/{survey.pk}/results/").content


def test_results_api_and_csv_report_the_answers(staff_client):
    survey = make_survey(render=False, tunes=2, pieces=2, clips_per_listener=4)
    for experience, origin_of in (("none", "computer"), ("professional", None)):
        listener = services.listener_start(survey=survey, experience=experience)
        for assignment in listener.assignments.select_related("clip"):
            truth = "human" if assignment.clip.source == "human" else "computer"
            services.response_record(
                listener=listener,
                clip_token=assignment.clip.token,
                answer=services.Answer(origin_of or truth, 5, 4, 3, comment="=HYPERLINK(1)"),
            )
    data = staff_client.get(f"/api/v1/surveys/{survey.pk}/results/").json()
    assert data["survey"]["responses"] == 8
    assert data["overall"]["correct"]["k"] == 6  # the professional is always right, 'none' 2/4
    assert data["by_experience"]["professional"]["correct"]["rate"] == 1.0
    assert data["by_experience"]["none"]["judged_human"]["k"] == 0
    assert data["groups"]["Human baseline (all corpora)"]["correct"]["k"] == 2
    assert data["groups"]["Machine (all runs)"]["correct"]["k"] == 4
    assert list(data["groups"])[0] == "Human baseline (all corpora)"
    assert {c["responses"] for c in data["clips"]} == {2}

    rows = list(csv.DictReader(io.StringIO(
        staff_client.get(f"/survey/{survey.pk}/responses.csv").content.decode()
    )))  # fmt: skip
    assert len(rows) == 8
    assert sum(int(r["correct"]) for r in rows) == 6
    assert {r["source"] for r in rows} == {"human", "machine"}
    assert all(r["tune"] for r in rows if r["source"] == "human")
    assert {r["comment"] for r in rows} == {"'=HYPERLINK(1)"}  # not a formula in a spreadsheet


def test_forms_without_a_csrf_token_are_refused():
    survey = make_survey(render=False)
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/survey/{survey.pk}/", {"consent": "on"}).status_code == 403
    assert not Listener.objects.exists()
    page = strict.get(f"/survey/{survey.pk}/")
    token = page.context["csrf_token"]
    assert (
        strict.post(
            f"/survey/{survey.pk}/", {"consent": "on", "csrfmiddlewaretoken": token}
        ).status_code
        == 302
    )
    clip = Listener.objects.get().assignments.first().clip.token
    assert strict.post(f"/survey/{survey.pk}/listen/", {"clip": clip, **ANSWER}).status_code == 403
    assert not SurveyResponse.objects.exists()
