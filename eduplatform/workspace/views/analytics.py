"""Behaviour, at-risk alerts and the mastery heat-map of a course, for its teachers.

Everything is read through ``recommendations.api`` (the same rules as its REST API);
students are named with the host user model's names. Nothing is shown only on hover:
numbers are printed in the cells, reasons in words next to them.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from eduplatform.core import api as core
from eduplatform.workspace.access import not_found_as_404, staff_course
from recommendations import api as recs

PATTERN_WORDS = {
    "active": ("Active", "works regularly and keeps up"),
    "passive": ("Passive", "looks at material but contributes little"),
    "struggling": ("Struggling", "keeps working but scores are low or falling"),
    "disengaged": ("Disengaged", "has stopped working or missed most deadlines"),
    "unknown": ("Not enough activity yet", "too little activity to say"),
}


def _names(course_id: int) -> dict[int, str]:
    return {s.pk: core.display_name(s.user) for s in core.course_students(course_id=course_id)}


@not_found_as_404
def behaviour(request, course_id: int):
    course = staff_course(request, course_id)
    pattern = request.GET.get("pattern", "")
    pattern = pattern if pattern in PATTERN_WORDS else ""
    at_risk = request.GET.get("at_risk") == "1"
    rows = recs.course_behaviour(
        user=request.user, course_id=course.pk, pattern=pattern or None, at_risk=True if at_risk else None
    )
    names = _names(course.pk)
    all_rows = rows if not (pattern or at_risk) else recs.course_behaviour(user=request.user, course_id=course.pk)
    counts = {k: 0 for k in PATTERN_WORDS}
    for r in all_rows:
        counts[r["pattern"]] = counts.get(r["pattern"], 0) + 1
    shown = [r for r in all_rows if r["risk"] and r["risk"]["shown"]]
    day = all_rows[0]["course_day"] if all_rows else None
    model = recs.risk_model_summary(course_day=day) if day is not None else None
    items = [
        {
            **r,
            "name": names.get(r["student"], f"student {r['student']}"),
            "pattern_words": PATTERN_WORDS.get(r["pattern"], (r["pattern"], "")),
        }
        for r in rows
    ]
    return render(
        request,
        "eduplatform_workspace/behaviour.html",
        {
            "course": course,
            "rows": items,
            "counts": [(k, PATTERN_WORDS[k][0], n) for k, n in counts.items()],
            "pattern": pattern,
            "at_risk": at_risk,
            "n_shown": len(shown),
            "n_at_risk": sum(1 for r in shown if r["risk"]["at_risk"]),
            "n_hidden": sum(1 for r in all_rows if r["risk"] and not r["risk"]["shown"]),
            "model": model,
            "day": day,
            "confidence_threshold": float(core.settings.RISK_CONFIDENCE_THRESHOLD),
            "nav": "behaviour",
        },
    )


@not_found_as_404
def alerts(request, course_id: int):
    course = staff_course(request, course_id)
    names = _names(course.pk)
    items = [
        {"a": a, "name": names.get(a.student_id, f"student {a.student_id}")}
        for a in recs.open_risk_alerts(user=request.user).filter(course_id=course.pk)
    ]
    return render(request, "eduplatform_workspace/alerts.html", {"course": course, "items": items, "nav": "alerts"})


@require_POST
@not_found_as_404
def alert_acknowledge(request, course_id: int, alert_id: int):
    course = staff_course(request, course_id)
    try:
        recs.risk_alert_acknowledge(user=request.user, alert_id=alert_id)
        messages.success(request, "Marked as seen. The alert closes when the student is no longer at risk.")
    except core.ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("eduplatform_workspace:alerts", course_id=course.pk)


def _cell_class(value) -> str:
    if value is None:
        return "hm-none"
    p = value["p_mastery"]
    return (
        "hm-mastered"
        if value["mastered"]
        else "hm-4"
        if p >= 0.75
        else "hm-3"
        if p >= 0.5
        else "hm-2"
        if p >= 0.25
        else "hm-1"
    )


@not_found_as_404
def mastery(request, course_id: int):
    course = staff_course(request, course_id)
    matrix = recs.course_mastery_matrix(user=request.user, course_id=course.pk)
    names = _names(course.pk)
    rows = []
    for r in matrix["students"]:
        if r["student"] not in names:
            continue  # only current students
        rows.append(
            {
                "name": names[r["student"]],
                "cells": [
                    {"value": v, "cls": _cell_class(v), "pct": None if v is None else round(100 * v["p_mastery"])}
                    for v in r["mastery"]
                ],
            }
        )
    rows.sort(key=lambda r: r["name"].lower())
    return render(
        request,
        "eduplatform_workspace/mastery.html",
        {
            "course": course,
            "skills": matrix["skills"],
            "threshold": matrix["threshold"],
            "rows": rows,
            "nav": "mastery",
        },
    )
