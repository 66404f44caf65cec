"""Deep knowledge tracing (PyTorch): DKT (an LSTM) and ``akt_lite`` (AKT-style attention).

Worker and management-command code only: this module reaches torch, which the web
process never loads (the web side computes mastery with ``multimodal.knowledge_tracing``'s
BKT). Both architectures read out P(correct) from the question embedding plus
per-question attempt-history features; training uses padding/masking and early stopping
on a validation split carved from the training students, then refits on all of them for
the chosen number of epochs when the time budget allows. The device comes from
``multimodal.device.pick_device`` (the one device choice).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import platform
import time
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from multimodal import artifacts
from multimodal.device import pick_device
from multimodal.knowledge_tracing.data import Sequence, data_summary, train_val_split
from multimodal.metrics import roc_auc

__all__ = ["ARTIFACT_FORMAT", "DeepKTConfig", "DeepKTModel", "machine_summary"]

ARTIFACT_FORMAT = "eduplatform-kt-deep/2"
MODEL_FILE = "weights.pt"


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
        self.version = f"{cfg.arch}-unsaved"  # the content digest once saved
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
                rec["val_auc"] = roc_auc(y_val, np.concatenate(self._predict_items(val_items)))
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

    # -- persistence: an artifact folder (multimodal.artifacts) with weights.pt and metadata.json
    def _files(self) -> dict[str, bytes]:
        import torch

        if self.net is None:
            raise RuntimeError("DeepKTModel is not fitted")
        buf = io.BytesIO()
        torch.save(self.net.state_dict(), buf)
        return {MODEL_FILE: buf.getvalue()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the artifact folder ``path``; the version becomes ``<arch>-<digest>``."""
        import torch

        files = self._files()
        self.version = artifacts.digest_version(self.name, files)
        artifacts.write_artifact(
            path,
            files=files,
            format=ARTIFACT_FORMAT,
            version_prefix=self.name,
            training_summary=self.train_summary,
            metrics=self.metrics,
            kind="deep",
            config=asdict(self.config),
            n_ids=self.n_ids,
            history=self.history,
            torch=torch.__version__,
        )
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> DeepKTModel:
        """Load an artifact folder (checks format and digest) onto ``device`` (default: the one
        ``pick_device`` chooses); weights + ``.json`` sidecar from an earlier version still load."""
        import torch

        path = Path(path)
        if path.is_file():  # format 1: <path> holds the weights, <path>.json the metadata
            meta = json.loads(path.with_name(path.name + ".json").read_text())
            if meta.get("kind") != "deep" or meta.get("format_version") != 1:
                raise ValueError(f"{path}: not a deep KT model of format version 1")
            weights = path.read_bytes()
            meta["training_summary"] = meta.get("train_summary", {})
        else:
            meta, files = artifacts.read_artifact(path, names=(MODEL_FILE,), format=ARTIFACT_FORMAT)
            weights = files[MODEL_FILE]
        known = {f.name for f in fields(DeepKTConfig)}
        m = cls(DeepKTConfig(**{k: v for k, v in meta["config"].items() if k in known}), device=device)
        m.n_ids = int(meta["n_ids"])
        m.net = _build_net(m.config, m.n_ids).to(m.device)
        m.net.load_state_dict(torch.load(io.BytesIO(weights), map_location=m.device, weights_only=True))
        m.net.eval()
        m.version = meta["version"]
        m.metrics = meta.get("metrics") or {}
        m.train_summary = meta.get("training_summary") or {}
        m.history = meta.get("history") or []
        return m


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
