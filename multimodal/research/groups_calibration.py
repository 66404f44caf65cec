"""How the answer-group settings and purity model were chosen (training data only).

    python -m multimodal.research.groups_calibration [--purity-only] \\
        ../shared/datasets/grading/mohler_short_answers.csv ../shared/datasets/grading/asap_sas_train.csv

For every file and every (threshold, minimum word overlap, maximum number of differing
content words) on a grid, answers are
grouped per question with ``multimodal.answer_groups`` and each non-representative
member is compared with its representative's human score (within 0.5 points; on
integer grids: the same score). Printed per setting: the share of answers in a group
of 2+, that agreement share and the share of grading actions saved. The default is
the widest setting whose agreement is at least ``TARGET`` on every file.

The purity model (``PURITY_COEF``) is a logistic regression of "same grade as the
representative" on (cosine, word Jaccard) over the members of groups formed at a
loose setting (so it sees both good and bad members), pooled over the files, with
each file weighted equally. Its calibration is printed per file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from multimodal.answer_groups import DEFAULT_THRESHOLD, MAX_WORD_DIFF, MIN_JACCARD, _jaccard, _signature, answer_groups
from multimodal.chunking import embed_chunked
from multimodal.research.grading_benchmark import CachedEncoder, read_grading_csv

TARGET = 0.97
TOLERANCE = 0.5
THRESHOLDS = (0.06, 0.1, 0.14, 0.18)
JACCARDS = (0.5, 0.7)
WORD_DIFFS = (1, 2, 3, 4, None)


def _by_question(path: str, encoder: Any) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
    rows = read_grading_csv(path)
    by_q: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_q.setdefault(r.question_id, []).append(i)
    out = []
    for idx in by_q.values():
        texts = [rows[i].answer for i in idx]
        out.append((texts, embed_chunked(encoder, texts).vectors, np.array([rows[i].score for i in idx])))
    return out


def evaluate(
    data: Sequence[tuple[list[str], np.ndarray, np.ndarray]], threshold: float, jaccard: float, word_diff: int | None
) -> dict:
    n = groups = grouped = multi = within = 0
    members: list[tuple[float, float, int, float]] = []
    for texts, emb, y in data:
        n += len(texts)
        for g in answer_groups(texts, emb, threshold=threshold, min_jaccard=jaccard, max_word_diff=word_diff):
            groups += 1
            if len(g.members) < 2:
                continue
            multi += 1
            grouped += len(g.members)
            rep_sig = _signature(texts[g.representative])
            for m in g.members[1:]:
                ok = abs(y[m] - y[g.representative]) <= TOLERANCE + 1e-9
                within += ok
                cos = float(emb[m] @ emb[g.representative])
                members.append((cos, _jaccard(rep_sig.words, _signature(texts[m]).words), int(ok), g.purity))
    k = grouped - multi
    return {
        "grouped": grouped / n,
        "agree": within / k if k else float("nan"),
        "saved": 1 - groups / n,
        "members": members,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    purity_only = "--purity-only" in args
    paths = [a for a in args if a != "--purity-only"]
    enc = CachedEncoder()
    datasets = {p: _by_question(p, enc) for p in paths}
    table: dict[tuple[float, float, int | None], dict[str, dict]] = {}
    for th in () if purity_only else THRESHOLDS:
        for jac in JACCARDS:
            for wd in WORD_DIFFS:
                table[(th, jac, wd)] = {p: evaluate(d, th, jac, wd) for p, d in datasets.items()}
                cells = "  ".join(
                    f"{p.split('/')[-1][:14]}: grouped {r['grouped']:.3f} agree {r['agree']:.3f} saved {r['saved']:.3f}"
                    for p, r in table[(th, jac, wd)].items()
                )
                print(f"threshold {th:.2f} jaccard {jac:.1f} word diff {wd}  {cells}", flush=True)
    if purity_only:
        table[(DEFAULT_THRESHOLD, MIN_JACCARD, MAX_WORD_DIFF)] = {
            p: evaluate(d, DEFAULT_THRESHOLD, MIN_JACCARD, MAX_WORD_DIFF) for p, d in datasets.items()
        }
    ok = [k for k, v in table.items() if all(r["agree"] >= TARGET for r in v.values())]
    best = max(ok, key=lambda k: np.mean([r["saved"] for r in table[k].values()])) if ok else None
    print(f"widest setting with agreement >= {TARGET} on every file: {best}")
    # purity model from members of loosely formed groups, files weighted equally
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for p in paths:
        mem = evaluate(datasets[p], 0.2, 0.3, None)["members"]
        arr = np.asarray([(c, j) for c, j, _, _ in mem])
        lab = np.asarray([o for _, _, o, _ in mem])
        xs.append(arr)
        ys.append(lab)
        ws.append(np.full(len(lab), 1.0 / max(1, len(lab))))
    w = np.concatenate(ws)
    w *= len(w) / w.sum()  # files weigh equally; the total weight stays the number of pairs
    lr = LogisticRegression(C=100.0).fit(np.vstack(xs), np.concatenate(ys), sample_weight=w)
    coef = (float(lr.intercept_[0]), float(lr.coef_[0, 0]), float(lr.coef_[0, 1]))
    print(f"PURITY_COEF = ({coef[0]:.2f}, {coef[1]:.2f}, {coef[2]:.2f})")
    if best:
        for p in paths:
            mem = table[best][p]["members"]
            if mem:
                est = float(np.mean([q for *_, q in mem]))
                real = float(np.mean([o for _, _, o, _ in mem]))
                print(f"  {p.split('/')[-1]}: purity estimate {est:.3f} (current coefficients), realised {real:.3f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
