"""`python manage.py demo`: a small course in all three modalities, graded end to end.

Runs on the embedded default (SQLite, eager Celery): submissions go through the
same service as the REST API, grading runs inline, and a report is printed.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from eduplatform.core import api as services
from eduplatform.core.api import Assignment, Course, Enrollment, Submission

DEMO_DATA = Path(__file__).resolve().parents[2] / "demo_data"

TEXT_ANSWERS = {
    "ada": "A stack is a last-in first-out structure: push puts an element on top and pop removes the top one.",
    "ben": "Stacks keep elements so that the most recently added one is removed first (LIFO), using push and pop.",
    "cleo": "A stack is a kind of queue where the first element in is the first one out.",
    "dev": "asdkj qwpoe zxmnv lkjhg",
    "eli": "",
}


def _png_of(text: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=28)
    img = Image.new("RGB", (900, 160), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(text.split("\n")):
        draw.text((20, 20 + 44 * i), line, fill=(20, 20, 60), font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class Command(BaseCommand):
    help = "Load a small demo course (text, image and audio assignments), grade it, print a report."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo course first.")

    def handle(self, *args, reset: bool = False, **opts):
        User = get_user_model()
        if reset:
            Course.objects.filter(code="DEMO-101").delete()
        if Course.objects.filter(code="DEMO-101").exists():
            self.stdout.write("Demo course exists; reporting it (use --reset to rebuild).")
        else:
            started = time.perf_counter()
            self._build(User)
            self.stdout.write(f"Built and graded the demo course in {time.perf_counter() - started:.1f} s.")
        self._report()
        self.stdout.write(
            self.style.SUCCESS(
                "\nNext: .venv/bin/python manage.py runserver, then open http://127.0.0.1:8000/admin/ "
                "(user admin / password admin, demo only) or http://127.0.0.1:8000/api/docs/."
            )
        )

    def _report_learners(self) -> None:
        """Mastery and the first learning-path step per student (instructor-confirmed grades feed BKT)."""
        from recommendations.api import behaviour_recompute_course, learning_path_recompute

        course = Course.objects.get(code="DEMO-101")
        self.stdout.write("\nlearning paths (first step) and behaviour:")
        for enrollment in course.enrollments.filter(role=Enrollment.Role.STUDENT).select_related("user"):
            student = enrollment.user.eduplatform_student
            path = learning_path_recompute(student=student, course=course)
            mastery = ", ".join(f"{m.skill.name} {m.p_mastery:.0%}" for m in student.masteries.select_related("skill"))
            self.stdout.write(f"  {enrollment.user.username:6} mastery: {mastery or 'no graded attempts yet'}")
            step = path.steps.order_by("position").first()
            self.stdout.write(f"  {enrollment.user.username:6} {step.resource.title if step else '(nothing to do)'}")
            if step:
                self.stdout.write(f"         why: {step.reason[:150]}")
        summary = behaviour_recompute_course(course_id=course.pk)
        self.stdout.write(f"  behaviour recompute: {summary}")

    def _build(self, User) -> None:
        with transaction.atomic():
            admin, created = User.objects.get_or_create(
                username="admin", defaults={"is_staff": True, "is_superuser": True}
            )
            if created:
                admin.set_password("admin")
                admin.save()
            teacher, _ = User.objects.get_or_create(username="teacher", defaults={"is_staff": True})
            course = services.course_create(code="DEMO-101", title="Demo: Data structures and science")
            services.enrollment_create(user=teacher, course=course, role=Enrollment.Role.INSTRUCTOR)
            students = {}
            for name in TEXT_ANSWERS:
                user, _ = User.objects.get_or_create(username=name)
                services.enrollment_create(user=user, course=course)
                students[name] = services.student_get_or_create(user=user)
            text_a = services.assignment_create(
                course=course,
                title="What is a stack?",
                instructions="Explain what a stack is in one or two sentences.",
                modalities=["text"],
                max_score=5,
                reference_answers=[
                    "A stack is a last-in first-out (LIFO) data structure; elements are pushed onto "
                    "and popped from the top."
                ],
                key_points=["last in first out", "push adds to the top", "pop removes from the top"],
            )
            image_a = services.assignment_create(
                course=course,
                title="Photo of your worked answer",
                modalities=["image", "text"],
                max_score=5,
                instructions="Write the definition of a queue and upload a photo.",
                reference_answers=[
                    "A queue is a first-in first-out structure: enqueue at the back, dequeue at the front."
                ],
            )
            audio_a = services.assignment_create(
                course=course,
                title="Explain photosynthesis aloud",
                modalities=["audio"],
                max_score=10,
                instructions="Record a short spoken explanation of photosynthesis.",
                reference_answers=["Plants use sunlight, water and carbon dioxide to make glucose and release oxygen."],
            )
        self._learner_model(course, text_a)
        for name, answer in TEXT_ANSWERS.items():
            if answer:
                services.submission_create(assignment=text_a, student=students[name], text=answer)
        # The teacher works the review queue: accepts one AI grade, overrides another.
        from grading.api import current_grade_for, grade_review

        for name, action, score in (("ada", "accept", None), ("cleo", "override", 1)):
            sub = Submission.objects.get(assignment=text_a, student=students[name])
            grade_review(
                grade=current_grade_for(sub.pk),
                reviewer=teacher,
                action=action,
                score=score,
                comment="Reviewed in the demo.",
                release=True,
            )
        services.submission_create(
            assignment=image_a,
            student=students["ada"],
            files=[
                SimpleUploadedFile(
                    "queue.png",
                    _png_of(
                        "In a queue the first item added is the first\n"
                        "one removed: add at the rear, take from the front."
                    ),
                )
            ],
        )
        services.submission_create(
            assignment=audio_a,
            student=students["ben"],
            files=[SimpleUploadedFile("spoken.flac", (DEMO_DATA / "spoken_answer.flac").read_bytes())],
        )

    def _learner_model(self, course, stack_assignment) -> None:
        """Skills with a prerequisite, tagged assignment, resources in several modalities."""
        from recommendations.api import assignment_skill_tag, resource_create, skill_create, skill_prerequisite_add

        arrays = skill_create(course=course, name="Arrays and lists")
        stacks = skill_create(course=course, name="Stacks (LIFO)")
        queues = skill_create(course=course, name="Queues (FIFO)")
        skill_prerequisite_add(skill=stacks, prerequisite=arrays)
        skill_prerequisite_add(skill=queues, prerequisite=stacks)
        assignment_skill_tag(assignment=stack_assignment, skill=stacks)
        for title, kind, skill, difficulty in (
            ("Video: stacks in 5 minutes", "video", stacks, 0.3),
            ("Reading: push and pop, step by step", "text", stacks, 0.4),
            ("Exercise: balance the brackets with a stack", "exercise", stacks, 0.7),
            ("Podcast: queues around us", "audio", queues, 0.3),
            ("Reading: arrays refresher", "text", arrays, 0.2),
        ):
            resource_create(
                course=course,
                title=title,
                kind=kind,
                difficulty=difficulty,
                description=title.split(": ", 1)[1],
                skills=[skill],
            )

    def _report(self) -> None:
        from grading.api import current_grade_for

        self.stdout.write("\nassignment                     student  status        score  conf  graded by  flags")
        for sub in (
            Submission.objects.filter(assignment__course__code="DEMO-101")
            .select_related("assignment", "student__user")
            .order_by("assignment_id", "id")
        ):
            g = current_grade_for(sub.pk)
            score = (
                "-" if g is None or g.effective_score is None else f"{g.effective_score:g}/{sub.assignment.max_score:g}"
            )
            conf = "-" if g is None else f"{g.confidence:.2f}"
            who = "-" if g is None else ("teacher" if g.final_score is not None else g.mode)
            self.stdout.write(
                f"{sub.assignment.title[:30]:30} {sub.student.user.username:8} {sub.status:13} "
                f"{score:>6} {conf:>5}  {who:10} {', '.join(g.flags) if g else ''}"
            )
            if g and g.final_score is not None and g.score is not None and g.final_score != g.score:
                self.stdout.write(f"    AI suggested {g.score:g}; the teacher's grade is {g.final_score:g}")
            if g and g.feedback:
                self.stdout.write(f"    feedback: {g.feedback[:160]}")
        self._report_learners()
        n = Assignment.objects.filter(course__code="DEMO-101").count()
        self.stdout.write(
            f"\n{n} assignments; grades below the confidence threshold or flagged wait in the "
            "review queue (admin: Grades, filter 'Waiting for review')."
        )
