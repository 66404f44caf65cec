"""The learning-path recommender, on plain data (no Django, no ORM, no randomness).

The service layer turns database rows into the dataclasses below; this module
turns them into an ordered path with one human-readable explanation per step. The
same inputs always give the same path (ties are broken by ids), so a recompute
that changes nothing can be detected and skipped.

Rules:

* A skill is a *candidate* when it is not mastered (``p < threshold``) and every
  prerequisite is mastered (``p >= threshold``). Skills with an unmastered
  prerequisite are never recommended; the path says which prerequisite blocks them.
* Resources of candidate skills are ranked by a weighted sum of normalised factors,
  all in [0, 1]: expected learning gain, the student's modality preference, how
  well the difficulty fits the current mastery, novelty (skipped resources are
  penalised; done ones are not offered again) and due-date urgency of assignments
  on the same skills.
* Instructor pins come first (in pin order) unless the student already did them;
  excluded resources never appear.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
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
    "modality_preference",
    "recommend",
    "urgency",
]

RECOMMENDER_VERSION = "paths-v1"
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
    now: datetime,
    threshold: float = MASTERY_THRESHOLD,
    default_p: float = 0.0,
    max_steps: int = 8,
    max_per_skill: int = 2,
    weights: Weights = Weights(),
) -> PathPlan:
    """Order the next-best resources for one student in one course.

    ``mastery`` maps skill id -> P(mastered); ``done`` are resource ids the student
    finished, ``skipped`` resource id -> times skipped; ``pinned`` is the ordered list
    of pinned resource ids (the caller has already let student-level choices override
    course-level ones); ``excluded`` are never shown.
    """
    skills = {s.id: s for s in skills}
    resources = {r.id: r for r in resources}
    preference = dict(preference or {})
    done, excluded, skipped, pinned = set(done), set(excluded), dict(skipped or {}), list(pinned)
    names = {sid: s.name for sid, s in skills.items()}

    def p(sid: int) -> float:
        return float(mastery.get(sid, default_p))

    candidates, blocked, mastered = candidate_skills(skills.values(), mastery, threshold=threshold, default_p=default_p)
    candidate_set = set(candidates)
    top_pref = max(preference.values(), default=1.0) or 1.0

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
        reason = "Pinned by your instructor."
        if sid is not None:
            reason += " " + _skill_phrase(sid, p(sid), skills, names, threshold)
        due = _due_phrase(r, now)
        if due:
            reason += f" {due[0].upper()}{due[1:]}."
        steps.append(
            PlannedStep(
                position=0,
                resource_id=rid,
                skill_id=sid,
                score=1.0,
                expected_gain=round(gain, 4),
                reason=reason,
                pinned=True,
            )
        )
        used.add(rid)

    # 2. Ranked resources of candidate skills.
    scored: list[tuple[float, int, int, dict]] = []
    for rid in sorted(resources):
        r = resources[rid]
        if rid in excluded or rid in done or rid in used:
            continue
        best = None
        for sid in sorted(s for s in r.skills if s in candidate_set):
            f = _factors(r, sid, skills, p, preference, top_pref, skipped.get(rid, 0), now)
            if best is None or f["gain_raw"] > best[1]["gain_raw"]:
                best = (sid, f)
        if best is not None:
            scored.append((0.0, rid, best[0], best[1]))
    top_gain = max((f["gain_raw"] for _, _, _, f in scored), default=0.0) or 1.0
    ranked = []
    for _, rid, sid, f in scored:
        f["gain"] = round(f["gain_raw"] / top_gain, 4)
        score = (
            weights.gain * f["gain"]
            + weights.modality * f["modality"]
            + weights.fit * f["fit"]
            + weights.novelty * f["novelty"]
            + weights.urgency * f["urgency"]
        )
        ranked.append((round(score, 6), rid, sid, f))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    per_skill: dict[int, int] = {}
    for step in steps:
        if step.skill_id is not None:
            per_skill[step.skill_id] = per_skill.get(step.skill_id, 0) + 1
    for score, rid, sid, f in ranked:
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
                reason=_explain(r, sid, f, skills, names, p, preference, top_pref, threshold, skipped.get(rid, 0), now),
                factors={k: v for k, v in f.items() if k != "gain_raw"},
            )
        )
        per_skill[sid] = per_skill.get(sid, 0) + 1
        used.add(rid)
    for i, s in enumerate(steps, start=1):
        s.position = i

    summary = _summary(candidates, blocked, mastered, steps, skills, names, resources, done, excluded)
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
    r: ResourceInfo, sid: int, skills, p, preference, top_pref: float, skips: int, now: datetime
) -> dict[str, float]:
    return {
        "gain_raw": _expected_gain(r, sid, skills, p),
        "modality": round(min(1.0, preference.get(r.kind, 1.0) / top_pref), 4) if preference else 1.0,
        "fit": round(difficulty_fit(r.difficulty, p(sid)), 4),
        "novelty": round(1.0 / (1.0 + 2.0 * skips), 4),
        "urgency": urgency(r.due_at, now),
    }


def _pct(x: float) -> str:
    return f"{round(100 * x)}%"


def _skill_phrase(sid: int, p: float, skills, names, threshold: float) -> str:
    s = skills[sid]
    text = f"You are at {_pct(p)} on {names[sid]}"
    prereqs = sorted(q for q in s.prerequisites if q in names)
    if prereqs:
        listed = ", ".join(names[q] for q in prereqs)
        plural = len(prereqs) > 1
        text += f"; its prerequisite{'s' if plural else ''} {listed} {'are' if plural else 'is'} mastered"
    return text + "."


def _when(due: datetime, now: datetime) -> str:
    days = (due.date() - now.date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days < 7:
        return due.strftime("%A")
    return due.strftime("%d %b").lstrip("0")


def _due_phrase(r: ResourceInfo, now: datetime) -> str:
    if r.due_at is None or r.due_at < now:
        return ""
    what = f"'{r.due_title}'" if r.due_title else "an assignment on it"
    return f"{what} is due {_when(r.due_at, now)}"


def _explain(
    r: ResourceInfo,
    sid: int,
    f: dict,
    skills,
    names,
    p,
    preference,
    top_pref: float,
    threshold: float,
    skips: int,
    now: datetime,
) -> str:
    parts = [_skill_phrase(sid, p(sid), skills, names, threshold).rstrip(".")]
    pref = preference.get(r.kind)
    if pref is not None and pref >= STRONG_PREFERENCE and pref >= top_pref - 1e-9:
        parts.append(f"you learn well from {_PLURAL.get(r.kind, r.kind)}")
    if f["fit"] >= 0.8:
        parts.append("its difficulty suits your level")
    elif r.difficulty > p(sid) + 0.35:
        parts.append("it is a stretch for you")
    due = _due_phrase(r, now)
    if due:
        parts.append(due)
    if skips:
        parts.append(f"you skipped it {'once' if skips == 1 else f'{skips} times'} before")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _summary(candidates, blocked, mastered, steps, skills, names, resources, done, excluded) -> str:
    if skills and len(mastered) == len(skills):
        return "You have mastered every skill of this course."
    if not skills:
        return "This course has no skills defined yet."
    bits = []
    if candidates:
        bits.append("Working on: " + ", ".join(names[s] for s in candidates) + ".")
    covered = {s.skill_id for s in steps}
    without = [s for s in candidates if s not in covered]
    if without:
        no_res = [
            s
            for s in without
            if not any(s in r.skills and r.id not in excluded and r.id not in done for r in resources.values())
        ]
        if no_res:
            bits.append(
                "No new resources yet for: "
                + ", ".join(names[s] for s in no_res)
                + " (practise with its assignments or ask your instructor)."
            )
    if blocked:
        locked = [f"{names[s]} (after {', '.join(names[q] for q in qs)})" for s, qs in sorted(blocked.items())]
        bits.append("Unlocked later: " + "; ".join(locked) + ".")
    return " ".join(bits)
