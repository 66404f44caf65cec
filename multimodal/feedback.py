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
HARD_TO_READ_PHOTO = "Parts of your handwriting were hard to read; your teacher will check what we read."
UNCLEAR_SPEECH = "Some words were hard to make out; speak clearly and close to the microphone."
MATHS_UNREADABLE = "We could not read your final answer with certainty; your teacher will check it."
MATHS_NOT_A_VALUE = "Your final answer could not be read as a number or expression; your teacher will check it."
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


# -- rubric traits -----------------------------------------------------------------

#: What a sentence-level finding asks the student to do (keys from ``traits._issues``).
TRAIT_ISSUES: dict[str, str] = {
    "spelling": "check the spelling",
    "capital_start": "start every sentence with a capital letter",
    "capital_i": 'write "I" as a capital letter',
    "apostrophe": "use apostrophes in short forms (don't, I'm, it's)",
    "punctuation": "check the spaces and marks around commas and full stops",
    "word_forms": "check the word forms (for example he has, they were, could have)",
    "long_sentence": "split this long sentence into shorter ones",
    "informal": "use more formal words than gonna, stuff or alot",
    "repeated_word": "a word is repeated by mistake",
}

#: General advice per kind of trait, matched on the trait's name (first match wins).
TRAIT_ADVICE: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("cohesion", "organi", "structure", "coherence", "flow"),
        "link your ideas with words such as however, for example and as a result, and give each paragraph one "
        "main idea",
    ),
    (
        ("syntax", "sentence"),
        "vary your sentences: join short ones with because, although or which, and split very long ones",
    ),
    (("vocab", "word choice", "lexic"), "use more precise and varied words instead of repeating general ones"),
    (("phrase", "idiom", "colloc"), "use common word combinations accurately (make a decision, pay attention)"),
    (("grammar", "usage"), "check verb forms and agreement (he has, they were) and the order of words"),
    (
        ("convention", "spelling", "mechanic", "punctuation", "capital"),
        "check spelling, capital letters and punctuation",
    ),
    (("evidence", "support", "example"), "support each point with a specific example or evidence"),
    (("argument", "claim", "position", "thesis"), "state your position clearly and give reasons for it"),
)


def _trait_advice(name: str, description: str) -> str:
    low = name.lower()
    for keys, advice in TRAIT_ADVICE:
        if any(k in low for k in keys):
            return advice
    if description.strip():
        return f"aim for what the rubric asks: {_short(description.strip().rstrip('.'), 160)}"
    return "see the rubric for what this criterion asks"


def trait_feedback(*, name: str, level: str, evidence: str, issues: Sequence[str], description: str = "") -> str:
    """One line about one rubric trait, with an example sentence from the student's text.

    ``level`` is "strength" | "adequate" | "work_on" (a scored trait) or "" (not
    scored yet: only concrete findings are reported, never a judgement). ``issues``
    are ``TRAIT_ISSUES`` keys found in ``evidence``.
    """
    label = name.strip()[:1].upper() + name.strip()[1:]
    found = "; ".join(TRAIT_ISSUES[i] for i in issues if i in TRAIT_ISSUES)
    quote = f'"{_short(evidence.strip(), 160)}"' if evidence.strip() else ""
    if level == "strength":
        return f"{label}: a strength of your text" + (f", for example {quote}." if quote else ".")
    if level == "adequate":
        line = f"{label}: good overall."
        if quote and found:
            line += f" In {quote}: {found}."
        return line
    if level == "work_on":
        line = f"{label}: work on this: {_trait_advice(name, description)}."
        if quote:
            line += f" For example, in {quote}" + (f": {found}." if found else ".")
        return line
    if quote and found:
        return f"{label}: in {quote}: {found}."
    return ""


def traits_feedback(lines: Sequence[str]) -> str:
    """The trait lines of one answer, work-on lines first, empty ones dropped."""
    kept = [t for t in lines if t]
    return " ".join(sorted(kept, key=lambda t: 0 if ": work on this" in t else 1))


def photo_notes(*, blank: bool, readable: bool, low_confidence: bool = False) -> list[str]:
    """Notes about a photographed answer (the text read from it is graded like typed text)."""
    if blank:
        return [BLANK_PAGE]
    if not readable:
        return [UNREADABLE_PHOTO]
    if low_confidence:
        return [HARD_TO_READ_PHOTO]
    return []


def speech_notes(
    *, has_speech: bool, wpm: float, long_pauses: int, truncated_minutes: float = 0.0, unclear: bool = False
) -> list[str]:
    """Notes about how a spoken answer was delivered; none about pace when nothing was heard."""
    if not has_speech:
        return [NO_SPEECH]
    notes: list[str] = []
    if truncated_minutes:
        notes.append(
            f"Your recording is longer than {truncated_minutes:g} minutes; only the first {truncated_minutes:g} "
            "minutes were listened to."
        )
    if wpm < SLOW_WPM:
        notes.append(
            f"You spoke at about {wpm:.0f} words per minute with {long_pauses} long pauses; practise saying it "
            "more fluently."
        )
    elif wpm > FAST_WPM:
        notes.append(f"You spoke quickly (about {wpm:.0f} words per minute); slow down a little.")
    else:
        notes.append(f"Good pace (about {wpm:.0f} words per minute).")
    if unclear:
        notes.append(UNCLEAR_SPEECH)
    return notes


def maths_notes(*, status: str, shown: str, source: str) -> list[str]:
    """Notes about a final maths answer compared by value with the expected one.

    ``status`` is "equivalent", "different" or "unreadable" (``multimodal.maths.judge``);
    a handwritten answer that seems different is checked by the teacher, not judged.
    """
    if status == "equivalent":
        return [f"Your final answer ({_short(shown, 60)}) is correct."]
    if status == "unreadable":
        return [MATHS_UNREADABLE if source == "handwriting" else MATHS_NOT_A_VALUE]
    if source == "handwriting":
        return [f"We read your final answer as {_short(shown, 60)}; your teacher will check it."]
    return [f"Your final answer ({_short(shown, 60)}) is not the expected value; check your working."]


def combine(*parts: str | Sequence[str]) -> str:
    """Join feedback parts, dropping empty ones and the generic lines another part makes redundant."""
    lines: list[str] = []
    for p in parts:
        lines.extend([p] if isinstance(p, str) else list(p))
    lines = [t for t in dict.fromkeys(t.strip() for t in lines) if t]
    specific = [t for t in lines if t not in (FALLBACK, RECEIVED)]
    return "\n".join(specific or lines)
