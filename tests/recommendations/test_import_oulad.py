"""import_oulad on a tiny inline OULAD-format fixture, then benchmark_risk on what it loaded."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from eduplatform.core.models import (
    Assignment,
    Course,
    Enrollment,
    LearningEvent,
    Student,
    Submission,
)
from recommendations.risk import selectors

J13 = datetime(2013, 10, 1, tzinfo=UTC)
J14 = datetime(2014, 10, 1, tzinfo=UTC)


def _write(path, name, header, rows):
    with (path / name).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _student_rows(presentation: str, ids: list[int]):
    """Outcome by position: 0 mod 3 withdrawn, 1 mod 3 fail, else pass (or distinction)."""
    info, reg, scores = [], [], []
    base = 1 if presentation == "2013J" else 11
    for n, sid in enumerate(ids):
        kind = ("Withdrawn", "Fail", "Pass")[n % 3]
        if kind == "Pass" and n % 2:
            kind = "Distinction"
        info.append(
            ["AAA", presentation, sid, "M", "Scotland", "HE Qualification", "20-30%", "35-55", 0, 60, "N", kind]
        )
        registered = "" if n == 4 else -30 + n
        unregistered = (30 if n != 3 else "") if kind == "Withdrawn" else ""
        if n == 3:  # withdrawn with no unregistration date (happens in OULAD)
            unregistered = ""
        reg.append(["AAA", presentation, sid, registered, unregistered])
        if kind in ("Pass", "Distinction"):
            scores += [[base, sid, 18, 0, 70 + n], [base + 1, sid, 38, 0, 80], [base + 2, sid, 70, 0, 75]]
        elif kind == "Fail":
            scores += [[base, sid, 25, 0, 35], [base + 1, sid, 45, 0, "?" if n == 1 else 30]]
        elif n == 0:
            scores.append([base, sid, 19, 0, 50])
    return info, reg, scores


@pytest.fixture
def oulad_dir(tmp_path):
    _write(
        tmp_path,
        "courses.csv",
        ["code_module", "code_presentation", "module_presentation_length"],
        [["AAA", "2013J", 200], ["AAA", "2014J", 210]],
    )
    assessments = []
    for pres, base in (("2013J", 1), ("2014J", 11)):
        assessments += [
            ["AAA", pres, base, "TMA", 20, 20],
            ["AAA", pres, base + 1, "CMA", 40, 10],
            ["AAA", pres, base + 2, "TMA", 70, 20],
            ["AAA", pres, base + 3, "Exam", "", 100],
        ]
    _write(
        tmp_path,
        "assessments.csv",
        ["code_module", "code_presentation", "id_assessment", "assessment_type", "date", "weight"],
        assessments,
    )
    info13, reg13, sc13 = _student_rows("2013J", list(range(100, 130)))
    info14, reg14, sc14 = _student_rows("2014J", [*range(200, 218), 101])  # 101 repeats the module
    _write(
        tmp_path,
        "studentInfo.csv",
        [
            "code_module",
            "code_presentation",
            "id_student",
            "gender",
            "region",
            "highest_education",
            "imd_band",
            "age_band",
            "num_of_prev_attempts",
            "studied_credits",
            "disability",
            "final_result",
        ],
        info13 + info14,
    )
    _write(
        tmp_path,
        "studentRegistration.csv",
        ["code_module", "code_presentation", "id_student", "date_registration", "date_unregistration"],
        reg13 + reg14,
    )
    _write(
        tmp_path,
        "studentAssessment.csv",
        ["id_assessment", "id_student", "date_submitted", "is_banked", "score"],
        sc13 + sc14,
    )
    return tmp_path


def _counts():
    return (
        Course.objects.count(),
        Student.objects.count(),
        Enrollment.objects.count(),
        Assignment.objects.count(),
        Submission.objects.count(),
        LearningEvent.objects.count(),
    )


@pytest.mark.django_db
def test_import_loads_courses_students_assessments_and_events(oulad_dir):
    call_command("import_oulad", str(oulad_dir))
    assert _counts()[:5] == (2, 48, 49, 8, 10 * 3 + 10 * 2 + 1 + 6 * 3 + 6 * 2 + 1)
    c13 = Course.objects.get(code="AAA-2013J")
    assert (c13.starts_on, c13.ends_on, c13.is_active) == (J13.date(), (J13 + timedelta(days=200)).date(), False)
    # enrolment dates are relative to the fixed presentation start
    user = get_user_model().objects.get(username="oulad_102")
    assert not user.has_usable_password()
    assert Student.objects.get(user=user).external_id == "oulad:102"
    e = Enrollment.objects.get(user=user, course=c13)
    assert e.registered_at == J13 - timedelta(days=28) and e.unregistered_at is None
    withdrawn = Enrollment.objects.get(user__username="oulad_100", course=c13)
    assert withdrawn.unregistered_at == J13 + timedelta(days=30, hours=12)
    assert Enrollment.objects.get(user__username="oulad_104", course=c13).registered_at is None
    # assessments are assignments due at the end of their day; the undated exam at the course end
    tma = Assignment.objects.get(external_id="oulad:1")
    assert tma.due_at == J13 + timedelta(days=20, hours=23, minutes=59) and tma.max_score == 100
    assert Assignment.objects.get(external_id="oulad:4").due_at == J13 + timedelta(days=200)
    # submissions keep the day submitted (not the import time) and the recorded score
    sub = Submission.objects.get(assignment=tma, student__external_id="oulad:102")
    assert sub.submitted_at == J13 + timedelta(days=18, hours=12)
    assert sub.imported_score == Decimal(72) and sub.status == "graded"
    assert (
        Submission.objects.get(assignment__external_id="oulad:2", student__external_id="oulad:101").imported_score
        is None
    )  # "?" in the CSV
    # the statements they imply
    verbs = {v.rsplit("/", 1)[-1]: n for v, n in _verb_counts().items()}
    assert verbs == {
        "registered": 47,
        "unregistered": 15,
        "withdrew": 17,
        "failed": 16,
        "passed": 16,
        "submitted": 82,
        "scored": 80,
    }
    scored = LearningEvent.objects.get(verb__endswith="/scored", result__extensions__submission_id=sub.pk)
    assert scored.result["score"] == {"raw": 72, "min": 0, "max": 100, "scaled": 0.72}
    assert scored.timestamp == sub.submitted_at and scored.student == sub.student and scored.course == c13


def _verb_counts():
    from django.db.models import Count

    return dict(LearningEvent.objects.values_list("verb").annotate(n=Count("id")).values_list("verb", "n"))


@pytest.mark.django_db
def test_import_twice_adds_nothing(oulad_dir):
    call_command("import_oulad", str(oulad_dir))
    first = _counts()
    call_command("import_oulad", str(oulad_dir))
    assert _counts() == first


@pytest.mark.django_db
def test_missing_table_is_a_clear_error(oulad_dir):
    (oulad_dir / "studentAssessment.csv").unlink()
    with pytest.raises(CommandError, match="studentAssessment.csv"):
        call_command("import_oulad", str(oulad_dir))
    assert Course.objects.count() == 0


@pytest.mark.django_db
def test_risk_features_come_from_the_database_and_respect_the_cutoff(oulad_dir):
    call_command("import_oulad", str(oulad_dir))
    c13, c14 = Course.objects.get(code="AAA-2013J"), Course.objects.get(code="AAA-2014J")
    rows = {(r.student_id, r.course_id): r for r in selectors.risk_dataset(course_ids=[c13.pk, c14.pk], cutoff_day=60)}
    sid = {s.external_id: s.pk for s in Student.objects.all()}
    passing = rows[(sid["oulad:102"], c13.pk)]
    # by day 60: TMA (day 20) and CMA (day 40) due and submitted on time; the day-70 TMA not yet known
    assert passing.outcome == "passed" and passing.at_risk == 0 and passing.enrolled_at_cutoff
    f = passing.features
    assert (f["deadlines_due"], f["submitted_on_time"], f["deadlines_missed"], f["scores_count"]) == (2, 2, 0, 2)
    assert f["score_mean"] == pytest.approx((0.72 + 0.80) / 2) and f["registration_lead_days"] == 28
    failing = rows[(sid["oulad:101"], c13.pk)].features
    assert (failing["submitted_late"], failing["submitted_on_time"], failing["scores_count"]) == (2, 0, 1)
    withdrawn = rows[(sid["oulad:100"], c13.pk)]
    assert withdrawn.outcome == "withdrawn" and withdrawn.at_risk == 1 and not withdrawn.enrolled_at_cutoff
    no_date = rows[(sid["oulad:103"], c13.pk)]  # Withdrawn without an unregistration date
    assert no_date.outcome == "withdrawn" and no_date.enrolled_at_cutoff
    # the repeat student has one earlier enrolment in the product
    assert rows[(sid["oulad:101"], c14.pk)].features["prior_enrolments"] == 1
    assert rows[(sid["oulad:101"], c13.pk)].features["prior_enrolments"] == 0


@pytest.mark.django_db
def test_benchmark_risk_reports_the_headline_numbers(oulad_dir, tmp_path):
    call_command("import_oulad", str(oulad_dir))
    out = tmp_path / "risk.json"
    call_command("benchmark_risk", cutoff_day=60, train="2013J", test="2014J", json_out=out)
    result = json.loads(out.read_text())
    for key in ("auc", "auc_all", "average_precision", "precision", "recall"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["split"]["train"] == ["AAA-2013J"] and result["split"]["test"] == ["AAA-2014J"]
    assert len(result["guardrail"]["scores"]) == 10 and isinstance(result["guardrail"]["accepted"], bool)
    assert result["still_enrolled"]["n"] < result["all_students"]["n"] == 19
    assert "withdrawal_only" in result and result["cutoff_day"] == 60


@pytest.mark.django_db
def test_benchmark_needs_imported_courses():
    with pytest.raises(CommandError, match="import_oulad"):
        call_command("benchmark_risk")
