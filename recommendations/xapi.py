"""What the learner model reads from xAPI statements: verb names, activity categories,
object ids, scores, durations and the verbs each sub-domain listens to.

One vocabulary for risk (behaviour features, course outcomes), mastery (answers and
scores as evidence) and paths (resources used, completed or skipped), so the three read
a statement the same way. No ORM; scores are scaled with core's one normalisation.
"""

from __future__ import annotations

import re

from eduplatform.core.api import scaled_score

__all__ = [
    "ACTIVITY_ASSESSMENT",
    "ACTIVITY_COURSE",
    "LABEL_RULE",
    "MASTERY_VERBS",
    "OUTCOME_VERBS",
    "RESOURCE_CATEGORIES",
    "SKILLS_EXT",
    "USE_VERBS",
    "VERB_COMPLETED",
    "VERB_FAILED",
    "VERB_PASSED",
    "VERB_REGISTERED",
    "VERB_SKIPPED",
    "VERB_UNREGISTERED",
    "VERB_WITHDREW",
    "VIEW_WEIGHT",
    "event_correctness",
    "event_score",
    "iso_duration_minutes",
    "object_pk",
    "resource_category",
    "resource_object_id",
    "verb_name",
]

VERB_REGISTERED = "http://adlnet.gov/expapi/verbs/registered"
VERB_UNREGISTERED = "https://w3id.org/eduplatform/xapi/verbs/unregistered"
VERB_PASSED = "http://adlnet.gov/expapi/verbs/passed"
VERB_FAILED = "http://adlnet.gov/expapi/verbs/failed"
VERB_WITHDREW = "https://w3id.org/eduplatform/xapi/verbs/withdrew"
VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VERB_SKIPPED = "http://id.tincanapi.com/verb/skipped"
ACTIVITY_COURSE = "http://adlnet.gov/expapi/activities/course"
ACTIVITY_ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"

# Course outcomes (the at-risk label): verb -> outcome.
OUTCOME_VERBS = {VERB_PASSED: "passed", VERB_FAILED: "failed", VERB_WITHDREW: "withdrawn"}
LABEL_RULE = "at risk = failed or withdrew (unregistered); not at risk = passed"

# Verbs whose events with a result update mastery (answer to an item / a score).
MASTERY_VERBS = frozenset({"answered", "scored"})
# Verbs that say a student used a resource (modality preference); "completed" also marks it done.
USE_VERBS = frozenset({"completed", "experienced", "viewed", "played", "watched", "read", "launched"})
VIEW_WEIGHT = 0.25  # a view of a course page/video counts as a quarter of a completed path step
SKILLS_EXT = "https://w3id.org/eduplatform/xapi/skill-ids"  # context extension: skill ids of an answer

RESOURCE_CATEGORIES = ("assessment", "video", "audio", "text", "image", "discussion", "other")
_RESOURCE_WORDS = (
    ("video", ("video", "movie")),
    ("audio", ("audio", "podcast", "recording", "speech")),
    ("image", ("image", "picture", "photo", "figure")),
    ("discussion", ("discussion", "forum", "comment", "chat", "thread", "post")),
    ("assessment", ("assessment", "assignment", "question", "interaction", "quiz", "exam", "test")),
    (
        "text",
        (
            "document",
            "reading",
            "page",
            "file",
            "lesson",
            "text",
            "article",
            "book",
            "link",
            "module",
            "resource",
            "html",
        ),
    ),
)


def verb_name(verb_iri: str) -> str:
    """``http://adlnet.gov/expapi/verbs/completed`` -> ``completed``."""
    return verb_iri.rstrip("/").rsplit("/", 1)[-1].lower()


def resource_category(object_type: str) -> str:
    """Map an xAPI activity type IRI (or a short name) to one of RESOURCE_CATEGORIES."""
    name = object_type.rstrip("/").rsplit("/", 1)[-1].lower()
    for category, words in _RESOURCE_WORDS:
        if any(w in name for w in words):
            return category
    return "other"


def resource_object_id(resource_id: int) -> str:
    """xAPI object id of a learning resource (what the mobile app sends)."""
    return f"resource:{resource_id}"


def object_pk(object_id: str, prefix: str) -> int | None:
    """The primary key in an object id such as ``assignment:12`` (None for other prefixes)."""
    if not object_id.startswith(prefix + ":"):
        return None
    tail = object_id[len(prefix) + 1 :]
    return int(tail) if tail.isdigit() else None


def event_score(result: dict) -> float | None:
    """``result.score`` as a 0-1 fraction: ``scaled`` (clipped), else ``raw`` on [min, max]."""
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    if isinstance(score.get("scaled"), (int, float)):
        return min(1.0, max(0.0, float(score["scaled"])))
    if isinstance(score.get("raw"), (int, float)) and isinstance(score.get("max"), (int, float)):
        return scaled_score(score["raw"], score.get("min", 0) or 0, score["max"])
    return None


def event_correctness(result: dict) -> float | None:
    """How correct an answer was (0-1): ``result.success`` when given, else the score."""
    if not isinstance(result, dict):
        return None
    if isinstance(result.get("success"), bool):
        return 1.0 if result["success"] else 0.0
    return event_score(result)


def iso_duration_minutes(value) -> float:
    """Minutes in an xAPI ``result.duration`` (ISO 8601, e.g. PT4M30S); 0 when absent or bad."""
    m = re.fullmatch(
        r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?",
        str(value or "").strip(),
    )
    if not m or not any(m.groups()):
        return 0.0
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 1440 + h * 60 + mi + s / 60
