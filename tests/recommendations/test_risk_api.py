"""Events in, behaviour and risk out: ingestion, recompute, alerts, hidden predictions, permissions."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from eduplatform.core import services as core
from eduplatform.core.models import Enrollment, LearningEvent, Student
from eduplatform.core.xapi import COURSE_EXT
from multimodal.risk import RiskEstimator
from recommendations.models import BehaviourSnapshot, RiskAlert, RiskEstimate, RiskModel
from recommendations.risk import services
from recommendations.risk.features import RISK_FEATURES

EVENTS = "/api/v1/events/"
VIEWED = "http://id.tincanapi.com/verb/viewed"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The factories set passwords; PBKDF2 would dominate these tests' run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _statement(course, sid=None, **over):
    st = {
        "id": str(sid or uuid.uuid4()),
        "verb": {"id": VIEWED},
        "object": {
            "id": "https://example.edu/page/1",
            "definition": {"type": "http://adlnet.gov/expapi/activities/file"},
        },
        "context": {"extensions": {COURSE_EXT: course.pk}},
        "timestamp": "2024-01-10T10:00:00+00:00",
    }
    st.update(over)
    return st


# ------------------------------------------------------------------ ingestion


@pytest.mark.django_db
def test_statement_is_idempotent_on_its_id(api_for, course_setup):
    client, course = api_for(course_setup["alice"]), course_setup["course"]
    st = _statement(course)
    first = client.post(EVENTS, st, format="json")
    assert first.status_code == 200 and first.json()["status"] == "stored"
    again = client.post(EVENTS, st, format="json")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert LearningEvent.objects.filter(statement_id=st["id"]).count() == 1
    # the same id inside one batch is stored once as well
    batch = client.post(EVENTS, [_statement(course, sid=st["id"]), _statement(course)], format="json").json()
    assert (batch["stored"], batch["duplicates"], batch["errors"]) == (1, 1, 0)


@pytest.mark.django_db
def test_invalid_statements_get_per_statement_errors(api_for, course_setup):
    client, course = api_for(course_setup["alice"]), course_setup["course"]
    good = _statement(course)
    bad = [
        _statement(course, id="not-a-uuid"),
        {k: v for k, v in _statement(course).items() if k != "verb"},
        _statement(course, object={"definition": {}}),
        _statement(course, result={"score": {"scaled": 3}}),
        _statement(course, timestamp="yesterday"),
        _statement(course, timestamp=(datetime.now(UTC) + timedelta(days=2)).isoformat()),
        _statement(course_setup["other_course"]),  # not enrolled there
        _statement(
            course,
            actor={
                "account": {"homePage": "eduplatform", "name": str(Student.objects.get(user=course_setup["bob"]).pk)}
            },
        ),
        "not an object",
    ]
    resp = client.post(EVENTS, [good, *bad], format="json")
    assert resp.status_code == 200  # some stored
    body = resp.json()
    assert body["stored"] == 1 and body["errors"] == len(bad)
    errors = {r["index"]: r["error"] for r in body["results"] if r["status"] == "error"}
    assert "UUID" in errors[1] and "verb" in errors[2] and "object" in errors[3]
    assert "scaled" in errors[4] and "ISO 8601" in errors[5] and "future" in errors[6]
    assert "not enrolled" in errors[7] and "yourself" in errors[8]
    assert LearningEvent.objects.count() == 1
    # a single invalid statement is a 400 with the message
    one = client.post(EVENTS, _statement(course, id="nope"), format="json")
    assert one.status_code == 400 and one.json()["status"] == "error"


@pytest.mark.django_db
def test_instructor_posts_for_a_student_of_their_course_only(api_for, course_setup):
    alice = Student.objects.get(user=course_setup["alice"])
    actor = {"account": {"homePage": "eduplatform", "name": str(alice.pk)}}
    ok = api_for(course_setup["teacher"]).post(EVENTS, _statement(course_setup["course"], actor=actor), format="json")
    assert ok.json()["status"] == "stored"
    assert LearningEvent.objects.get().student == alice
    other = api_for(course_setup["other_teacher"]).post(
        EVENTS, _statement(course_setup["course"], actor=actor), format="json"
    )
    assert other.status_code == 400 and other.json()["status"] == "error"


@pytest.mark.django_db
def test_timestamp_without_offset_is_taken_as_utc(api_for, course_setup):
    st = _statement(course_setup["course"], timestamp="2024-01-10T10:00:00")
    resp = api_for(course_setup["alice"]).post(EVENTS, st, format="json")
    assert resp.json()["status"] == "stored"


# ------------------------------------------------------- recompute and alerts

START = datetime(2024, 1, 1, tzinfo=UTC)


def _day(d: float) -> datetime:
    return START + timedelta(days=d)


@pytest.fixture
def running_course(course_setup):
    """The fixture course started on 2024-01-01; both students registered a week before."""
    course = course_setup["course"]
    course.starts_on, course.ends_on = START.date(), (START + timedelta(days=120)).date()
    course.save()
    Enrollment.objects.filter(course=course, role="student").update(registered_at=_day(-7))
    course_setup["alice_s"] = Student.objects.get(user=course_setup["alice"])
    course_setup["bob_s"] = Student.objects.get(user=course_setup["bob"])
    return course_setup


def _view(setup, who, day):
    core.event_record(
        student=setup[who],
        course=setup["course"],
        verb=VIEWED,
        object_id="page:1",
        object_type="http://adlnet.gov/expapi/activities/file",
        timestamp=_day(day),
    )


def _model(*, coef: dict[str, float], intercept: float, accepted: bool = True, cutoff_day: int = 0) -> RiskModel:
    """A hand-set model: risk rises with the named (raw, not log-scaled) features."""
    names = list(RISK_FEATURES)
    m = RiskEstimator(
        names,
        [0.0] * len(names),
        [0.0] * len(names),
        [1.0] * len(names),
        [coef.get(n, 0.0) for n in names],
        intercept,
        log_features=[],
    )
    return RiskModel.objects.create(
        version=f"test-{uuid.uuid4().hex[:6]}",
        cutoff_day=cutoff_day,
        feature_names=names,
        params=m.to_dict(),
        accepted=accepted,
        guardrail={"accepted": accepted},
    )


@pytest.mark.django_db
def test_alert_once_per_crossing(running_course):
    s = running_course
    _model(coef={"days_since_activity": 0.3}, intercept=-3.0)  # 10 idle days = 50%
    _view(s, "alice_s", 1.0)
    _view(s, "bob_s", 1.0)
    for day in (20, 21, 22):
        _view(s, "bob_s", day - 0.5)  # bob keeps working
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(20))
    alerts = RiskAlert.objects.all()
    assert [(a.student_id, a.status) for a in alerts] == [(s["alice_s"].pk, "open")]
    alert = alerts[0]
    assert (
        alert.reasons[0]["feature"] == "days_since_activity" and "days since last activity" in alert.reasons[0]["text"]
    )
    # still at risk a day later, and a re-run of the same hour: no new alert, no duplicate rows
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(21))
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(21))
    assert RiskAlert.objects.count() == 1
    assert RiskEstimate.objects.filter(student=s["alice_s"]).count() == 2
    assert BehaviourSnapshot.objects.filter(student=s["alice_s"]).count() == 2
    # alice comes back: the alert is resolved
    _view(s, "alice_s", 21.5)
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(22))
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_at == _day(22)
    # and drifts away again: a second crossing, a second alert
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(40))
    assert RiskAlert.objects.filter(student=s["alice_s"]).count() == 2
    assert RiskAlert.objects.filter(student=s["alice_s"], resolved_at__isnull=True).count() == 1
    # bob crossed only once, when he too went quiet (last seen day 21.5)
    assert list(RiskAlert.objects.filter(student=s["bob_s"]).values_list("crossed_at", flat=True)) == [_day(40)]


@pytest.mark.django_db
def test_low_confidence_predictions_are_hidden_and_raise_nothing(running_course, api_for):
    s = running_course
    _model(coef={}, intercept=0.05)  # p = 0.51 for everyone: confidence 0.51 < 0.6
    _view(s, "alice_s", 1.0)
    counts = services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(30))
    assert counts["estimates"] == 2 and counts["shown"] == 0
    est = RiskEstimate.objects.get(student=s["alice_s"])
    assert est.probability == pytest.approx(0.5125, abs=1e-3) and not est.shown
    assert est.hidden_reason == "low_confidence"
    assert not RiskAlert.objects.exists()
    body = api_for(s["teacher"]).get(f"/api/v1/courses/{s['course'].pk}/behaviour/").json()
    risk = body["results"][0]["risk"]
    assert risk["probability"] is None and risk["at_risk"] is None and risk["reasons"] == []
    assert "hidden" in risk["message"] and "0.60 threshold" in risk["message"]
    # estimates from a model that failed the guardrail are hidden too, whatever their confidence
    _model(coef={}, intercept=3.0, accepted=False, cutoff_day=10)
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(31))
    est = RiskEstimate.objects.get(student=s["alice_s"], as_of=_day(31))
    assert est.confidence > 0.9 and not est.shown and est.hidden_reason == "model_not_accepted"
    assert not RiskAlert.objects.exists()


@pytest.mark.django_db
def test_without_a_model_engagement_and_patterns_are_still_computed(running_course):
    s = running_course
    _view(s, "alice_s", 28.5)
    counts = services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(30))
    assert counts == {"students": 2, "estimates": 0, "shown": 0, "at_risk": 0, "alerts": 0, "resolved": 0}
    alice = BehaviourSnapshot.objects.get(student=s["alice_s"])
    bob = BehaviourSnapshot.objects.get(student=s["bob_s"])
    assert alice.engagement > bob.engagement
    assert bob.pattern == "disengaged" and bob.pattern_drivers[0]["feature"] == "days_since_activity"
    assert alice.features["events_total"] == 1 and alice.course_day == 30


# ---------------------------------------------------------------- permissions


@pytest.fixture
def scored_course(running_course):
    s = running_course
    _model(coef={"days_since_activity": 0.3}, intercept=-3.0)
    _view(s, "bob_s", 29.5)
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(30))
    return s


@pytest.mark.django_db
def test_staff_see_their_courses_risk_only(scored_course, api_for):
    s = scored_course
    url = f"/api/v1/courses/{s['course'].pk}/behaviour/"
    body = api_for(s["teacher"]).get(url).json()
    assert [r["student"] for r in body["results"]] == [s["alice_s"].pk, s["bob_s"].pk]  # riskiest first
    top = body["results"][0]
    assert top["risk"]["at_risk"] is True and top["risk"]["reasons"] and top["pattern"] == "disengaged"
    at_risk = api_for(s["teacher"]).get(url, {"at_risk": "true"}).json()["results"]
    assert [r["student"] for r in at_risk] == [s["alice_s"].pk]
    assert api_for(s["teacher"]).get(url, {"pattern": "bogus"}).status_code == 400
    assert api_for(s["other_teacher"]).get(url).status_code == 404
    for user in ("alice", "bob"):  # the course's students are told it is for their teachers
        resp = api_for(s[user]).get(url)
        assert resp.status_code == 403 and resp.json()["code"] == "staff_only"
    assert api_for().get(url).status_code == 401


@pytest.mark.django_db
def test_students_never_see_others_and_see_their_own_only_if_allowed(scored_course, api_for, settings):
    s = scored_course
    own = f"/api/v1/courses/{s['course'].pk}/students/{s['alice_s'].pk}/risk/"
    other = f"/api/v1/courses/{s['course'].pk}/students/{s['bob_s'].pk}/risk/"
    settings.EDUPLATFORM_STUDENTS_SEE_OWN_RISK = False
    resp = api_for(s["alice"]).get(own)
    assert resp.status_code == 403 and resp.json()["code"] == "risk_hidden_from_students"
    assert api_for(s["alice"]).get(other).status_code == 404
    settings.EDUPLATFORM_STUDENTS_SEE_OWN_RISK = True
    mine = api_for(s["alice"]).get(own)
    assert mine.status_code == 200 and mine.json()["estimate"]["at_risk"] is True
    assert "features" not in mine.json()  # the raw features are for staff
    assert api_for(s["alice"]).get(other).status_code == 404  # never someone else's
    assert api_for(s["other_teacher"]).get(own).status_code == 404
    staff = api_for(s["teacher"]).get(other).json()
    assert staff["estimate"]["at_risk"] is False and "features" in staff and staff["history"]


@pytest.mark.django_db
def test_alerts_api_is_scoped_and_acknowledgeable(scored_course, api_for):
    s = scored_course
    alerts = api_for(s["teacher"]).get("/api/v1/risk-alerts/").json()["results"]
    assert len(alerts) == 1 and alerts[0]["student"] == s["alice_s"].pk and alerts[0]["reasons"]
    assert api_for(s["other_teacher"]).get("/api/v1/risk-alerts/").json()["results"] == []
    assert api_for(s["alice"]).get("/api/v1/risk-alerts/").json()["results"] == []
    ack = f"/api/v1/risk-alerts/{alerts[0]['id']}/acknowledge/"
    assert api_for(s["other_teacher"]).post(ack).status_code == 404
    assert api_for(s["alice"]).post(ack).status_code == 404
    done = api_for(s["teacher"]).post(ack)
    assert done.status_code == 200 and done.json()["status"] == "acknowledged"
    # acknowledged is not resolved: a recompute while still at risk raises nothing new
    services.behaviour_recompute_course(course_id=s["course"].pk, as_of=_day(31))
    assert RiskAlert.objects.count() == 1


@pytest.mark.django_db
def test_admin_dashboard_and_student_detail(scored_course, client):
    s = scored_course
    teacher = s["teacher"]
    teacher.is_staff = True
    teacher.save()
    client.force_login(teacher)
    resp = client.get(f"/admin/eduplatform_recommendations/riskestimate/dashboard/{s['course'].pk}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "engagement histogram" in html and "engagement trend" in html  # the two inline SVG charts
    assert f"Student #{s['alice_s'].pk}" in html and "not shown" in html
    detail = client.get(
        f"/admin/eduplatform_recommendations/riskestimate/dashboard/{s['course'].pk}/student/{s['alice_s'].pk}/"
    )
    assert detail.status_code == 200 and "Timeline" in detail.content.decode()
    other = s["other_teacher"]
    other.is_staff = True
    other.save()
    client.force_login(other)
    assert client.get(f"/admin/eduplatform_recommendations/riskestimate/dashboard/{s['course'].pk}/").status_code == 403


# ------------------------------------------------------------- periodic task


def _finished_course(n=40):
    """A course that ended: half the students never submitted and failed."""
    from tests.factories import CourseFactory, UserFactory

    course = CourseFactory(starts_on=datetime(2023, 1, 1).date(), ends_on=datetime(2023, 5, 1).date(), is_active=False)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    assignment = core.assignment_create(course=course, title="A1", due_at=start + timedelta(days=10))
    for i in range(n):
        user = UserFactory()
        core.enrollment_create(user=user, course=course, registered_at=start - timedelta(days=5))
        student = Student.objects.get(user=user)
        fails = i % 2 == 0
        if not fails or i % 6 == 0:
            core.event_record(
                student=student,
                course=course,
                verb="http://adlnet.gov/expapi/verbs/submitted",
                object_id=f"assignment:{assignment.pk}",
                timestamp=start + timedelta(days=8),
            )
            core.event_record(
                student=student,
                course=course,
                verb="http://adlnet.gov/expapi/verbs/scored",
                object_id=f"assignment:{assignment.pk}",
                timestamp=start + timedelta(days=9),
                result={"score": {"scaled": 0.3 if fails else 0.8}},
            )
        core.event_record(
            student=student,
            course=course,
            verb="http://adlnet.gov/expapi/verbs/" + ("failed" if fails else "passed"),
            object_id=f"course:{course.pk}",
            object_type="http://adlnet.gov/expapi/activities/course",
            timestamp=start + timedelta(days=120),
        )
    return course


@pytest.mark.django_db
def test_periodic_task_trains_on_finished_courses_and_recomputes_active(running_course, eager_celery, settings):
    from recommendations.tasks import recompute_behaviour

    settings.EDUPLATFORM_RISK_CUTOFF_DAYS = (14,)
    _finished_course()
    s = running_course
    s["course"].starts_on = (datetime.now(UTC) - timedelta(days=20)).date()
    s["course"].ends_on = (datetime.now(UTC) + timedelta(days=60)).date()
    s["course"].save()
    result = recompute_behaviour.delay().get()
    model = RiskModel.objects.get()
    assert result["trained"] == [model.version] and model.cutoff_day == 14
    assert len(model.guardrail["scores"]) == 10 and model.accepted == model.guardrail["accepted"]
    assert model.training_summary["students"] == 40
    assert result["courses"][str(s["course"].pk)]["students"] == 2
    assert RiskEstimate.objects.filter(course=s["course"], model_version=model.version).count() == 2
    # a second run within the retrain period trains nothing new and upserts the same hour
    again = recompute_behaviour.delay().get()
    assert again["trained"] == [] and RiskModel.objects.count() == 1
    assert BehaviourSnapshot.objects.filter(course=s["course"]).count() == 2


# ----------------------------------------------------------- LRS forwarding


@pytest.mark.django_db
def test_statements_are_forwarded_to_the_lrs(running_course, settings, eager_celery):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                (self.headers["X-Experience-API-Version"], self.headers.get("Authorization"), json.loads(body))
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.EDUPLATFORM_LRS_URL = f"http://127.0.0.1:{server.server_port}/xAPI/statements"
        settings.EDUPLATFORM_LRS_AUTH = "Basic dGVzdDp0ZXN0"
        s = running_course
        _view(s, "alice_s", 1.0)
        _view(s, "bob_s", 2.0)
        from eduplatform.core.lrs import events_forward_to_lrs

        events_forward_to_lrs(event_ids=list(LearningEvent.objects.values_list("pk", flat=True)))
    finally:
        server.shutdown()
    assert len(received) == 1
    version, auth, statements = received[0]
    assert version == "1.0.3" and auth == "Basic dGVzdDp0ZXN0"
    assert {st["id"] for st in statements} == {str(e.statement_id) for e in LearningEvent.objects.all()}
    assert statements[0]["verb"]["id"] == VIEWED and statements[0]["actor"]["account"]["name"]
