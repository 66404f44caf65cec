"""One artifact scheme for every learned model: a folder with the model file(s) and ``metadata.json``.

Why one scheme: a grader, a knowledge-tracing model and the at-risk estimator are all
trained on a school's data, served by workers and audited by people. Each artifact
carries the same facts (``format``, ``version``, ``created_at``, ``training_summary``,
``metrics``) so an operator can tell what is serving and how good it was, and the
version is a digest of the model's own bytes, so two artifacts with the same version
hold the same model and a corrupted or swapped file is detected on load.

Writes are atomic (temporary file, then ``os.replace``), so a worker killed mid-save
never leaves a half-written model that another worker would load.

Plain Python: callers pass folders (the Django side takes them from
``eduplatform.core.api.artifact_dir``); nothing here reads settings or the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "METADATA_FILE",
    "atomic_write_bytes",
    "atomic_write_text",
    "digest_version",
    "json_safe",
    "now_iso",
    "read_artifact",
    "read_metadata",
    "save_versioned",
    "write_artifact",
    "write_metadata",
]

METADATA_FILE = "metadata.json"
DIGEST_CHARS = 8


def now_iso() -> str:
    """``created_at`` as stored in metadata: UTC, seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def json_safe(o: Any) -> Any:
    """A JSON-ready copy: numpy scalars and arrays to Python, NaN/inf to None, keys to str."""
    if isinstance(o, Mapping):
        return {str(k): json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    if hasattr(o, "tolist") and not isinstance(o, (str, bytes)):  # numpy scalar or array
        return json_safe(o.tolist())
    if isinstance(o, float) and (o != o or o in (float("inf"), float("-inf"))):
        return None
    return o


def digest_version(prefix: str, files: Mapping[str, bytes]) -> str:
    """``<prefix>-<first 8 hex of sha256>`` over the files' bytes in name order (for one file,
    the sha256 of that file: the grader's versions are made the same way)."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(files[name])
    return f"{prefix}-{h.hexdigest()[:DIGEST_CHARS]}"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_metadata(
    folder: str | os.PathLike[str],
    *,
    format: str | int,  # noqa: A002 - the field's name in metadata.json
    version: str,
    training_summary: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    created_at: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Write ``metadata.json`` (the shared fields plus any model-specific ``extra``); returns it."""
    meta = json_safe(
        {
            "format": format,
            "version": version,
            "created_at": created_at or now_iso(),
            "training_summary": dict(training_summary or {}),
            "metrics": dict(metrics or {}),
            **extra,
        }
    )
    atomic_write_text(Path(folder) / METADATA_FILE, json.dumps(meta, indent=2, sort_keys=True, allow_nan=False))
    return meta


def read_metadata(folder: str | os.PathLike[str], *, format: str | int | None = None) -> dict[str, Any]:  # noqa: A002
    """``metadata.json`` of an artifact folder; ``ValueError`` when its format is not ``format``."""
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"artifact at {folder} is incomplete: {METADATA_FILE} is missing")
    meta = json.loads(path.read_text())
    if format is not None and meta.get("format") != format:
        raise ValueError(f"artifact {folder} has format {meta.get('format')!r}; this code reads {format!r}")
    return meta


def write_artifact(
    folder: str | os.PathLike[str],
    *,
    files: Mapping[str, bytes],
    format: str | int,  # noqa: A002
    version_prefix: str,
    training_summary: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    created_at: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Write the model files and then ``metadata.json`` (last, so a complete metadata file
    means a complete artifact). The version is ``digest_version(version_prefix, files)``.
    Returns the metadata written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    version = digest_version(version_prefix, files)
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
    return write_metadata(
        folder,
        format=format,
        version=version,
        training_summary=training_summary,
        metrics=metrics,
        created_at=created_at,
        **extra,
    )


def read_artifact(
    folder: str | os.PathLike[str],
    *,
    names: tuple[str, ...],
    format: str | int | None = None,  # noqa: A002
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``(metadata, {name: bytes})`` of an artifact folder, after checking that every file is
    there, the format matches and the files' digest is the one its version names."""
    folder = Path(folder)
    for name in names:
        if not (folder / name).is_file():
            raise FileNotFoundError(f"artifact at {folder} is incomplete: {name} is missing")
    meta = read_metadata(folder, format=format)
    files = {name: (folder / name).read_bytes() for name in names}
    version = str(meta.get("version", ""))
    prefix = version.rsplit("-", 1)[0] if "-" in version else ""
    if digest_version(prefix, files) != version:
        raise ValueError(f"artifact {folder}: the files' digest does not match version {version!r}")
    return meta, files


def save_versioned(root: str | os.PathLike[str], save: Callable[[Path], Any], version_of: Callable[[], str]) -> Path:
    """Save an artifact into ``root/<version>``: ``save(staging)`` writes it into a fresh staging
    folder, ``version_of()`` then names it, and the folder is renamed into place. When that
    version is already there (the same model trained again) the existing folder is kept."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{uuid.uuid4().hex}"
    try:
        save(staging)
        final = root / version_of()
        if final.exists():
            return final
        os.replace(staging, final)
        return final
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
