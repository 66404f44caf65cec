"""Word error rate and the ASR benchmark over a folder of utterances.

Why our own normaliser: references such as speechocean762's are upper-case words
with digits spelled out ("ZERO THREE FIVE ONE"), while Whisper writes "0351."; WER
should count recognition errors, not formatting. No extra dependency is needed
for that: lower-case, spell out numbers, drop punctuation.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multimodal.audio import ASRModel

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_PUNCT = re.compile(r"[^\w\s]|_")
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "=": " equals ", "@": " at "}


def number_to_words(n: int) -> str:
    """Spell out a non-negative integer in English words, without "and" or hyphens:
    ``number_to_words(2021) == "two thousand twenty one"``."""
    if n < 0:
        raise ValueError("number_to_words expects a non-negative integer")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")
    for scale, word in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{number_to_words(high)} {word}" + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """``ordinal_to_words(21) == "twenty first"``."""
    *head, last = number_to_words(n).split()
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _spell_number(match: re.Match[str]) -> str:
    token = match.group(0)
    if "." in token and token.count(".") == 1 and "," not in token:  # 3.5 -> three point five
        whole, frac = token.split(".")
        return f" {number_to_words(int(whole))} point {' '.join(_ONES[int(d)] for d in frac)} "
    digits = token.replace(",", "").replace(".", "")
    if len(digits) > 1 and digits.startswith("0"):  # codes and phone numbers: digit by digit
        return " " + " ".join(_ONES[int(d)] for d in digits) + " "
    if len(digits) > 15:
        return " " + " ".join(_ONES[int(d)] for d in digits) + " "
    return f" {number_to_words(int(digits))} "


def normalize_text(text: str) -> str:
    """Lower-case, drop apostrophes ("it's" = "its", a frequent reference/ASR
    disagreement that is not a recognition error), spell out numbers, strip
    punctuation, split hyphenated words, collapse spaces."""
    text = (text or "").lower().replace("\u2019", "").replace("\u2018", "").replace("'", "")
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = _ORDINAL.sub(lambda m: f" {ordinal_to_words(int(m.group(1)))} ", text)
    text = _NUMBER.sub(_spell_number, text)
    text = text.replace("-", " ")
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def word_edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def word_error_rate(refs: list[str] | str, hyps: list[str] | str, normalize: bool = True) -> float:
    """Corpus-level WER: total word edits / total reference words (so long
    utterances weigh more than short ones, as in the usual ASR reporting)."""
    if isinstance(refs, str):
        refs = [refs]
    if isinstance(hyps, str):
        hyps = [hyps]
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    prep = normalize_text if normalize else (lambda s: s)
    edits = words = 0
    for ref, hyp in zip(refs, hyps, strict=False):
        r, h = prep(ref).split(), prep(hyp).split()
        edits += word_edit_distance(r, h)
        words += len(r)
    if words == 0:
        raise ValueError("references contain no words; WER is undefined")
    return edits / words


def read_transcripts(directory: str | Path) -> list[tuple[str, str]]:
    """``transcripts.tsv`` lines ``utt_id<TAB>TEXT`` -> [(utt_id, text)], in file order."""
    path = Path(directory) / "transcripts.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (expected utt_id<TAB>TEXT lines)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        utt_id, sep, text = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: expected utt_id<TAB>TEXT")
        rows.append((utt_id.strip(), text.strip()))
    return rows


def benchmark_asr(
    directory: str | Path, asr: ASRModel | None = None, beam_size: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Transcribe every ``<utt_id>.wav`` listed in ``transcripts.tsv`` and score it.

    Returns ``{"wer", "rtf", "n", "audio_s", "asr_s", "model", "device",
    "beam_size", "per_utt": [{utt_id, ref, hyp, wer, duration_s, seconds}]}``.
    ``rtf`` (real-time factor) is recognition time / audio duration, model loading
    and audio decoding excluded.
    """
    from multimodal import registry
    from multimodal.audio import load_audio

    asr = asr or registry.get_asr()
    rows = read_transcripts(directory)[:limit]
    if not rows:
        raise ValueError(f"{directory}: transcripts.tsv lists no utterances")
    per_utt = []
    for utt_id, ref in rows:
        y, _ = load_audio(Path(directory) / f"{utt_id}.wav")
        transcript = asr.transcribe(y, beam_size=beam_size)
        per_utt.append(
            {
                "utt_id": utt_id,
                "ref": ref,
                "hyp": transcript.text,
                "wer": round(word_error_rate(ref, transcript.text), 4),
                "duration_s": round(transcript.duration_s, 3),
                "seconds": round(transcript.seconds, 3),
            }
        )
    audio_s = sum(u["duration_s"] for u in per_utt)
    asr_s = sum(u["seconds"] for u in per_utt)
    return {
        "wer": word_error_rate([u["ref"] for u in per_utt], [u["hyp"] for u in per_utt]),
        "rtf": asr_s / audio_s if audio_s else 0.0,
        "n": len(per_utt),
        "audio_s": round(audio_s, 3),
        "asr_s": round(asr_s, 3),
        "model": asr.name,
        "device": asr.device,
        "beam_size": beam_size or asr.beam_size,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "per_utt": per_utt,
    }


__all__ = [
    "benchmark_asr",
    "normalize_text",
    "number_to_words",
    "ordinal_to_words",
    "read_transcripts",
    "word_edit_distance",
    "word_error_rate",
]
