"""The uploads folder: CSV files and model modules (``module_*.py``, when
``TUNING_ALLOW_MODULE_UPLOAD`` allows them) users upload on the Launch page, kept within
one quota.

Each upload is stored under a name made from its content (the same file uploaded twice
is stored once), beside the database (``tuning.paths.uploads_dir``). Without limits the
folder would only grow, so every upload first cleans it:

- an upload no run names (``data.path``, ``model.module`` or ``data.module`` of any run
  in the database) that nobody uploaded
  again for ``TUNING_UPLOAD_KEEP_DAYS`` days (default 30) is deleted, and so is a partial
  file left by an upload that died (after an hour);
- the folder holds at most ``TUNING_UPLOAD_QUOTA_MB`` megabytes (default 1000) and
  ``TUNING_UPLOAD_MAX_FILES`` files (default 200): to make room, unused uploads go first,
  oldest first. Uploads that runs name are never deleted; when they alone fill the quota,
  the upload is refused with an ``UploadError`` that says how to make room.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUOTA_MB_ENV = "TUNING_UPLOAD_QUOTA_MB"
MAX_FILES_ENV = "TUNING_UPLOAD_MAX_FILES"
KEEP_DAYS_ENV = "TUNING_UPLOAD_KEEP_DAYS"
DEFAULT_QUOTA_MB = 1000
DEFAULT_MAX_FILES = 200
DEFAULT_KEEP_DAYS = 30
PARTIAL_MAX_AGE_S = 3600.0
MODULE_PREFIX = "module_"
_NAMED_FILES = (("data", "path"), ("model", "module"), ("data", "module"))  # a run's files


class UploadError(ValueError):
    """An upload that cannot be stored; the message says why and how to make room."""


@dataclass(frozen=True)
class Limits:
    quota_bytes: int
    max_files: int
    keep_s: float

    @classmethod
    def from_env(cls) -> Limits:
        return cls(quota_bytes=int(_setting(QUOTA_MB_ENV, DEFAULT_QUOTA_MB) * 1_000_000),
                   max_files=int(_setting(MAX_FILES_ENV, DEFAULT_MAX_FILES)),
                   keep_s=_setting(KEEP_DAYS_ENV, DEFAULT_KEEP_DAYS) * 86400.0)


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise UploadError(f"{name} must be a positive number; got {raw!r}: fix or unset it "
                          "where the dashboard is started")
    return value


def paths_in_use(runs: Iterable[Any]) -> set[str]:
    """The real paths of the files the given runs name (``Store.list_runs()``): their data
    file and their model's and data loader's modules."""
    used = set()
    for run in runs:
        for section, field in _NAMED_FILES:
            part = run.spec.get(section) or {}
            path = part.get(field) if hasattr(part, "get") else None
            if isinstance(path, str) and path:
                used.add(os.path.realpath(path))
    return used


def is_upload(path: Path) -> bool:
    """Whether ``path`` is an upload the quota counts: a CSV file or an uploaded module."""
    return path.suffix == ".csv" or (path.suffix == ".py" and path.name.startswith(MODULE_PREFIX))


def store_upload(content: bytes, folder: Path, in_use: set[str],
                 limits: Limits | None = None, now: float | None = None,
                 module: bool = False) -> Path:
    """Store ``content`` in ``folder`` under its hash, within the limits; return its path.
    ``module``: a model module (``module_<hash>.py``), else a CSV file (``<hash>.csv``).

    ``in_use``: real paths runs name (``paths_in_use``), never deleted. Raises
    ``UploadError`` when the upload cannot fit."""
    limits = limits or Limits.from_env()
    now = time.time() if now is None else now
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(content).hexdigest()[:24]
    path = folder / (f"{MODULE_PREFIX}{digest}.py" if module else f"{digest}.csv")
    clean_uploads(folder, in_use, limits, now, keep=path)
    if path.exists():
        os.utime(path, (now, now))  # uploaded again: recent, whatever its first day
        return path
    if len(content) > limits.quota_bytes:
        raise UploadError(f"the file is {_mb(len(content))}, over the uploads quota of "
                          f"{_mb(limits.quota_bytes)} ({QUOTA_MB_ENV})")
    _make_room(folder, in_use, limits, len(content))
    partial = path.with_suffix(".part")
    partial.write_bytes(content)
    os.utime(partial, (now, now))
    os.replace(partial, path)
    return path


def clean_uploads(folder: Path, in_use: set[str], limits: Limits, now: float,
                  keep: Path | None = None) -> list[Path]:
    """Delete unused uploads untouched for ``limits.keep_s`` and stale partial files;
    return what was deleted."""
    deleted = []
    for entry in _entries(folder):
        path, mtime = entry[0], entry[2]
        stale_partial = path.suffix == ".part" and now - mtime > PARTIAL_MAX_AGE_S
        old_unused = (is_upload(path) and path != keep and not _used(path, in_use)
                      and now - mtime > limits.keep_s)
        if (stale_partial or old_unused) and _remove(path):
            deleted.append(path)
    return deleted


def _make_room(folder: Path, in_use: set[str], limits: Limits, size: int) -> None:
    files = [e for e in _entries(folder) if is_upload(e[0])]
    total = sum(e[1] for e in files)
    unused = sorted((e for e in files if not _used(e[0], in_use)), key=lambda e: e[2])
    while unused and (total + size > limits.quota_bytes or len(files) + 1 > limits.max_files):
        path, bytes_, _ = unused.pop(0)
        if _remove(path):
            total -= bytes_
            files = [e for e in files if e[0] != path]
    if total + size > limits.quota_bytes or len(files) + 1 > limits.max_files:
        raise UploadError(
            f"the uploads folder is full: runs use its {len(files)} files "
            f"({_mb(total)}); the quota is {_mb(limits.quota_bytes)} ({QUOTA_MB_ENV}) and "
            f"{limits.max_files} files ({MAX_FILES_ENV}). Delete runs you no longer need on "
            "the Runs page, or raise the settings where the dashboard is started")


def _entries(folder: Path) -> list[tuple[Path, int, float]]:
    out = []
    try:
        listing = list(os.scandir(folder))
    except FileNotFoundError:
        return out
    for entry in listing:
        try:
            if entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                out.append((Path(entry.path), stat.st_size, stat.st_mtime))
        except OSError:
            continue  # gone meanwhile (another session cleaning)
    return out


def _used(path: Path, in_use: set[str]) -> bool:
    return os.path.realpath(path) in in_use


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
