"""The demo semester: a course at day 60 with three dozen students, every capability in use.

Built from real data where the licence allows and generated otherwise:

* **history**: two finished presentations of the Open University module AAA (OULAD,
  Kuzilek, Hlosta & Zdrahal 2017, CC BY 4.0; a 750-student slice committed in
  ``demo_data/oulad_aaa``) are imported as past courses; the at-risk models are
  trained on them and must pass the acceptance check (Moodle's guardrail);
* **the current course** "DEMO-101 Data structures" (day 60 of its term): each demo
  student follows the outcome and assessment rhythm of a real AAA-2014J student
  (submitted on time / late / not at all, score band, withdrawal day), with generated
  logins, resource views and practice answers over the weeks;
* **answers in three modalities** graded by the real models: typed answers (written
  for the demo, strong to wrong), photos of written answers (rendered), spoken answers
  (espeak-ng recordings committed under ``demo_data``). The teacher has reviewed and
  released the first assignment; the queue still holds typed, photo and spoken answers.

Everything goes through the products' services (``*.api``), as a school's use would.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction

from eduplatform.core import api as core
from grading import api as grading
from recommendations import api as recs

DATA = Path(__file__).resolve().parent / "demo_data"
COURSE_CODE = "DEMO-101"
TODAY_DAY = 60  # the course is at day 60 of its term
SEED = 20261130

FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomas",
    "Uma",
    "Viktor",
    "Wen",
    "Xavi",
    "Yara",
    "Zoe",
    "Amir",
    "Bea",
    "Carlos",
    "Dina",
    "Emre",
    "Freya",
    "Goran",
    "Hiro",
    "Ines",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Park",
    "Sharma",
    "Novak",
    "Haddad",
    "Moreau",
    "Tanaka",
    "Petrov",
    "Chen",
    "Mensah",
    "Fischer",
    "Rossi",
    "Adeyemi",
    "Farouk",
    "Iyer",
    "Walsh",
    "Garcia",
    "Nieminen",
    "Horvat",
    "Das",
    "Kuznetsov",
    "Li",
    "Puig",
    "Aziz",
    "Brennan",
    "Rahimi",
    "Costa",
    "Mendes",
    "Levi",
    "Yilmaz",
    "Berg",
    "Jovic",
    "Sato",
    "Silva",
]

STACK_ANSWERS = {  # What is a stack? (0-5)
    "strong": [
        "A stack is a last-in first-out (LIFO) structure: push puts an element on top and pop removes the top one.",
        "Stacks keep items so the most recently added one is removed first (LIFO). You push onto the top and pop "
        "from the top.",
        "A stack is LIFO: push and pop both work at the top, so the last one in is the first one out.",
        "It is a list where you only add and remove at one end, the top. The last thing pushed is the first popped.",
    ],
    "partial": [
        "A stack is a data structure where you push items on it.",
        "Last in first out, like a pile of plates.",
        "A stack stores elements and you can pop the top element off.",
    ],
    "wrong": [
        "A stack is a kind of queue where the first element in is the first one out.",
        "A stack is a sorted array that you search with binary search.",
    ],
}
ARRAY_ANSWERS = {  # Arrays or linked lists? (0-5)
    "strong": [
        "An array keeps elements next to each other in memory, so reading element i is O(1), but inserting in the "
        "middle means shifting the rest. A linked list can insert after a node in O(1) but needs O(n) to reach the "
        "i-th element.",
        "Arrays give constant-time indexing because elements are contiguous; linked lists give cheap insertion and "
        "deletion because you only change pointers, but you must walk the list to find an element.",
    ],
    "partial": [
        "Arrays are faster to index. Linked lists use pointers.",
        "A linked list is better when you insert a lot.",
    ],
    "wrong": ["They are the same thing, an array is just a linked list in Python."],
}
PHOTO_ANSWERS = [
    ("strong", "A queue is first in, first out.\nYou enqueue at the back\nand dequeue from the front."),
    ("strong", "Queue = FIFO: the first item added\nis the first one removed (like a line\nat the shop)."),
    ("partial", "A queue holds items in a line.\nYou add items to it."),
    ("wrong", "A queue is last in first out,\nyou take the newest item first."),
]
AUDIO_ANSWERS = ["queue_answer_1.flac", "queue_answer_2.flac", "queue_answer_3.flac"]


#: every demo person's e-mail is at this domain (``demo --reset`` removes them by it)
DEMO_EMAIL_DOMAIN = "demo.school.example"


@dataclass
class Profile:
    """One real AAA-2014J student's rhythm, mirrored by a demo student."""

    outcome: str  # Pass, Distinction, Fail, Withdrawn
    tma_offsets: list[int | None]  # days late (+) or early (-) per assignment; None = not submitted
    tma_scores: list[int | None]  # 0-100
    withdrew_day: int | None

    @property
    def archetype(self) -> str:
        if self.outcome == "Withdrawn":
            return "leaving"
        if self.outcome == "Fail":
            return "struggling"
        return "steady"


def oulad_profiles(rng: random.Random, n: int) -> list[Profile]:
    """``n`` real student rhythms from AAA-2014J (the slice's later presentation), in a shuffled order."""
    d = DATA / "oulad_aaa"
    info = [r for r in csv.DictReader(open(d / "studentInfo.csv")) if r["code_presentation"] == "2014J"]
    reg = {
        r["id_student"]: r
        for r in csv.DictReader(open(d / "studentRegistration.csv"))
        if r["code_presentation"] == "2014J"
    }
    tmas = sorted(
        (int(r["date"]), r["id_assessment"])
        for r in csv.DictReader(open(d / "assessments.csv"))
        if r["code_presentation"] == "2014J" and r["assessment_type"] == "TMA" and r["date"]
    )[:4]
    by_student: dict[str, dict[str, tuple[int, int | None]]] = {}
    for r in csv.DictReader(open(d / "studentAssessment.csv")):
        by_student.setdefault(r["id_student"], {})[r["id_assessment"]] = (
            int(r["date_submitted"]),
            int(r["score"]) if r["score"] else None,
        )
    # keep the course's mix of outcomes, with enough of each kind to show them
    wanted = {"Pass": 15, "Distinction": 4, "Fail": 7, "Withdrawn": 9}
    chosen = []
    for outcome, k in wanted.items():
        pool = [r for r in info if r["final_result"] == outcome]
        chosen += rng.sample(pool, min(k, len(pool)))
    rng.shuffle(chosen)
    out = []
    for r in chosen[:n]:
        subs = by_student.get(r["id_student"], {})
        offsets, scores = [], []
        for due, aid in tmas:
            got = subs.get(aid)
            offsets.append(None if got is None else max(-6, min(12, got[0] - due)))
            scores.append(None if got is None else got[1])
        unreg = reg.get(r["id_student"], {}).get("date_unregistration", "")
        out.append(Profile(r["final_result"], offsets, scores, int(unreg) if unreg.strip() else None))
    return out


def _band(score_100: int | None, rng: random.Random) -> str:
    if score_100 is None:
        return "wrong"
    return "strong" if score_100 >= 72 else "partial" if score_100 >= 50 else "wrong"


def _photo(text: str, rng: random.Random) -> bytes:
    """A phone-photo-like picture of a handwritten answer: lined paper, a slight tilt, uneven light."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    img = Image.new("RGB", (1100, 420), (246, 244, 236))
    draw = ImageDraw.Draw(img)
    for y in range(60, 420, 52):
        draw.line([(0, y + 40), (1100, y + 40)], fill=(196, 210, 232), width=2)
    font = ImageFont.load_default(size=38)
    for i, line in enumerate(text.split("\n")):
        draw.text((60 + rng.randint(-6, 6), 58 + 52 * i), line, fill=(28, 36, 92), font=font)
    img = img.rotate(rng.uniform(-2.5, 2.5), expand=True, fillcolor=(220, 218, 210)).filter(
        ImageFilter.GaussianBlur(0.6)
    )
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


class DemoBuilder:
    def __init__(self, out) -> None:
        self.out = out
        self.rng = random.Random(SEED)
        self.User = get_user_model()
        self.start_date = date.today() - timedelta(days=TODAY_DAY)
        self.start = datetime.combine(self.start_date, time(0, 0), tzinfo=UTC)

    def at(self, day: float, hour: int = 12) -> datetime:
        return self.start + timedelta(days=day, hours=hour)

    def say(self, text: str) -> None:
        self.out(text)

    # -------------------------------------------------------------------------------------------------
    def build(self) -> dict:
        self.say("1/7 history: two finished OULAD presentations (module AAA, CC BY 4.0) ...")
        call_command("import_oulad", str(DATA / "oulad_aaa"), stdout=io.StringIO())
        trained = recs.risk_models_refresh()
        self.say(f"     at-risk models trained on them: {len(trained)}")
        self.say("2/7 people and the course ...")
        people = self._people()
        self.say("3/7 skills, resources and assignments ...")
        self._content()
        self.say("4/7 eight weeks of activity (logins, resource views, practice answers) ...")
        self._activity(people)
        self.say("5/7 answers graded by the real models (typed, photos, recordings) ...")
        self._answers(people)
        self.say("6/7 the teacher's review of the first assignment ...")
        self._review(people)
        self._withdrawals(people)
        self.say("7/7 behaviour, at-risk estimates and learning paths ...")
        summary = recs.behaviour_recompute_course(course_id=self.course.pk)
        for p in people["students"]:
            recs.learning_path_recompute(student=p["student"], course=self.course)
        return {"people": people, "behaviour": summary}

    def _user(self, username: str, first: str, last: str, password: str | None = None, **extra):
        user = self.User.objects.create(
            username=username, first_name=first, last_name=last, email=f"{username}@{DEMO_EMAIL_DOMAIN}", **extra
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return user

    def _people(self) -> dict:
        self.course = core.course_create(
            code=COURSE_CODE,
            title="Data structures (demo)",
            description="A demo term at day 60: stacks, queues, arrays, recursion.",
            starts_on=self.start_date,
            ends_on=self.start_date + timedelta(days=120),
        )
        admin = self._user("admin", "School", "IT", "admin", is_staff=True, is_superuser=True)
        teacher = self._user("teacher", "Tess", "Teacher", "teacher")
        ta = self._user("ta", "Theo", "Assistant", "ta")
        core.enrollment_create(user=teacher, course=self.course, role="instructor", registered_at=self.at(-20))
        core.enrollment_create(user=ta, course=self.course, role="ta", registered_at=self.at(-20))
        students = []
        profiles = oulad_profiles(self.rng, len(FIRST))
        # the documented student login belongs to a steady student (released grades, a path to follow)
        login_index = next(
            i
            for i, prof in enumerate(profiles)
            if prof.outcome == "Pass" and prof.tma_offsets[0] is not None and prof.tma_offsets[2] is not None
        )
        for i, (first, last, prof) in enumerate(zip(FIRST, LAST, profiles, strict=False)):
            username = "student" if i == login_index else f"{first.lower()}.{last.lower()}"
            user = self._user(username, first, last, "student" if i == login_index else None)
            withdrew = prof.withdrew_day if prof.withdrew_day is not None and prof.withdrew_day < TODAY_DAY else None
            registered = self.at(-self.rng.randint(3, 40))
            core.enrollment_create(user=user, course=self.course, registered_at=registered)
            students.append(
                {
                    "user": user,
                    "student": core.student_get_or_create(user=user),
                    "profile": prof,
                    "withdrew": withdrew,
                    "registered": registered,
                }
            )
        return {"admin": admin, "teacher": teacher, "ta": ta, "students": students}

    def _content(self) -> None:
        c = self.course
        self.skills = {
            "arrays": recs.skill_create(course=c, name="Arrays and lists", prior=0.5),
            "stacks": recs.skill_create(course=c, name="Stacks (LIFO)"),
            "queues": recs.skill_create(course=c, name="Queues (FIFO)"),
            "recursion": recs.skill_create(course=c, name="Recursion", prior=0.2),
        }
        s = self.skills
        recs.skill_prerequisite_add(skill=s["stacks"], prerequisite=s["arrays"])
        recs.skill_prerequisite_add(skill=s["queues"], prerequisite=s["stacks"])
        recs.skill_prerequisite_add(skill=s["recursion"], prerequisite=s["stacks"])
        for title, kind, skill, difficulty in (
            ("Reading: arrays refresher", "text", "arrays", 0.2),
            ("Exercise: index and slice an array", "exercise", "arrays", 0.4),
            ("Video: stacks in 5 minutes", "video", "stacks", 0.3),
            ("Reading: push and pop, step by step", "text", "stacks", 0.4),
            ("Exercise: balance the brackets with a stack", "exercise", "stacks", 0.7),
            ("Podcast: queues around us", "audio", "queues", 0.3),
            ("Exercise: simulate a print queue", "exercise", "queues", 0.6),
            ("Video: recursion and the call stack", "video", "recursion", 0.5),
            ("Exercise: write factorial recursively", "exercise", "recursion", 0.7),
        ):
            recs.resource_create(
                course=c,
                title=title,
                kind=kind,
                skills=[s[skill]],
                difficulty=difficulty,
                description=title.split(": ", 1)[1],
            )
        a = {}
        a["stack"] = core.assignment_create(
            course=c,
            title="What is a stack?",
            instructions="Explain what a stack is in one or two sentences.",
            modalities=["text"],
            max_score=5,
            due_at=self.at(12, 23),
            reference_answers=[
                "A stack is a last-in first-out (LIFO) data structure; elements are pushed onto and "
                "popped from the top."
            ],
            key_points=["last in first out", "push adds to the top", "pop removes from the top"],
        )
        a["photo"] = core.assignment_create(
            course=c,
            title="Photo: what is a queue?",
            modalities=["image", "text"],
            max_score=5,
            instructions="Write the definition of a queue on paper and upload a photo.",
            due_at=self.at(64, 23),
            reference_answers=[
                "A queue is a first-in first-out (FIFO) structure: enqueue at the back, dequeue at the front."
            ],
            key_points=["first in first out", "add at the back", "remove from the front"],
        )
        a["spoken"] = core.assignment_create(
            course=c,
            title="Explain a queue aloud",
            modalities=["audio"],
            max_score=10,
            due_at=self.at(68, 23),
            instructions="Record a short spoken explanation of a queue (under a minute).",
            reference_answers=[
                "A queue is first in, first out: items are added at the back and removed from the "
                "front, like a line of people."
            ],
            key_points=["first in first out", "add at the back", "remove from the front"],
        )
        a["arrays"] = core.assignment_create(
            course=c,
            title="Arrays or linked lists?",
            modalities=["text"],
            max_score=5,
            due_at=self.at(54, 23),
            instructions="When would you choose an array, and when a linked list? Give one reason for each.",
            reference_answers=[
                "Arrays store elements contiguously and give O(1) indexing; linked lists give O(1) "
                "insertion and deletion at a known node but O(n) access."
            ],
            key_points=[
                "arrays give constant-time indexing",
                "linked lists insert and delete cheaply",
                "linked lists need a walk to reach an element",
            ],
        )
        a["recursion"] = core.assignment_create(
            course=c,
            title="Recursion: find the base case",
            modalities=["text", "image"],
            max_score=5,
            due_at=self.at(75, 23),
            instructions="Write a recursive factorial and point out its base case.",
            reference_answers=[
                "factorial(n) = 1 if n <= 1 else n * factorial(n - 1); the base case n <= 1 stops the recursion."
            ],
        )
        grading.rubric_set(
            assignment=a["stack"],
            criteria=[
                {
                    "name": "Names the rule (LIFO)",
                    "points": 2,
                    "levels": [
                        {"label": "Clear", "points": 2},
                        {"label": "Implied", "points": 1},
                        {"label": "Missing", "points": 0},
                    ],
                },
                {
                    "name": "Push and pop at the top",
                    "points": 3,
                    "levels": [
                        {"label": "Both", "points": 3},
                        {"label": "One", "points": 1.5},
                        {"label": "Neither", "points": 0},
                    ],
                },
            ],
        )
        for key, skill in (
            ("stack", "stacks"),
            ("photo", "queues"),
            ("spoken", "queues"),
            ("arrays", "arrays"),
            ("recursion", "recursion"),
        ):
            recs.assignment_skill_tag(assignment=a[key], skill=s[skill])
        self.assignments = a

    # -------------------------------------------------------------------------------------------------
    def _event(
        self,
        student,
        verb: str,
        object_id: str,
        day: float,
        hour: int,
        *,
        object_type="Activity",
        result=None,
        context=None,
    ) -> None:
        core.event_record(
            student=student,
            course=self.course,
            verb=verb,
            object_id=object_id,
            object_type=object_type,
            result=result,
            context=context,
            timestamp=self.at(day, hour),
        )

    def _activity(self, people) -> None:
        from recommendations.api import SKILLS_EXT

        resources = {r.title: r for r in self.course.learning_resources.all()}
        viewed = "http://id.tincanapi.com/verb/viewed"
        answered = "http://adlnet.gov/expapi/verbs/answered"
        order = ["arrays", "stacks", "queues", "recursion"]
        skill_week = {"arrays": 0, "stacks": 1, "queues": 3, "recursion": 6}
        for p in people["students"]:
            prof, st = p["profile"], p["student"]
            kind = prof.archetype
            last_day = (
                p["withdrew"]
                if p["withdrew"] is not None
                else (self.rng.randint(18, 40) if kind == "leaving" else TODAY_DAY)
            )
            passive = kind == "steady" and self.rng.random() < 0.25
            rate = {"steady": 0.55, "struggling": 0.4, "leaving": 0.35}[kind]
            skill_p = {
                k: {"steady": 0.8, "struggling": 0.4, "leaving": 0.45}[kind] + self.rng.uniform(-0.1, 0.1)
                for k in order
            }
            with transaction.atomic():
                for day in range(0, min(last_day, TODAY_DAY)):
                    # students who withdraw fade out over their last weeks, as OULAD's withdrawn students do
                    fade = min(1.0, (last_day - day) / 21) if kind == "leaving" else 1.0
                    if self.rng.random() > rate * fade:
                        continue
                    hour = self.rng.choice([9, 13, 16, 19, 21])
                    core.event_record(
                        student=st,
                        course=None,
                        verb=core.VERB_LOGGED_IN,
                        object_id="eduplatform",
                        object_type="System",
                        timestamp=self.at(day, hour),
                    )
                    r = self.rng.choice(list(resources.values()))
                    self._event(st, viewed, f"resource:{r.pk}", day, hour, object_type=r.kind)
                    week = day // 7
                    open_skills = [k for k in order if skill_week[k] <= week]
                    if passive or not open_skills or self.rng.random() < 0.35:
                        continue
                    skill = self.rng.choice(open_skills)
                    ok = self.rng.random() < skill_p[skill]
                    self._event(
                        st,
                        answered,
                        f"practice:{skill}:{day}",
                        day,
                        hour,
                        object_type="Question",
                        result={"success": ok},
                        context={"extensions": {SKILLS_EXT: [self.skills[skill].pk]}},
                    )
                # the weekly quiz (scored), on the week's skill: who stopped coming stops taking it
                quiz_mean = {"steady": 0.82, "struggling": 0.38, "leaving": 0.4}[kind]
                for week in range(1, TODAY_DAY // 7 + 1):
                    day = 7 * week - 1
                    if day >= last_day or (kind != "steady" and self.rng.random() < 0.25):
                        continue
                    skill = max((k for k in order if skill_week[k] <= week - 1), key=lambda k: skill_week[k])
                    score = min(1.0, max(0.0, self.rng.gauss(quiz_mean, 0.12)))
                    self._event(
                        st,
                        answered,
                        f"quiz:week-{week}",
                        day,
                        17,
                        object_type="Assessment",
                        result={"score": {"scaled": round(score, 2)}, "success": score >= 0.5},
                        context={"extensions": {SKILLS_EXT: [self.skills[skill].pk]}},
                    )
            p["last_day"] = last_day

    def _submit(self, p, assignment, due_day: int, offset: int | None, *, text: str = "", files=()) -> object:
        """A submission at the mirrored day (the due day plus the real student's offset)."""
        day = max(0, min(TODAY_DAY - 1, due_day + (offset or 0)))
        if p["withdrew"] is not None and day >= p["withdrew"]:
            return None
        sub = core.submission_create(assignment=assignment, student=p["student"], text=text, files=list(files))
        when = self.at(day, self.rng.choice([10, 15, 20, 22]))
        core.Submission.objects.filter(pk=sub.pk).update(submitted_at=when)
        core.LearningEvent.objects.filter(
            student=p["student"], verb=core.VERB_SUBMITTED, result__extensions__submission_id=sub.pk
        ).update(timestamp=when)
        return sub

    def _answers(self, people) -> None:
        a = self.assignments
        students = people["students"]
        self.subs = {"stack": [], "arrays": [], "photo": [], "spoken": []}
        for p in students:
            prof = p["profile"]
            off, score = prof.tma_offsets[0], prof.tma_scores[0]
            if off is not None:
                band = _band(score, self.rng)
                text = self.rng.choice(STACK_ANSWERS[band])
                sub = self._submit(p, a["stack"], 12, off, text=text)
                if sub:
                    self.subs["stack"].append((p, sub, score))
            off2, score2 = prof.tma_offsets[2], prof.tma_scores[2]
            if off2 is not None and p["last_day"] >= 54:
                sub = self._submit(
                    p, a["arrays"], 54, min(off2, 5), text=self.rng.choice(ARRAY_ANSWERS[_band(score2, self.rng)])
                )
                if sub:
                    self.subs["arrays"].append((p, sub, score2))
        # the photo and spoken assignments are due next week: the keenest students have sent theirs already
        photo_takers = [p for p in students if p["profile"].archetype == "steady" and p["last_day"] >= TODAY_DAY][:4]
        for p, (_, text) in zip(photo_takers, PHOTO_ANSWERS, strict=False):
            photo = SimpleUploadedFile("answer.jpg", _photo(text, self.rng))
            sub = self._submit(p, a["photo"], 57, self.rng.randint(-2, 2), files=[photo])
            if sub:
                self.subs["photo"].append((p, sub, None))
        speakers = [p for p in students if p["profile"].archetype != "leaving" and p not in photo_takers][:3]
        for p, name in zip(speakers, AUDIO_ANSWERS, strict=False):
            recording = SimpleUploadedFile(name, (DATA / name).read_bytes())
            sub = self._submit(p, a["spoken"], 58, self.rng.randint(-1, 1), files=[recording])
            if sub:
                self.subs["spoken"].append((p, sub, None))

    def _withdrawals(self, people) -> None:
        """Students who left the real course leave the demo one on the same day (after their earlier work)."""
        for p in people["students"]:
            if p["withdrew"] is not None:
                core.enrollment_create(
                    user=p["user"],
                    course=self.course,
                    registered_at=p["registered"],
                    unregistered_at=self.at(p["withdrew"]),
                )

    def _review(self, people) -> None:
        """The teacher grades "What is a stack?" (agreeing with the AI or not) and releases it; two answers,
        one of them flagged, are left for the review queue, like the photos and recordings."""
        teacher = people["teacher"]
        stack = self.subs["stack"]
        keep_for_queue = {sub.pk for _, sub, _ in stack[-2:]}
        for _p, sub, score in stack:
            grade = grading.current_grade_for(sub.pk)
            if grade is None or sub.pk in keep_for_queue:
                continue
            final = round(5 * (score or 0) / 100 * 2) / 2
            if grade.score is not None and abs(float(grade.score) - final) <= 0.5 and not grade.flags:
                grading.grade_review(grade=grade, reviewer=teacher, action="accept", release=True)
            else:
                grading.grade_review(
                    grade=grade,
                    reviewer=teacher,
                    action="override",
                    score=final,
                    release=True,
                    comment="Checked by your teacher.",
                )
        for _p, sub, score in self.subs["arrays"][:6]:
            grade = grading.current_grade_for(sub.pk)
            if grade is not None:
                final = round(5 * (score or 0) / 100 * 2) / 2
                grading.grade_review(
                    release=True,
                    grade=grade,
                    reviewer=teacher,
                    action="override",
                    score=final,
                    comment="Good start: give one concrete cost for each.",
                )
        # the teacher did this in the days after each deadline: date the "scored" statements of the releases then
        released = [(sub.pk, 15) for _, sub, _ in stack if sub.pk not in keep_for_queue]
        released += [(sub.pk, 57) for _, sub, _ in self.subs["arrays"][:6]]
        for i, (sub_id, day) in enumerate(released):
            core.LearningEvent.objects.filter(verb=core.VERB_SCORED, result__extensions__submission_id=sub_id).update(
                timestamp=self.at(day + i % 3, 18)
            )
        # the learned grader, from the teacher's grades (it regrades what no person has decided yet)
        core.enqueue("grading.train_grader", assignment_id=self.assignments["stack"].pk)
        core.enqueue("grading.build_answer_groups", assignment_id=self.assignments["stack"].pk)
