"""Where things live on disk. Directories derive from run ids, never from names users type."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


def default_db_path() -> str:
    """``TUNING_DB`` if set, else ``data/tuning.db`` in the project."""
    return os.environ.get("TUNING_DB") or str(DATA_DIR / "tuning.db")


def runs_root(db_path: str | os.PathLike[str]) -> Path:
    """Run folders sit beside the database, named after it (``tuning.db`` ->
    ``tuning-runs/``), so two databases in one folder never share a run's files."""
    db = Path(os.path.abspath(db_path))
    return db.parent / f"{db.stem}-runs"


def run_dir(db_path: str | os.PathLike[str], run_id: int) -> Path:
    return runs_root(db_path) / f"run-{int(run_id)}"


def uploads_dir(db_path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(db_path)).parent / "uploads"
