"""Mastery and learning paths over HTTP: owners only, staff-only class matrix and heat-map."""

from __future__ import annotations

import pytest

from recommendations.models import LearningPath, LearningPathStep
from tests.recommendations.conftest import set_mastery

MASTERY = "/api/v1/me/mastery/"
PATH = "/api/v1/me/learning-path/"


def step_url(pk: int) -> str:
    return f"/api/v1/learning-path-steps/{pk}/"


@pytest.mark.django_db
def test_my_mastery_is_by_skill_name_and_unknown_until_evidence(learning_course, api_for):
    lc = learning_course
    alice = lc["alice"].eduplatform_student
    set_mastery(alice, lc["functions"], 0.97)
    set_mastery(alice, lc["recursion"], 0.5)
    body = api_for(lc["alice"]).get(MASTERY, {"course": lc["course"].pk}).json()
    assert body["threshold"] == 0.95
    assert [r["skill"] for r in body["results"]] == ["Functions", "Recursion", "Trees"]
    rows = {r["skill"]: r for r in body["results"]}
    assert rows["Functions"] == {
        "skill_id": lc["functions"].pk,
        "skill": "Functions",
        "p_mastery": 0.97,
        "state": "mastered",
        "evidence_count": 1,
        "prerequisites": [],
        "updated_at": rows["Functions"]["updated_at"],
    }
    assert (rows["Recursion"]["state"], rows["Recursion"]["p_mastery"]) == ("learning", 0.5)
    assert rows["Recursion"]["prerequisites"] == ["Functions"]
    # no evidence: no number, not the prior's "30%"
    assert (rows["Trees"]["state"], rows["Trees"]["p_mastery"], rows["Trees"]["evidence_count"]) == ("unknown", None, 0)
    # Bob's own view does not show Alice's numbers
    bob_rows = api_for(lc["bob"]).get(MASTERY, {"course": lc["course"].pk}).json()["results"]
    assert {r["state"] for r in bob_rows} == {"unknown"}


@pytest.mark.django_db
def test_mastery_and_path_need_an_enrolled_student(learning_course, api_for):
    lc = learning_course
    for url in (MASTERY, PATH):
        assert api_for(lc["alice"]).get(url, {"course": lc["other_course"].pk}).status_code == 404
        assert api_for(lc["teacher"]).get(url, {"course": lc["course"].pk}).status_code == 404  # not a student
        assert api_for(lc["alice"]).get(url).status_code == 400  # course is required
        assert api_for().get(url, {"course": lc["course"].pk}).status_code in (401, 403)


@pytest.mark.django_db
def test_my_learning_path_is_computed_on_first_request(learning_course, api_for):
    lc = learning_course
    set_mastery(lc["alice"].eduplatform_student, lc["functions"], 0.97)
    client = api_for(lc["alice"])
    first = client.get(PATH, {"course": lc["course"].pk})
    assert first.status_code == 200
    body = first.json()
    assert body["is_current"] and body["steps"] and body["model_version"].startswith("paths-v2/")
    step = body["steps"][0]
    assert step["position"] == 1 and step["status"] == "pending" and step["skill"]["name"] == "Recursion"
    # one sentence naming the skill and the reason (the Recursion assignment is due in 3 days); no "30%"
    assert step["reason"].startswith("Watch this video on Recursion, because 'Assignment ")
    assert step["reason"].endswith(".") and "is due" in step["reason"] and "%" not in step["reason"]
    assert {"title", "kind", "url", "duration_minutes"} <= set(step["resource"])
    assert client.get(PATH, {"course": lc["course"].pk}).json()["id"] == body["id"]  # not recomputed per request
    assert LearningPath.objects.count() == 1


@pytest.mark.django_db
def test_only_the_owner_marks_a_step(learning_course, api_for, eager_celery, django_capture_on_commit_callbacks):
    lc = learning_course
    set_mastery(lc["alice"].eduplatform_student, lc["functions"], 0.97)
    path = api_for(lc["alice"]).get(PATH, {"course": lc["course"].pk}).json()
    step_id = path["steps"][0]["id"]
    resource_id = path["steps"][0]["resource"]["id"]
    for intruder in ("bob", "teacher", "other_teacher"):
        resp = api_for(lc[intruder]).post(step_url(step_id), {"status": "done"}, format="json")
        assert resp.status_code == 404, intruder
    assert api_for().post(step_url(step_id), {"status": "done"}, format="json").status_code in (401, 403)
    assert LearningPathStep.objects.get(pk=step_id).status == "pending"
    client = api_for(lc["alice"])
    assert client.post(step_url(step_id), {"status": "maybe"}, format="json").status_code == 400
    assert client.post(step_url(999_999), {"status": "done"}, format="json").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(step_url(step_id), {"status": "done"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "done"
    new = client.get(PATH, {"course": lc["course"].pk}).json()
    assert new["id"] != path["id"]  # recomputed after the feedback
    assert resource_id not in [s["resource"]["id"] for s in new["steps"]]
    # Bob cannot read Alice's path either: "me" is always the requester
    bob_path = api_for(lc["bob"]).get(PATH, {"course": lc["course"].pk}).json()
    assert bob_path["id"] not in (path["id"], new["id"])


@pytest.mark.django_db
def test_class_mastery_matrix_is_for_course_staff_only(learning_course, api_for):
    lc = learning_course
    alice, bob = lc["alice"].eduplatform_student, lc["bob"].eduplatform_student
    set_mastery(alice, lc["functions"], 0.97)
    set_mastery(bob, lc["recursion"], 0.5)
    url = f"/api/v1/courses/{lc['course'].pk}/mastery/"
    resp = api_for(lc["teacher"]).get(url)
    assert resp.status_code == 200
    body = resp.json()
    assert [s["name"] for s in body["skills"]] == ["Functions", "Recursion", "Trees"]
    rows = {r["student"]: r["mastery"] for r in body["students"]}
    assert rows[alice.pk][0]["mastered"] and rows[alice.pk][1] is None
    assert rows[bob.pk][1]["p_mastery"] == 0.5
    assert body["skills"][0]["mastered"] == 1
    for outsider in ("alice", "other_teacher"):
        assert api_for(lc[outsider]).get(url).status_code == 404, outsider


@pytest.mark.django_db
def test_instructors_pin_and_exclude_over_the_api(
    learning_course, api_for, eager_celery, django_capture_on_commit_callbacks
):
    lc = learning_course
    r = lc["resources"]
    url = f"/api/v1/courses/{lc['course'].pk}/resource-pins/"
    set_mastery(lc["alice"].eduplatform_student, lc["functions"], 0.97)
    assert api_for(lc["alice"]).post(url, {"resource": r["trees_video"].pk, "action": "pin"}).status_code == 404
    assert api_for(lc["other_teacher"]).get(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        resp = api_for(lc["teacher"]).post(url, {"resource": r["trees_video"].pk, "action": "pin"}, format="json")
        assert resp.status_code == 200
        api_for(lc["teacher"]).post(url, {"resource": r["recursion_video"].pk, "action": "exclude"}, format="json")
    steps = api_for(lc["alice"]).get(PATH, {"course": lc["course"].pk}).json()["steps"]
    assert steps[0]["resource"]["id"] == r["trees_video"].pk and steps[0]["pinned"]
    assert r["recursion_video"].pk not in [s["resource"]["id"] for s in steps]
    assert len(api_for(lc["teacher"]).get(url).json()) == 2


@pytest.mark.django_db
def test_admin_heat_map_only_for_course_staff(learning_course, client, django_user_model):
    from django.contrib.auth.models import Permission

    lc = learning_course
    set_mastery(lc["alice"].eduplatform_student, lc["functions"], 0.97)
    url = f"/admin/eduplatform_recommendations/mastery/heatmap/{lc['course'].pk}/"
    for key in ("teacher", "other_teacher"):
        user = lc[key]
        user.is_staff = True
        user.save()
        user.user_permissions.add(Permission.objects.get(codename="view_mastery"))
    client.force_login(lc["teacher"])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Class mastery" in html and "Functions" in html and "alice" in html and "hsl(" in html
    assert "cdn" not in html.lower() and '<script src="http' not in html
    index = client.get("/admin/eduplatform_recommendations/mastery/heatmap/").content.decode()
    assert lc["course"].code in index and lc["other_course"].code not in index
    client.force_login(lc["other_teacher"])
    assert client.get(url).status_code == 403
    admin = django_user_model.objects.create_superuser("root", "r@example.edu", "pw")
    client.force_login(admin)
    from recommendations.paths import services

    path = services.learning_path_recompute(student=lc["alice"].eduplatform_student, course=lc["course"])
    base = "/admin/eduplatform_recommendations"
    for page_url in (
        url,
        f"{base}/skill/",
        f"{base}/skill/{lc['recursion'].pk}/change/",
        f"{base}/learningresource/",
        f"{base}/learningresource/{lc['resources']['trees_video'].pk}/change/",
        f"{base}/resourcepin/add/",
        f"{base}/mastery/",
        f"{base}/learningpath/",
        f"{base}/ktmodelrecord/",
        f"{base}/learningpath/{path.pk}/change/",
    ):
        assert client.get(page_url).status_code == 200, page_url


@pytest.mark.django_db
def test_admin_refuses_a_prerequisite_cycle(learning_course, client, django_user_model):
    lc = learning_course
    admin = django_user_model.objects.create_superuser("root", "r@example.edu", "pw")
    client.force_login(admin)
    functions = lc["functions"]
    url = f"/admin/eduplatform_recommendations/skill/{functions.pk}/change/"
    data = {
        "course": lc["course"].pk,
        "name": "Functions",
        "description": "",
        "prerequisite_links-TOTAL_FORMS": "1",
        "prerequisite_links-INITIAL_FORMS": "0",
        "prerequisite_links-0-prerequisite": lc["trees"].pk,
        "prerequisite_links-0-skill": functions.pk,
        "assignment_tags-TOTAL_FORMS": "0",
        "assignment_tags-INITIAL_FORMS": "0",
    }
    resp = client.post(url, data)
    assert resp.status_code == 200 and "would make a cycle" in resp.content.decode()
    assert not functions.prerequisite_links.exists()
