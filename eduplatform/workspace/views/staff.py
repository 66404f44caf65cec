"""The instructor workspace: courses, review queue, review screen, answer groups, gradebook, authoring.

Thin views: each reads through a selector and writes through a service of the app
that owns the data (``grading.api``, ``eduplatform.core.api``); the rules that
protect students (release, access) are the services', so these pages, the admin
and the REST API behave the same.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from eduplatform.core import api as core
from eduplatform.workspace import presenters
from eduplatform.workspace.access import not_found_as_404, staff_course
from eduplatform.workspace.forms import (
    AssignmentForm,
    CriterionForm,
    CriterionFormSet,
    GroupActionForm,
    KeyPointFormSet,
    ReferenceFormSet,
    ReviewForm,
)
from grading import api as grading

SHORTCUTS = [
    ("a", "Accept the AI score"),
    ("0-9", "Type a score (then Enter to save)"),
    ("1-9 on a rubric row", "Pick that level of the focused rubric row"),
    ("Enter", "Save my score (in the score field)"),
    ("r", "Release to the student"),
    ("n / j", "Next answer"),
    ("p / k", "Previous answer"),
    ("z", "Zoom the photo in or out"),
    ("Space", "Play or pause the recording (when the player is focused)"),
    ("?", "Show or hide this list"),
]


def _assignment_or_404(request, assignment_id: int) -> core.Assignment:
    assignment = core.Assignment.objects.select_related("course").filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404("Assignment not found.")
    staff_course(request, assignment.course_id)
    return assignment


@not_found_as_404
def home(request):
    courses = list(core.staff_courses(request.user).order_by("code"))
    if not courses:
        if core.student_for_user(request.user) is not None:
            return redirect("eduplatform_workspace:student-home")
        return render(request, "eduplatform_workspace/no_courses.html", status=403)
    if len(courses) == 1:
        return redirect("eduplatform_workspace:course", course_id=courses[0].pk)
    return render(request, "eduplatform_workspace/home.html", {"courses": courses})


@not_found_as_404
def course(request, course_id: int):
    c = staff_course(request, course_id)
    assignments = []
    for a in c.assignments.order_by("due_at", "id"):
        progress = grading.assignment_progress(assignment_id=a.pk)
        total = sum(progress.values())
        assignments.append(
            {
                "a": a,
                "progress": progress,
                "total": total,
                "bars": [
                    (k, grading.STATES[k], n, round(100 * n / total) if total else 0) for k, n in progress.items()
                ],
            }
        )
    return render(
        request,
        "eduplatform_workspace/course.html",
        {"course": c, "assignments": assignments, "states": grading.STATES},
    )


@not_found_as_404
def queue(request, assignment_id: int):
    assignment = _assignment_or_404(request, assignment_id)
    filters = {
        "state": request.GET.get("state", "") if request.GET.get("state", "") in grading.STATES else "",
        "band": request.GET.get("band", "") if request.GET.get("band", "") in ("low", "medium", "high") else "",
        "flag": request.GET.get("flag", "")[:40],
        "q": request.GET.get("q", "").strip()[:100],
    }
    group = request.GET.get("group", "")
    rows = grading.assignment_queue(
        user=request.user, assignment_id=assignment.pk, group=int(group) if group.isdigit() else None, **filters
    )
    all_rows = (
        rows
        if not any(filters.values()) and not group
        else grading.assignment_queue(user=request.user, assignment_id=assignment.pk)
    )
    flags = sorted({f for r in all_rows for f in r.flags})
    progress = grading.assignment_progress(assignment_id=assignment.pk)
    first = grading.next_to_review(all_rows)
    return render(
        request,
        "eduplatform_workspace/queue.html",
        {
            "assignment": assignment,
            "course": assignment.course,
            "rows": rows,
            "filters": filters,
            "group": group,
            "states": grading.STATES,
            "flags": [(f, presenters.flag_text(f)) for f in flags],
            "progress": progress,
            "first_to_review": first,
            "groups": sorted({r.group_id for r in all_rows if r.group_id}),
            "total": len(all_rows),
        },
    )


@require_POST
@not_found_as_404
def release_assignment(request, assignment_id: int):
    assignment = _assignment_or_404(request, assignment_id)
    rows = grading.assignment_queue(user=request.user, assignment_id=assignment.pk)
    wanted = {int(i) for i in request.POST.getlist("grades") if i.isdigit()}
    grades = [
        grading.grade_for_review(user=request.user, grade_id=r.grade_id)
        for r in rows
        if r.grade_id and (not wanted or r.grade_id in wanted)
    ]
    report = grading.grades_release(grades=grades, user=request.user)
    level = messages.SUCCESS if not report.skipped else messages.WARNING
    messages.add_message(request, level, report.summary())
    return redirect("eduplatform_workspace:queue", assignment_id=assignment.pk)


@require_POST
@not_found_as_404
def regrade_assignment(request, assignment_id: int):
    """Grade the answers again with the current model, key points and rubric (after editing the
    assignment); every teacher decision is kept, only the AI's suggestions change."""
    assignment = _assignment_or_404(request, assignment_id)
    n = grading.assignment_regrade(assignment_id=assignment.pk)
    messages.success(
        request,
        f"{n} answer{'s' if n != 1 else ''} queued to be graded again; your decisions and releases are kept.",
    )
    return redirect("eduplatform_workspace:queue", assignment_id=assignment.pk)


def _review_context(request, grade, form=None, lock_holder=None) -> dict:
    sub = grade.submission
    assignment = sub.assignment
    rows = grading.assignment_queue(user=request.user, assignment_id=assignment.pk)
    previous_id, next_id = grading.queue_neighbours(rows, grade.pk)
    judged = presenters.criteria_evidence(grade.criteria)
    # key points (and checklist criteria) in the list and marked in the answer; an analytic
    # criterion's suggested points are shown on its rubric row instead
    evidence = [e for e in judged if e.kind != "trait"]
    readings = {r.get("file_id"): r for r in (grade.features or {}).get("readings", [])}
    files = []
    for f in sub.files.all():
        reading = readings.get(f.pk, {})
        files.append(
            {
                "file": f,
                "reading": reading,
                "lines": reading.get("lines", []),
                "lines_id": f"lines-{f.pk}",
                "text_marked": presenters.highlight(reading.get("text", ""), evidence),
                "url": reverse("eduplatform_workspace:file", kwargs={"file_id": f.pk}),
                "low_lines": [ln for ln in reading.get("lines", []) if ln.get("confidence", 1) < 0.6],
            }
        )
    rubric = grading.rubric_for(assignment.pk)
    final_levels = {c.get("name"): c.get("level") for c in grade.final_criteria or []}
    final_points = {c.get("name"): c.get("points") for c in grade.final_criteria or []}
    suggested = {e.name: e for e in judged if e.kind == "trait" and e.points is not None}
    rubric_rows = [
        {
            "c": c,
            "index": i,
            "chosen": final_levels.get(c.name),
            "chosen_points": final_points.get(c.name),
            "ai": suggested.get(c.name),
        }
        for i, c in enumerate(rubric, start=1)
    ]
    interval = (grade.features or {}).get("interval")
    blocker = grading.release_blocker(grade)
    return {
        "grade": grade,
        "sub": sub,
        "assignment": assignment,
        "course": assignment.course,
        "student_name": core.display_name(sub.student.user),
        "typed_marked": presenters.highlight(sub.text, evidence),
        "files": files,
        "evidence": evidence,
        "rubric_rows": rubric_rows,
        "flags": [(f, presenters.flag_text(f)) for f in grade.flags],
        "confidence_words": presenters.confidence_words(grade.confidence, interval, scored=grade.score is not None),
        "why": presenters.why_points(grade.features, grade.mode, judged),
        "state": grading.grade_state(grade),
        "state_label": grading.STATES[grading.grade_state(grade)],
        "release_blocker": blocker,
        "previous_id": previous_id,
        "next_id": next_id,
        "position": next((i for i, r in enumerate(rows, start=1) if r.grade_id == grade.pk), None),
        "queue_size": len(rows),
        "waiting": sum(1 for r in rows if r.state == "review"),
        "form": form
        or ReviewForm(
            initial={
                "score": grade.final_score if grade.final_score is not None else grade.score,
                "comment": grade.review_comment,
            }
        ),
        "lock_holder": lock_holder,
        "shortcuts": SHORTCUTS,
        "decisions": [{"d": d, "who": core.display_name(d.actor) or "the system"} for d in grade.decisions.all()],
        "num": presenters.num,
    }


def _grade_or_404(request, grade_id: int):
    course_id = grading.course_id_of_grade(grade_id)
    if course_id is None:
        raise Http404("Grade not found.")
    staff_course(request, course_id)
    return grading.grade_for_review(user=request.user, grade_id=grade_id)


@not_found_as_404
def review(request, grade_id: int):
    grade = _grade_or_404(request, grade_id)
    if request.method == "POST":
        return _review_post(request, grade)
    lock_holder = None
    try:
        grade = grading.grade_lock(grade=grade, user=request.user)
    except core.Conflict:
        lock_holder = core.display_name(grade.locked_by)
    grade = grading.grade_for_review(user=request.user, grade_id=grade.pk)
    return render(
        request, "eduplatform_workspace/review.html", _review_context(request, grade, lock_holder=lock_holder)
    )


def _chosen_criteria(request, grade, *, accept: bool = False) -> list[dict] | None:
    """The teacher's per-criterion decisions: a level clicked, or points typed for a criterion without
    levels (``grading.grade_review`` checks their range: out of range is a form error). Accepting keeps
    the AI's suggested points of the analytic criteria the teacher left alone (training data, like the
    total)."""
    rubric = grading.rubric_for(grade.submission.assignment_id)
    suggested = {
        c.get("name"): c.get("points")
        for c in grade.criteria or []
        if c.get("kind") == "trait" and isinstance(c.get("points"), (int, float))
    }
    chosen = []
    for i, c in enumerate(rubric, start=1):
        label = request.POST.get(f"criterion_{i}", "")
        level = next((lv for lv in c.levels or [] if lv.get("label") == label), None)
        if level is not None:
            chosen.append({"name": c.name, "level": level["label"], "points": level["points"]})
            continue
        typed = request.POST.get(f"criterion_points_{i}", "").strip()
        if typed:
            chosen.append({"name": c.name, "level": "", "points": typed})
        elif accept and c.name in suggested:
            chosen.append({"name": c.name, "level": "", "points": suggested[c.name], "from": "ai"})
    return chosen or None


def _review_post(request, grade):
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return render(
            request, "eduplatform_workspace/review.html", _review_context(request, grade, form=form), status=400
        )
    d = form.cleaned_data
    action, comment = d["action"], d.get("comment") or ""
    try:
        if action == "accept":
            grading.grade_review(
                grade=grade,
                reviewer=request.user,
                action="accept",
                comment=comment,
                criteria=_chosen_criteria(request, grade, accept=True),
            )
            messages.success(request, "AI score accepted (not released yet).")
        elif action == "save":
            kind = "override" if grade.score is None or grade.flags else "adjust"
            grading.grade_review(
                grade=grade,
                reviewer=request.user,
                action=kind,
                score=d.get("score"),
                comment=comment,
                criteria=_chosen_criteria(request, grade),
            )
            messages.success(request, "Your score is saved (not released yet).")
        elif action == "release":
            grading.grade_release(grade=grade, user=request.user)
            messages.success(request, "Released: the student can see this grade now.")
        elif action == "withdraw":
            grading.grade_withdraw(grade=grade, user=request.user, reason=comment)
            messages.success(request, "Withdrawn: the student no longer sees this grade.")
        elif action == "comment":
            grading.grade_comment(grade=grade, user=request.user, comment=comment)
            messages.success(request, "Comment saved.")
        elif action == "take_over":
            grading.grade_lock(grade=grade, user=request.user, take_over=True)
            messages.info(request, "You are reviewing this answer now.")
    except core.ApplicationError as exc:
        form.add_error("score" if exc.field == "score" else None, exc.message)
        grade = grading.grade_for_review(user=request.user, grade_id=grade.pk)
        return render(
            request,
            "eduplatform_workspace/review.html",
            _review_context(request, grade, form=form),
            status=exc.status_code,
        )
    if d.get("then") == "next" and action in ("accept", "save", "release"):
        grading.grade_unlock(grade=grade, user=request.user)
        rows = grading.assignment_queue(user=request.user, assignment_id=grade.submission.assignment_id)
        nxt = grading.next_to_review(rows, grade.pk)
        if nxt:
            return redirect("eduplatform_workspace:review", grade_id=nxt)
        messages.success(request, "Nothing else is waiting for review in this assignment.")
        return redirect("eduplatform_workspace:queue", assignment_id=grade.submission.assignment_id)
    return redirect("eduplatform_workspace:review", grade_id=grade.pk)


@not_found_as_404
def answer_groups(request, assignment_id: int):
    assignment = _assignment_or_404(request, assignment_id)
    if request.method == "POST":
        core.enqueue("grading.build_answer_groups", assignment_id=assignment.pk)
        messages.info(request, "Grouping the answers; reload this page in a moment.")
        return redirect("eduplatform_workspace:groups", assignment_id=assignment.pk)
    groups = []
    for g in grading.answer_groups_for(assignment_id=assignment.pk):
        members = []
        for sub in g.members.all():
            current = next((x for x in sub.grades.all() if x.is_current), None)
            readings = {r.get("file_id"): r for r in ((current.features or {}).get("readings", []) if current else [])}
            members.append(
                {
                    "sub": sub,
                    "name": core.display_name(sub.student.user),
                    "grade": current,
                    "state": grading.grade_state(current),
                    "decided": current is not None and current.review_state in grading.HUMAN_STATES,
                    "files": [
                        {
                            "file": f,
                            "url": reverse("eduplatform_workspace:file", kwargs={"file_id": f.pk}),
                            "text": readings.get(f.pk, {}).get("text", ""),
                        }
                        for f in sub.files.all()
                    ],
                }
            )
        groups.append({"g": g, "members": members, "others": []})
    ids = [x["g"].pk for x in groups if x["g"].graded_score is None]
    for x in groups:
        x["others"] = [i for i in ids if i != x["g"].pk]
    return render(
        request,
        "eduplatform_workspace/groups.html",
        {
            "assignment": assignment,
            "course": assignment.course,
            "groups": groups,
            "states": grading.STATES,
            "num": presenters.num,
        },
    )


@require_POST
@not_found_as_404
def group_action(request, group_id: int):
    course_id = grading.course_id_of_group(group_id)
    if course_id is None:
        raise Http404("Answer group not found.")
    staff_course(request, course_id)
    group = grading.answer_group_get(user=request.user, group_id=group_id)
    others = [x.pk for x in grading.answer_groups_for(assignment_id=group.assignment_id) if x.pk != group.pk]
    form = GroupActionForm(
        request.POST, member_ids=list(group.members.values_list("pk", flat=True)), other_groups=others
    )
    target = redirect(f"{reverse('eduplatform_workspace:groups', args=[group.assignment_id])}#group-{group.pk}")
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
        return target
    d = form.cleaned_data
    try:
        if d["action"] == "grade":
            report = grading.answer_group_grade(
                group=group,
                reviewer=request.user,
                score=d.get("score"),
                comment=d.get("comment") or "",
                release=d.get("release", False),
            )
            text = f"{len(report.graded)} answers given {presenters.num(d.get('score'))}"
            if report.kept:
                text += f"; {len(report.kept)} kept their teacher's score"
            if report.release is not None:
                text += f". {report.release.summary()}"
            messages.success(request, text + ".")
        elif d["action"] == "remove":
            grading.answer_group_remove_members(group=group, submission_ids=d["members"])
            messages.success(request, f"{len(d['members'])} answers taken out of the group.")
        elif d["action"] == "split":
            new = grading.answer_group_split(group=group, submission_ids=d["members"])
            messages.success(request, f"Split off as group #{new.pk}.")
        elif d["action"] == "merge":
            into = grading.answer_group_get(user=request.user, group_id=d["into"])
            grading.answer_group_merge(group=group, into=into)
            messages.success(request, f"Merged into group #{into.pk}.")
    except core.ApplicationError as exc:
        messages.error(request, exc.message)
    return target


@not_found_as_404
def gradebook(request, course_id: int):
    c = staff_course(request, course_id)
    assignments = list(c.assignments.order_by("due_at", "id"))
    students = list(core.course_students(course_id=c.pk))
    table = grading.gradebook(course_id=c.pk, assignments=assignments, students=students)
    sync = _lms_sync_states(assignments, students)
    rows = [
        {
            "student": s,
            "name": core.display_name(s.user),
            "cells": [(table[s.pk][a.pk], sync.get((a.pk, s.pk), "")) for a in assignments],
        }
        for s in students
    ]
    if request.GET.get("format") == "csv":
        return _gradebook_csv(c, assignments, rows)
    return render(
        request,
        "eduplatform_workspace/gradebook.html",
        {"course": c, "assignments": assignments, "rows": rows, "num": presenters.num},
    )


def _lms_sync_states(assignments, students) -> dict:
    """The LMS column of the gradebook; empty on a host that runs the workspace without the LTI tool."""
    from django.apps import apps

    if not apps.is_installed("eduplatform.lti"):
        return {}
    from eduplatform.lti.api import lms_sync_states

    return lms_sync_states(assignment_ids=[a.pk for a in assignments], student_ids=[s.pk for s in students])


def _gradebook_csv(course, assignments, rows) -> HttpResponse:
    resp = HttpResponse(content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="gradebook-{course.code}.csv"'
    w = csv.writer(resp)
    header = ["student", "username"]
    for a in assignments:
        header += [f"{a.title} (score of {presenters.num(a.max_score)})", f"{a.title} (state)", f"{a.title} (LMS)"]
    w.writerow(header)
    for r in rows:
        line = [_csv_safe(r["name"]), _csv_safe(r["student"].user.get_username())]
        for cell, sync in r["cells"]:
            line += [presenters.num(cell.score) if cell.score is not None else "", cell.state_label, sync]
        w.writerow(line)
    return resp


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: prefix them (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@not_found_as_404
def assignment_edit(request, course_id: int | None = None, assignment_id: int | None = None):
    if assignment_id is not None:
        assignment = _assignment_or_404(request, assignment_id)
        c = assignment.course
    else:
        assignment = None
        c = staff_course(request, course_id)
    if request.method == "POST":
        form = AssignmentForm(request.POST)
        refs = ReferenceFormSet(request.POST, prefix="ref")
        points = KeyPointFormSet(request.POST, prefix="kp")
        criteria = CriterionFormSet(request.POST, prefix="crit")
        if form.is_valid() and refs.is_valid() and points.is_valid() and criteria.is_valid():
            saved = _assignment_save(request, c, assignment, form, refs, points, criteria)
            if saved is not None:
                messages.success(request, f"Saved “{saved.title}”.")
                return redirect("eduplatform_workspace:queue", assignment_id=saved.pk)
        status = 400
    else:
        form, refs, points, criteria = _assignment_forms(assignment)
        status = 200
    return render(
        request,
        "eduplatform_workspace/assignment_form.html",
        {"course": c, "assignment": assignment, "form": form, "refs": refs, "points": points, "criteria": criteria},
        status=status,
    )


def _assignment_forms(assignment):
    if assignment is None:
        return (
            AssignmentForm(),
            ReferenceFormSet(prefix="ref"),
            KeyPointFormSet(prefix="kp"),
            CriterionFormSet(prefix="crit"),
        )
    policy = grading.policy_for(assignment.pk)
    form = AssignmentForm(
        initial={
            "title": assignment.title,
            "instructions": assignment.instructions,
            "accepts_text": assignment.accepts_text,
            "accepts_image": assignment.accepts_image,
            "accepts_audio": assignment.accepts_audio,
            "min_score": assignment.min_score,
            "max_score": assignment.max_score,
            "max_attempts": assignment.max_attempts,
            "due_at": assignment.due_at,
            "analytic": grading.rubric_is_analytic(assignment.pk),
            "release": policy.release if policy else "manual",
            "auto_release_confidence": policy.auto_release_confidence if policy else 0.8,
            "review_sample_rate": policy.review_sample_rate if policy else 0.1,
        }
    )
    refs = ReferenceFormSet(prefix="ref", initial=[{"text": t} for t in assignment.reference_answers])
    points = KeyPointFormSet(prefix="kp", initial=[{"text": t} for t in assignment.key_points])
    criteria = CriterionFormSet(
        prefix="crit", initial=[CriterionForm.initial_for(c) for c in grading.rubric_for(assignment.pk)]
    )
    return form, refs, points, criteria


def _assignment_save(request, course, assignment, form, refs, points, criteria):
    d = form.cleaned_data
    fields = {
        "title": d["title"],
        "instructions": d.get("instructions") or "",
        "modalities": form.modalities,
        "reference_answers": [f.cleaned_data.get("text", "") for f in refs],
        "key_points": [f.cleaned_data.get("text", "") for f in points],
        "min_score": d["min_score"],
        "max_score": d["max_score"],
        "due_at": d.get("due_at"),
        "max_attempts": d["max_attempts"],
    }
    try:
        from django.db import transaction

        with transaction.atomic():
            if assignment is None:
                assignment = core.assignment_create(course=course, **fields)
            else:
                core.assignment_update(assignment=assignment, **fields)
            grading.rubric_set(
                assignment=assignment,
                criteria=[f.as_criterion() for f in criteria if f.has_changed() or f.cleaned_data.get("name")],
                analytic=bool(d.get("analytic")),
            )
            grading.grading_policy_set(
                assignment=assignment,
                release=d["release"],
                auto_release_confidence=d["auto_release_confidence"],
                review_sample_rate=d["review_sample_rate"],
            )
    except core.ApplicationError as exc:
        form.add_error(None, exc.message)
        return None
    return assignment


@not_found_as_404
def file(request, file_id: int):
    """A photo or recording, for the course's staff and the student who sent it (never a public URL)."""
    f = core.SubmissionFile.objects.select_related("submission").filter(pk=file_id).first()
    if f is None:
        raise Http404("File not found.")
    core.submission_get(user=request.user, submission_id=f.submission_id)  # 404 unless staff or the owner
    from django.http import FileResponse

    resp = FileResponse(f.file.open("rb"), content_type=f.content_type)
    resp["Cache-Control"] = "private, no-store"
    resp["X-Content-Type-Options"] = "nosniff"
    return resp
