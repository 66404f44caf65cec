"""A student's own pages: their submissions with released grades and feedback, what the machine read,
re-check requests, their learning path and mastery. Everything is scoped to the student's own rows."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from eduplatform.core import api as core
from eduplatform.workspace import presenters
from eduplatform.workspace.access import not_found_as_404
from grading import api as grading


@not_found_as_404
def home(request):
    me = core.student_for_user(request.user)
    if me is None:
        return redirect("eduplatform_workspace:home")
    courses = list(core.courses_visible_to(request.user).filter(pk__in=core.student_course_ids(request.user)))
    subs = core.submissions_visible_to(request.user).filter(student=me).order_by("-submitted_at")[:50]
    rows = [{"sub": s, "view": grading.grade_view_for(submission=s, user=request.user, staff=False)} for s in subs]
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
    evidence = presenters.criteria_evidence(view["criteria"]) if view else []
    readings = {r.get("file_id"): r for r in (view or {}).get("readings", [])}
    files = [
        {"file": f, "reading": readings.get(f.pk, {}), "url": f"/workspace/files/{f.pk}/"} for f in sub.files.all()
    ]
    return render(
        request,
        "eduplatform_workspace/student/submission.html",
        {"sub": sub, "view": view, "evidence": evidence, "files": files, "num": presenters.num},
    )


@not_found_as_404
def course(request, course_id: int):
    me, c = core.course_student_get(user=request.user, course_id=course_id)
    return render(request, "eduplatform_workspace/student/course.html", {"course": c, "me": me})
