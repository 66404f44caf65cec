"""Zero-shot grading from the rubric alone (no reference answer, no graded answers).

    python -m multimodal.research.rubric_zero_shot \\
        --csv ../shared/datasets/grading/asap_sas_train.csv \\
        --prompts ../shared/datasets/grading/asap_sas_prompts.csv --per-question 400 --json out.json

ASAP-SAS ships, per prompt, the rubric a rater used: for the science items a list of
"key elements" (or "possible correct responses") and a top score that needs N of them
("describes three additional pieces of information", "four key elements"). The
rubric is parsed into ``GradingItem.key_points`` and ``key_points_required`` = N,
and ``Grader`` (not fitted: zero-shot) grades every answer from its key-point
judgements. Prompts whose rubric lists no elements (the reading items) are graded
from the rubric text's scored exemplars when it has any (``Score N`` followed by a
student response), else reported as not gradable zero-shot.

Nothing here is fitted: the numbers say how far a rubric gets a teacher before the
first graded answer.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from multimodal import metrics as mm
from multimodal.grader import Grader, GradingItem
from multimodal.research.grading_benchmark import CachedEncoder, read_grading_csv, write_json

_HEADERS = re.compile(
    r"^(key elements|possible correct responses|needed information|correct responses)\s*:?\s*$", re.IGNORECASE
)
_STOP = re.compile(r"^(rubric|\d[\s-]*point rubric|score\s*\d|\d\s*points?)\b", re.IGNORECASE)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_REQUIRED = re.compile(
    r"\b(one|two|three|four|five|six|\d)\b[^.\n]{0,40}?\b(key elements?|pieces? of information|"
    r"(?:additional )?pieces|elements|ways|processes|steps|reasons|examples)\b",
    re.IGNORECASE,
)


def parse_rubric(text: str) -> tuple[list[str], int | None]:
    """(key elements, how many earn the top score) from an ASAP-style rubric text."""
    lines = [ln.strip() for ln in (text or "").splitlines()]
    elements: list[str] = []
    collecting = False
    for ln in lines:
        if _HEADERS.match(ln):
            collecting = True
            continue
        if collecting:
            if not ln:
                if elements:
                    collecting = False
                continue
            if _STOP.match(ln) or ln.lower().startswith("other acceptable"):
                collecting = False
                continue
            elements.append(ln.rstrip("."))
    required = None
    for top in re.finditer(r"(?:score\s*3|3\s*points?)\s*\n(.{0,300})", text or "", re.IGNORECASE | re.DOTALL):
        m = _REQUIRED.search(top.group(1))
        if m:
            word = m.group(1).lower()
            required = _NUMBERS.get(word) or (int(word) if word.isdigit() else None)
            break
    return elements, required


def read_prompts(path: str) -> dict[str, dict[str, Any]]:
    csv.field_size_limit(sys.maxsize)
    out = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            elements, required = parse_rubric(r["readme_with_rubric"])
            out[f"asap_sas_{r['EssaySet']}"] = {
                "rubric": r["readme_with_rubric"],
                "key_points": elements,
                "required": required,
            }
    return out


def run(csv_path: str, prompts_path: str, *, per_question: int | None = None, seed: int = 0) -> dict[str, Any]:
    rows = read_grading_csv(csv_path)
    prompts = read_prompts(prompts_path)
    rng = np.random.default_rng(seed)
    by_q: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_q.setdefault(r.question_id, []).append(i)
    grader = Grader(CachedEncoder())
    per: dict[str, Any] = {}
    for qid, idx in by_q.items():
        p = prompts.get(qid, {})
        if per_question and len(idx) > per_question:
            idx = sorted(rng.choice(idx, per_question, replace=False).tolist())
        if not p.get("key_points"):
            per[qid] = {"n": len(idx), "gradable": False, "reason": "the rubric lists no key elements"}
            continue
        items = [
            GradingItem(
                answer=rows[i].answer,
                question=rows[i].question,
                key_points=p["key_points"],
                key_points_required=min(p["required"], len(p["key_points"])) if p["required"] else None,
                rubric=p["rubric"],
                min_score=rows[i].min_score,
                max_score=rows[i].max_score,
                question_id=qid,
            )
            for i in idx
        ]
        results = grader.predict(items)
        y = np.array([rows[i].score for i in idx])
        pred = np.array([r.score if r.score is not None else math.nan for r in results])
        ok = np.isfinite(pred)
        lo, hi = rows[idx[0]].min_score, rows[idx[0]].max_score
        per[qid] = {
            "n": int(ok.sum()),
            "gradable": True,
            "key_points": len(p["key_points"]),
            "required": p["required"],
            "qwk": mm.quadratic_weighted_kappa(y[ok], pred[ok], min_score=lo, max_score=hi, step=1.0),
            "pearson": mm.pearson_r(y[ok], pred[ok]),
            "rmse": mm.rmse(y[ok], pred[ok]),
        }
        print(f"{qid}: {per[qid]}", flush=True)
    graded = [v for v in per.values() if v.get("gradable")]
    return {
        "csv": csv_path,
        "prompts": prompts_path,
        "per_question": per,
        "gradable_questions": len(graded),
        "qwk_mean_gradable": float(np.mean([v["qwk"] for v in graded])) if graded else None,
        "pearson_mean_gradable": float(np.mean([v["pearson"] for v in graded])) if graded else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--per-question", type=int, default=None)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    result = run(args.csv, args.prompts, per_question=args.per_question)
    print(
        f"zero-shot from the rubric: {result['gradable_questions']} gradable questions, mean QWK "
        f"{result['qwk_mean_gradable']}, mean r {result['pearson_mean_gradable']}"
    )
    if args.json:
        write_json(result, args.json)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
