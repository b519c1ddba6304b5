"""AppTest fixtures: every test gets its own database and no engine (nothing trains)."""
from __future__ import annotations

from pathlib import Path

import pytest

from storage import Storage


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Storage:
    """The storage the app opens: ``TUNING_DB`` points at a fresh file for each test."""
    path = tmp_path / "tuning.db"
    monkeypatch.setenv("TUNING_DB", str(path))
    monkeypatch.setenv("TUNING_ENGINE", "0")
    store = Storage(path)
    yield store
    store.close()

