"""Issue 13 findings, each kept fixed: settings, bodies, bombs, throttles, request ids, 500 logs, oracles."""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import subprocess
import sys
import uuid
import zlib
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from eduplatform.core.models import LearningEvent, Submission, SubmissionFile

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = "/api/v1/submissions/"
TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # throttle and login-failure counts live in the cache
    yield
    cache.clear()


@pytest.fixture
def no_grading(monkeypatch):
    calls = []
    monkeypatch.setattr("grading.receivers.grading_enqueue", lambda *, submission_ids: calls.append(submission_ids))
    return calls


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EDUPLATFORM_", "REDIS_URL"))}
    base.update({"DJANGO_SETTINGS_MODULE": "eduplatform.settings", "PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


# ------------------------------------------------------------------ settings


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    run = _manage("check", env={"DJANGO_DEBUG": "0", "EDUPLATFORM_VAR_DIR": str(tmp_path)})
    assert run.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in run.stderr


def test_check_deploy_is_clean_for_the_documented_production_settings(tmp_path):
    env = {
        "DJANGO_SECRET_KEY": "a-long-random-production-key-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "1",
        "EDUPLATFORM_NUM_PROXIES": "1",
        "DJANGO_ALLOWED_HOSTS": "edu.example.org",
        "EDUPLATFORM_VAR_DIR": str(tmp_path),
    }
    run = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues" in run.stdout


def test_lti_form_salts_differ_per_purpose():
    from eduplatform.lti.views import DEEP_LINK_FORM, SUBMIT_FORM, _salt

    assert len({_salt(SUBMIT_FORM), _salt(DEEP_LINK_FORM), "django.contrib.sessions.SessionStore"}) == 3


# -------------------------------------------------------------- bodies and bombs


def _png_header_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` whose pixels are all black:
    megabytes of zeros compress to kilobytes (the issue's 109 KB 30000x30000 file)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [30000, 13000])
@pytest.mark.django_db
def test_decompression_bombs_are_refused_from_the_header(api_for, course_setup, no_grading, settings, side):
    bomb = _png_header_bomb(side, side)
    assert len(bomb) < 1024 * 1024  # small on the wire
    resp = api_for(course_setup["alice"]).post(
        SUBMISSIONS,
        {"assignment": course_setup["assignment"].pk, "files": [SimpleUploadedFile("b.png", bomb, "image/png")]},
        format="multipart",
    )
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert body["code"] == "too_many_pixels" and body["field"] == "files" and "megapixels" in body["detail"]
    assert Submission.objects.count() == 0 and SubmissionFile.objects.count() == 0 and no_grading == []


def test_pixel_limit_is_read_before_decoding(monkeypatch):
    """The 13000x13000 file never reaches ``load()`` (which would allocate ~170 MB)."""
    from PIL import ImageFile

    from eduplatform.core.errors import ApplicationError
    from eduplatform.core.uploads import check_image

    def no_decoding(self, *a, **k):
        raise AssertionError("decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ApplicationError) as err:
        check_image("b.png", _png_header_bomb(13000, 13000))
    assert err.value.code == "too_many_pixels"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("[1, 2, 3]", "invalid_body"),  # a JSON list as a submission body
        ('"just a string"', "invalid_body"),
        ("[" * 20000 + "]" * 20000, "parse_error"),  # 20,000-deep nesting
        ('{"assignment": 1, "text": "x", "n": NaN}', "parse_error"),
        ('{"assignment": 1, "text": "x", "n": 1e400}', "parse_error"),
        ('{"assignment": 1, "text": "a\\u0000b"}', "parse_error"),
        ('{"assignment": 1, "text": "\\ud800"}', "parse_error"),
        ("{not json", "parse_error"),
    ],
)
def test_malformed_json_bodies_are_4xx_with_the_error_shape(api_for, course_setup, no_grading, body, code):
    resp = api_for(course_setup["alice"]).generic("POST", SUBMISSIONS, body, content_type="application/json")
    assert resp.status_code == 400, resp.content
    data = resp.json()
    assert data["code"] == code and set(data) >= {"detail", "code", "field", "errors"}
    assert Submission.objects.count() == 0


@pytest.mark.django_db
def test_json_body_over_the_limit_is_413_before_it_is_read(api_for, course_setup, settings, no_grading):
    settings.EDUPLATFORM_MAX_JSON_BYTES = 64 * 1024
    big = json.dumps({"assignment": course_setup["assignment"].pk, "text": "x" * 200_000})
    resp = api_for(course_setup["alice"]).generic("POST", SUBMISSIONS, big, content_type="application/json")
    assert resp.status_code == 413 and resp.json()["code"] == "request_too_large"
    assert "MB" in resp.json()["detail"]
    assert Submission.objects.count() == 0


@pytest.mark.django_db
def test_json_submission_with_text_still_works(api_for, course_setup, no_grading):
    resp = api_for(course_setup["alice"]).post(
        SUBMISSIONS, {"assignment": course_setup["assignment"].pk, "text": "LIFO"}, format="json"
    )
    assert resp.status_code == 201, resp.content


@pytest.mark.django_db
def test_validation_errors_list_every_field(api_for, course_setup):
    resp = api_for(course_setup["teacher"]).post(
        f"/api/v1/courses/{course_setup['course'].pk}/resource-pins/", {"action": "sideways"}, format="json"
    )
    assert resp.status_code == 400
    body = resp.json()
    fields = {e["field"] for e in body["errors"]}
    assert {"resource", "action"} <= fields and body["field"] in fields and body["code"]


# ---------------------------------------------------------- throttles and logins


@pytest.mark.django_db
def test_token_endpoint_is_throttled_whatever_x_forwarded_for_says(api_for, settings):
    from tests.factories import UserFactory

    UserFactory(username="mobile", password="pw-12345678")
    client = api_for()
    codes = []
    for i in range(14):
        resp = client.post(
            TOKEN,
            {"username": "mobile", "password": "pw-12345678"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
            HTTP_X_REAL_IP=f"198.51.100.{i}",
        )
        codes.append(resp.status_code)
    assert codes[:10] == [200] * 10
    assert set(codes[10:]) == {429}
    assert resp.json()["code"] == "throttled" and resp.json()["retry_after"] > 0


@pytest.mark.django_db
def test_password_guessing_locks_the_address_whatever_x_forwarded_for_says(client, settings):
    from tests.factories import UserFactory

    settings.EDUPLATFORM_LOGIN_FAILURES_PER_IP = 5
    settings.EDUPLATFORM_LOGIN_FAILURES_PER_USERNAME = 100
    admin = UserFactory(username="it-admin", password="right-password-123", is_staff=True, is_superuser=True)
    for i in range(5):
        resp = client.post(
            "/admin/login/",
            {"username": f"guess{i}", "password": "nope"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
        assert resp.status_code == 200  # the form again
    # Now even the right password from that address is refused, forged header or not.
    resp = client.post(
        "/admin/login/",
        {"username": admin.username, "password": "right-password-123"},
        HTTP_X_FORWARDED_FOR="192.0.2.77",
    )
    assert resp.status_code == 200 and "_auth_user_id" not in client.session
    # Another address (the TCP peer, not a header) is not locked.
    from django.test import Client

    other = Client(REMOTE_ADDR="198.51.100.9")
    resp = other.post("/admin/login/", {"username": admin.username, "password": "right-password-123"})
    assert resp.status_code == 302 and "_auth_user_id" in other.session


@pytest.mark.django_db
def test_guessing_one_username_from_many_addresses_locks_that_username(settings):
    from django.test import Client

    from tests.factories import UserFactory

    settings.EDUPLATFORM_LOGIN_FAILURES_PER_USERNAME = 4
    UserFactory(username="teacher-x", password="right-password-123")
    for i in range(4):
        Client(REMOTE_ADDR=f"198.51.100.{i}").post(TOKEN, {"username": "teacher-x", "password": "no"})
    resp = Client(REMOTE_ADDR="198.51.100.200").post(TOKEN, {"username": "teacher-x", "password": "right-password-123"})
    assert resp.status_code == 400 and resp.json()["code"] in ("authorization", "invalid")


def test_client_ip_trusts_only_the_configured_number_of_proxies(rf, settings):
    from eduplatform.core.middleware import client_ip

    req = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.EDUPLATFORM_NUM_PROXIES = 0
    assert client_ip(req) == "10.0.0.5"
    settings.EDUPLATFORM_NUM_PROXIES = 1
    assert client_ip(req) == "203.0.113.7"  # what our proxy saw; the client's own "6.6.6.6" is ignored


# ----------------------------------------------------- request ids and 500 logs


@pytest.mark.django_db
def test_request_id_is_answered_and_propagated(api_for, course_setup):
    client = api_for(course_setup["alice"])
    mine = client.get("/api/v1/courses/", HTTP_X_REQUEST_ID="mobile-req-12345678")
    assert mine["X-Request-ID"] == "mobile-req-12345678"
    fresh = client.get("/api/v1/courses/", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert fresh["X-Request-ID"] != "bad id with spaces\n" and len(fresh["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_a_500_is_logged_with_the_request_id_and_no_personal_data(course_setup, monkeypatch, caplog):
    from django.test import Client

    from eduplatform.core import api as core_api

    alice = course_setup["alice"]
    alice.first_name, alice.email = "Alicia", "alicia.private@example.edu"
    alice.save()

    def boom(user):
        raise RuntimeError("selector failed")

    monkeypatch.setattr(core_api, "courses_visible_to", boom)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        resp = client.get("/api/v1/courses/?q=secret-answer", HTTP_X_REQUEST_ID="trace-abcdef123456")
    assert resp.status_code == 500
    assert resp.json()["request_id"] == "trace-abcdef123456" and resp.json()["code"] == "server_error"
    [record] = [r for r in caplog.records if r.name == "django.request"]
    from eduplatform.core.middleware import RequestIdLogFilter

    RequestIdLogFilter().filter(record)
    assert record.request_id == "trace-abcdef123456"
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.emit(record)
    line = handler.stream.getvalue()
    assert "trace-abcdef123456" in line and "RuntimeError" in line
    for pii in ("Alicia", "alicia.private", alice.username, "secret-answer"):
        assert pii not in line


def test_django_request_has_a_handler_with_the_request_id():
    from django.conf import settings

    logger = settings.LOGGING["loggers"]["django.request"]
    assert logger["handlers"] and logger["level"] == "ERROR"
    assert "%(request_id)s" in settings.LOGGING["formatters"]["plain"]["format"]


# ----------------------------------------------------------- existence oracles


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/submissions/?assignment={id}",
        "/api/v1/submissions/?course={course}",
        "/api/v1/assignments/?course={course}",
        "/api/v1/events/?course={course}",
        "/api/v1/risk-alerts/?course={course}",
        "/api/v1/review-queue/?assignment={id}",
        "/api/v1/review-queue/?course={course}",
    ],
)
def test_filters_answer_the_same_for_unknown_and_foreign_ids(api_for, course_setup, url):
    client = api_for(course_setup["teacher"])
    foreign = client.get(url.format(id=course_setup["other_assignment"].pk, course=course_setup["other_course"].pk))
    unknown = client.get(url.format(id=987654, course=987654))
    assert foreign.status_code == unknown.status_code == 200
    assert foreign.json() == unknown.json()


# -------------------------------------------------------------------- headers


@pytest.mark.django_db
def test_csp_limits_framing_to_registered_platforms(client):
    from lti_tool.models import LtiRegistration

    from eduplatform.lti.middleware import platform_origins_forget

    LtiRegistration.objects.create(
        name="LMS",
        issuer="https://lms.school.example",
        client_id="c1",
        auth_url="https://auth.school.example/oidc",
        token_url="https://lms.school.example/token",
        keyset_url="https://lms.school.example/jwks",
    )
    platform_origins_forget()
    framed = client.get("/lti/login/")  # an LTI page (frame-exempt)
    csp = framed["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://auth.school.example https://lms.school.example" in csp
    assert "object-src 'none'" in csp
    admin = client.get("/admin/login/")
    assert "frame-ancestors 'none'" in admin["Content-Security-Policy"] and admin["X-Frame-Options"] == "DENY"
    platform_origins_forget()


def test_lti_sessions_get_samesite_none_and_others_keep_lax(rf):
    from django.http import HttpResponse
    from lti_tool.constants import SESSION_KEY

    from eduplatform.lti.middleware import LtiFrameCookiesMiddleware

    def view(request):
        resp = HttpResponse("ok")
        resp.set_cookie("sessionid", "abc", samesite="Lax")
        return resp

    class Session(dict):
        pass

    lti_req = rf.get("/", secure=True)
    lti_req.session = Session({SESSION_KEY: "launch-1"})
    cookie = LtiFrameCookiesMiddleware(view)(lti_req).cookies["sessionid"]
    assert cookie["samesite"] == "None" and cookie["secure"]
    plain = rf.get("/", secure=True)
    plain.session = Session()
    assert LtiFrameCookiesMiddleware(view)(plain).cookies["sessionid"]["samesite"] == "Lax"


@pytest.mark.django_db
def test_download_is_named_with_its_real_extension(api_for, course_setup, png_bytes, no_grading):
    client = api_for(course_setup["alice"])
    body = client.post(
        SUBMISSIONS,
        {"assignment": course_setup["assignment"].pk, "files": [SimpleUploadedFile("x.png", png_bytes, "image/png")]},
        format="multipart",
    ).json()
    f = body["files"][0]
    resp = client.get(f"{SUBMISSIONS}{body['id']}/files/{f['id']}/")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/png"
    assert resp["Content-Disposition"] == f'attachment; filename="submission-{body["id"]}-file-{f["id"]}.png"'


@pytest.mark.django_db
def test_polling_clients_get_304_until_something_changes(api_for, course_setup, no_grading):
    client = api_for(course_setup["alice"])
    sub = client.post(SUBMISSIONS, {"assignment": course_setup["assignment"].pk, "text": "LIFO"}, format="json").json()
    first = client.get(f"{SUBMISSIONS}{sub['id']}/")
    assert first.status_code == 200 and first["ETag"] and first["Last-Modified"]
    again = client.get(f"{SUBMISSIONS}{sub['id']}/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    Submission.objects.filter(pk=sub["id"]).update(status="graded")
    changed = client.get(f"{SUBMISSIONS}{sub['id']}/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    listing = client.get(SUBMISSIONS)
    assert client.get(SUBMISSIONS, HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 304


def test_events_stay_untouched_by_unrelated_imports():
    assert LearningEvent._meta.get_field("verb").max_length == 255  # xapi.VERB_MAX mirrors it
    from eduplatform.core import xapi

    assert xapi.VERB_MAX == 255 and xapi.OBJECT_ID_MAX == LearningEvent._meta.get_field("object_id").max_length
    assert xapi.OBJECT_TYPE_MAX == LearningEvent._meta.get_field("object_type").max_length


@pytest.mark.django_db
def test_review_queue_filters_by_assignment_and_course_and_warns_on_the_old_name(api_for, course_setup):
    from eduplatform.core.models import Student
    from eduplatform.core.services import submission_create
    from grading.models import Grade

    sub = submission_create(
        assignment=course_setup["assignment"], student=Student.objects.get(user=course_setup["alice"]), text="LIFO"
    )
    grade = Grade.objects.create(submission=sub, model_version="m", mode="zero-shot", score=5, review_state="pending")
    client = api_for(course_setup["teacher"])
    a = course_setup["assignment"].pk
    assert [g["id"] for g in client.get(f"/api/v1/review-queue/?assignment={a}").json()["results"]] == [grade.pk]
    assert client.get(f"/api/v1/review-queue/?assignment={a + 1000}").json()["count"] == 0
    assert client.get(f"/api/v1/review-queue/?course={course_setup['course'].pk}").json()["count"] == 1
    old = client.get(f"/api/v1/review-queue/?submission__assignment={a}")
    assert old.json()["count"] == 1 and old["Deprecation"] == "true" and "?assignment=" in old["Warning"]


def test_redis_url_gives_one_shared_cache_and_cached_sessions(tmp_path):
    probe = (
        "from django.conf import settings as s; from django.core.cache import cache;"
        "print(s.CACHES['default']['BACKEND'], s.CACHES['default'].get('LOCATION'), s.SESSION_ENGINE)"
    )
    env = {"DJANGO_SECRET_KEY": "x" * 50, "EDUPLATFORM_VAR_DIR": str(tmp_path)}
    shared = _manage("shell", "-v", "0", "-c", probe, env={**env, "REDIS_URL": "redis://127.0.0.1:6379/9"})
    assert shared.returncode == 0, shared.stderr
    backend, location, sessions = shared.stdout.strip().splitlines()[-1].split()
    assert backend.endswith("RedisCache") and location == "redis://127.0.0.1:6379/9"
    assert sessions == "django.contrib.sessions.backends.cached_db"
    alone = _manage("shell", "-v", "0", "-c", probe, env=env)
    assert "LocMemCache" in alone.stdout and "backends.db" in alone.stdout
