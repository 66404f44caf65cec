"""`python manage.py demo`: a course at day 60 of its term, every capability in use, and a report.

Runs on the embedded default (SQLite, tasks in-process): answers go through the same
services as the REST API and are graded by the real models before the report is
printed. See ``eduplatform/demo/build.py`` for what is real data and what is generated.
"""

from __future__ import annotations

import time

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from eduplatform.core import api as core
from eduplatform.demo.build import COURSE_CODE, DEMO_EMAIL_DOMAIN, DemoBuilder
from grading import api as grading
from recommendations import api as recs

BASE = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Build a demo term (history from OULAD, a course at day 60, answers in three modalities), report on it."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo course and rebuild it.")

    def handle(self, *args, reset: bool = False, **opts):
        if reset:  # the course and the demo's own people (their events, work and tokens go with them)
            core.Course.objects.filter(code=COURSE_CODE).delete()
            get_user_model().objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").delete()
        course = core.Course.objects.filter(code=COURSE_CODE).first()
        if course is None:
            started = time.perf_counter()
            # grading runs before the report: the embedded mode's tasks run in this process, inline
            django_settings.EDUPLATFORM_EMBEDDED_TASKS = "inline"
            django_settings.EDUPLATFORM_GRADER_RETRAIN_EVERY = 0  # the builder trains once, after the review
            DemoBuilder(self.stdout.write).build()
            self.stdout.write(f"Built and graded the demo term in {time.perf_counter() - started:.0f} s.")
            course = core.Course.objects.get(code=COURSE_CODE)
        else:
            self.stdout.write("The demo course exists; reporting on it (use --reset to rebuild it).")
        self._report(course)

    def _report(self, course) -> None:
        w = self.stdout.write
        teacher = core.Enrollment.objects.filter(course=course, role="instructor").select_related("user").first().user
        names = {
            s.pk: core.display_name(s.user) for s in core.course_students(course_id=course.pk, include_withdrawn=True)
        }
        w(self.style.MIGRATE_HEADING(f"\n{course.code}: {course.title}"))
        w(f"{len(names)} students, {course.assignments.count()} assignments (typed, photo, spoken).")

        w(self.style.MIGRATE_HEADING("\nGrading and the review queue"))
        for a in course.assignments.order_by("due_at"):
            p = grading.assignment_progress(assignment_id=a.pk)
            parts = ", ".join(f"{grading.STATES[k].lower()} {n}" for k, n in p.items() if n)
            w(f"  {a.title[:34]:34} [{', '.join(a.modalities)}] {parts or 'no answers yet'}")
        rows = []
        for a in course.assignments.all():
            rows += [(a, r) for r in grading.assignment_queue(user=teacher, assignment_id=a.pk) if r.state == "review"]
        kinds = sorted({m for _, r in rows for m in r.modalities})
        w(f"  waiting for review: {len(rows)} answers ({', '.join(kinds)})")
        for a, r in rows[:6]:
            why = ", ".join(r.flags) or r.review_reason
            w(f"    {r.student_name:20} {a.title[:30]:30} AI {r.ai_score if r.ai_score is not None else '-'}  {why}")

        w(self.style.MIGRATE_HEADING("\nBehaviour and at-risk estimates (day 60)"))
        behaviour = recs.course_behaviour(user=teacher, course_id=course.pk)
        patterns: dict[str, int] = {}
        for r in behaviour:
            patterns[r["pattern"]] = patterns.get(r["pattern"], 0) + 1
        w("  patterns: " + ", ".join(f"{k} {n}" for k, n in sorted(patterns.items(), key=lambda kv: -kv[1])))
        model = recs.risk_model_summary(course_day=behaviour[0]["course_day"]) if behaviour else None
        if model:
            g = model["guardrail"]
            runs = len(g.get("scores", []))
            w(
                f"  model {model['version']} (day {model['cutoff_day']}, {model['students']} students of the finished "
                f"OULAD presentations): {'ACCEPTED' if model['accepted'] else 'NOT accepted'} - AUC "
                f"{g.get('mean', float('nan')):.3f} +- {g.get('std', float('nan')):.3f} over {runs} runs "
                f"(needs >= 0.70 and <= 0.05)"
            )
        shown = [r for r in behaviour if r["risk"] and r["risk"]["shown"]]
        at_risk = [r for r in shown if r["risk"]["at_risk"]]
        hidden = [r for r in behaviour if r["risk"] and not r["risk"]["shown"]]
        w(f"  estimates shown {len(shown)}, at risk {len(at_risk)}, hidden (confidence under 0.6) {len(hidden)}")
        for r in at_risk[:5]:
            reasons = "; ".join(x["text"] for x in r["risk"]["reasons"][:2])
            w(
                f"    {names.get(r['student'], r['student']):20} {r['risk']['probability']:.0%} at risk "
                f"({r['pattern']}): {reasons}"
            )

        w(self.style.MIGRATE_HEADING("\nMastery and learning paths"))
        matrix = recs.course_mastery_matrix(user=teacher, course_id=course.pk)
        w(
            "  class mean: "
            + ", ".join(
                f"{s['name']} {s['mean']:.0%}" if s["mean"] is not None else f"{s['name']} -" for s in matrix["skills"]
            )
        )
        firsts = {}
        for st in core.course_students(course_id=course.pk)[:40]:
            path = recs.learning_path_for(student=st, course=course)
            step = path.steps.order_by("position").first()
            if step is not None:
                firsts.setdefault(step.resource.title, []).append((core.display_name(st.user), step.reason))
        w(f"  {len(firsts)} different first steps across the class:")
        for title, who in list(firsts.items())[:5]:
            w(f"    {title} ({len(who)} students), e.g. {who[0][0]}: {who[0][1][:140]}")

        w(
            self.style.SUCCESS(f"""
Look at it: make serve   (then open {BASE}/)
  teacher (not a superuser; an instructor of {course.code}):   teacher / teacher
     workspace:        {BASE}/workspace/courses/{course.pk}/
     review queue:     {BASE}/workspace/assignments/{course.assignments.order_by("due_at").first().pk}/
     behaviour:        {BASE}/workspace/courses/{course.pk}/behaviour/
     mastery heat-map: {BASE}/workspace/courses/{course.pk}/mastery/
  student:                                                   student / student
     my work and path: {BASE}/workspace/me/
  school IT (Django admin, superuser):                       admin / admin  -> {BASE}/admin/
  mobile developers: {BASE}/api/docs/ (token: POST {BASE}/api/v1/auth/token/)""")
        )
