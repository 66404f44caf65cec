"""Submissions over the REST API: permissions, bad input, nothing half-saved."""

from __future__ import annotations

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from eduplatform.core.models import LearningEvent, Submission, SubmissionFile

URL = "/api/v1/submissions/"


def _files_on_disk(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs] if os.path.isdir(root) else []


def _post(client, assignment, text="", files=()):
    data = {"assignment": assignment.pk, "text": text}
    if files:
        data["files"] = list(files)
    return client.post(URL, data, format="multipart")


@pytest.fixture
def no_grading(monkeypatch):
    """These tests are about intake; grading has its own tests. Record wake-ups instead."""
    calls = []
    monkeypatch.setattr("grading.receivers.grading_enqueue", lambda *, submission_ids: calls.append(submission_ids))
    return calls


@pytest.mark.django_db
def test_unauthenticated_gets_401(api_for, course_setup):
    assert api_for().get(URL).status_code == 401
    assert _post(api_for(), course_setup["assignment"], text="hi").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_student_submits_text_image_audio_and_reads_back(
    api_for, course_setup, png_bytes, wav_bytes, no_grading, settings
):
    client = api_for(course_setup["alice"])
    resp = _post(
        client,
        course_setup["assignment"],
        text="A stack is LIFO.",
        files=[
            SimpleUploadedFile("page.png", png_bytes, "image/png"),
            SimpleUploadedFile("answer.wav", wav_bytes, "audio/wav"),
        ],
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "pending" and body["attempt"] == 1
    assert sorted(f["kind"] for f in body["files"]) == ["audio", "image"]
    assert no_grading == [[body["id"]]]  # a worker was woken after commit
    # stored under random names, not the uploaded names
    paths = _files_on_disk(settings)
    assert len(paths) == 2 and not any("page" in p or "answer" in p for p in paths)
    # the student reads it back, with its files through the checked download
    detail = client.get(f"{URL}{body['id']}/").json()
    assert detail["text"] == "A stack is LIFO."
    file_id = body["files"][0]["id"]
    download = client.get(f"{URL}{body['id']}/files/{file_id}/")
    assert download.status_code == 200 and download["Cache-Control"] == "private, no-store"
    assert LearningEvent.objects.filter(verb__endswith="/submitted", student__user=course_setup["alice"]).count() == 1


@pytest.mark.django_db
def test_student_cannot_see_other_students_submission(api_for, course_setup, no_grading):
    alice, bob = api_for(course_setup["alice"]), api_for(course_setup["bob"])
    sub_id = _post(alice, course_setup["assignment"], text="mine").json()["id"]
    assert bob.get(f"{URL}{sub_id}/").status_code == 404
    assert bob.get(f"{URL}{sub_id}/files/1/").status_code == 404
    assert bob.get(URL).json()["count"] == 0
    assert alice.get(URL).json()["count"] == 1


@pytest.mark.django_db
def test_instructor_sees_only_own_courses(api_for, course_setup, no_grading):
    sub_id = _post(api_for(course_setup["alice"]), course_setup["assignment"], text="answer").json()["id"]
    teacher, other = api_for(course_setup["teacher"]), api_for(course_setup["other_teacher"])
    assert teacher.get(f"{URL}{sub_id}/").status_code == 200
    assert teacher.get(URL, {"course": course_setup["course"].pk}).json()["count"] == 1
    assert other.get(f"{URL}{sub_id}/").status_code == 404
    assert other.get(URL).json()["count"] == 0
    assert [c["id"] for c in other.get("/api/v1/courses/").json()["results"]] == [course_setup["other_course"].pk]


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["oversized", "png_that_is_text", "corrupt_wav", "empty_file", "wrong_modality"])
def test_bad_files_get_400_and_leave_nothing(api_for, course_setup, settings, png_bytes, no_grading, case):
    assignment = course_setup["assignment"]
    if case == "oversized":
        settings.EDUPLATFORM_MAX_IMAGE_BYTES = 100
        upload, code = SimpleUploadedFile("big.png", png_bytes, "image/png"), "too_large"
    elif case == "png_that_is_text":
        upload, code = SimpleUploadedFile("fake.png", b"just some text, not an image", "image/png"), "unsupported_type"
    elif case == "corrupt_wav":
        upload, code = (
            SimpleUploadedFile("bad.wav", b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 3, "audio/wav"),
            "corrupt_file",
        )
    elif case == "empty_file":
        upload, code = SimpleUploadedFile("empty.png", b"", "image/png"), "empty_file"
    else:
        assignment.accepts_audio = False
        assignment.save()
        from tests.conftest import make_wav

        upload, code = SimpleUploadedFile("a.wav", make_wav(), "audio/wav"), "modality_not_accepted"
    resp = _post(api_for(course_setup["alice"]), assignment, text="with a file", files=[upload])
    assert resp.status_code == (413 if code == "too_large" else 400), resp.content
    assert resp.json()["code"] == code and resp.json()["detail"] and resp.json()["field"] == "files"
    assert Submission.objects.count() == 0 and SubmissionFile.objects.count() == 0
    assert _files_on_disk(settings) == [] and no_grading == []


@pytest.mark.django_db
def test_empty_submission_and_unknown_assignment(api_for, course_setup, no_grading):
    client = api_for(course_setup["alice"])
    resp = _post(client, course_setup["assignment"], text="   ")
    assert resp.status_code == 400 and resp.json()["code"] == "empty_submission"
    resp = client.post(URL, {"assignment": 999999, "text": "x"}, format="multipart")
    assert resp.status_code == 404
    # an assignment of a course alice is not in is "not found" for her, too
    resp = _post(client, course_setup["other_assignment"], text="x")
    assert resp.status_code == 404
    assert Submission.objects.count() == 0


@pytest.mark.django_db
def test_attempts_are_numbered_and_limited(api_for, course_setup, no_grading):
    assignment = course_setup["assignment"]
    assignment.max_attempts = 2
    assignment.save()
    client = api_for(course_setup["alice"])
    assert [_post(client, assignment, text=f"try {i}").status_code for i in range(3)] == [201, 201, 409]
    assert sorted(Submission.objects.values_list("attempt", flat=True)) == [1, 2]


@pytest.mark.django_db
def test_schema_and_docs_served(api_for, course_setup):
    client = api_for(course_setup["teacher"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/submissions/" in schema.content
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_token_auth_for_mobile(api_for, course_setup):
    resp = api_for().post("/api/v1/auth/token/", {"username": "alice", "password": "pw-12345678"}, format="json")
    token = resp.json()["token"]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/courses/").json()["count"] == 1


@pytest.mark.django_db
def test_listing_costs_no_query_per_submission(api_for, course_setup, no_grading, django_assert_max_num_queries):
    from grading.models import Grade

    alice = api_for(course_setup["alice"])
    for i in range(3):
        sub_id = _post(alice, course_setup["assignment"], text=f"answer {i}").json()["id"]
        Grade.objects.create(submission_id=sub_id, model_version="v", mode="zero-shot", score=1, confidence=0.5)
    teacher = api_for(course_setup["teacher"])
    with django_assert_max_num_queries(8):
        body = teacher.get(URL).json()
    assert body["count"] == 3 and all(r["result"]["score"] == 1 for r in body["results"])


@pytest.mark.django_db
def test_uploads_are_not_served_by_any_public_url(api_for, course_setup, png_bytes, no_grading, client, settings):
    resp = _post(
        api_for(course_setup["alice"]),
        course_setup["assignment"],
        text="x",
        files=[SimpleUploadedFile("p.png", png_bytes, "image/png")],
    )
    stored = os.path.relpath(_files_on_disk(settings)[0], settings.MEDIA_ROOT)
    assert resp.status_code == 201
    assert client.get(settings.MEDIA_URL + stored).status_code == 404
