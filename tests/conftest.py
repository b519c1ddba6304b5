"""Fixtures shared by every test package."""
from __future__ import annotations

from pathlib import Path

import pytest

import storage as storage_pkg


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database path that does not exist yet."""
    return tmp_path / "tuning.db"


@pytest.fixture
def storage(db_path: Path) -> storage_pkg.Storage:
    store = storage_pkg.Storage(db_path)
    yield store
    store.close()
