"""The CSV reader's limits (header size, columns, rows) and its memory of files already
inspected: the dashboard validates its form on every rerun and must not parse the file each time."""
from __future__ import annotations

import os

import pytest

from tuning.data import MAX_CSV_COLUMNS, SNIFF_BYTES, DataError, csv_data, inspect_csv


def _write(path, header: list[str], rows: int = 12) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(header) + "\n")
        for i in range(rows):
            fh.write(",".join(["1"] * (len(header) - 1) + ["pq"[i % 2]]) + "\n")
    return str(path)


def test_a_header_longer_than_the_sample_is_refused_not_cut_short(tmp_path):
    names = [f"feature_{i:05d}_" + "x" * 50 for i in range(SNIFF_BYTES // 60 + 10)]
    path = _write(tmp_path / "wide.csv", names + ["y"])
    with pytest.raises(DataError, match="header row longer than 64 KB"):
        inspect_csv(path, "y")


def test_a_header_just_under_the_sample_is_read_whole(tmp_path):
    names = [f"f{i:04d}_" + "x" * 40 for i in range((SNIFF_BYTES - 200) // 47)]
    assert len(",".join(names)) < SNIFF_BYTES - 10
    path = _write(tmp_path / "wide.csv", names + ["y"])
    summary = inspect_csv(path, "y")
    assert [c.name for c in summary.columns] == names + ["y"]


def test_more_columns_than_the_cap_are_refused(tmp_path):
    path = _write(tmp_path / "many.csv", [f"c{i}" for i in range(MAX_CSV_COLUMNS)] + ["y"])
    with pytest.raises(DataError, match=f"the limit is {MAX_CSV_COLUMNS}"):
        inspect_csv(path, "y")


def test_inspecting_a_file_again_does_not_parse_it_again(tmp_path, monkeypatch):
    calls = []
    real = csv_data.read_csv_frame
    monkeypatch.setattr(csv_data, "read_csv_frame", lambda *a: calls.append(a) or real(*a))
    path = _write(tmp_path / "d.csv", ["a", "b", "y"])
    first = inspect_csv(path, "y")
    assert inspect_csv(path, "y") is first and len(calls) == 1
    inspect_csv(path, None)  # another question about the file is a new answer
    assert len(calls) == 2
    _write(tmp_path / "d.csv", ["a", "c", "y"], rows=14)  # changed: read again
    os.utime(path, ns=(1, 1))
    assert [c.name for c in inspect_csv(path, "y").columns] == ["a", "c", "y"]
    assert len(calls) == 3


def test_a_refusal_is_remembered_and_raised_each_time(tmp_path, monkeypatch):
    calls = []
    real = csv_data.read_csv_frame
    monkeypatch.setattr(csv_data, "read_csv_frame", lambda *a: calls.append(a) or real(*a))
    path = _write(tmp_path / "d.csv", ["a", "b", "y"])
    for _ in range(3):
        with pytest.raises(DataError, match="'price' is not a column"):
            inspect_csv(path, "price")
    assert len(calls) == 1
