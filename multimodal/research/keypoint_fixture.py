"""Key-point feedback check on a hand-labelled fixture: how often each statement a student
would read is right.

The fixture (``tests/fixtures/keypoints_labelled.json``) labels every answer x key point
as covered / missing / contradicted. The grader's levels are met / partial / missing /
contradicted / unsure; students read "covered", "partly covered", "not found" and
"contradicted" lines and never "unsure". Reported: for each statement the grader makes,
its share and its precision (the share of those statements the hand label agrees with;
"partly covered" counts as right when the point is covered), plus the recall of covered
and contradicted points.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from multimodal.grader import Grader, GradingItem

__all__ = ["fixture_judgements", "fixture_report", "format_fixture_report"]

#: grader level -> the hand labels that make the statement right
_RIGHT = {"met": {"covered"}, "partial": {"covered"}, "missing": {"missing"}, "contradicted": {"contradicted"}}


def fixture_judgements(grader: Grader, path: str | Path) -> list[tuple[str, str]]:
    """(grader level, hand label) for every answer x key point of the fixture."""
    data = json.loads(Path(path).read_text())
    items, truth = [], []
    for q in data["questions"]:
        for a in q["answers"]:
            items.append(
                GradingItem(
                    answer=a["text"],
                    question=q["question"],
                    reference_answers=[q["reference"]],
                    key_points=q["key_points"],
                    min_score=0,
                    max_score=len(q["key_points"]),
                    question_id=q["id"],
                )
            )
            truth.append(a["labels"])
    pairs = []
    for r, labels in zip(grader.predict(items), truth, strict=True):
        if len(r.criteria) != len(labels):
            raise ValueError(f"{len(labels)} labels but {len(r.criteria)} judgements for {r!r}")
        pairs.extend((c.level, lab) for c, lab in zip(r.criteria, labels, strict=True))
    return pairs


def fixture_report(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    n = len(pairs)
    said = Counter(level for level, _ in pairs)
    labels = Counter(lab for _, lab in pairs)
    statements = {}
    for level, right in _RIGHT.items():
        hits = [lab in right for lv, lab in pairs if lv == level]
        statements[level] = {
            "n": len(hits),
            "share": round(len(hits) / n, 4) if n else None,
            "precision": round(sum(hits) / len(hits), 4) if hits else None,
        }
    statements["unsure"] = {"n": said.get("unsure", 0), "share": round(said.get("unsure", 0) / n, 4) if n else None}

    def recall(label: str, levels: set[str]) -> float | None:
        rows = [lv for lv, lab in pairs if lab == label]
        return round(sum(lv in levels for lv in rows) / len(rows), 4) if rows else None

    return {
        "n_judgements": n,
        "labels": dict(labels),
        "statements": statements,
        "covered_recall": recall("covered", {"met", "partial"}),
        "contradicted_recall": recall("contradicted", {"contradicted"}),
        "covered_called_missing": sum(1 for lv, lab in pairs if lv == "missing" and lab == "covered"),
    }


def format_fixture_report(rep: dict[str, Any]) -> str:
    words = {"met": "covered", "partial": "partly covered", "missing": "not found", "contradicted": "contradicted"}
    lines = [
        f"{rep['n_judgements']} answer x key-point judgements; hand labels {rep['labels']}",
        "| statement the student reads | n | share | precision |",
        "| --- | --- | --- | --- |",
    ]
    for level, w in words.items():
        s = rep["statements"][level]
        prec = "-" if s["precision"] is None else f"{s['precision']:.3f}"
        lines.append(f"| {w} | {s['n']} | {s['share']:.3f} | {prec} |")
    u = rep["statements"]["unsure"]
    lines.append(f"| (unsure: said nothing) | {u['n']} | {u['share']:.3f} | |")
    lines.append(
        f"recall: covered {rep['covered_recall']}, contradicted {rep['contradicted_recall']}; "
        f"covered points called missing: {rep['covered_called_missing']}"
    )
    return "\n".join(lines)
