"""Database files the dashboard did not write this release: an older schema is migrated in
place; a newer, foreign, corrupt or damaged one is refused with a message saying what to do,
and left byte for byte as it was. Through the CLI and through the dashboard."""
from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage import MIGRATIONS, SCHEMA_VERSION, Storage, TrialStatus
from tests.faults.kit import db_fingerprint
from tests.support.runs import cli

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _older(path: Path) -> None:
    """A version-1 database (before trial flags) holding one run with a trial and an epoch."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (name, spec, status, created_at, max_trials) VALUES "
                 "('old run', '{\"strategy\": {\"name\": \"random\"}}', 'completed', 1.0, 1)")
    conn.execute("INSERT INTO trials (run_id, trial_key, number, status, hyperparameters, "
                 "score, rev) VALUES (1, '0', 0, 'completed', '{\"C\": 1.0}', 0.9, 1)")
    conn.execute("INSERT INTO epochs (run_id, trial_id, execution, epoch, metrics, created_at) "
                 "VALUES (1, 1, 0, 0, '{\"score\": 0.9}', 1.0)")
    conn.close()


def _good(path: Path, trials: int = 200) -> None:
    store = Storage(path)
    run = store.create_run("good", {"strategy": {"name": "random", "max_trials": trials}})
    for i in range(trials):
        trial = store.begin_trial(run.id, str(i), i, {"C": i})
        store.record_epoch(trial.id, 0, 0, {"score": i / trials})
        store.finish_trial(trial.id, TrialStatus.COMPLETED, score=i / trials)
    store.close()


def _newer(path: Path) -> None:
    _good(path, trials=1)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    conn.close()


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.close()


def _not_sqlite(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(20_000))


def _text(path: Path) -> None:
    path.write_text("id,name\n1,a\n")


def _truncated(path: Path) -> None:
    _good(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _damaged_page(path: Path) -> None:
    """A sound header and schema; the trials table's root page and its indexes' overwritten
    (``list`` reads counts from an index alone). SQLite opens it and fails only when a query
    reaches those pages."""
    _good(path)
    data = bytearray(path.read_bytes())
    conn = sqlite3.connect(path)
    roots = [r[0] for r in conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'trials' AND rootpage > 0")]
    conn.close()
    page = 4096
    for root in roots:
        data[(root - 1) * page:root * page] = random.Random(root).randbytes(page)
    path.write_bytes(bytes(data))


REFUSED = [
    # (id, maker, fragments of the message)
    ("newer-schema", _newer, ["newer than this release understands", "upgrade the dashboard",
                              "left untouched"]),
    ("foreign-sqlite", _foreign, ["not one of this dashboard's", "left untouched"]),
    ("random-bytes", _not_sqlite, ["cannot be", "not an SQLite file", "left untouched"]),
    ("text-file", _text, ["cannot be", "left untouched"]),
    ("truncated", _truncated, ["malformed", "left untouched"]),
    ("damaged-page", _damaged_page, ["is corrupt", "Restore it from a backup", "left untouched"]),
]


def test_an_older_schema_is_migrated_and_keeps_its_runs(tmp_path):
    db = tmp_path / "old.db"
    _older(db)
    listed = cli(db, "list", timeout=120)
    assert listed.returncode == 0 and "old run" in listed.stdout, listed.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
    conn.close()
    assert "flags" in columns
    store = Storage(db)
    (trial,) = store.list_trials(1)
    assert trial.score == 0.9 and trial.flags == () and dict(trial.hyperparameters) == {"C": 1.0}
    assert [dict(e.metrics) for e in store.list_epochs(1)] == [{"score": 0.9}]


@pytest.mark.parametrize("make, fragments", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_database_the_release_cannot_use_is_refused_by_the_cli_and_left_untouched(
        tmp_path, make, fragments):
    db = tmp_path / "bad.db"
    make(db)
    before = db.read_bytes()
    for command in (["list"], ["show", "1"], ["export", "1"]):
        result = cli(db, *command, timeout=120)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"error: {db}") or str(db) in result.stderr
        for fragment in fragments:
            assert fragment in result.stderr, (command, result.stderr)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db"], "files appeared beside it"


@pytest.mark.parametrize("make, fragments", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_database_the_release_cannot_use_is_refused_by_the_dashboard(
        tmp_path, monkeypatch, make, fragments):
    db = tmp_path / "bad.db"
    make(db)
    before = db.read_bytes()
    monkeypatch.setenv("TUNING_DB", str(db))
    monkeypatch.setenv("TUNING_ENGINE", "0")
    for page in (None, "pages/runs.py", "pages/live.py"):
        at = AppTest.from_file(APP, default_timeout=60).run()
        if page is not None and not at.error:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = " ".join(e.value for e in at.error)
        for fragment in fragments:
            assert fragment in shown, (page, shown)
    assert db.read_bytes() == before


def test_a_healthy_database_stays_byte_for_byte_the_same_when_only_read(tmp_path):
    db = tmp_path / "good.db"
    _good(db, trials=5)
    before = db_fingerprint(db)
    for command in (["list"], ["show", "1"], ["export", "1"]):
        assert cli(db, *command).returncode == 0
    assert db_fingerprint(db) == before
    assert not os.path.exists(f"{db}-wal") or os.path.getsize(f"{db}-wal") == 0
