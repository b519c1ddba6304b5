"""The data tests write their CSV files under ``tmp_path``: that folder is one the reader may
read (``TUNING_DATA_DIRS``), as a user's own data folder would be."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _tmp_path_is_a_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))
