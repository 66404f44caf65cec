"""The learning-path recommender, on plain data (no Django, no ORM, no randomness).

The service layer turns database rows into the dataclasses below; this module
turns them into an ordered path with one human-readable explanation per step. The
same inputs always give the same path (ties are broken by ids), so a recompute
that changes nothing can be detected and skipped.

Rules:

* A skill is a *candidate* when it is not mastered (``p < threshold``) and every
  prerequisite is mastered (``p >= threshold``). A skill with an unmastered
  prerequisite is not recommended itself: the path leads to the prerequisite's own
  resources and practice instead, and says which skill that opens.
* A skill without evidence (``unknown``) is ranked from its prior (the course can set
  it per skill) but never described by a number: the student reads that we do not
  know yet, not "30%".
* Resources of candidate skills are ranked by a weighted sum of normalised factors,
  all in [0, 1]: expected learning gain, the student's modality preference, how
  well the difficulty fits the current mastery, novelty (skipped resources are
  penalised) and due-date urgency of assignments on the same skills.
* There is always a next step while a candidate skill has any resource: a done
  reading/video is not offered again, but practice (exercises) is, while its skill is
  not mastered, and when a candidate skill has nothing new left its done resources come
  back as review. Completing practice with a result is evidence that moves mastery.
* Instructor pins come first (in pin order) unless the student already did them;
  excluded resources never appear.
* Every step carries one sentence a 14-year-old understands: what to do, on which
  skill, and the one reason that matters most (see ``explain``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime

__all__ = [
    "MASTERY_THRESHOLD",
    "MODALITIES",
    "RECOMMENDER_VERSION",
    "ModalityActivity",
    "PathPlan",
    "PlannedStep",
    "ResourceInfo",
    "SkillInfo",
    "Weights",
    "candidate_skills",
    "difficulty_fit",
    "explain",
    "modality_preference",
    "recommend",
    "urgency",
]

RECOMMENDER_VERSION = "paths-v2"
MASTERY_THRESHOLD = 0.95
MODALITIES = ("video", "audio", "text", "image", "exercise")
DEFAULT_LEARN = 0.1  # BKT learn rate assumed for a skill without fitted parameters

# Modality preference: a completion counts 1, this many minutes of use count 1 too.
MINUTES_PER_COMPLETION = 10.0
PREFERENCE_SMOOTHING = 1.0  # pseudo-completions per modality (Laplace smoothing)
SKIP_SMOOTHING = 2.0  # pseudo-completions in the skip-rate denominator
STRONG_PREFERENCE = 1.25  # preference (1 = neutral) above which the explanation mentions it
URGENT_DAYS = 7.0  # due dates further away than this add (almost) no urgency

_PLURAL = {
    "video": "videos",
    "audio": "audio recordings",
    "text": "reading",
    "image": "images and slides",
    "exercise": "exercises",
}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SkillInfo:
    id: int
    name: str
    prerequisites: tuple[int, ...] = ()
    learn: float = DEFAULT_LEARN  # BKT P(learn) per practice opportunity: the learn-rate proxy


@dataclass(frozen=True)
class ResourceInfo:
    id: int
    title: str
    kind: str  # one of MODALITIES
    skills: Mapping[int, float]  # skill id -> weight in (0, 1] (how much of the resource is about it)
    difficulty: float = 0.5  # 0..1
    duration_minutes: int = 10
    due_at: datetime | None = None  # earliest upcoming due date of an assignment on its skills
    due_title: str = ""  # that assignment's title


@dataclass
class ModalityActivity:
    """What a student did with one modality: completed resources, minutes, skips."""

    completions: float = 0.0
    minutes: float = 0.0
    skips: float = 0.0


@dataclass(frozen=True)
class Weights:
    """Weights of the ranking factors (each factor lies in [0, 1])."""

    gain: float = 0.40
    modality: float = 0.20
    fit: float = 0.15
    novelty: float = 0.10
    urgency: float = 0.15


# -------------------------------------------------------------------------- outputs


@dataclass
class PlannedStep:
    position: int
    resource_id: int
    skill_id: int | None
    score: float
    expected_gain: float
    reason: str
    pinned: bool = False
    factors: dict[str, float] = field(default_factory=dict)
    again: bool = False  # offered before: practice again, or review when nothing new is left


@dataclass
class PathPlan:
    steps: list[PlannedStep]
    summary: str
    preference: dict[str, float]
    candidate_skill_ids: list[int]
    blocked: dict[int, list[int]]  # skill id -> its unmastered prerequisites
    mastered_skill_ids: list[int]

    def signature(self) -> list[tuple]:
        """What the student sees; two plans with the same signature are the same path."""
        return [(s.resource_id, s.skill_id, s.reason) for s in self.steps]

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------- factors


def modality_preference(
    activity: Mapping[str, ModalityActivity], *, smoothing: float = PREFERENCE_SMOOTHING
) -> dict[str, float]:
    """Smoothed preference per modality; 1.0 is neutral (no evidence), above 1 preferred.

    The engagement share of a modality (completions plus time, Laplace-smoothed so one
    completion does not decide everything) times the number of modalities, lowered by
    the share of the modality's resources the student skipped.
    """
    use = {m: 0.0 for m in MODALITIES}
    skips = {m: 0.0 for m in MODALITIES}
    done = {m: 0.0 for m in MODALITIES}
    for m, a in activity.items():
        if m not in use:
            continue
        use[m] = max(0.0, a.completions) + max(0.0, a.minutes) / MINUTES_PER_COMPLETION
        done[m] = max(0.0, a.completions)
        skips[m] = max(0.0, a.skips)
    k = len(MODALITIES)
    total = sum(use.values()) + smoothing * k
    pref = {}
    for m in MODALITIES:
        share = (use[m] + smoothing) / total
        skip_rate = skips[m] / (skips[m] + done[m] + SKIP_SMOOTHING)
        pref[m] = round(share * k * (1.0 - skip_rate), 4)
    return pref


def difficulty_fit(difficulty: float, p_mastery: float) -> float:
    """1 when the difficulty sits just above the current mastery (the zone of proximal
    development), falling off smoothly; 0..1."""
    target = min(1.0, p_mastery + 0.1)
    return math.exp(-((difficulty - target) ** 2) / (2 * 0.25**2))


def urgency(due_at: datetime | None, now: datetime) -> float:
    """1 when due within a day, about 0.5 at three days, ~0 past a week or without a date;
    0 once the due date has passed (nothing left to prepare for)."""
    if due_at is None:
        return 0.0
    days = (due_at - now).total_seconds() / 86400.0
    if days < 0:
        return 0.0
    if days <= 1.0:
        return 1.0
    if days > URGENT_DAYS * 2:
        return 0.0
    return round(1.0 / (1.0 + (days - 1.0) / 2.0), 4)


def candidate_skills(
    skills: Iterable[SkillInfo],
    mastery: Mapping[int, float],
    *,
    threshold: float = MASTERY_THRESHOLD,
    default_p: float = 0.0,
) -> tuple[list[int], dict[int, list[int]], list[int]]:
    """(candidates, blocked -> unmastered prerequisites, mastered), each sorted by id.

    A prerequisite that is not a skill of this graph (deleted, other course) does not
    block. Unknown mastery is ``default_p`` (the skill's prior, as the caller decides).
    """
    skills = sorted(skills, key=lambda s: s.id)
    known = {s.id for s in skills}

    def p(sid: int) -> float:
        return float(mastery.get(sid, default_p))

    candidates, mastered, blocked = [], [], {}
    for s in skills:
        if p(s.id) >= threshold:
            mastered.append(s.id)
            continue
        missing = sorted(q for q in set(s.prerequisites) if q in known and p(q) < threshold)
        if missing:
            blocked[s.id] = missing
        else:
            candidates.append(s.id)
    return candidates, blocked, mastered


# ----------------------------------------------------------------------- recommend

PRACTICE_KIND = "exercise"  # resources whose completion can carry a result (evidence)
AGAIN_NOVELTY = 0.5  # novelty of practice the student already did once


def recommend(
    *,
    skills: Iterable[SkillInfo],
    mastery: Mapping[int, float],
    resources: Iterable[ResourceInfo],
    preference: Mapping[str, float] | None = None,
    done: Iterable[int] = (),
    skipped: Mapping[int, int] | None = None,
    pinned: Iterable[int] = (),
    excluded: Iterable[int] = (),
    unknown: Iterable[int] = (),
    now: datetime,
    threshold: float = MASTERY_THRESHOLD,
    default_p: float = 0.0,
    max_steps: int = 8,
    max_per_skill: int = 2,
    weights: Weights = Weights(),
) -> PathPlan:
    """Order the next-best resources for one student in one course.

    ``mastery`` maps skill id -> P(mastered) (the prior for skills in ``unknown``, which
    have no evidence yet); ``done`` are resource ids the student finished, ``skipped``
    resource id -> times skipped; ``pinned`` is the ordered list of pinned resource ids
    (the caller has already let student-level choices override course-level ones);
    ``excluded`` are never shown.
    """
    skills = {s.id: s for s in skills}
    resources = {r.id: r for r in resources}
    preference = dict(preference or {})
    done, excluded, skipped, pinned = set(done), set(excluded), dict(skipped or {}), list(pinned)
    unknown = set(unknown)

    def p(sid: int) -> float:
        return float(mastery.get(sid, default_p))

    candidates, blocked, mastered = candidate_skills(skills.values(), mastery, threshold=threshold, default_p=default_p)
    candidate_set = set(candidates)
    unlocks: dict[int, list[int]] = {}  # candidate -> the blocked skills waiting for it
    for sid, missing in sorted(blocked.items()):
        for q in missing:
            unlocks.setdefault(q, []).append(sid)
    top_pref = max(preference.values(), default=1.0) or 1.0
    ctx = _Context(skills, p, unknown, unlocks, preference, top_pref, threshold, now)

    steps: list[PlannedStep] = []
    used: set[int] = set()
    # 1. Pins, in the instructor's order.
    for rid in pinned:
        r = resources.get(rid)
        if r is None or rid in excluded or rid in done or rid in used:
            continue
        open_skills = sorted(
            (sid for sid in r.skills if sid in skills and p(sid) < threshold), key=lambda sid: (p(sid), sid)
        )
        sid = open_skills[0] if open_skills else None
        gain = _expected_gain(r, sid, skills, p) if sid is not None else 0.0
        steps.append(
            PlannedStep(
                position=0,
                resource_id=rid,
                skill_id=sid,
                score=1.0,
                expected_gain=round(gain, 4),
                reason=explain(r, sid, ctx, pinned=True),
                pinned=True,
            )
        )
        used.add(rid)

    # 2. Ranked resources of candidate skills (practice the student did before comes back
    #    while its skill is not mastered: every completion with a result is evidence).
    scored: list[tuple[int, int, dict, bool]] = []
    for rid in sorted(resources):
        r = resources[rid]
        again = rid in done
        if rid in excluded or rid in used or (again and r.kind != PRACTICE_KIND):
            continue
        best = None
        for sid in sorted(s for s in r.skills if s in candidate_set):
            f = _factors(r, sid, skills, p, preference, top_pref, skipped.get(rid, 0), now, again)
            if best is None or f["gain_raw"] > best[1]["gain_raw"]:
                best = (sid, f)
        if best is not None:
            scored.append((rid, best[0], best[1], again))
    top_gain = max((f["gain_raw"] for _, _, f, _ in scored), default=0.0) or 1.0
    ranked = []
    for rid, sid, f, again in scored:
        f["gain"] = round(f["gain_raw"] / top_gain, 4)
        score = (
            weights.gain * f["gain"]
            + weights.modality * f["modality"]
            + weights.fit * f["fit"]
            + weights.novelty * f["novelty"]
            + weights.urgency * f["urgency"]
        )
        ranked.append((round(score, 6), rid, sid, f, again))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    per_skill: dict[int, int] = {}
    for step in steps:
        if step.skill_id is not None:
            per_skill[step.skill_id] = per_skill.get(step.skill_id, 0) + 1
    for score, rid, sid, f, again in ranked:
        if len(steps) >= max_steps:  # pins are always kept, even past max_steps
            break
        if per_skill.get(sid, 0) >= max_per_skill:
            continue
        r = resources[rid]
        steps.append(
            PlannedStep(
                position=0,
                resource_id=rid,
                skill_id=sid,
                score=score,
                expected_gain=round(f["gain_raw"], 4),
                reason=explain(r, sid, ctx, again=again, skips=skipped.get(rid, 0)),
                factors={k: v for k, v in f.items() if k != "gain_raw"},
                again=again,
            )
        )
        per_skill[sid] = per_skill.get(sid, 0) + 1
        used.add(rid)

    # 3. Review: a candidate skill with nothing new left gets its done resources back, so
    #    the path never dead-ends while the skill has any resource at all.
    covered = {s.skill_id for s in steps}
    for sid in candidates:
        if sid in covered or len(steps) >= max_steps:
            continue
        review = sorted(
            (rid for rid, r in resources.items() if sid in r.skills and rid in done and rid not in excluded | used),
            key=lambda rid: (skipped.get(rid, 0), rid),
        )
        for rid in review[:1]:
            r = resources[rid]
            steps.append(
                PlannedStep(
                    position=0,
                    resource_id=rid,
                    skill_id=sid,
                    score=0.0,
                    expected_gain=round(_expected_gain(r, sid, skills, p), 4),
                    reason=explain(r, sid, ctx, again=True, review=True),
                    again=True,
                )
            )
            used.add(rid)
    for i, s in enumerate(steps, start=1):
        s.position = i

    summary = _summary(candidates, blocked, mastered, steps, skills, resources, excluded)
    return PathPlan(
        steps=steps,
        summary=summary,
        preference=dict(preference),
        candidate_skill_ids=candidates,
        blocked=blocked,
        mastered_skill_ids=mastered,
    )


def _expected_gain(r: ResourceInfo, sid: int, skills: Mapping[int, SkillInfo], p) -> float:
    """Expected rise in P(mastered): room left x learn rate x difficulty fit x coverage."""
    learn = skills[sid].learn if sid in skills else DEFAULT_LEARN
    fit = difficulty_fit(r.difficulty, p(sid))
    return (1.0 - p(sid)) * learn * (0.5 + 0.5 * fit) * float(r.skills.get(sid, 1.0))


def _factors(
    r: ResourceInfo, sid: int, skills, p, preference, top_pref: float, skips: int, now: datetime, again: bool = False
) -> dict[str, float]:
    return {
        "gain_raw": _expected_gain(r, sid, skills, p),
        "modality": round(min(1.0, preference.get(r.kind, 1.0) / top_pref), 4) if preference else 1.0,
        "fit": round(difficulty_fit(r.difficulty, p(sid)), 4),
        "novelty": round((AGAIN_NOVELTY if again else 1.0) / (1.0 + 2.0 * skips), 4),
        "urgency": urgency(r.due_at, now),
    }


# ----------------------------------------------------------------------- explanations

_DO = {
    "video": "Watch this video",
    "audio": "Listen to this recording",
    "text": "Read this",
    "image": "Look through these slides",
    "exercise": "Do this exercise",
}


@dataclass(frozen=True)
class _Context:
    """What every explanation of one plan needs."""

    skills: Mapping[int, SkillInfo]
    p: Callable[[int], float]  # skill id -> P(mastered) (the prior for unknown skills)
    unknown: set[int]
    unlocks: Mapping[int, list[int]]
    preference: Mapping[str, float]
    top_pref: float
    threshold: float
    now: datetime


def _names(ids, skills) -> str:
    names = [skills[i].name for i in ids if i in skills]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _progress(p: float) -> str:
    """Where a student is on a skill, in words (no percentages)."""
    if p < 0.4:
        return "you are just getting started"
    if p < 0.7:
        return "you are about halfway there"
    return "you are nearly there"


def _when(due: datetime, now: datetime) -> str:
    days = (due.date() - now.date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days < 7:
        return "on " + due.strftime("%A")
    return "on " + due.strftime("%d %B").lstrip("0")


def _due(r: ResourceInfo, now: datetime) -> str:
    if r.due_at is None or r.due_at < now or urgency(r.due_at, now) <= 0:
        return ""
    what = f"'{r.due_title}'" if r.due_title else "an assignment on it"
    return f"{what} is due {_when(r.due_at, now)}"


def explain(
    r: ResourceInfo,
    sid: int | None,
    ctx: _Context,
    *,
    pinned: bool = False,
    again: bool = False,
    review: bool = False,
    skips: int = 0,
) -> str:
    """One sentence: what to do, on which skill, and the one reason that matters most.

    Reasons, first that applies: the teacher picked it; nothing new is left (review);
    an assignment on it is due soon; the student learns well from this kind of resource;
    the skill opens a skill the student is waiting for; we do not know yet what the
    student knows; practice again; how far along they are (in words, never a number).
    """
    do = _DO.get(r.kind, "Work through this")
    if sid is None or sid not in ctx.skills:
        return f"{do}, because your teacher picked it for you." if pinned else f"{do}."
    name = ctx.skills[sid].name
    p = ctx.p(sid)
    known = sid not in ctx.unknown
    on = f"{do} on {name}" + (" again" if again else "")
    due = _due(r, ctx.now)
    pref = ctx.preference.get(r.kind)
    if pinned:
        text = f"{on}, because your teacher picked it for you"
    elif review:
        text = f"{on}, because you have not mastered it yet and there is nothing new on it right now"
    elif due:
        text = f"{on}, because {due}"
    elif pref is not None and pref >= STRONG_PREFERENCE and pref >= ctx.top_pref - 1e-9:
        text = f"{on}, because you learn well from {_PLURAL.get(r.kind, r.kind)}"
    elif ctx.unlocks.get(sid):
        text = f"{on}, because you need it before you can start {_names(ctx.unlocks[sid], ctx.skills)}"
    elif not known:
        prereqs = [q for q in ctx.skills[sid].prerequisites if q in ctx.skills]
        if prereqs:
            text = f"{on}: it is new for you, and you are ready for it now that you know {_names(prereqs, ctx.skills)}"
        elif r.kind == PRACTICE_KIND:
            text = f"{on}, so we can find out what you already know about it"
        else:
            text = f"{on}, because we do not know yet how much you know about it"
    elif again:
        text = f"{on}, because {_progress(p)} and every try counts"
    else:
        text = f"{on}, because {_progress(p)} with it"
    if skips:
        text += f" (you skipped it {'once' if skips == 1 else f'{skips} times'} before)"
    return text + "."


def _summary(candidates, blocked, mastered, steps, skills, resources, excluded) -> str:
    if skills and len(mastered) == len(skills):
        return "You have mastered every skill of this course."
    if not skills:
        return "This course has no skills defined yet."
    names = {sid: s.name for sid, s in skills.items()}
    bits = []
    if candidates:
        bits.append("Working on: " + ", ".join(names[s] for s in candidates) + ".")
    covered = {s.skill_id for s in steps}
    no_res = [
        s
        for s in candidates
        if s not in covered and not any(s in r.skills and r.id not in excluded for r in resources.values())
    ]
    if no_res:
        bits.append(
            "There is nothing to learn from yet for "
            + ", ".join(names[s] for s in no_res)
            + ": ask your teacher, or practise with its assignments."
        )
    if blocked:
        locked = [f"{names[s]} (after {', '.join(names[q] for q in qs)})" for s, qs in sorted(blocked.items())]
        bits.append("Unlocked later: " + "; ".join(locked) + ".")
    return " ".join(bits)
