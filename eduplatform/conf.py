"""All EDUPLATFORM_* settings, with documented defaults, read in one place.

A host project overrides any of these in its settings module; nothing else in the
plugin reads ``django.conf.settings`` for an EDUPLATFORM_* name directly.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

MB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    # Upload limits (bytes) per file kind, and how many files one submission may carry.
    "MAX_IMAGE_BYTES": 10 * MB,
    "MAX_AUDIO_BYTES": 25 * MB,
    "MAX_TEXT_CHARS": 100_000,
    "MAX_FILES_PER_SUBMISSION": 5,
    # Longest spoken answer accepted (seconds); longer audio is rejected with a 400.
    "MAX_AUDIO_SECONDS": 600,
    # How long a worker holds a claimed submission before the sweeper takes it back.
    "GRADING_LEASE_SECONDS": 300,
    # Pending rows older than this are re-enqueued by the sweeper (lost messages).
    "PENDING_REQUEUE_SECONDS": 120,
    # How many times a submission may be claimed before it is marked failed.
    "MAX_GRADING_ATTEMPTS": 5,
    # Rows a worker claims per batch (one model forward per batch).
    "GRADING_BATCH_SIZE": 32,
    # AI grades under this confidence go to the instructor review queue.
    "REVIEW_CONFIDENCE_THRESHOLD": 0.6,
    # Fault injection for the worker-kill test: seconds to sleep after a claim.
    # Always 0 in production; tests set it through the worker's environment.
    "GRADING_FAULT_DELAY_SECONDS": 0.0,
    # Whether students may read their own at-risk estimate.
    "STUDENTS_SEE_OWN_RISK": False,
    # Forward xAPI statements to an external LRS (e.g. Ralph); empty = off.
    "LRS_URL": "",
    "LRS_AUTH": "",
}


class _Settings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown eduplatform setting {name!r}")
        return getattr(django_settings, f"EDUPLATFORM_{name}", DEFAULTS[name])


settings = _Settings()
