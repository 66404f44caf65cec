"""Knowledge tracing: per-skill mastery from graded response sequences.

Two sides, so that the web process never imports torch:

* this package (``data``, ``bkt``, ``evaluation``; numpy only): response sequences and
  the DKVMN format, Bayesian Knowledge Tracing (the online update the product runs per
  graded attempt, and the EM fit), next-response evaluation. Re-exported here.
* ``multimodal.knowledge_tracing.deep`` (torch): DKT and ``akt_lite``, for workers and
  management commands; ``multimodal.knowledge_tracing.factory`` builds any model by name.

Models are saved as artifact folders (``multimodal.artifacts``): the model file plus
``metadata.json`` with format, version (a digest of the model file), created_at,
training summary and metrics.
"""

from multimodal.knowledge_tracing.bkt import (
    BKTModel,
    BKTParams,
    bkt_predict_correct,
    bkt_replay,
    bkt_soft_update,
    bkt_update,
)
from multimodal.knowledge_tracing.data import Sequence, data_summary, load_dkvmn, parse_dkvmn, train_val_split
from multimodal.knowledge_tracing.evaluation import EnsembleModel, evaluate

__all__ = [
    "BKTModel",
    "BKTParams",
    "EnsembleModel",
    "Sequence",
    "bkt_predict_correct",
    "bkt_replay",
    "bkt_soft_update",
    "bkt_update",
    "data_summary",
    "evaluate",
    "load_dkvmn",
    "parse_dkvmn",
    "train_val_split",
]
