"""A student's own pages: their submissions with released grades and feedback, what the machine read,
re-check requests, their learning path and mastery. Everything is scoped to the student's own rows."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from eduplatform.core import api as core
from eduplatform.workspace import presenters
from eduplatform.workspace.access import not_found_as_404
from grading import api as grading
from recommendations import api as recs


@not_found_as_404
def home(request):
    me = core.student_for_user(request.user)
    if me is None:
        return redirect("eduplatform_workspace:home")
    courses = list(core.courses_visible_to(request.user).filter(pk__in=core.student_course_ids(request.user)))
    subs = core.submissions_visible_to(request.user).filter(student=me).order_by("-submitted_at")[:50]
    rows = []
    for s in subs:
        view = grading.grade_view_for(submission=s, user=request.user, staff=False)
        rows.append(
            {
                "sub": s,
                "view": view,
                "score": presenters.num(view["score"]) if view else "",
                "max_score": presenters.num(s.assignment.max_score),
            }
        )
    return render(
        request, "eduplatform_workspace/student/home.html", {"courses": courses, "rows": rows, "num": presenters.num}
    )


@not_found_as_404
def submission(request, submission_id: int):
    sub = core.submission_get(user=request.user, submission_id=submission_id)
    if sub.student.user_id != request.user.pk:
        raise core.NotFound("Submission not found.")
    view = grading.grade_view_for(submission=sub, user=request.user, staff=False)
    if request.method == "POST" and view is not None:
        try:
            grading.grade_recheck_request(
                grade=grading.current_grade_for(sub.pk), user=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, "Your teacher will look at this answer again.")
        except core.ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("eduplatform_workspace:student-submission", submission_id=sub.pk)
    # students read only what the grader is sure about: an "unsure" judgement stays with the teacher
    evidence = [e for e in presenters.criteria_evidence(view["criteria"] if view else []) if e.level != "unsure"]
    readings = {r.get("file_id"): r for r in (view or {}).get("readings", [])}
    files = [{"file": f, "reading": readings.get(f.pk, {})} for f in sub.files.all()]
    return render(
        request,
        "eduplatform_workspace/student/submission.html",
        {
            "sub": sub,
            "view": view,
            "evidence": evidence,
            "files": files,
            "score": presenters.num(view["score"]) if view else "",
            "max_score": presenters.num(sub.assignment.max_score),
        },
    )


STATE_WORDS = {"unknown": "not started yet", "learning": "learning", "mastered": "mastered"}


@not_found_as_404
def course(request, course_id: int):
    """The student's learning path (what to do next and why) and their skills, by name."""
    me, c = core.course_student_get(user=request.user, course_id=course_id)
    path = recs.my_learning_path(user=request.user, course_id=c.pk)
    mastery = recs.my_mastery(user=request.user, course_id=c.pk)
    steps = list(path.steps.select_related("resource", "skill").order_by("position"))
    return render(
        request,
        "eduplatform_workspace/student/course.html",
        {
            "course": c,
            "me": me,
            "path": path,
            "steps": steps,
            "state_words": STATE_WORDS,
            "skills": [
                {
                    "m": m,
                    "pct": None if m.p_mastery is None else round(100 * m.p_mastery),
                    "state_words": STATE_WORDS.get(m.state, m.state),
                }
                for m in mastery.results
            ],
            "threshold_pct": round(100 * mastery.threshold),
        },
    )


@require_POST
@not_found_as_404
def step_mark(request, course_id: int, step_id: int):
    """Done or skipped; a practice step may carry the result the student got (0-100)."""
    core.course_student_get(user=request.user, course_id=course_id)  # 404 unless a current student of it
    status = request.POST.get("status", "")
    result = request.POST.get("result", "").strip()
    try:
        value = None
        if result:
            value = float(result) / 100
            if not 0 <= value <= 1:
                raise core.ApplicationError("Give your result as a number from 0 to 100.", field="result")
        recs.my_path_step_mark(user=request.user, step_id=step_id, status=status, result=value)
        messages.success(request, "Done: here is what to do next." if status == "done" else "Skipped.")
    except ValueError:
        messages.error(request, "Give your result as a number from 0 to 100.")
    except core.NotFound:
        raise
    except core.ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("eduplatform_workspace:student-course", course_id=course_id)
