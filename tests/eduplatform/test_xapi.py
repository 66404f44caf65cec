"""xAPI ingestion (issue 13): the year-1 statement, the nine malformed statements, forged actors,
size limits, nothing half-written, and readers that skip a bad stored row."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection

from eduplatform.core.models import LearningEvent, Student
from eduplatform.core.services import events_ingest
from eduplatform.core.xapi import COURSE_EXT

EVENTS = "/api/v1/events/"
VIEWED = "http://id.tincanapi.com/verb/viewed"


def st(course, **over) -> dict:
    base = {
        "id": str(uuid.uuid4()),
        "verb": {"id": VIEWED},
        "object": {
            "id": "https://example.edu/page/1",
            "definition": {"type": "http://adlnet.gov/expapi/activities/file"},
        },
        "context": {"extensions": {COURSE_EXT: course.pk}},
        "timestamp": "2024-01-10T10:00:00+00:00",
    }
    base.update(over)
    return base


def deep(n: int):
    value: list = []
    for _ in range(n):
        value = [value]
    return value


def nine_malformed(course) -> list[tuple[str, dict]]:
    """The statements that gave 500 and committed part of their batch at 6e051d2."""
    return [
        ("definition as a string", st(course, object={"id": "https://e.x/1", "definition": "a string"})),
        ("256-character verb.id", st(course, verb={"id": "https://e.x/" + "v" * 244})),
        ("512-character verb.id", st(course, verb={"id": "https://e.x/" + "v" * 500})),
        ("raw 1e400", st(course, result={"score": {"raw": float("inf")}})),
        ("NUL in object.id", st(course, object={"id": "https://e.x/\x00page"})),
        ("NUL in an extension key", st(course, result={"extensions": {"k\x00": 1}})),
        ("lone surrogate", st(course, result={"response": "answer \ud800"})),
        ("20,000-deep nesting", st(course, context={"extensions": {COURSE_EXT: course.pk, "x": deep(20_000)}})),
        ("65-character object type", st(course, object={"id": "https://e.x/1", "definition": {"type": "t" * 65}})),
    ]


@pytest.mark.django_db
def test_year_1_statement_is_refused_and_the_list_still_works(api_for, course_setup):
    client = api_for(course_setup["alice"])
    resp = client.post(EVENTS, st(course_setup["course"], timestamp="0001-01-01T00:00:00+14:00"), format="json")
    assert resp.status_code == 400
    body = resp.json()
    assert body["field"] == "timestamp" and "before 2000" in body["detail"] and body["status"] == "error"
    assert LearningEvent.all_objects.count() == 0
    assert client.get(f"{EVENTS}?course={course_setup['course'].pk}").status_code == 200


def _store_unreadable_row(course, student) -> None:
    """What a year-1 statement left in PostgreSQL before the fix: a timestamp Python cannot
    read (year 0). Written with SQL, as the old code's INSERT did."""
    ok = LearningEvent.objects.create(
        statement_id=uuid.uuid4(),
        student=student,
        course=course,
        verb=VIEWED,
        object_id="https://e.x/1",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
    )
    with connection.cursor() as cur:
        value = "0000-12-31 10:00:00" if connection.vendor == "sqlite" else "0001-12-31 10:00:00+00 BC"
        cur.execute(f"UPDATE {LearningEvent._meta.db_table} SET timestamp = %s WHERE id = %s", [value, ok.pk])


@pytest.mark.django_db
def test_a_bad_stored_row_is_skipped_by_the_list_and_the_recompute(api_for, course_setup):
    from recommendations.api import behaviour_recompute_course

    course, other = course_setup["course"], course_setup["other_course"]
    alice = Student.objects.get(user=course_setup["alice"])
    _store_unreadable_row(course, alice)
    api_for(course_setup["alice"]).post(EVENTS, st(course), format="json")

    assert LearningEvent.all_objects.count() == 2 and LearningEvent.objects.count() == 1  # quarantined
    for user in ("teacher", "alice"):
        resp = api_for(course_setup[user]).get(f"{EVENTS}?course={course.pk}")
        assert resp.status_code == 200 and resp.json()["count"] == 1
    # The behaviour recompute reads the course's events: it finishes, for this course and the next.
    assert isinstance(behaviour_recompute_course(course_id=course.pk), dict)
    assert isinstance(behaviour_recompute_course(course_id=other.pk), dict)


@pytest.mark.django_db
@pytest.mark.parametrize("case", range(9))
def test_each_malformed_statement_is_refused_and_nothing_is_half_written(course_setup, case):
    name, bad = nine_malformed(course_setup["course"])[case]
    good = st(course_setup["course"])
    results = events_ingest(user=course_setup["alice"], statements=[good, bad, st(course_setup["course"])])
    assert [r["status"] for r in results] == ["stored", "error", "stored"], name
    assert results[1]["code"] and results[1]["error"]
    assert LearningEvent.all_objects.count() == 2
    assert not LearningEvent.all_objects.filter(statement_id=bad["id"]).exists()


@pytest.mark.django_db
def test_malformed_statements_over_http_are_4xx(api_for, course_setup):
    """Values JSON cannot carry safely (1e400, NUL, lone surrogates, deep nesting) are refused by the
    parser, so the whole body is a 400 and nothing of it is stored; the others per statement."""
    client = api_for(course_setup["alice"])
    course = course_setup["course"]
    raw_bodies = [
        '[{"verb": {"id": "https://e.x/v"}, "object": {"id": "https://e.x/o"}, "result": {"score": {"raw": 1e400}}}]',
        '{"verb": {"id": "https://e.x/\\u0000v"}, "object": {"id": "https://e.x/o"}}',
        '{"verb": {"id": "https://e.x/v"}, "object": {"id": "https://e.x/\\udc00"}}',
        '{"verb": {"id": "https://e.x/v"}, "object": {"id": "https://e.x/o"}, "context": '
        + "[" * 20000
        + "]" * 20000
        + "}",
    ]
    for body in raw_bodies:
        resp = client.generic("POST", EVENTS, body, content_type="application/json")
        assert resp.status_code == 400, body[:80]
        assert resp.json()["code"] == "parse_error"
    for name, bad in nine_malformed(course):
        try:
            body = json.dumps(bad, allow_nan=False)
        except (ValueError, RecursionError):
            continue  # not expressible as JSON: covered above
        if "\\ud800" in body or "\\u0000" in body:
            continue
        resp = client.generic("POST", EVENTS, body, content_type="application/json")
        assert 400 <= resp.status_code < 500, name
        assert set(resp.json()) >= {"detail", "code", "field", "errors"}
    assert LearningEvent.all_objects.count() == 0


@pytest.mark.django_db
def test_forged_actor_objects_are_never_stored(api_for, course_setup):
    alice = Student.objects.get(user=course_setup["alice"])
    forged = {
        "objectType": "Agent",
        "name": "Someone Else",
        "mbox": "mailto:victim@example.edu",
        "account": {"homePage": "https://evil.example", "name": str(alice.pk)},
    }
    resp = api_for(course_setup["alice"]).post(EVENTS, st(course_setup["course"], actor=forged), format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "stored"
    stored = LearningEvent.objects.get()
    assert stored.actor == {"objectType": "Agent", "account": {"homePage": "eduplatform", "name": str(alice.pk)}}
    # An actor that names nobody by student id is refused, not stored as given.
    mbox_only = api_for(course_setup["alice"]).post(
        EVENTS, st(course_setup["course"], actor={"mbox": "mailto:x@example.edu"}), format="json"
    )
    assert mbox_only.status_code == 400 and mbox_only.json()["field"] == "actor"


@pytest.mark.django_db
def test_students_cannot_post_about_others_staff_only_for_current_students(api_for, course_setup):
    from django.utils import timezone

    from eduplatform.core.models import Enrollment

    course = course_setup["course"]
    bob = Student.objects.get(user=course_setup["bob"])
    about_bob = {"account": {"homePage": "eduplatform", "name": str(bob.pk)}}
    resp = api_for(course_setup["alice"]).post(EVENTS, st(course, actor=about_bob), format="json")
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden_actor"
    assert api_for(course_setup["teacher"]).post(EVENTS, st(course, actor=about_bob), format="json").status_code == 200
    Enrollment.objects.filter(user=course_setup["bob"], course=course).update(unregistered_at=timezone.now())
    resp = api_for(course_setup["teacher"]).post(EVENTS, st(course, actor=about_bob), format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "not_enrolled"
    assert LearningEvent.objects.count() == 1


@pytest.mark.django_db
def test_big_results_and_batches_are_refused(api_for, course_setup, settings):
    client = api_for(course_setup["alice"])
    course = course_setup["course"]
    big = client.post(EVENTS, st(course, result={"response": "x" * 20_000}), format="json")
    assert big.status_code == 400 and big.json()["code"] == "too_large" and big.json()["field"] == "result"
    settings.EDUPLATFORM_MAX_JSON_BYTES = 10 * 1024 * 1024
    many = client.post(EVENTS, [st(course) for _ in range(501)], format="json")
    assert many.status_code == 413 and many.json()["code"] == "too_many"
    five_mb = client.generic(
        "POST", EVENTS, json.dumps(st(course, result={"response": "x" * 5_000_000})), content_type="application/json"
    )
    assert five_mb.status_code == 400
    settings.EDUPLATFORM_MAX_JSON_BYTES = 1024 * 1024
    five_mb = client.generic(
        "POST", EVENTS, json.dumps(st(course, result={"response": "x" * 5_000_000})), content_type="application/json"
    )
    assert five_mb.status_code == 413
    assert LearningEvent.objects.count() == 0


@pytest.mark.django_db
def test_unknown_and_foreign_courses_get_the_same_answer(api_for, course_setup):
    client = api_for(course_setup["alice"])
    foreign = client.post(EVENTS, st(course_setup["other_course"]), format="json").json()
    unknown = client.post(EVENTS, st(type("C", (), {"pk": 987654})()), format="json").json()
    assert foreign["code"] == unknown["code"] == "not_enrolled"
    assert foreign["detail"].replace(str(course_setup["other_course"].pk), "N") == unknown["detail"].replace(
        "987654", "N"
    )
