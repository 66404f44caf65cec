"""How machine output is shown to people: flags in words, confidence in words, evidence marked in the answer.

Pure functions of plain values (no queries), so the pages, their tests and a future
template for another host all say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: Flags in plain words, for teachers.
FLAG_WORDS = {
    "blank": "No answer: the student submitted nothing to grade.",
    "gibberish": "Not readable as text (random letters or keyboard mashing).",
    "off_topic": "Does not seem to answer this question.",
    "copied_reference": "Very close to the reference answer word for word: check it is the student's own.",
    "copied_question": "Mostly repeats the question.",
    "too_short": "Much shorter than the answers this question usually gets.",
    "blank_page": "The photo looks like an empty page.",
    "unreadable_image": "The photo is blurred or faint; the text read from it may be wrong.",
    "low_ocr_confidence": "The handwriting was hard to read; check the recognised text against the photo.",
    "no_speech": "No speech was heard in the recording.",
    "low_asr_confidence": "The recording was hard to understand; check the transcript against the audio.",
    "math_unrecognised": "The handwritten maths answer could not be read.",
}

LEVEL_WORDS = {
    "met": "covered",
    "partial": "partly covered",
    "missing": "not found",
    "contradicted": "contradicted",
    "unsure": "unsure (check it)",
    # analytic rubric criteria (scored traits)
    "strength": "a strength",
    "adequate": "adequate",
    "work_on": "to work on",
}


def flag_text(flag: str) -> str:
    return FLAG_WORDS.get(flag, flag.replace("_", " ").capitalize() + ".")


def num(value) -> str:
    """4.00 -> "4", 2.50 -> "2.5", None -> "-"."""
    if value is None:
        return "-"
    return format(Decimal(str(value)).normalize(), "f")


def confidence_words(confidence: float | None, interval: list | None = None, *, scored: bool = True) -> str:
    """Confidence as a teacher reads it, with the likely range of the score when there is one."""
    if confidence is None:
        return "Not graded yet."
    if not scored:
        return "No AI score: the answer needs your judgement."
    if confidence >= 0.7:
        head = "High confidence"
    elif confidence >= 0.4:
        head = "Medium confidence"
    else:
        head = "Low confidence: please check"
    text = f"{head} ({confidence:.2f})"
    if interval and len(interval) == 2 and all(isinstance(v, (int, float)) for v in interval):
        text += f"; the score is likely between {num(round(interval[0], 2))} and {num(round(interval[1], 2))}"
    return text + "."


@dataclass
class Evidence:
    index: int  # 1-based, matches the legend and the marks in the answer
    name: str
    level: str
    level_words: str
    evidence: str
    points: float | None = None
    kind: str = ""  # "" (key point / checklist criterion), "trait" (scored criterion), "delivery"


def criteria_evidence(criteria: list[dict]) -> list[Evidence]:
    out = []
    for i, c in enumerate(criteria or [], start=1):
        level = str(c.get("level") or ("met" if c.get("met") else "missing"))
        words = LEVEL_WORDS.get(level, level)
        kind = str(c.get("kind") or "")
        if kind == "trait" and isinstance(c.get("points"), (int, float)):
            top = c.get("max_points", 0)
            words = f"{num(c['points'])} of {num(top)} point{'' if top == 1 else 's'} ({words})"
        out.append(
            Evidence(
                index=i,
                name=str(c.get("name", "")),
                level=level,
                level_words=words,
                evidence=str(c.get("evidence") or "").strip(),
                points=c.get("points"),
                kind=kind,
            )
        )
    return out


def highlight(answer: str, evidence: list[Evidence]) -> SafeString:
    """The answer, HTML-escaped, with each criterion's evidence span wrapped in a numbered <mark>.

    Spans are located case-insensitively; overlapping spans keep the first. Only
    covered/partly covered/contradicted evidence is marked (missing has none).
    """
    spans: list[tuple[int, int, Evidence]] = []
    lower = answer.lower()
    for ev in evidence:
        if not ev.evidence or ev.level == "missing":
            continue
        start = lower.find(ev.evidence.lower())
        if start < 0:
            continue
        end = start + len(ev.evidence)
        if any(s < end and start < e for s, e, _ in spans):
            continue
        spans.append((start, end, ev))
    spans.sort(key=lambda t: t[0])
    parts, pos = [], 0
    for start, end, ev in spans:
        parts.append(escape(answer[pos:start]))
        parts.append(
            f'<mark class="ev ev-{escape(ev.level)}" data-criterion="{ev.index}">'
            f'<span class="ev-num" aria-hidden="true">{ev.index}</span>{escape(answer[start:end])}'
            f'<span class="visually-hidden"> (evidence for point {ev.index}: {escape(ev.name)})</span></mark>'
        )
        pos = end
    parts.append(escape(answer[pos:]))
    return mark_safe("".join(parts))  # noqa: S308 - every piece above is escaped


def why_points(features: dict, mode: str, criteria: list[Evidence]) -> list[str]:
    """The AI's reasons in sentences (the raw explanation stays available under "technical details")."""
    f = features or {}
    points = []
    ref = f.get("ref_cos_max")
    if isinstance(ref, (int, float)) and math.isfinite(ref):
        closeness = (
            "very close to" if ref >= 0.8 else "close to" if ref >= 0.6 else "somewhat like" if ref >= 0.4 else "unlike"
        )
        points.append(f"The answer is {closeness} the reference answer in meaning (similarity {ref:.2f}).")
    scored = [c for c in criteria if c.kind == "trait" and c.points is not None]
    criteria = [c for c in criteria if c.kind not in ("trait", "delivery")]
    if scored:
        points.append("Rubric criteria as suggested: " + "; ".join(f"{c.name} {c.level_words}" for c in scored) + ".")
    if criteria:
        met = sum(1 for c in criteria if c.level == "met")
        partial = sum(1 for c in criteria if c.level == "partial")
        text = f"It covers {met} of {len(criteria)} key points"
        if partial:
            text += f" and partly covers {partial} more"
        points.append(text + ".")
        contradicted = [c.name for c in criteria if c.level == "contradicted"]
        if contradicted:
            points.append("It contradicts: " + "; ".join(contradicted) + ".")
    if mode == "learned":
        near = f.get("nearest_score")
        if isinstance(near, (int, float)):
            points.append(f"The most similar answer a teacher graded got {num(round(near, 2))}.")
        n = f.get("n_graded_log")
        if isinstance(n, (int, float)):
            points.append(f"Learned from about {round(math.expm1(n))} answers teachers graded for this question.")
    elif mode == "zero-shot":
        points.append(
            "No teacher-graded answers to learn from yet: the suggestion compares with the reference only, "
            "so it always waits for your review."
        )
    words = f.get("n_words")
    if isinstance(words, (int, float)):
        points.append(f"{int(words)} words.")
    return points
