"""Fusion models: one token per modality in, task heads out.

Three models share one interface so they can be compared on the same data
(``training.compare_fusions``):

* ``AttentionFusion``: each modality token is projected to a shared width, gets a
  learned modality embedding, and a small TransformerEncoder runs over the tokens
  plus a CLS token; missing modalities are excluded through ``key_padding_mask``,
  so the CLS token only ever attends to what is really there.
* ``ConcatFusion``: zero-filled concatenation plus a presence indicator, then an
  MLP. The classic baseline; the indicator lets it tell "zero" from "missing".
* ``WeightedFusion``: a learned softmax-weighted mean of the projected tokens that
  are present. Cheaper than attention and order-free, a middle baseline.

Mask convention (everywhere in ``multimodal``): ``present`` is a boolean array of
shape (B, M) whose column ``m`` is True where modality ``spec.modalities[m]`` is
*available* for that row (the same sense as a Hugging Face ``attention_mask``).
Any subset may be missing per row; values of missing tokens are ignored (they may
be zeros or NaN). A row with nothing present still yields finite outputs, but they
carry no information; ``training.TrainedFusion.predict`` reports confidence 0 there.

Heads: ``score`` (one regression output, trained on the score normalised to
[0, 1]), optional per-rubric-criterion classifiers (``n_criteria`` heads of
``n_levels`` logits) and an optional behaviour classifier (``n_classes`` logits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "FUSION_KINDS",
    "AttentionFusion",
    "ConcatFusion",
    "FusionModel",
    "FusionOutput",
    "FusionSpec",
    "WeightedFusion",
    "build_fusion",
]


@dataclass(frozen=True)
class FusionSpec:
    """Architecture of a fusion model; saved with every artifact so it can be rebuilt.

    ``modality_dims`` fixes both the input widths and the modality order used by the
    presence mask columns (insertion order of the mapping).
    """

    modality_dims: dict[str, int]
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.1
    hidden: int = 128  # MLP width (ConcatFusion) and feed-forward width of attention
    n_criteria: int = 0  # rubric criteria heads (0 = none)
    n_levels: int = 0  # levels per criterion
    n_classes: int = 0  # behaviour classes (0 = none)
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes, saved as-is

    def __post_init__(self) -> None:
        if not self.modality_dims:
            raise ValueError("FusionSpec needs at least one modality")
        for name, dim in self.modality_dims.items():
            if int(dim) < 1:
                raise ValueError(f"modality {name!r} has width {dim}; must be >= 1")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.n_criteria and self.n_levels < 2:
            raise ValueError("n_criteria > 0 needs n_levels >= 2")

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.modality_dims)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (modality order is kept as a list of pairs)."""
        data = asdict(self)
        data["modality_dims"] = [[k, int(v)] for k, v in self.modality_dims.items()]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FusionSpec:
        data = dict(data)
        dims = data.pop("modality_dims")
        if isinstance(dims, Mapping):
            dims = list(dims.items())
        return cls(modality_dims={str(k): int(v) for k, v in dims}, **data)


@dataclass
class FusionOutput:
    """Raw head outputs: ``score`` (B,) in normalised units, logits for the rest."""

    score: Tensor
    criteria: list[Tensor] | None = None  # n_criteria tensors of shape (B, n_levels)
    behaviour: Tensor | None = None  # (B, n_classes)


class _Heads(nn.Module):
    """Task heads on one pooled vector; shared by all fusion kinds."""

    def __init__(self, width: int, spec: FusionSpec) -> None:
        super().__init__()
        self.score = nn.Linear(width, 1)
        self.criteria = nn.ModuleList(nn.Linear(width, spec.n_levels) for _ in range(spec.n_criteria))
        self.behaviour = nn.Linear(width, spec.n_classes) if spec.n_classes else None

    def forward(self, pooled: Tensor) -> FusionOutput:
        return FusionOutput(
            score=self.score(pooled).squeeze(-1),
            criteria=[head(pooled) for head in self.criteria] if len(self.criteria) else None,
            behaviour=self.behaviour(pooled) if self.behaviour is not None else None,
        )


class FusionModel(nn.Module):
    """Base class: input checking and the common ``forward(tokens, present)`` contract."""

    kind: str = ""

    def __init__(self, spec: FusionSpec) -> None:
        super().__init__()
        self.spec = spec

    def _stack_inputs(self, tokens: Mapping[str, Tensor], present: Tensor) -> tuple[list[Tensor], Tensor]:
        """Return per-modality inputs with missing rows zeroed, and the bool mask.

        A modality absent from ``tokens`` counts as missing for every row. Missing
        values are replaced with ``torch.where`` (not multiplied by 0) so NaN
        placeholders cannot leak into the output.
        """
        present = present.to(torch.bool)
        n_mod = len(self.spec.modalities)
        if present.dim() != 2 or present.shape[1] != n_mod:
            raise ValueError(
                f"present mask must have shape (B, {n_mod}) for modalities "
                f"{self.spec.modalities}; got {tuple(present.shape)}"
            )
        unknown = set(tokens) - set(self.spec.modalities)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}; spec has {self.spec.modalities}")
        batch = present.shape[0]
        inputs = []
        for m, (name, dim) in enumerate(self.spec.modality_dims.items()):
            x = tokens.get(name)
            if x is None:
                x = present.new_zeros((batch, dim), dtype=torch.float32)
                present = present.clone()
                present[:, m] = False
            elif x.shape != (batch, dim):
                raise ValueError(f"modality {name!r}: expected shape ({batch}, {dim}), got {tuple(x.shape)}")
            x = torch.where(present[:, m : m + 1], x.float(), torch.zeros((), device=x.device))
            inputs.append(x)
        return inputs, present

    def forward(self, tokens: Mapping[str, Tensor], present: Tensor) -> FusionOutput:
        raise TypeError(f"{type(self).__name__} is abstract: build AttentionFusion, ConcatFusion or WeightedFusion")


def _projection(d_in: int, d_model: int) -> nn.Module:
    # Two layers so each modality can be reshaped nonlinearly before fusion.
    return nn.Sequential(nn.Linear(d_in, d_model), nn.GELU(), nn.Linear(d_model, d_model))


def _token_layers(spec: FusionSpec) -> tuple[nn.ModuleDict, nn.Parameter]:
    """Per-modality projections to the shared width and learned modality embeddings."""
    proj = nn.ModuleDict({m: _projection(dim, spec.d_model) for m, dim in spec.modality_dims.items()})
    return proj, nn.Parameter(torch.randn(len(spec.modalities), spec.d_model) * 0.02)


class AttentionFusion(FusionModel):
    """Transformer over [CLS, modality tokens]; missing tokens are key-padded out."""

    kind = "attention"

    def __init__(self, spec: FusionSpec) -> None:
        super().__init__(spec)
        d = spec.d_model
        self.proj, self.modality_embedding = _token_layers(spec)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=d,
            nhead=spec.n_heads,
            dim_feedforward=spec.hidden,
            dropout=spec.dropout,
            batch_first=True,
            norm_first=True,
            activation="gelu",
        )
        # enable_nested_tensor=False: the nested fast path is irrelevant for 5 tokens
        # and warns with norm_first.
        self.encoder = nn.TransformerEncoder(layer, spec.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.heads = _Heads(d, spec)

    def forward(self, tokens: Mapping[str, Tensor], present: Tensor) -> FusionOutput:
        inputs, present = self._stack_inputs(tokens, present)
        projected = torch.stack(
            [self.proj[name](x) for name, x in zip(self.spec.modalities, inputs, strict=False)], dim=1
        )  # (B, M, d)
        projected = projected + self.modality_embedding.unsqueeze(0)
        batch = projected.shape[0]
        seq = torch.cat([self.cls.expand(batch, -1, -1), projected], dim=1)
        # True = ignore. The CLS slot is never padded, so every row has a key to
        # attend to and fully-missing rows stay finite.
        padding = torch.cat([present.new_zeros((batch, 1)), ~present], dim=1)
        encoded = self.encoder(seq, src_key_padding_mask=padding)
        return self.heads(self.norm(encoded[:, 0]))


class ConcatFusion(FusionModel):
    """Zero-filled concatenation of raw tokens plus the presence indicator, then an MLP."""

    kind = "concat"

    def __init__(self, spec: FusionSpec) -> None:
        super().__init__(spec)
        d_in = sum(spec.modality_dims.values()) + len(spec.modalities)
        self.mlp = nn.Sequential(
            nn.Linear(d_in, spec.hidden),
            nn.GELU(),
            nn.Dropout(spec.dropout),
            nn.Linear(spec.hidden, spec.d_model),
            nn.GELU(),
        )
        self.heads = _Heads(spec.d_model, spec)

    def forward(self, tokens: Mapping[str, Tensor], present: Tensor) -> FusionOutput:
        inputs, present = self._stack_inputs(tokens, present)
        flat = torch.cat([*inputs, present.float()], dim=1)
        return self.heads(self.mlp(flat))


class WeightedFusion(FusionModel):
    """Softmax-weighted mean of projected available tokens (weights depend on content)."""

    kind = "weighted"

    def __init__(self, spec: FusionSpec) -> None:
        super().__init__(spec)
        d = spec.d_model
        self.proj, self.modality_embedding = _token_layers(spec)
        self.gate = nn.Linear(d, 1)
        self.norm = nn.LayerNorm(d)
        self.heads = _Heads(d, spec)

    def forward(self, tokens: Mapping[str, Tensor], present: Tensor) -> FusionOutput:
        inputs, present = self._stack_inputs(tokens, present)
        projected = torch.stack(
            [self.proj[name](x) for name, x in zip(self.spec.modalities, inputs, strict=False)], dim=1
        ) + self.modality_embedding.unsqueeze(0)
        # A large finite fill (not -inf) so a row with nothing present gets uniform
        # weights instead of NaN; multiplying by ``present`` then zeroes them, giving
        # a zero pooled vector and clean gradients.
        logits = self.gate(projected).squeeze(-1).masked_fill(~present, -1e4)
        weights = torch.softmax(logits, dim=1) * present
        pooled = (weights.unsqueeze(-1) * projected).sum(dim=1)
        return self.heads(self.norm(pooled))


FUSION_KINDS: dict[str, type[FusionModel]] = {
    "attention": AttentionFusion,
    "concat": ConcatFusion,
    "weighted": WeightedFusion,
}


def build_fusion(kind: str, spec: FusionSpec) -> FusionModel:
    """Build an untrained fusion model of ``kind`` ('attention', 'concat' or 'weighted')."""
    try:
        cls = FUSION_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown fusion kind {kind!r}; choose one of {sorted(FUSION_KINDS)}") from None
    return cls(spec)
