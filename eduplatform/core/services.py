"""Writes for the core app. Multi-row writes are atomic; work is enqueued on commit."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from eduplatform.core import signals
from eduplatform.core.conf import settings
from eduplatform.core.errors import ApplicationError, Conflict
from eduplatform.core.limits import text_problem
from eduplatform.core.lrs import events_forward_to_lrs
from eduplatform.core.models import Assignment, Course, Enrollment, LearningEvent, Student, Submission, SubmissionFile
from eduplatform.core.uploads import MB, CheckedFile, check_upload, mb

log = logging.getLogger(__name__)

VERB_SUBMITTED = "http://adlnet.gov/expapi/verbs/submitted"
VERB_SCORED = "http://adlnet.gov/expapi/verbs/scored"
VERB_LOGGED_IN = "https://w3id.org/xapi/adl/verbs/logged-in"


def student_get_or_create(*, user, external_id: str = "") -> Student:
    student, created = Student.objects.get_or_create(user=user, defaults={"external_id": external_id})
    if not created and external_id and not student.external_id:
        student.external_id = external_id
        student.save(update_fields=["external_id"])
    return student


def course_create(*, code: str, title: str, description: str = "", **fields: Any) -> Course:
    return Course.objects.create(code=code, title=title, description=description, **fields)


def enrollment_create(
    *,
    user,
    course: Course,
    role: str = Enrollment.Role.STUDENT,
    registered_at: datetime | None = None,
    unregistered_at: datetime | None = None,
) -> Enrollment:
    """Enrol a user; students also get a Student row. Re-enrolling updates the role."""
    with transaction.atomic():
        if role == Enrollment.Role.STUDENT:
            student_get_or_create(user=user)
        enrollment, _ = Enrollment.objects.update_or_create(
            user=user,
            course=course,
            defaults={
                "role": role,
                "registered_at": registered_at or timezone.now(),
                "unregistered_at": unregistered_at,
            },
        )
    return enrollment


def _answer_fields(*, answer_format: str, expected_answer: str) -> dict[str, Any]:
    """A maths answer format needs an expected value that parses (compared by value at grading)."""
    from multimodal.maths import ParseError, parse_answer

    if answer_format not in Assignment.AnswerFormat.values:
        raise ApplicationError(f"Unknown answer format {answer_format!r}.", field="answer_format")
    expected = str(expected_answer or "").strip()
    if answer_format == Assignment.AnswerFormat.TEXT:
        return {"answer_format": answer_format, "expected_answer": expected[:200]}
    if not expected:
        raise ApplicationError("A number or expression answer needs the expected answer.", field="expected_answer")
    try:
        parsed = parse_answer(expected)
    except ParseError as exc:
        raise ApplicationError(
            f"The expected answer could not be read as maths: {exc}.", field="expected_answer"
        ) from exc
    if answer_format == Assignment.AnswerFormat.NUMBER and (parsed.relation or parsed.expr.free_symbols):
        raise ApplicationError(
            "A number answer's expected value must be a number or fraction.", field="expected_answer"
        )
    return {"answer_format": answer_format, "expected_answer": expected}


def _assignment_fields(
    *, modalities: Sequence[str], reference_answers: Sequence[str], key_points: Sequence[str], min_score, max_score
) -> dict[str, Any]:
    """The checked, normalised form of what a teacher authors (shared by create and update)."""
    unknown = set(modalities) - {"text", "image", "audio"}
    if unknown or not modalities:
        raise ApplicationError(f"Unknown or missing modalities: {sorted(unknown) or 'none given'}.", field="modalities")
    if float(max_score) <= float(min_score):
        raise ApplicationError("The maximum score must be greater than the minimum score.", field="max_score")
    clean = [str(t).strip() for t in reference_answers if str(t).strip()]
    points = [str(t).strip() for t in key_points if str(t).strip()]
    if any(len(t) > 5000 for t in clean + points):
        raise ApplicationError("Reference answers and key points are limited to 5,000 characters each.")
    return {
        "accepts_text": "text" in modalities,
        "accepts_image": "image" in modalities,
        "accepts_audio": "audio" in modalities,
        "reference_answers": clean,
        "key_points": points,
        "min_score": min_score,
        "max_score": max_score,
    }


def assignment_create(
    *,
    course: Course,
    title: str,
    instructions: str = "",
    modalities: Sequence[str] = ("text",),
    reference_answers: Sequence[str] = (),
    key_points: Sequence[str] = (),
    min_score: float = 0,
    max_score: float = 10,
    due_at: datetime | None = None,
    answer_format: str = Assignment.AnswerFormat.TEXT,
    expected_answer: str = "",
    **fields: Any,
) -> Assignment:
    checked = _assignment_fields(
        modalities=modalities,
        reference_answers=reference_answers,
        key_points=key_points,
        min_score=min_score,
        max_score=max_score,
    ) | _answer_fields(answer_format=answer_format, expected_answer=expected_answer)
    return Assignment.objects.create(
        course=course, title=title, instructions=instructions, due_at=due_at, **checked, **fields
    )


def assignment_update(
    *,
    assignment: Assignment,
    title: str,
    instructions: str,
    modalities: Sequence[str],
    reference_answers: Sequence[str],
    key_points: Sequence[str],
    min_score,
    max_score,
    due_at: datetime | None = None,
    answer_format: str | None = None,
    expected_answer: str | None = None,
    **fields: Any,
) -> Assignment:
    """Change what the teacher authored. Existing grades keep their scores (a regrade is explicit)."""
    checked = _assignment_fields(
        modalities=modalities,
        reference_answers=reference_answers,
        key_points=key_points,
        min_score=min_score,
        max_score=max_score,
    ) | _answer_fields(
        answer_format=assignment.answer_format if answer_format is None else answer_format,
        expected_answer=assignment.expected_answer if expected_answer is None else expected_answer,
    )
    for name, value in {"title": title, "instructions": instructions, "due_at": due_at, **checked, **fields}.items():
        setattr(assignment, name, value)
    assignment.save()
    return assignment


def _check_files(assignment: Assignment, files: Sequence[Any]) -> list[CheckedFile]:
    if len(files) > settings.MAX_FILES_PER_SUBMISSION:
        raise ApplicationError(
            f"At most {settings.MAX_FILES_PER_SUBMISSION} files per submission.", code="too_many_files", field="files"
        )
    checked = []
    for f in files:
        name = getattr(f, "name", "upload") or "upload"
        size = getattr(f, "size", None)
        limit = max(settings.MAX_IMAGE_BYTES, settings.MAX_AUDIO_BYTES)
        if size is not None and size > limit:  # refuse before reading a huge body into memory
            raise ApplicationError(
                f"File '{name}': {mb(size)} is over the {mb(limit)} limit.",
                code="too_large",
                field="files",
                status_code=413,
                extra={"limit_mb": round(limit / MB, 3)},
            )
        data = f.read()
        checked.append(check_upload(name, data, assignment.modalities))
    return checked


def submission_create(
    *, assignment: Assignment, student: Student, text: str = "", files: Sequence[Any] = ()
) -> Submission:
    """Validate and store a submission with its files, status pending, in one transaction.

    Bad input raises ApplicationError before anything is written; a failure while
    writing rolls back the row and deletes any file already stored.
    """
    if not isinstance(text, str):
        raise ApplicationError("text must be a string.", code="invalid", field="text")
    text = (text or "").strip()
    if len(text) > settings.MAX_TEXT_CHARS:
        raise ApplicationError(
            f"Text is {len(text)} characters; the limit is {settings.MAX_TEXT_CHARS}.", code="too_large", field="text"
        )
    problem = text_problem(text)
    if problem:
        raise ApplicationError(f"The answer {problem}.", code="invalid", field="text")
    if text and not assignment.accepts_text:
        raise ApplicationError(
            "This assignment does not accept text answers.", code="modality_not_accepted", field="text"
        )
    # Access before work: nobody but a current student of the course gets their files decoded.
    if not _is_current_student(student=student, course=assignment.course):
        raise ApplicationError(
            "You are not enrolled as a student in this course.", code="not_enrolled", status_code=403
        )
    checked = _check_files(assignment, files)
    if not text and not checked:
        raise ApplicationError("Empty submission: send text or at least one file.", code="empty_submission")
    stored: list[SubmissionFile] = []
    try:
        with transaction.atomic():
            last = (
                Submission.objects.select_for_update()
                .filter(assignment=assignment, student=student)
                .aggregate(m=Max("attempt"))["m"]
                or 0
            )
            if last >= assignment.max_attempts:
                raise Conflict(f"No attempts left: {assignment.max_attempts} allowed.", code="attempts_exhausted")
            sub = Submission.objects.create(assignment=assignment, student=student, attempt=last + 1, text=text)
            for c in checked:
                sf = SubmissionFile(
                    submission=sub, kind=c.kind, content_type=c.content_type, size=c.size, sha256=c.sha256, meta=c.meta
                )
                sf.file.save(c.name, ContentFile(c.data), save=False)
                stored.append(sf)
                sf.save()
            event_record(
                student=student,
                course=assignment.course,
                verb=VERB_SUBMITTED,
                object_id=f"assignment:{assignment.pk}",
                object_type="Assignment",
                result={
                    "extensions": {
                        "submission_id": sub.pk,
                        "attempt": sub.attempt,
                        "modalities": sorted({c.kind for c in checked} | ({"text"} if text else set())),
                    }
                },
            )
            submission_id = sub.pk
            transaction.on_commit(
                lambda: signals.submissions_pending.send(sender=Submission, submission_ids=[submission_id])
            )
    except IntegrityError:
        for sf in stored:
            sf.file.delete(save=False)
        raise Conflict("A submission for this attempt already exists; retry.", code="duplicate_submission") from None
    except Exception:
        for sf in stored:
            sf.file.delete(save=False)
        raise
    log.info(
        "submission %s stored (assignment %s, attempt %s, %d files)", sub.pk, assignment.pk, sub.attempt, len(checked)
    )
    return sub


def login_event_record(*, user) -> None:
    """A student's login, as an xAPI statement (engagement features count sessions)."""
    student = Student.objects.filter(user=user).first()
    if student is not None:
        event_record(student=student, course=None, verb=VERB_LOGGED_IN, object_id="eduplatform", object_type="System")


def event_record(
    *,
    student: Student | None,
    course: Course | None,
    verb: str,
    object_id: str,
    object_type: str = "Activity",
    result: dict | None = None,
    context: dict | None = None,
    timestamp: datetime | None = None,
    statement_id: uuid.UUID | None = None,
    actor: dict | None = None,
) -> tuple[LearningEvent, bool]:
    """Store one statement; returns (event, created). Idempotent on statement_id."""
    sid = statement_id or uuid.uuid4()
    actor = actor or (
        {"objectType": "Agent", "account": {"homePage": "eduplatform", "name": str(student.pk)}} if student else {}
    )
    event, created = LearningEvent.objects.get_or_create(
        statement_id=sid,
        defaults={
            "student": student,
            "course": course,
            "actor": actor,
            "verb": verb,
            "object_id": object_id,
            "object_type": object_type,
            "result": result or {},
            "context": context or {},
            "timestamp": timestamp or timezone.now(),
        },
    )
    if created:
        event_id = event.pk
        transaction.on_commit(lambda: events_forward_to_lrs(event_ids=[event_id]))
    return event, created


def events_ingest(*, user, statements: list) -> list[dict]:
    """Store xAPI statements posted by ``user``; one result per statement, in order.

    Students post only about themselves (actor omitted or their own student id);
    instructors/TAs post for *current* students of courses they *currently* teach. The
    stored actor is always the canonical one of that student (a posted actor object is
    never stored). Each statement is validated strictly (``xapi.parse_statement``) and
    stored in its own savepoint: a statement is written whole or not at all, and a bad
    one does not undo the others. Re-posting a statement id is ``duplicate`` and changes
    nothing. A course the user is not in and a course that does not exist get the same
    answer, so ids do not leak.
    """
    from eduplatform.core.selectors import courses_visible_to, is_course_staff, student_for_user
    from eduplatform.core.xapi import MAX_STATEMENTS_PER_REQUEST, StatementError, canonical_actor, parse_statement

    if not isinstance(statements, list):
        raise ApplicationError("Send one xAPI statement (an object) or a list of them.", code="invalid_statement")
    if len(statements) > MAX_STATEMENTS_PER_REQUEST:
        raise ApplicationError(
            f"At most {MAX_STATEMENTS_PER_REQUEST} statements per request.", code="too_many", status_code=413
        )
    me = student_for_user(user)
    visible = courses_visible_to(user)
    results: list[dict] = []
    for index, raw in enumerate(statements):
        try:
            st = parse_statement(raw)
            course = visible.filter(pk=st.course_id).first() if st.course_id else None
            if st.course_id and course is None:
                raise StatementError(
                    f"course {st.course_id}: you are not enrolled in it (or it does not exist).",
                    field="context.extensions",
                    code="not_enrolled",
                )
            if st.actor_name is None or (me and st.actor_name == str(me.pk)):
                if me is None:
                    raise StatementError(
                        "actor is required (account.name = student id) for non-students.", field="actor"
                    )
                student = me
            else:
                if course is None or not is_course_staff(user, course.pk):
                    raise StatementError(
                        "you may only post statements about yourself.", field="actor", code="forbidden_actor"
                    )
                student = Student.objects.filter(pk=int(st.actor_name)).first()
            if course and (student is None or not _is_current_student(student=student, course=course)):
                raise StatementError(
                    f"actor is not enrolled as a current student of course {course.pk}.",
                    field="actor",
                    code="not_enrolled",
                )
            with transaction.atomic():  # one savepoint per statement
                event, created = event_record(
                    student=student,
                    course=course,
                    verb=st.verb,
                    object_id=st.object_id,
                    object_type=st.object_type,
                    result=st.result,
                    context=st.context,
                    timestamp=st.timestamp,
                    statement_id=st.statement_id,
                    actor=canonical_actor(student.pk),
                )
            if not created and event.student_id != student.pk:
                raise StatementError("statement id already used by another actor.", field="id", code="duplicate_id")
            results.append({"index": index, "id": str(st.statement_id), "status": "stored" if created else "duplicate"})
        except (StatementError, DatabaseError) as exc:
            if isinstance(exc, DatabaseError):  # a value the checks above missed: this statement only
                log.warning("statement %d of a batch could not be stored: %s", index, exc.__class__.__name__)
                exc = StatementError("statement could not be stored.", code="not_storable")
            sid = raw.get("id") if isinstance(raw, dict) else None
            results.append(
                {
                    "index": index,
                    "id": sid if isinstance(sid, str) and len(sid) <= 64 and not text_problem(sid) else None,
                    "status": "error",
                    "code": exc.code,
                    "field": exc.field,
                    "error": str(exc),
                }
            )
    return results


def _is_current_student(*, student: Student, course: Course) -> bool:
    return Enrollment.objects.filter(
        user_id=student.user_id, course=course, role=Enrollment.Role.STUDENT, unregistered_at__isnull=True
    ).exists()
