"""Load the Open University Learning Analytics Dataset into the product's own models.

    python manage.py import_oulad ../shared/datasets/oulad_dev

Reads ``courses.csv``, ``studentInfo.csv``, ``studentRegistration.csv``,
``assessments.csv`` and ``studentAssessment.csv`` (Kuzilek, Hlosta & Zdrahal 2017,
Scientific Data; CC BY 4.0) and writes:

* one Course per module-presentation (code ``AAA-2013J``), inactive (they are over).
  OULAD gives days relative to each presentation's start, not dates; we fix the
  start at 1 February (``B`` presentations) or 1 October (``J``) of the year, and
  every OULAD day ``d`` becomes ``start + d days``;
* one user + Student per ``id_student`` (username ``oulad_<id>``, unusable password),
  an Enrollment per module-presentation with registration/unregistration datetimes;
* each assessment as an Assignment (``external_id = "oulad:<id_assessment>"``, due
  at the end of its day; exams without a date are due at the course end);
* each student assessment as a graded Submission (``imported_score``, 0-100) at
  noon of the day submitted;
* the xAPI statements these imply: registered / unregistered, submitted, scored
  (score timestamped at submission: OULAD has no marking dates) and one
  course-level outcome at the course end (passed / failed / withdrew) - the label
  ``benchmark_risk`` trains on. Demographics are not imported.

Everything is written with ``bulk_create`` in one transaction; statement ids are
UUIDv5 of the source keys, so running the command twice adds nothing.
"""

from __future__ import annotations

import csv
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries, transaction

from eduplatform.core.api import (
    COURSE_EXT,
    Assignment,
    Course,
    Enrollment,
    LearningEvent,
    Student,
    Submission,
)
from recommendations.xapi import (
    ACTIVITY_ASSESSMENT,
    ACTIVITY_COURSE,
    VERB_FAILED,
    VERB_PASSED,
    VERB_REGISTERED,
    VERB_UNREGISTERED,
    VERB_WITHDREW,
)

VERB_SUBMITTED = "http://adlnet.gov/expapi/verbs/submitted"
VERB_SCORED = "http://adlnet.gov/expapi/verbs/scored"
NAMESPACE = uuid.UUID("5b0c7f8e-3f52-4a8e-9a57-0f6c2c1b4d21")
USER_PREFIX = "oulad_"
BATCH = 2000
REQUIRED = ("courses.csv", "studentInfo.csv", "studentRegistration.csv", "assessments.csv", "studentAssessment.csv")
OUTCOME_VERB = {"Pass": VERB_PASSED, "Distinction": VERB_PASSED, "Fail": VERB_FAILED, "Withdrawn": VERB_WITHDREW}


def presentation_start(presentation: str) -> date:
    """``2013J`` -> 2013-10-01, ``2014B`` -> 2014-02-01 (the fixed start we assume)."""
    year, letter = int(presentation[:4]), presentation[4:].upper()
    if letter not in ("B", "J"):
        raise CommandError(f"Unknown presentation {presentation!r} (expected YYYYB or YYYYJ).")
    return date(year, 2 if letter == "B" else 10, 1)


def _int(value: str) -> int | None:
    value = (value or "").strip()
    if value in ("", "?"):
        return None
    return int(float(value))


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _sid(*parts) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


class _EventWriter:
    """Collects LearningEvents and bulk-inserts them in chunks, so memory stays flat."""

    CHUNK = 20 * BATCH

    def __init__(self) -> None:
        self.pending: list[LearningEvent] = []
        self.count = 0

    def add(self, event: LearningEvent) -> None:
        self.pending.append(event)
        if len(self.pending) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        LearningEvent.objects.bulk_create(self.pending, batch_size=BATCH, ignore_conflicts=True)
        self.count += len(self.pending)
        self.pending = []
        reset_queries()  # DEBUG=True keeps every SQL string otherwise


class Command(BaseCommand):
    help = "Import OULAD tables (courses, students, registrations, assessments, scores) into eduplatform models."

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **opts):
        missing = [n for n in REQUIRED if not (directory / n).is_file()]
        if missing:
            raise CommandError(f"{directory}: missing {', '.join(missing)}")
        t0 = time.perf_counter()
        with transaction.atomic():
            counts = self._import(directory)
        counts["seconds"] = round(time.perf_counter() - t0, 1)
        self.stdout.write(self.style.SUCCESS("imported: " + ", ".join(f"{k} {v}" for k, v in counts.items())))

    # ------------------------------------------------------------------ steps

    def _import(self, d: Path) -> dict:
        courses_csv = _read(d / "courses.csv")
        info = _read(d / "studentInfo.csv")
        registration = {
            (r["code_module"], r["code_presentation"], r["id_student"]): r for r in _read(d / "studentRegistration.csv")
        }
        assessments = _read(d / "assessments.csv")
        student_assessments = _read(d / "studentAssessment.csv")

        # Courses, one per module-presentation.
        courses: dict[tuple[str, str], Course] = {}
        starts: dict[tuple[str, str], datetime] = {}
        for r in courses_csv:
            key = (r["code_module"], r["code_presentation"])
            start = presentation_start(key[1])
            length = _int(r["module_presentation_length"]) or 0
            course, _ = Course.objects.get_or_create(
                code=f"{key[0]}-{key[1]}",
                defaults={
                    "title": f"OULAD module {key[0]}, presentation {key[1]}",
                    "is_active": False,
                    "starts_on": start,
                    "ends_on": start + timedelta(days=length),
                    "description": "Imported from OULAD (Kuzilek et al. 2017, CC BY 4.0).",
                },
            )
            courses[key] = course
            starts[key] = datetime.combine(course.starts_on, datetime.min.time(), tzinfo=UTC)

        def at(key, day: int | None, hour: int = 0, minute: int = 0) -> datetime | None:
            if day is None:
                return None
            return starts[key] + timedelta(days=day, hours=hour, minutes=minute)

        def course_end(key) -> datetime:
            return datetime.combine(courses[key].ends_on, datetime.min.time(), tzinfo=UTC)

        # Users and students.
        User = get_user_model()
        ids = sorted({r["id_student"] for r in info}, key=int)
        unusable = make_password(None)
        User.objects.bulk_create(
            [User(username=f"{USER_PREFIX}{i}", password=unusable) for i in ids],
            batch_size=BATCH,
            ignore_conflicts=True,
        )
        user_of = dict(User.objects.filter(username__startswith=USER_PREFIX).values_list("username", "pk"))
        user_of = {u[len(USER_PREFIX) :]: pk for u, pk in user_of.items()}
        Student.objects.bulk_create(
            [Student(user_id=user_of[i], external_id=f"oulad:{i}") for i in ids],
            batch_size=BATCH,
            ignore_conflicts=True,
        )
        student_of_user = dict(
            Student.objects.filter(user__username__startswith=USER_PREFIX).values_list("user_id", "pk")
        )
        student_of = {i: student_of_user[user_of[i]] for i in ids}

        # Enrolments with registration dates, and the statements they imply.
        enrolments, events = [], _EventWriter()
        outcome_of: dict[tuple[str, str, str], str] = {}
        for r in info:
            key = (r["code_module"], r["code_presentation"])
            if key not in courses:
                raise CommandError(f"studentInfo row for unknown course {key}")
            reg = registration.get((*key, r["id_student"]), {})
            registered = at(key, _int(reg.get("date_registration", "")))
            unregistered = at(key, _int(reg.get("date_unregistration", "")), hour=12)
            course, sid = courses[key], student_of[r["id_student"]]
            enrolments.append(
                Enrollment(
                    user_id=user_of[r["id_student"]],
                    course=course,
                    role=Enrollment.Role.STUDENT,
                    registered_at=registered,
                    unregistered_at=unregistered,
                )
            )
            outcome_of[(*key, r["id_student"])] = r["final_result"]
            base = (*key, r["id_student"])
            if registered:
                events.add(
                    self._event(
                        _sid(*base, "registered"),
                        sid,
                        course,
                        VERB_REGISTERED,
                        f"course:{course.pk}",
                        ACTIVITY_COURSE,
                        registered,
                    )
                )
            if unregistered:
                events.add(
                    self._event(
                        _sid(*base, "unregistered"),
                        sid,
                        course,
                        VERB_UNREGISTERED,
                        f"course:{course.pk}",
                        ACTIVITY_COURSE,
                        unregistered,
                    )
                )
            verb = OUTCOME_VERB.get(r["final_result"])
            if verb:
                passed = verb == VERB_PASSED
                events.add(
                    self._event(
                        _sid(*base, "outcome"),
                        sid,
                        course,
                        verb,
                        f"course:{course.pk}",
                        ACTIVITY_COURSE,
                        max(course_end(key), unregistered or course_end(key)),
                        result={
                            "success": passed,
                            "completion": passed,
                            "extensions": {"final_result": r["final_result"]},
                        },
                    )
                )
        Enrollment.objects.bulk_create(enrolments, batch_size=BATCH, ignore_conflicts=True)

        # Assessments as assignments.
        existing = dict(
            Assignment.objects.filter(external_id__startswith="oulad:", course__in=courses.values()).values_list(
                "external_id", "pk"
            )
        )
        new = []
        assessment_key: dict[str, tuple[str, str]] = {}
        for r in assessments:
            key = (r["code_module"], r["code_presentation"])
            assessment_key[r["id_assessment"]] = key
            ext = f"oulad:{r['id_assessment']}"
            if ext in existing:
                continue
            day = _int(r["date"])
            due = at(key, day, hour=23, minute=59) if day is not None else course_end(key)
            new.append(
                Assignment(
                    course=courses[key],
                    title=f"{r['assessment_type']} {r['id_assessment']}",
                    instructions=f"OULAD {r['assessment_type']}, weight {r['weight']}%.",
                    due_at=due,
                    min_score=0,
                    max_score=100,
                    accepts_text=True,
                    external_id=ext,
                    max_attempts=1,
                )
            )
        Assignment.objects.bulk_create(new, batch_size=BATCH)
        assignment_of = {
            ext.split(":", 1)[1]: pk
            for ext, pk in Assignment.objects.filter(
                external_id__startswith="oulad:", course__in=courses.values()
            ).values_list("external_id", "pk")
        }

        # Scored submissions.
        subs, when = [], {}
        for r in student_assessments:
            key = assessment_key.get(r["id_assessment"])
            if key is None:
                raise CommandError(f"studentAssessment row for unknown assessment {r['id_assessment']}")
            aid, sid = assignment_of[r["id_assessment"]], student_of.get(r["id_student"])
            if sid is None:
                continue  # a score for a student who is not in studentInfo
            submitted = at(key, _int(r["date_submitted"]) or 0, hour=12)
            score = _int(r["score"])
            subs.append(
                Submission(
                    assignment_id=aid,
                    student_id=sid,
                    attempt=1,
                    status=Submission.Status.GRADED,
                    imported_score=score,
                    graded_at=submitted,
                )
            )
            when[(aid, sid)] = (submitted, score, r, key)
        Submission.objects.bulk_create(subs, batch_size=BATCH, ignore_conflicts=True)
        sub_id = {
            (a, s): pk
            for pk, a, s in Submission.objects.filter(assignment_id__in=assignment_of.values()).values_list(
                "pk", "assignment_id", "student_id"
            )
        }
        # submitted_at is auto_now_add (bulk_create stamps "now"): set the real times.
        adapt = connection.ops.adapt_datetimefield_value
        table = Submission._meta.db_table
        with connection.cursor() as cur:
            cur.executemany(
                f"UPDATE {table} SET submitted_at = %s WHERE id = %s",
                [(adapt(w[0]), sub_id[k]) for k, w in when.items()],
            )
        for (aid, sid), (submitted, score, r, key) in when.items():
            course, pk = courses[key], sub_id[(aid, sid)]
            base = ("assessment", r["id_assessment"], r["id_student"])
            ext = {"submission_id": pk, "attempt": 1, "banked": r.get("is_banked") == "1"}
            events.add(
                self._event(
                    _sid(*base, "submitted"),
                    sid,
                    course,
                    VERB_SUBMITTED,
                    f"assignment:{aid}",
                    ACTIVITY_ASSESSMENT,
                    submitted,
                    result={"extensions": ext},
                )
            )
            if score is not None:
                events.add(
                    self._event(
                        _sid(*base, "scored"),
                        sid,
                        course,
                        VERB_SCORED,
                        f"assignment:{aid}",
                        ACTIVITY_ASSESSMENT,
                        submitted,
                        result={
                            "score": {
                                "raw": score,
                                "min": 0,
                                "max": 100,
                                "scaled": round(min(max(score, 0), 100) / 100.0, 4),
                            },
                            "extensions": {"submission_id": pk},
                        },
                    )
                )
        events.flush()
        return {
            "courses": len(courses),
            "students": len(ids),
            "enrolments": len(enrolments),
            "assignments": len(assignment_of),
            "submissions": len(subs),
            "events": events.count,
        }

    @staticmethod
    def _event(statement_id, student_id, course, verb, object_id, object_type, ts, result=None) -> LearningEvent:
        return LearningEvent(
            statement_id=statement_id,
            student_id=student_id,
            course=course,
            verb=verb,
            object_id=object_id,
            object_type=object_type,
            timestamp=ts,
            result=result or {},
            actor={"objectType": "Agent", "account": {"homePage": "eduplatform", "name": str(student_id)}},
            context={"extensions": {COURSE_EXT: course.pk}, "platform": "OULAD import"},
        )
