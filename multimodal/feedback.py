"""Everything a student reads about their answer, worded in one place.

Graders and the media readers return numbers, judgements and evidence; the sentences
built from them live here, so wording is reviewed (and tested) in one module and a
teacher-facing explanation never leaks into student feedback. Rules of the house:

* say what was good before what is missing;
* never claim something is missing unless the grader is sure (``level == "missing"``);
* when the machine could not read the work, say so and say what happens next;
* no scores, confidences or model names: those are for the teacher.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Speaking pace bands (words per minute) for feedback on spoken answers.
SLOW_WPM, FAST_WPM = 90, 180
ESSAY_WORDS = 120  # answers (or expected answers) this long get structure feedback
LONG_SENTENCE_WORDS = 30

RECEIVED = "Your answer has been received; your teacher will grade it."
BLANK = "No answer was submitted. Your teacher will review this."
GIBBERISH = "Your answer could not be read as text. If this is a mistake, your teacher will review it."
OFF_TOPIC = "Your answer does not seem to address the question. Re-read the question; your teacher will review this."
BLANK_PAGE = (
    "Your photo looks like an empty page. Check that you uploaded the right photo; your teacher will review it."
)
UNREADABLE_PHOTO = "Your photo is hard to read (blurred or faint); retake it in good light."
NO_SPEECH = "We could not hear any speech in your recording. Check your microphone and record again if you can."
FALLBACK = "Your answer has been graded; see your teacher's comments."


def _short(s: str, n: int = 120) -> str:
    return s if len(s) <= n else s[: n - 3].rstrip() + "..."


def _quoted(names: Sequence[str]) -> str:
    return "; ".join(f'"{_short(n)}"' for n in names)


def answer_feedback(
    *,
    criteria: Sequence[Any],
    flags: Sequence[str],
    n_words: int,
    expected_words: float,
    text_stats: Mapping[str, float],
    spelling_errors: Sequence[str],
) -> str:
    """Feedback on a written (typed, recognised or transcribed) answer.

    ``criteria`` are the grader's key-point / rubric judgements (objects with ``name``
    and ``level`` in met / partial / missing / contradicted); ``text_stats`` the
    hand-crafted text features (paragraphs, sentence lengths, spelling ratio).
    """
    if "blank" in flags:
        return BLANK
    if "gibberish" in flags:
        return GIBBERISH
    if "off_topic" in flags:
        return OFF_TOPIC
    lines: list[str] = []
    by_level: dict[str, list[str]] = {}
    for c in criteria:
        by_level.setdefault(getattr(c, "level", ""), []).append(getattr(c, "name", ""))
    if by_level.get("met"):
        lines.append(f"What you did well: you covered {_quoted(by_level['met'])}.")
    if by_level.get("partial"):
        lines.append(f"Partly covered (make it more explicit): {_quoted(by_level['partial'])}.")
    if by_level.get("contradicted"):
        lines.append(f"Check this again: your answer says the opposite of {_quoted(by_level['contradicted'])}.")
    if by_level.get("missing"):
        lines.append(f"What is missing: {_quoted(by_level['missing'])}.")
    essay = n_words >= ESSAY_WORDS or (math.isfinite(expected_words) and expected_words >= ESSAY_WORDS)
    if math.isfinite(expected_words) and expected_words > 0:
        if n_words < 0.5 * expected_words:
            lines.append(
                f"Your answer is short ({n_words} words; strong answers to this question have "
                f"about {expected_words:.0f})."
            )
        elif essay and n_words > 2.5 * expected_words:
            lines.append(
                f"Your answer is long ({n_words} words; about {expected_words:.0f} is expected): keep to the point."
            )
    if essay:
        paragraphs = int(text_stats.get("n_paragraphs", 0))
        sentence_words = float(text_stats.get("mean_sentence_words", 0.0))
        if n_words >= 150 and paragraphs <= 1:
            lines.append(
                "Structure: organise your text into paragraphs (introduction, one idea per paragraph, conclusion)."
            )
        elif paragraphs >= 2:
            lines.append(f"Structure: {paragraphs} paragraphs.")
        if sentence_words > LONG_SENTENCE_WORDS:
            lines.append(f"Sentences are long (about {sentence_words:.0f} words on average); split some of them.")
        elif text_stats.get("n_sentences", 0) >= 3 and sentence_words < 8:
            lines.append("Sentences are very short; join related ideas.")
    if text_stats.get("spelling_error_ratio", 0.0) >= 0.05 and spelling_errors:
        lines.append(f"Check the spelling of: {', '.join(list(dict.fromkeys(spelling_errors))[:8])}.")
    if "too_short" in flags and not any("short" in s for s in lines):
        lines.append("Your answer is much shorter than expected.")
    return " ".join(lines) or FALLBACK


def photo_notes(*, blank: bool, readable: bool) -> list[str]:
    """Notes about a photographed answer (the text read from it is graded like typed text)."""
    if blank:
        return [BLANK_PAGE]
    if not readable:
        return [UNREADABLE_PHOTO]
    return []


def speech_notes(*, has_speech: bool, wpm: float, long_pauses: int) -> list[str]:
    """Notes about how a spoken answer was delivered; none about pace when nothing was heard."""
    if not has_speech:
        return [NO_SPEECH]
    if wpm < SLOW_WPM:
        return [
            f"You spoke at about {wpm:.0f} words per minute with {long_pauses} long pauses; practise saying it "
            "more fluently."
        ]
    if wpm > FAST_WPM:
        return [f"You spoke quickly (about {wpm:.0f} words per minute); slow down a little."]
    return [f"Good pace (about {wpm:.0f} words per minute)."]


def combine(*parts: str | Sequence[str]) -> str:
    """Join feedback parts, dropping empty ones and the generic lines another part makes redundant."""
    lines: list[str] = []
    for p in parts:
        lines.extend([p] if isinstance(p, str) else list(p))
    lines = [t for t in dict.fromkeys(t.strip() for t in lines) if t]
    specific = [t for t in lines if t not in (FALLBACK, RECEIVED)]
    return "\n".join(specific or lines)
