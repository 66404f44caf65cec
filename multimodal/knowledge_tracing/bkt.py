"""Bayesian Knowledge Tracing: the online update the product runs per graded attempt, and a
vectorised EM fit over a school's history.

numpy only (no torch), so the web process can compute mastery with it.

* ``bkt_update`` is the online step for one graded attempt; ``bkt_soft_update`` and
  ``bkt_replay`` extend it to score fractions and partial evidence (an assignment that is
  only partly about a skill), which is how the product turns grades into mastery.
* ``BKTModel`` fits prior, learn, optional forget, guess and slip per skill with a
  vectorised Baum-Welch EM over all students and all skills at once; its batch predictor
  is the same recursion as ``bkt_update``.
* Saved as an artifact folder (``multimodal.artifacts``): ``bkt.json`` + ``metadata.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from multimodal import artifacts
from multimodal.knowledge_tracing.data import Sequence, data_summary

__all__ = [
    "ARTIFACT_FORMAT",
    "BKTModel",
    "BKTParams",
    "bkt_predict_correct",
    "bkt_replay",
    "bkt_soft_update",
    "bkt_update",
]

ARTIFACT_FORMAT = "eduplatform-kt-bkt/2"
MODEL_FILE = "bkt.json"


@dataclass(frozen=True)
class BKTParams:
    """BKT parameters for one skill.  All are probabilities.

    prior:  P(mastered) before the first attempt.
    learn:  P(unmastered -> mastered) between attempts.
    forget: P(mastered -> unmastered) between attempts (0 = classic BKT).
    guess:  P(correct | unmastered).
    slip:   P(incorrect | mastered).
    """

    prior: float = 0.3
    learn: float = 0.1
    forget: float = 0.0
    guess: float = 0.2
    slip: float = 0.1

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"BKT parameter {name}={value} is not a probability")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, m: Mapping[str, float]) -> BKTParams:
        return cls(
            **{k: float(m[k]) for k in ("prior", "learn", "guess", "slip")},
            forget=float(m.get("forget", 0.0)),
        )


def _as_params(params: BKTParams | Mapping[str, float]) -> BKTParams:
    return params if isinstance(params, BKTParams) else BKTParams.from_mapping(params)


def bkt_predict_correct(p_mastery: float, params: BKTParams | Mapping[str, float]) -> float:
    """P(next response correct) given the current P(mastered)."""
    p = _as_params(params)
    return p_mastery * (1.0 - p.slip) + (1.0 - p_mastery) * p.guess


def bkt_update(p_mastery: float, correct: bool | int, params: BKTParams | Mapping[str, float]) -> float:
    """Online BKT step for one graded attempt: Bayes posterior, then learn/forget transition.

    ``p_mastery`` is P(mastered) *before* the attempt (use ``params.prior`` for a
    student's first attempt at the skill); the return value is P(mastered) before the
    next attempt.  ``params`` is a ``BKTParams`` or a mapping with keys prior, learn,
    guess, slip and optionally forget (e.g. the JSON stored per skill).
    """
    p = _as_params(params)
    m = min(max(float(p_mastery), 0.0), 1.0)
    if correct:
        num, den = m * (1.0 - p.slip), m * (1.0 - p.slip) + (1.0 - m) * p.guess
    else:
        num, den = m * p.slip, m * p.slip + (1.0 - m) * (1.0 - p.guess)
    post = num / den if den > 0 else m
    return post * (1.0 - p.forget) + (1.0 - post) * p.learn


def bkt_soft_update(p_mastery: float, correct: float, params: BKTParams | Mapping[str, float]) -> float:
    """``bkt_update`` for a score fraction: the evidence is "correct" with probability
    ``correct`` (Jeffrey's rule), so 1 and 0 give exactly the binary update."""
    c = min(max(float(correct), 0.0), 1.0)
    if c in (0.0, 1.0):
        return bkt_update(p_mastery, int(c), params)
    return c * bkt_update(p_mastery, 1, params) + (1.0 - c) * bkt_update(p_mastery, 0, params)


def bkt_replay(attempts: Iterable[tuple[float, float]], params: BKTParams | Mapping[str, float]) -> float:
    """P(mastered) after (correct, weight) attempts in time order, from ``params.prior``. A
    weight under 1 moves the estimate that share of the way a full attempt would."""
    p = _as_params(params).prior
    for correct, weight in attempts:
        full = bkt_soft_update(p, correct, params)
        p = full if weight >= 1 else p + weight * (full - p)
    return p


@dataclass
class _Packed:
    """(student, skill) sub-sequences packed time-major, longest first.

    Step t holds rows ``[0, batch_sizes[t])``; ``offsets[t]`` is where step t starts in
    the flat arrays.  This lets the forward/backward recursions run as one numpy
    operation per time step over every student and every skill.
    """

    obs: np.ndarray  # (N,) float64 0/1
    skill: np.ndarray  # (N,) skill id per packed element
    origin: np.ndarray  # (N,) index into the concatenation of the input sequences
    batch_sizes: np.ndarray  # (T,)
    offsets: np.ndarray  # (T+1,)
    row_skill: np.ndarray  # (R,)


def _pack(seqs: Seq[Sequence]) -> _Packed:
    skills = np.concatenate([s.skills for s in seqs]) if seqs else np.zeros(0, np.int64)
    correct = np.concatenate([s.correct for s in seqs]).astype(np.float64) if seqs else np.zeros(0)
    student = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    n = skills.shape[0]
    if n == 0:
        z = np.zeros(0, np.int64)
        return _Packed(np.zeros(0), z, z, z, np.zeros(1, np.int64), z)
    # Group by (student, skill) keeping time order: stable sort on the pair key.
    pair_key = student * (int(skills.max()) + 1) + skills
    order = np.argsort(pair_key, kind="stable")
    sk = pair_key[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    lengths = np.diff(np.r_[starts, n])
    pos_in_row = np.arange(n) - np.repeat(starts, lengths)
    row_of = np.repeat(np.arange(starts.shape[0]), lengths)
    # Rank rows by length, longest first, so active rows at each step form a prefix.
    rank_of_row = np.empty_like(lengths)
    rank_of_row[np.argsort(-lengths, kind="stable")] = np.arange(lengths.shape[0])
    rank = rank_of_row[row_of]
    packed_order = np.lexsort((rank, pos_in_row))
    src = order[packed_order]
    t_max = int(lengths.max())
    batch_sizes = np.bincount(pos_in_row, minlength=t_max)
    row_skill = np.empty(lengths.shape[0], np.int64)
    row_skill[rank_of_row] = skills[order[starts]]
    return _Packed(
        obs=correct[src],
        skill=skills[src],
        origin=src,
        batch_sizes=batch_sizes,
        offsets=np.r_[0, np.cumsum(batch_sizes)],
        row_skill=row_skill,
    )


class BKTModel:
    """Per-skill BKT fitted with vectorised EM (Baum-Welch).

    ``forgetting=True`` fits the forget probability too ("BKT with forgetting").
    Guess and slip are capped (default at most 0.3) so EM cannot swap the meaning of
    the mastered/unmastered states.  The M-step is MAP with ``pseudo_count`` Beta
    pseudo-observations centred on ``init``, which keeps skills with little data
    (Statics has 1,223 question ids) from degenerate estimates.  Skills unseen in
    training get the median of the fitted parameters.
    """

    name = "bkt"

    def __init__(
        self,
        *,
        forgetting: bool = False,
        max_iter: int = 100,
        tol: float = 1e-6,
        guess_cap: float = 0.3,
        slip_cap: float = 0.3,
        forget_cap: float = 0.5,
        init: BKTParams = BKTParams(prior=0.4, learn=0.1, forget=0.05, guess=0.2, slip=0.1),
        pseudo_count: float = 1.0,
    ) -> None:
        self.forgetting = forgetting
        self.max_iter = max_iter
        self.tol = tol
        self.guess_cap = guess_cap
        self.slip_cap = slip_cap
        self.forget_cap = forget_cap
        self.init = init
        self.pseudo_count = pseudo_count
        self.params: np.ndarray | None = None  # (n_ids, 5): prior, learn, forget, guess, slip
        self.default = init
        self.n_iter_ = 0
        self.log_likelihood_ = float("nan")
        self.version = ""
        self.metrics: dict = {}
        self.train_summary: dict = {}
        if forgetting:
            self.name = "bkt_forget"

    # -- parameters
    def params_for(self, skill_id: int) -> BKTParams:
        """Parameters for one skill id (the default for unseen ids)."""
        if self.params is None:
            raise RuntimeError("BKTModel is not fitted")
        if 0 < skill_id < self.params.shape[0] and not np.isnan(self.params[skill_id, 0]):
            return BKTParams(*map(float, self.params[skill_id]))
        return self.default

    def _param_table(self, n_ids: int) -> np.ndarray:
        assert self.params is not None
        table = np.tile(
            np.array(_astuple(self.default)),
            (max(n_ids, self.params.shape[0]), 1),
        )
        fitted = ~np.isnan(self.params[:, 0])
        table[: self.params.shape[0]][fitted] = self.params[fitted]
        return table

    # -- EM
    def _forward(self, pk: _Packed, table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scaled forward pass.

        Returns (predicted P(mastered) before each obs, filtered P(mastered) after it,
        scale factors c_t = P(obs_t | obs_<t)).
        """
        n = pk.obs.shape[0]
        pred = np.empty(n)
        filt = np.empty(n)
        scale = np.empty(n)
        p = table[pk.row_skill]  # per row: prior, learn, forget, guess, slip
        prev = None
        for t, bs in enumerate(pk.batch_sizes):
            a, b = pk.offsets[t], pk.offsets[t + 1]
            pr = p[:bs]
            m = pr[:, 0] if prev is None else prev[:bs] * (1.0 - pr[:, 2]) + (1.0 - prev[:bs]) * pr[:, 1]
            o = pk.obs[a:b]
            e_known = np.where(o > 0, 1.0 - pr[:, 4], pr[:, 4])
            e_unknown = np.where(o > 0, pr[:, 3], 1.0 - pr[:, 3])
            k = m * e_known
            c = k + (1.0 - m) * e_unknown
            pred[a:b] = m
            scale[a:b] = c
            prev = k / c
            filt[a:b] = prev
        return pred, filt, scale

    def _e_step(self, pk: _Packed, table: np.ndarray) -> tuple[np.ndarray, float]:
        """Forward-backward; returns per-skill sufficient statistics and log-likelihood."""
        _, filt, scale = self._forward(pk, table)
        p = table[pk.row_skill]
        n = pk.obs.shape[0]
        gamma = np.empty(n)  # P(mastered at t | all obs of the row)
        xi01 = np.zeros(n)  # P(unmastered at t, mastered at t+1 | obs), stored at t
        xi10 = np.zeros(n)
        has_next = np.zeros(n, dtype=bool)
        beta_k = beta_u = None  # scaled backward messages at step t+1
        t_max = pk.batch_sizes.shape[0]
        for t in range(t_max - 1, -1, -1):
            a, b = pk.offsets[t], pk.offsets[t + 1]
            bs = int(pk.batch_sizes[t])
            al_k = filt[a:b]
            al_u = 1.0 - al_k
            bk = np.ones(bs)
            bu = np.ones(bs)
            if beta_k is not None:
                nb = beta_k.shape[0]  # rows that continue to t+1
                a1, b1 = pk.offsets[t + 1], pk.offsets[t + 2]
                pr = p[:nb]
                o1 = pk.obs[a1:b1]
                e_k = np.where(o1 > 0, 1.0 - pr[:, 4], pr[:, 4]) * beta_k / scale[a1:b1]
                e_u = np.where(o1 > 0, pr[:, 3], 1.0 - pr[:, 3]) * beta_u / scale[a1:b1]
                L, F = pr[:, 1], pr[:, 2]
                bk[:nb] = F * e_u + (1.0 - F) * e_k
                bu[:nb] = (1.0 - L) * e_u + L * e_k
                xi01[a : a + nb] = al_u[:nb] * L * e_k
                xi10[a : a + nb] = al_k[:nb] * F * e_u
                has_next[a : a + nb] = True
            g = al_k * bk
            gamma[a:b] = g / (g + al_u * bu)
            beta_k, beta_u = bk, bu
        s = pk.skill
        m = table.shape[0]

        def acc(w: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
            if mask is not None:
                return np.bincount(s[mask], weights=w[mask], minlength=m)
            return np.bincount(s, weights=w, minlength=m)

        first = slice(0, int(pk.batch_sizes[0]))
        stats = np.stack(
            [
                np.bincount(s[first], weights=gamma[first], minlength=m),  # prior num
                np.bincount(s[first], minlength=m).astype(float),  # prior den
                acc(xi01, has_next),  # learn num
                acc(1.0 - gamma, has_next),  # learn den
                acc(xi10, has_next),  # forget num
                acc(gamma, has_next),  # forget den
                acc((1.0 - gamma) * pk.obs),  # guess num
                acc(1.0 - gamma),  # guess den
                acc(gamma * (1.0 - pk.obs)),  # slip num
                acc(gamma),  # slip den
            ]
        )
        return stats, float(np.log(scale).sum())

    def _m_step(self, stats: np.ndarray, table: np.ndarray, seen: np.ndarray) -> np.ndarray:
        # MAP-EM: Beta pseudo-counts centred on ``init`` keep rarely seen skills sane.
        k = self.pseudo_count
        prior = np.array(_astuple(self.init))
        new = table.copy()
        for j, (num, den) in enumerate(((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))):
            new[:, j] = (stats[num] + k * prior[j]) / (stats[den] + k)
        eps = 1e-4
        new[:, 0] = np.clip(new[:, 0], eps, 1 - eps)
        new[:, 1] = np.clip(new[:, 1], eps, 1 - eps)
        new[:, 2] = np.clip(new[:, 2], 0.0, self.forget_cap) if self.forgetting else 0.0
        new[:, 3] = np.clip(new[:, 3], eps, self.guess_cap)
        new[:, 4] = np.clip(new[:, 4], eps, self.slip_cap)
        new[~seen] = table[~seen]
        return new

    def fit(self, seqs: Seq[Sequence], val_seqs: Seq[Sequence] | None = None) -> BKTModel:
        """Fit all skills at once.  ``val_seqs`` is accepted for interface parity (unused)."""
        del val_seqs
        pk = _pack(seqs)
        n_ids = int(pk.skill.max()) + 1 if pk.skill.size else 1
        init = _astuple(self.init)
        if not self.forgetting:
            init = (init[0], init[1], 0.0, init[3], init[4])
        table = np.tile(np.array(init, dtype=float), (n_ids, 1))
        seen = np.bincount(pk.skill, minlength=n_ids) > 0
        prev_ll = -np.inf
        for it in range(1, self.max_iter + 1):
            stats, ll = self._e_step(pk, table)
            table = self._m_step(stats, table, seen)
            self.n_iter_ = it
            if abs(ll - prev_ll) < self.tol * pk.obs.size:  # tol is per observation
                break
            prev_ll = ll
        self.log_likelihood_ = ll if pk.obs.size else float("nan")
        params = np.full((n_ids, 5), np.nan)
        params[seen] = table[seen]
        self.params = params
        if seen.any():
            med = np.median(table[seen], axis=0)
            self.default = BKTParams(*map(float, med))
        self.version = f"{self.name}-unsaved"  # the content digest once saved
        self.train_summary = data_summary(seqs) if seqs else {}
        return self

    # -- prediction
    def predict_sequences(self, seqs: Seq[Sequence]) -> list[np.ndarray]:
        """P(correct) for every response, computed before that response is seen."""
        if self.params is None:
            raise RuntimeError("BKTModel is not fitted")
        pk = _pack(seqs)
        n_ids = int(pk.skill.max()) + 1 if pk.skill.size else 1
        table = self._param_table(n_ids)
        pred_m, _, _ = self._forward(pk, table)
        g, sl = table[pk.skill, 3], table[pk.skill, 4]
        flat = np.empty(pk.obs.shape[0])
        flat[pk.origin] = pred_m * (1.0 - sl) + (1.0 - pred_m) * g
        return np.split(flat, np.cumsum([len(s) for s in seqs])[:-1]) if seqs else []

    def mastery(self, seq: Sequence) -> dict[int, float]:
        """P(mastered) per skill after replaying ``seq`` with ``bkt_update`` (skill id -> p)."""
        out: dict[int, float] = {}
        for s, c in zip(seq.skills.tolist(), seq.correct.tolist(), strict=True):
            p = self.params_for(s)
            out[s] = bkt_update(out.get(s, p.prior), c, p)
        return out

    # -- persistence: an artifact folder (multimodal.artifacts) with bkt.json and metadata.json
    def to_dict(self) -> dict:
        """The fitted parameters as JSON-ready data (what ``bkt.json`` holds)."""
        if self.params is None:
            raise RuntimeError("BKTModel is not fitted")
        skills = {
            str(i): BKTParams(*map(float, row)).as_dict() for i, row in enumerate(self.params) if not np.isnan(row[0])
        }
        return {
            "kind": "bkt",
            "forgetting": self.forgetting,
            "default": self.default.as_dict(),
            "skills": skills,
        }

    def _files(self) -> dict[str, bytes]:
        return {MODEL_FILE: json.dumps(self.to_dict(), indent=1, sort_keys=True).encode()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the artifact folder ``path``; the version becomes ``<name>-<digest>``."""
        files = self._files()
        self.version = artifacts.digest_version(self.name, files)
        artifacts.write_artifact(
            path,
            files=files,
            format=ARTIFACT_FORMAT,
            version_prefix=self.name,
            training_summary=self.train_summary,
            metrics=self.metrics,
            kind="bkt",
        )
        return Path(path)

    @classmethod
    def from_dict(cls, d: Mapping) -> BKTModel:
        if d.get("kind") != "bkt":
            raise ValueError("not a BKT model file")
        m = cls(forgetting=bool(d.get("forgetting", False)))
        skills = {int(k): BKTParams.from_mapping(v) for k, v in d["skills"].items()}
        n = max(skills, default=0) + 1
        params = np.full((n, 5), np.nan)
        for k, v in skills.items():
            params[k] = _astuple(v)
        m.params = params
        m.default = BKTParams.from_mapping(d["default"])
        m.version = d.get("version", "")
        m.metrics = dict(d.get("metrics", {}))
        m.train_summary = dict(d.get("train_summary", {}))
        return m

    @classmethod
    def load(cls, path: str | os.PathLike) -> BKTModel:
        """Load an artifact folder (checks format and digest); a single JSON file written by
        an earlier version is still read."""
        path = Path(path)
        if path.is_file():  # format 1: one JSON file with everything
            return cls.from_dict(json.loads(path.read_text()))
        meta, files = artifacts.read_artifact(path, names=(MODEL_FILE,), format=ARTIFACT_FORMAT)
        m = cls.from_dict(json.loads(files[MODEL_FILE]))
        m.version = meta["version"]
        m.metrics = dict(meta.get("metrics") or {})
        m.train_summary = dict(meta.get("training_summary") or {})
        return m


def _astuple(p: BKTParams) -> tuple[float, float, float, float, float]:
    return (p.prior, p.learn, p.forget, p.guess, p.slip)
