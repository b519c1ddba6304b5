"""The uploads folder stays within its quota; files that runs name are never deleted."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from tuning.data.uploads import (
    KEEP_DAYS_ENV,
    MAX_FILES_ENV,
    QUOTA_MB_ENV,
    Limits,
    UploadError,
    clean_uploads,
    paths_in_use,
    store_upload,
)

DAY = 86400.0
NOW = 1_800_000_000.0


def _csv(n: int, size: int = 100) -> bytes:
    head = f"x,y\n{n},1\n".encode()
    return head + b"0,0\n" * ((size - len(head)) // 4)


def _age(path, days: float) -> None:
    os.utime(path, (NOW - days * DAY, NOW - days * DAY))


def test_the_same_content_is_stored_once_and_counts_as_recent(tmp_path):
    limits = Limits(quota_bytes=10_000, max_files=10, keep_s=30 * DAY)
    first = store_upload(_csv(1), tmp_path, set(), limits, now=NOW - 40 * DAY)
    again = store_upload(_csv(1), tmp_path, set(), limits, now=NOW)
    assert first == again and first.read_bytes() == _csv(1)
    assert os.path.getmtime(first) == NOW
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_old_unused_uploads_and_dead_partial_files_are_cleaned(tmp_path):
    limits = Limits(quota_bytes=10_000, max_files=10, keep_s=30 * DAY)
    old = store_upload(_csv(1), tmp_path, set(), limits, now=NOW)
    used = store_upload(_csv(2), tmp_path, set(), limits, now=NOW)
    fresh = store_upload(_csv(3), tmp_path, set(), limits, now=NOW)
    partial = tmp_path / "dead.part"
    partial.write_bytes(b"x,y\n")
    for path in (old, used, partial):
        _age(path, 31)
    _age(fresh, 29)
    deleted = clean_uploads(tmp_path, {os.path.realpath(used)}, limits, NOW)
    assert sorted(deleted) == sorted([old, partial])
    assert used.exists() and fresh.exists()


def test_making_room_deletes_unused_uploads_oldest_first_and_keeps_used_ones(tmp_path):
    limits = Limits(quota_bytes=350, max_files=10, keep_s=365 * DAY)
    a = store_upload(_csv(1), tmp_path, set(), limits, now=NOW - 3)
    b = store_upload(_csv(2), tmp_path, set(), limits, now=NOW - 2)
    c = store_upload(_csv(3), tmp_path, set(), limits, now=NOW - 1)
    in_use = {os.path.realpath(a)}
    d = store_upload(_csv(4), tmp_path, in_use, limits, now=NOW)
    assert a.exists() and not b.exists() and c.exists() and d.exists()
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 350


def test_the_file_count_is_capped_too(tmp_path):
    limits = Limits(quota_bytes=10**9, max_files=2, keep_s=365 * DAY)
    a = store_upload(_csv(1), tmp_path, set(), limits, now=NOW - 2)
    b = store_upload(_csv(2), tmp_path, set(), limits, now=NOW - 1)
    c = store_upload(_csv(3), tmp_path, set(), limits, now=NOW)
    assert not a.exists() and b.exists() and c.exists()


def test_when_runs_use_the_whole_quota_the_upload_is_refused_with_the_fix(tmp_path):
    limits = Limits(quota_bytes=250, max_files=10, keep_s=365 * DAY)
    a = store_upload(_csv(1), tmp_path, set(), limits, now=NOW)
    b = store_upload(_csv(2), tmp_path, set(), limits, now=NOW)
    in_use = {os.path.realpath(a), os.path.realpath(b)}
    with pytest.raises(UploadError, match=QUOTA_MB_ENV) as caught:
        store_upload(_csv(3), tmp_path, in_use, limits, now=NOW)
    assert "Delete runs" in str(caught.value)
    assert sorted(tmp_path.iterdir()) == sorted([a, b])  # nothing half-written
    with pytest.raises(UploadError, match="over the uploads quota"):
        store_upload(_csv(9, size=1000), tmp_path, set(), limits, now=NOW)


def test_the_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(QUOTA_MB_ENV, "2.5")
    monkeypatch.setenv(MAX_FILES_ENV, "7")
    monkeypatch.setenv(KEEP_DAYS_ENV, "1")
    assert Limits.from_env() == Limits(quota_bytes=2_500_000, max_files=7, keep_s=DAY)
    for name in (QUOTA_MB_ENV, MAX_FILES_ENV, KEEP_DAYS_ENV):
        monkeypatch.delenv(name)
    assert Limits.from_env() == Limits(1_000_000_000, 200, 30 * DAY)
    monkeypatch.setenv(QUOTA_MB_ENV, "lots")
    with pytest.raises(UploadError, match=f"{QUOTA_MB_ENV} must be a positive number"):
        Limits.from_env()


def test_paths_in_use_are_the_runs_data_paths(tmp_path):
    runs = [SimpleNamespace(spec={"data": {"source": "csv", "path": str(tmp_path / "a.csv")}}),
            SimpleNamespace(spec={"data": {"source": "sklearn", "name": "iris"}}),
            SimpleNamespace(spec={})]
    assert paths_in_use(runs) == {os.path.realpath(tmp_path / "a.csv")}


def _module(n: int, size: int = 100) -> bytes:
    head = f"def build_model(hp):  # {n}\n".encode()
    return head + b"#" * (size - len(head))


def test_uploaded_modules_share_the_quota_and_the_clean_up(tmp_path):
    """A ``module_*.py`` upload counts against the quota beside the CSV files, is cleaned
    when old and unused, and is never deleted while a run names it as its model's or its
    data loader's module; other files in the folder are not the quota's to delete."""
    limits = Limits(quota_bytes=300, max_files=10, keep_s=30 * DAY)
    old = store_upload(_module(3), tmp_path, set(), limits, now=NOW - 40 * DAY, module=True)
    model = store_upload(_module(1), tmp_path, set(), limits, now=NOW - 3, module=True)
    loader = store_upload(_module(2), tmp_path, set(), limits, now=NOW - 2, module=True)
    assert model.name.startswith("module_") and model.suffix == ".py"
    assert not old.exists()  # cleaned when ``model`` was stored: old and unused
    mine = tmp_path / "notes.py"
    mine.write_text("x = 1\n")
    _age(mine, 400)
    runs = [SimpleNamespace(spec={"model": {"module": str(model)},
                                  "data": {"source": "csv", "module": str(loader)}})]
    in_use = paths_in_use(runs)
    assert in_use == {os.path.realpath(model), os.path.realpath(loader)}
    csv = store_upload(_csv(1), tmp_path, in_use, limits, now=NOW - 1)
    assert model.exists() and loader.exists() and csv.exists()
    # The modules runs name and the CSV fill the quota: room is made from the CSV alone.
    again = store_upload(_csv(2), tmp_path, in_use, limits, now=NOW)
    assert not csv.exists() and again.exists() and model.exists() and loader.exists()
    with pytest.raises(UploadError, match="runs use its 3 files"):
        store_upload(_module(4, size=150), tmp_path, in_use | {os.path.realpath(again)},
                     limits, now=NOW, module=True)
    assert mine.exists()
