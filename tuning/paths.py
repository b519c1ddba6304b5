"""Where things live on disk. Directories derive from run ids, never from names users type."""
from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# An installed wheel carries the dashboard (app.py, pages/) and the demo files (examples/)
# inside the package, under this name (see setup.py); a checkout has them at its top level.
BUNDLE = _PACKAGE / "_bundle"
INSTALLED = (BUNDLE / "app.py").is_file()
PROJECT_ROOT = BUNDLE if INSTALLED else _PACKAGE.parent
"""The folder holding ``app.py``, ``pages/`` and ``examples/``: the checkout, or the bundle."""


def user_data_dir(env: Mapping[str, str] = os.environ, platform: str = sys.platform,
                  home: Path | None = None) -> Path:
    """The per-user folder an installed copy keeps its database in, whatever folder it is
    started from: ``$XDG_DATA_HOME/tuning`` (``~/.local/share/tuning``) on Linux,
    ``~/Library/Application Support/tuning`` on macOS, ``%LOCALAPPDATA%\\tuning`` on Windows."""
    home = home or Path.home()
    if platform == "win32":
        base = env.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
    elif platform == "darwin":
        base = str(home / "Library" / "Application Support")
    else:
        base = env.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return Path(base) / "tuning"


def data_dir(installed: bool = INSTALLED) -> Path:
    """A checkout's ``data/``; for an installed copy, ``user_data_dir()``."""
    return user_data_dir() if installed else PROJECT_ROOT / "data"


DATA_DIR = data_dir()


def default_db_path() -> str:
    """``TUNING_DB`` if set, else ``tuning.db`` in ``DATA_DIR`` (a checkout's ``data/``, an
    installed copy's per-user folder)."""
    return os.environ.get("TUNING_DB") or str(DATA_DIR / "tuning.db")


def runs_root(db_path: str | os.PathLike[str]) -> Path:
    """Run folders sit beside the database, named after it (``tuning.db`` ->
    ``tuning-runs/``), so two databases in one folder never share a run's files."""
    db = Path(os.path.abspath(db_path))
    return db.parent / f"{db.stem}-runs"


def run_dir(db_path: str | os.PathLike[str], run_id: int) -> Path:
    return runs_root(db_path) / f"run-{int(run_id)}"


def claim_run_folder(folder: str, run_created_at: float) -> None:
    """Make sure the run folder's KerasTuner project belongs to this very run.

    Run ids restart at 1 in a new database file: a folder left by another database's
    run 1 would otherwise be reloaded as if it were this run's progress.
    """
    marker = os.path.join(folder, "run.json")
    try:
        with open(marker, encoding="utf-8") as fh:
            owner = json.load(fh).get("created_at")
    except (OSError, ValueError):
        owner = None
    if owner != run_created_at:
        shutil.rmtree(os.path.join(folder, "kt"), ignore_errors=True)
        for name in ("best_model.keras", "best_model.joblib"):
            if os.path.exists(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))
        with open(marker, "w", encoding="utf-8") as fh:
            json.dump({"created_at": run_created_at}, fh)


def uploads_dir(db_path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(db_path)).parent / "uploads"


def data_roots() -> list[Path]:
    """Folders a spec may read a CSV from: the project's ``examples/`` and ``DATA_DIR``, the
    uploads folder beside the database in use (``TUNING_DB``), and every folder listed in
    ``TUNING_DATA_DIRS`` (separated by ``os.pathsep``), the opt-in for a user's own files.

    The dashboard can be shared: a spec must not make it read (and echo column names or
    values of) files such as ``/etc/passwd``."""
    roots = [PROJECT_ROOT / "examples", DATA_DIR, uploads_dir(default_db_path())]
    extra = os.environ.get("TUNING_DATA_DIRS", "")
    roots += [Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()]
    return [Path(os.path.realpath(r)) for r in roots]


def outside_data_roots(path: str) -> list[Path] | None:
    """None when ``path`` (relative to the current folder, symlinks followed) lies inside
    one of ``data_roots()``; else those roots, for the message."""
    real = Path(os.path.realpath(os.path.expanduser(path)))
    roots = data_roots()
    if any(real == root or root in real.parents for root in roots):
        return None
    return roots


# -- files a spec names ---------------------------------------------------------------
# data.path, strategy.corpus, strategy.preset_path and strategy.source.path all follow one
# rule, checked by the validator and again by whatever reads the file (a worker, a preview).


class PathRefused(ValueError):
    """A path a spec names that must not be read. ``field`` is the spec field, ``message``
    the rule, the value and the fix, starting with the field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


def resolve_spec_path(path: str) -> Path:
    """Where a path a spec names points: ``~`` expanded, a relative path taken from the
    project folder (where workers run, so it is checked and read in the same folder),
    symlinks followed."""
    candidate = Path(os.path.expanduser(path))
    if not candidate.is_absolute():
        candidate = PROJECT_ROOT / candidate
    return Path(os.path.realpath(candidate))


def spec_path_problem(path: object) -> str | None:
    """None when ``path`` may be read; else the rule broken (without the field), for a message.

    Never reads the file: whether it exists and what it holds is the reader's business."""
    if not isinstance(path, str) or not path.strip():
        return "must be a file path (a non-empty string)"
    if any(ord(ch) < 32 for ch in path) or any("\ud800" <= ch <= "\udfff" for ch in path):
        return ("must be a file path without control characters such as NUL or newlines; "
                "upload the file again or fix the path")
    try:
        real = resolve_spec_path(path)
    except (OSError, ValueError) as exc:
        return f"cannot be resolved ({exc}); fix the path"
    roots = data_roots()
    if any(real == root or root in real.parents for root in roots):
        return None
    return ("must be a file inside " + ", ".join(str(r) for r in roots) + " (a relative path "
            f"is taken from {PROJECT_ROOT}); upload the file, copy it into one of these "
            "folders, or add its folder to TUNING_DATA_DIRS")


def checked_spec_path(path: object, field: str) -> Path:
    """The resolved path to read, or ``PathRefused`` naming ``field``; readers call this
    right before opening the file, so a spec stored earlier is held to today's rule."""
    problem = spec_path_problem(path)
    if problem is not None:
        shown = repr(path) if isinstance(path, str) and len(path) <= 200 else type(path).__name__
        raise PathRefused(field, f"{field} {problem}; got {shown}")
    return resolve_spec_path(path)  # type: ignore[arg-type]
