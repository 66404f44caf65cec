"""Knowledge tracing: estimate per-skill mastery from graded response sequences.

Plain Python (numpy + torch, no Django), so Celery workers, management commands and
benchmarks share one implementation.

* ``load_dkvmn`` reads the DKVMN three-lines-per-student format.
* ``BKTModel`` is Bayesian Knowledge Tracing (prior, learn, optional forget, guess,
  slip per skill) fitted by a vectorised Baum-Welch EM over all students and all
  skills at once.  ``bkt_update`` is the online update the service layer calls
  once per graded attempt; it is the same recursion the batch predictor uses.
* ``DeepKTModel`` is DKT (an LSTM over question/response interactions) or
  ``akt_lite`` (AKT-style attention), both with a question-embedding read-out plus
  per-question attempt-history features, trained with padding/masking and early
  stopping on a validation split carved from the training data, then refitted on
  all training students for the chosen number of epochs.
* ``evaluate`` scores any model with ``predict_sequences`` by next-response AUC.

Evaluation protocol (same for every model): each response is predicted from the
*preceding* responses of the same student only, and every response is scored,
including a student's first one (predicted from the prior / initial state).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import platform
import time
from collections.abc import Iterable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from multimodal.device import pick_device

__all__ = [
    "MODEL_NAMES",
    "BKTModel",
    "BKTParams",
    "DeepKTConfig",
    "DeepKTModel",
    "EnsembleModel",
    "Sequence",
    "bkt_predict_correct",
    "bkt_update",
    "data_summary",
    "evaluate",
    "load_dkvmn",
    "machine_summary",
    "make_model",
    "parse_dkvmn",
    "train_val_split",
]

FORMAT_VERSION = 1


# --------------------------------------------------------------------------- data


@dataclass
class Sequence:
    """One student's responses in time order: 1-based skill/question ids, 0/1 correctness."""

    skills: np.ndarray  # int64, shape (T,), ids >= 1
    correct: np.ndarray  # int8, shape (T,), 0/1

    def __post_init__(self) -> None:
        self.skills = np.asarray(self.skills, dtype=np.int64)
        self.correct = np.asarray(self.correct, dtype=np.int8)
        if self.skills.shape != self.correct.shape or self.skills.ndim != 1:
            raise ValueError("skills and correct must be 1-D arrays of equal length")

    def __len__(self) -> int:
        return int(self.skills.shape[0])


def _int_fields(line: str) -> list[int]:
    # Tolerate trailing commas, blank fields, spaces and "1.0"-style numbers.
    return [int(float(tok)) for tok in line.replace(";", ",").split(",") if tok.strip()]


def parse_dkvmn(text: str) -> list[Sequence]:
    """Parse DKVMN-format text (count line, id line, correctness line per student).

    Blank lines between records are skipped; inside a record a blank line is an empty
    field list (a student with 0 responses, who is dropped).  When the declared count
    disagrees with the fields, the id and correctness lines win (truncated to the
    shorter of the two).  Ids must be >= 1 and correctness 0/1; anything else raises
    ``ValueError`` naming the line.
    """
    raw = text.splitlines()
    seqs: list[Sequence] = []
    i = 0
    while i < len(raw):
        if not raw[i].strip():
            i += 1
            continue
        if i + 2 >= len(raw):
            raise ValueError(f"line {i + 1}: incomplete record (need 3 lines per student)")
        n_ids, n_cor = i + 2, i + 3
        try:
            ids = _int_fields(raw[i + 1])
            cor = _int_fields(raw[i + 2])
        except ValueError as exc:
            raise ValueError(f"line {n_ids}-{n_cor}: non-numeric field ({exc})") from None
        i += 3
        t = min(len(ids), len(cor))
        if t == 0:
            continue
        ids_a = np.asarray(ids[:t], dtype=np.int64)
        cor_a = np.asarray(cor[:t], dtype=np.int64)
        if ids_a.min() < 1:
            raise ValueError(f"line {n_ids}: ids must be 1-based (>= 1)")
        if not np.isin(cor_a, (0, 1)).all():
            raise ValueError(f"line {n_cor}: correctness must be 0 or 1")
        seqs.append(Sequence(ids_a, cor_a))
    return seqs


def load_dkvmn(path: str | os.PathLike) -> list[Sequence]:
    """Read a DKVMN-format file (see ``parse_dkvmn``)."""
    return parse_dkvmn(Path(path).read_text())


def train_val_split(
    seqs: Seq[Sequence], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Sequence], list[Sequence]]:
    """Split by student (never within a student's sequence)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(seqs))
    n_val = max(1, round(len(seqs) * val_fraction)) if len(seqs) > 1 else 0
    val = set(idx[:n_val].tolist())
    return [s for i, s in enumerate(seqs) if i not in val], [s for i, s in enumerate(seqs) if i in val]


def data_summary(seqs: Seq[Sequence]) -> dict:
    lens = [len(s) for s in seqs]
    return {
        "students": len(seqs),
        "responses": int(sum(lens)),
        "max_id": int(max((s.skills.max() for s in seqs if len(s)), default=0)),
        "mean_correct": float(np.mean(np.concatenate([s.correct for s in seqs]))) if lens else 0.0,
    }


# --------------------------------------------------------------------------- BKT


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
        self.version = f"{self.name}-{_stamp()}"
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

    # -- persistence
    def to_dict(self) -> dict:
        if self.params is None:
            raise RuntimeError("BKTModel is not fitted")
        skills = {
            str(i): BKTParams(*map(float, row)).as_dict() for i, row in enumerate(self.params) if not np.isnan(row[0])
        }
        return {
            "format": "eduplatform-kt",
            "format_version": FORMAT_VERSION,
            "kind": "bkt",
            "version": self.version,
            "forgetting": self.forgetting,
            "default": self.default.as_dict(),
            "skills": skills,
            "metrics": self.metrics,
            "train_summary": self.train_summary,
        }

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

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
        return cls.from_dict(json.loads(Path(path).read_text()))


def _astuple(p: BKTParams) -> tuple[float, float, float, float, float]:
    return (p.prior, p.learn, p.forget, p.guess, p.slip)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


# --------------------------------------------------------------------------- deep KT


@dataclass
class DeepKTConfig:
    """Hyper-parameters of ``DeepKTModel`` (saved with the model)."""

    arch: str = "dkt"  # "dkt" (LSTM) or "akt_lite" (attention)
    heads: int = 4  # attention heads (akt_lite)
    emb_dim: int = 64
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.3
    lr: float = 2e-3
    weight_decay: float = 1e-5
    batch_tokens: int = 6400  # padded positions per batch (32 windows of 200)
    window: int = 200  # training windows (pyKT protocol); prediction uses full history
    max_epochs: int = 40
    patience: int = 5
    val_fraction: float = 0.2
    time_budget_s: float = 300.0  # wall-clock cap on training (both phases)
    refit: bool = True  # after early stopping, retrain on train+validation for the chosen epochs
    seed: int = 0
    # Torch intra-op threads on CPU.  These models are small; on a shared 2-core box,
    # 2 threads ran 8x slower than 1 (OpenMP spin-waiting under oversubscription).
    cpu_threads: int = 1


def _build_net(cfg: DeepKTConfig, n_ids: int):
    import torch
    from torch import nn

    class DKTNet(nn.Module):
        """LSTM over (question, response) interactions; reads out P(correct) for the next question.

        Input at step t is the interaction at t-1 (a learned start token at t=0), so the
        output at t never sees response t.  The read-out combines the hidden state with
        the embedding of the question being asked plus a per-question difficulty bias,
        which is what lets 1,000+ question ids (Statics) work without a huge output layer.
        """

        def __init__(self) -> None:
            super().__init__()
            d = cfg.emb_dim
            # interaction index: 0 = pad/start, q + r * n_ids for q in [1, n_ids)
            self.inter = nn.Embedding(2 * n_ids + 1, d, padding_idx=0)
            self.start = nn.Parameter(torch.zeros(d))
            self.q_emb = nn.Embedding(n_ids, d, padding_idx=0)
            self.q_bias = nn.Embedding(n_ids, 1, padding_idx=0)
            self.rnn = nn.LSTM(
                d,
                cfg.hidden,
                num_layers=cfg.layers,
                batch_first=True,
                dropout=cfg.dropout if cfg.layers > 1 else 0.0,
            )
            self.drop = nn.Dropout(cfg.dropout)
            self.out = nn.Sequential(
                nn.Linear(cfg.hidden + d + N_HISTORY_FEATURES, cfg.hidden),
                nn.ReLU(),
                nn.Dropout(cfg.dropout),
                nn.Linear(cfg.hidden, 1),
            )
            nn.init.normal_(self.inter.weight, std=0.1)
            nn.init.normal_(self.q_emb.weight, std=0.1)
            nn.init.zeros_(self.q_bias.weight)

        def forward(self, q: torch.Tensor, r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
            # q, r: (B, T) with q == 0 on padding/unseen ids; f: (B, T, F); returns logits (B, T)
            inter = torch.where(q > 0, q + r * n_ids, torch.zeros_like(q))
            x = self.inter(inter[:, :-1])
            x = torch.cat([self.start.expand(q.shape[0], 1, -1), x], dim=1)
            h, _ = self.rnn(self.drop(x))
            e = self.q_emb(q)
            logit = self.out(torch.cat([self.drop(h), e, f], dim=-1)).squeeze(-1)
            return logit + self.q_bias(q).squeeze(-1)

    class Block(nn.Module):
        """Attention + feed-forward with residuals; ALiBi-style distance decay per head."""

        def __init__(self, d: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.qkv_q = nn.Linear(d, d)
            self.qkv_k = nn.Linear(d, d)
            self.qkv_v = nn.Linear(d, d)
            self.proj = nn.Linear(d, d)
            self.ln1 = nn.LayerNorm(d)
            self.ln2 = nn.LayerNorm(d)
            self.ff = nn.Sequential(
                nn.Linear(d, 2 * d),
                nn.ReLU(),
                nn.Dropout(cfg.dropout),
                nn.Linear(2 * d, d),
            )
            self.drop = nn.Dropout(cfg.dropout)
            # Older responses count less (AKT's monotonic attention, simplified to a learned slope).
            self.decay = nn.Parameter(torch.linspace(-3.0, 0.0, heads))

        def forward(self, query, key, value, allowed, dist):
            b, t, d = query.shape
            h = self.heads

            def split(x):
                return x.view(b, -1, h, d // h).transpose(1, 2)

            qh, kh, vh = (
                split(self.qkv_q(query)),
                split(self.qkv_k(key)),
                split(self.qkv_v(value)),
            )
            bias = -nn.functional.softplus(self.decay).view(1, h, 1, 1) * dist
            bias = bias.masked_fill(~allowed, float("-inf"))
            att = nn.functional.scaled_dot_product_attention(qh, kh, vh, attn_mask=bias)
            att = att.transpose(1, 2).reshape(b, t, d)
            x = self.ln1(query + self.drop(self.proj(att)))
            return self.ln2(x + self.drop(self.ff(x)))

    class AttnKTNet(nn.Module):
        """AKT-style attention (simplified): each question attends to earlier interactions.

        An encoder contextualises the interaction sequence (causal self-attention); the
        retriever's query is the embedding of the question being asked, its keys the
        embeddings of the questions answered before (strictly earlier positions, plus a
        learned "no history" slot), its values the encoded interactions.  Attention is
        limited to the last ``window`` interactions in training and prediction alike.
        """

        def __init__(self) -> None:
            super().__init__()
            d = cfg.emb_dim
            self.q_emb = nn.Embedding(n_ids, d, padding_idx=0)
            self.r_emb = nn.Embedding(2, d)
            self.q_bias = nn.Embedding(n_ids, 1, padding_idx=0)
            self.null_k = nn.Parameter(torch.zeros(1, 1, d))
            self.null_v = nn.Parameter(torch.zeros(1, 1, d))
            self.encoder = Block(d, cfg.heads)
            self.retriever = Block(d, cfg.heads)
            self.drop = nn.Dropout(cfg.dropout)
            self.out = nn.Sequential(
                nn.Linear(2 * d + N_HISTORY_FEATURES, cfg.hidden),
                nn.ReLU(),
                nn.Dropout(cfg.dropout),
                nn.Linear(cfg.hidden, 1),
            )
            nn.init.normal_(self.q_emb.weight, std=0.1)
            nn.init.zeros_(self.q_bias.weight)

        def forward(self, q, r, f):
            b, t = q.shape
            e = self.q_emb(q)
            x = self.drop(e + self.r_emb(r))
            pos = torch.arange(t, device=q.device)
            dist = (pos.view(-1, 1) - pos.view(1, -1)).float()  # query i, key j: i - j
            win = cfg.window or t
            causal = (dist >= 0) & (dist < win)
            enc = self.encoder(x, x, x, causal, torch.log1p(dist.clamp(min=0)))
            # Retriever keys: [null, 0..t-1]; query i may see null and keys j < i.
            keys = torch.cat([self.null_k.expand(b, 1, -1), e], dim=1)
            vals = torch.cat([self.null_v.expand(b, 1, -1), enc], dim=1)
            d_full = torch.cat([torch.ones(t, 1, device=q.device), dist + 0], dim=1)
            allowed = torch.cat(
                [
                    torch.ones(t, 1, dtype=torch.bool, device=q.device),
                    (dist > 0) & (dist <= win),
                ],
                dim=1,
            )
            ret = self.retriever(e, keys, vals, allowed, torch.log1p(d_full.clamp(min=0)))
            logit = self.out(torch.cat([self.drop(ret), e, f], dim=-1)).squeeze(-1)
            return logit + self.q_bias(q).squeeze(-1)

    if cfg.arch == "dkt":
        return DKTNet()
    if cfg.arch == "akt_lite":
        return AttnKTNet()
    raise ValueError(f"unknown deep KT architecture {cfg.arch!r}")


N_HISTORY_FEATURES = 6


def _history_features(seq: Sequence) -> np.ndarray:
    """Per-response features from the same student's *earlier* attempts at the same id.

    (log attempts, log correct, log incorrect, last attempt correct, has an earlier
    attempt, log steps since it).  Repeated attempts at one question are common
    (Statics); giving the read-out these counts directly (as PFA/BKT do) is cheaper
    than making the LSTM learn to count per question.
    """
    t = len(seq)
    f = np.zeros((t, N_HISTORY_FEATURES), np.float32)
    if t == 0:
        return f
    order = np.argsort(seq.skills, kind="stable")
    sk = seq.skills[order]
    c = seq.correct[order].astype(np.float64)
    new = np.r_[True, sk[1:] != sk[:-1]]
    starts = np.flatnonzero(new)
    lengths = np.diff(np.r_[starts, t])
    group_start = np.repeat(starts, lengths)
    cnt = np.arange(t) - group_start
    csum = np.cumsum(c)
    before = np.r_[0.0, csum[:-1]] - np.r_[0.0, csum][group_start]
    prev_c = np.r_[0.0, c[:-1]]
    prev_t = np.r_[0, order[:-1]]
    has_prev = ~new
    f[order, 0] = np.log1p(cnt)
    f[order, 1] = np.log1p(before)
    f[order, 2] = np.log1p(cnt - before)
    f[order, 3] = np.where(has_prev, prev_c, 0.0)
    f[order, 4] = has_prev
    f[order, 5] = np.log1p(np.where(has_prev, order - prev_t, 0))
    return f


def _items(seqs: Iterable[Sequence], n_ids: int, window: int | None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(ids, responses, features) per sequence, cut into windows when ``window`` is set.

    Features are computed on the full sequence before cutting, so a window still knows
    about the student's earlier attempts.  Ids unseen in training map to 0.
    """
    out = []
    for s in seqs:
        q = np.where(s.skills < n_ids, s.skills, 0)
        r = s.correct.astype(np.int64)
        f = _history_features(s)
        step = window or max(len(s), 1)
        for a in range(0, len(s), step):
            out.append((q[a : a + step], r[a : a + step], f[a : a + step]))
        if len(s) == 0:
            out.append((q, r, f))
    return out


def _batches(items, batch_tokens: int, rng: np.random.Generator | None):
    """Yield (indices, q, r, features, mask) padded arrays, length-sorted to limit padding.

    A batch holds up to ``batch_tokens`` padded positions, so many short sequences
    (ASSISTments) or few long windows (Statics) cost about the same per step.
    """
    lengths = np.array([max(len(it[0]), 1) for it in items])
    order = np.argsort(lengths, kind="stable")
    chunks, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * lengths[order[end]] <= batch_tokens:
            end += 1
        chunks.append(order[start:end])
        start = end
    if rng is not None:
        rng.shuffle(chunks)
    for idx in chunks:
        t = max(1, max(len(items[i][0]) for i in idx))
        q = np.zeros((len(idx), t), np.int64)
        r = np.zeros((len(idx), t), np.int64)
        f = np.zeros((len(idx), t, N_HISTORY_FEATURES), np.float32)
        mask = np.zeros((len(idx), t), bool)  # unseen ids are 0 but still scored
        for j, i in enumerate(idx):
            qi, ri, fi = items[i]
            n = len(qi)
            q[j, :n], r[j, :n], f[j, :n], mask[j, :n] = qi, ri, fi, True
        yield idx, q, r, f, mask


class DeepKTModel:
    """Deep knowledge tracing (LSTM) with question embeddings; PyTorch, CPU or CUDA."""

    def __init__(self, config: DeepKTConfig | None = None, *, device: str | None = None) -> None:
        self.config = config or DeepKTConfig()
        self.name = self.config.arch
        self.device = pick_device(device)
        self.net = None
        self.n_ids = 0
        self.version = ""
        self.metrics: dict = {}
        self.train_summary: dict = {}
        self.history: list[dict] = []

    def fit(
        self,
        seqs: Seq[Sequence],
        val_seqs: Seq[Sequence] | None = None,
        *,
        verbose: bool = False,
    ) -> DeepKTModel:
        """Train with early stopping on validation AUC.

        Without ``val_seqs`` a validation split (``val_fraction`` of the students) is
        carved from ``seqs``; test data must never be passed here.  With
        ``config.refit`` a fresh net is then trained on training + validation students
        for the chosen number of epochs, if that fits in ``time_budget_s``.
        """
        with self._threads():
            return self._fit(seqs, val_seqs, verbose=verbose)

    @contextlib.contextmanager
    def _threads(self):
        """Use ``cpu_threads`` torch threads on CPU for the duration, then restore."""
        import torch

        if self.device.type != "cpu" or not self.config.cpu_threads:
            yield
            return
        old = torch.get_num_threads()
        torch.set_num_threads(self.config.cpu_threads)
        try:
            yield
        finally:
            torch.set_num_threads(old)

    def _fit(self, seqs, val_seqs, *, verbose: bool) -> DeepKTModel:
        cfg = self.config
        t0 = time.perf_counter()
        deadline = t0 + cfg.time_budget_s
        all_seqs = list(seqs) + list(val_seqs or [])
        self.n_ids = int(max((s.skills.max() for s in all_seqs if len(s)), default=0)) + 1
        if val_seqs is None:
            seqs, val_seqs = train_val_split(seqs, cfg.val_fraction, cfg.seed)
        self.history = []
        best, best_epoch = self._train(seqs, val_seqs, cfg.max_epochs, deadline, verbose)
        validated = copy.deepcopy(self.net.state_dict())
        refit_epochs = 0
        # Refit only when it fits in the budget (epochs on 1/(1-val_fraction) more data).
        per_epoch = (time.perf_counter() - t0) / max(len(self.history), 1)
        refit_cost = per_epoch * best_epoch * len(all_seqs) / max(len(seqs), 1)
        fits = time.perf_counter() + refit_cost < deadline
        if cfg.refit and val_seqs and best_epoch and fits:
            # The epoch count is chosen on validation; now use every training student.
            _, refit_epochs = self._train(all_seqs, None, best_epoch, deadline, verbose)
            if refit_epochs < best_epoch:  # ran out of time budget: keep the validated net
                self.net.load_state_dict(validated)
                refit_epochs = 0
        self.net.eval()
        self.version = f"{cfg.arch}-{_stamp()}"
        self.train_summary = {
            **data_summary(all_seqs),
            "val_students": len(val_seqs or []),
            "epochs": best_epoch,
            "refit_epochs": refit_epochs,
            "best_val_auc": best,
            "train_s": round(time.perf_counter() - t0, 2),
        }
        return self

    def _train(self, seqs, val_seqs, max_epochs: int, deadline: float, verbose: bool) -> tuple[float | None, int]:
        """Train a fresh net; early-stop on ``val_seqs`` AUC when given.

        Returns (best validation AUC or None, epochs of the kept weights).
        """
        import torch
        from sklearn.metrics import roc_auc_score

        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self.net = _build_net(cfg, self.n_ids).to(self.device)
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        train_items = _items(seqs, self.n_ids, cfg.window)
        val_items = _items(val_seqs, self.n_ids, None) if val_seqs else []
        y_val = np.concatenate([s.correct for s in val_seqs]) if val_seqs else np.zeros(0)
        use_val = len(np.unique(y_val)) > 1
        best, best_state, best_epoch, bad = None, None, 0, 0
        phase = "fit" if use_val else "refit"
        started = time.perf_counter()
        for epoch in range(1, max_epochs + 1):
            self.net.train()
            total, count = 0.0, 0
            for _, q, r, f, mask in _batches(train_items, cfg.batch_tokens, rng):
                qt, rt, ft, mt = (torch.from_numpy(a).to(self.device) for a in (q, r, f, mask))
                logits = self.net(qt, rt, ft)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[mt], rt[mt].float())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
                opt.step()
                n_tok = int(mt.sum())
                total += loss.item() * n_tok
                count += n_tok
            rec = {"phase": phase, "epoch": epoch, "train_loss": total / max(count, 1)}
            if use_val:
                rec["val_auc"] = float(roc_auc_score(y_val, np.concatenate(self._predict_items(val_items))))
                if best is None or rec["val_auc"] > best + 1e-4:
                    best, best_epoch, bad = rec["val_auc"], epoch, 0
                    best_state = copy.deepcopy(self.net.state_dict())
                else:
                    bad += 1
            else:
                best_epoch = epoch
            rec["time_left_s"] = deadline - time.perf_counter()
            self.history.append(rec)
            if verbose:
                print(
                    " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()),
                    flush=True,
                )
            now = time.perf_counter()
            epoch_s = (now - started) / epoch
            if bad >= cfg.patience or now + epoch_s > deadline:  # next epoch would overrun
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        return best, best_epoch

    def predict_sequences(self, seqs: Seq[Sequence], batch_tokens: int = 16384) -> list[np.ndarray]:
        """P(correct) for each response from that student's preceding responses (full history)."""

        if self.net is None:
            raise RuntimeError("DeepKTModel is not fitted")
        with self._threads():
            return self._predict_items(_items(seqs, self.n_ids, None), batch_tokens)

    def _predict_items(self, items, batch_tokens: int = 16384) -> list[np.ndarray]:
        import torch

        was_training = self.net.training
        self.net.eval()
        out: list[np.ndarray] = [np.zeros(0)] * len(items)
        with torch.inference_mode():
            for idx, q, r, f, _ in _batches(items, batch_tokens, None):
                args = (torch.from_numpy(a).to(self.device) for a in (q, r, f))
                p = torch.sigmoid(self.net(*args)).float().cpu().numpy()
                for j, i in enumerate(idx):
                    out[i] = p[j, : len(items[i][0])].astype(np.float64)
        if was_training:
            self.net.train()
        return out

    # -- persistence: <path> holds the weights, <path>.json the metadata
    def save(self, path: str | os.PathLike) -> Path:
        import torch

        if self.net is None:
            raise RuntimeError("DeepKTModel is not fitted")
        path = Path(path)
        torch.save(self.net.state_dict(), path)
        meta = {
            "format": "eduplatform-kt",
            "format_version": FORMAT_VERSION,
            "kind": "deep",
            "version": self.version,
            "config": asdict(self.config),
            "n_ids": self.n_ids,
            "metrics": self.metrics,
            "train_summary": self.train_summary,
            "history": self.history,
            "torch": torch.__version__,
        }
        _sidecar(path).write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> DeepKTModel:
        import torch

        path = Path(path)
        meta = json.loads(_sidecar(path).read_text())
        if meta.get("kind") != "deep" or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: not a deep KT model of format version {FORMAT_VERSION}")
        known = {f.name for f in fields(DeepKTConfig)}
        m = cls(
            DeepKTConfig(**{k: v for k, v in meta["config"].items() if k in known}),
            device=device,
        )
        m.n_ids = int(meta["n_ids"])
        m.net = _build_net(m.config, m.n_ids).to(m.device)
        m.net.load_state_dict(torch.load(path, map_location=m.device, weights_only=True))
        m.net.eval()
        m.version = meta["version"]
        m.metrics = meta.get("metrics", {})
        m.train_summary = meta.get("train_summary", {})
        m.history = meta.get("history", [])
        return m


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


# --------------------------------------------------------------------------- registry

MODEL_NAMES = ("bkt", "bkt_forget", "dkt", "akt_lite")


def make_model(
    name: str,
    *,
    max_epochs: int | None = None,
    time_budget_s: float | None = None,
    seed: int = 0,
    device: str | None = None,
):
    """Build an unfitted model by benchmark name (see ``MODEL_NAMES``)."""
    if name == "bkt":
        return BKTModel()
    if name == "bkt_forget":
        return BKTModel(forgetting=True)
    if name in ("dkt", "akt_lite"):
        cfg = DeepKTConfig(arch=name, seed=seed)
        if max_epochs is not None:
            cfg.max_epochs = max_epochs
        if time_budget_s is not None:
            cfg.time_budget_s = time_budget_s
        return DeepKTModel(cfg, device=device)
    raise ValueError(f"unknown knowledge tracing model {name!r}; choose from {', '.join(MODEL_NAMES)}")


class EnsembleModel:
    """Average of several fitted models' P(correct) (e.g. DKT + akt_lite)."""

    def __init__(self, models: Seq) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models = list(models)
        self.name = "+".join(m.name for m in self.models)
        self.version = "+".join(m.version for m in self.models)

    def predict_sequences(self, seqs: Seq[Sequence]) -> list[np.ndarray]:
        member_preds = [m.predict_sequences(seqs) for m in self.models]
        return [np.mean(ps, axis=0) for ps in zip(*member_preds, strict=True)]


# --------------------------------------------------------------------------- evaluation


def evaluate(model, seqs: Seq[Sequence]) -> dict:
    """Next-response AUC/accuracy over every response of ``seqs``, plus prediction speed.

    Returns ``{"auc", "acc", "n", "predict_s", "pred_per_s"}``.
    """
    from sklearn.metrics import roc_auc_score

    t0 = time.perf_counter()
    preds = model.predict_sequences(seqs)
    dt = time.perf_counter() - t0
    p = np.concatenate(preds) if preds else np.zeros(0)
    y = np.concatenate([s.correct for s in seqs]) if seqs else np.zeros(0)
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) > 1 else float("nan")
    return {
        "auc": auc,
        "acc": float(np.mean((p >= 0.5) == (y == 1))) if y.size else float("nan"),
        "n": int(y.size),
        "predict_s": dt,
        "pred_per_s": float(y.size / dt) if dt > 0 else float("inf"),
    }


def machine_summary() -> str:
    """Short description of where a benchmark ran (CPU count, torch device)."""
    desc = f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu"
    try:
        import torch

        dev = pick_device()
        desc += f", torch {torch.__version__} {dev.type}"
        if dev.type == "cuda":
            desc += f" ({torch.cuda.get_device_name(dev)})"
    except ImportError:  # pragma: no cover
        pass
    return desc
