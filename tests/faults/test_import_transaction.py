"""An import that fails half-way, or is read while it writes: the database fails under it,
its process is killed (SIGKILL) at seeded random moments, a page reads while it runs. The
import is one transaction: the run and all its trials land, or nothing does, and no reader
ever sees a ``completed`` run with a trial still ``running``.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage import RunStatus, Storage, StorageError, TrialStatus
from tests.faults.kit import ROOT, db_fingerprint
from tests.support.kt_folders import random_project, trial, write_project
from tuning.ingest.importer import import_project


class Failing:
    """Wraps ``Storage.record_epochs`` to raise ``error`` at its ``at``-th call, and to let
    ``peek`` look at the database (from another connection) at each call before that."""

    def __init__(self, storage: Storage, at: int, error: Exception, peek=None):
        self.storage, self.at, self.error, self.peek = storage, at, error, peek
        self.calls = 0
        self.original = storage.record_epochs

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.peek:
            self.peek()
        if self.calls == self.at:
            raise self.error
        return self.original(*args, **kwargs)


def _grown(folder: Path) -> Path:
    """The search went on: a fourth trial, and the failed one ran again and completed."""
    return write_project(folder, [
        trial("0", {"units": 16, "act": "relu", "lr": 0.002}, 0.61),
        trial("1", {"units": 32, "act": "tanh", "lr": 0.005}, 0.74),
        trial("2", {"units": 8, "act": "relu", "lr": 0.009}, 0.66),
        trial("3", {"units": 24, "act": "tanh", "lr": 0.003}, 0.7),
    ])


@pytest.mark.parametrize("error", [StorageError("database /x is busy"), RuntimeError("bug")],
                         ids=["storage-error", "unexpected-error"])
def test_a_first_import_failing_half_way_leaves_nothing(storage: Storage, tmp_path: Path,
                                                        monkeypatch, error):
    before = db_fingerprint(Path(storage.path))
    failing = Failing(storage, at=2, error=error)
    monkeypatch.setattr(storage, "record_epochs", failing)
    with pytest.raises(type(error)):
        import_project(storage, random_project(tmp_path / "p"))
    assert failing.calls == 2
    assert storage.list_runs() == []
    assert db_fingerprint(Path(storage.path))[1] == before[1]


def test_a_reimport_failing_half_way_leaves_the_run_as_it_was(storage: Storage,
                                                               tmp_path: Path, monkeypatch):
    folder = random_project(tmp_path / "p")
    run = import_project(storage, folder)
    before = db_fingerprint(Path(storage.path))
    monkeypatch.setattr(storage, "record_epochs", Failing(storage, 2, StorageError("full")))
    with pytest.raises(StorageError):
        import_project(storage, _grown(folder), name="renamed")
    assert db_fingerprint(Path(storage.path))[1] == before[1]
    again = storage.get_run(run.id)
    assert again.name == "p" and again.trials_done == 3 and again.error is None


def test_a_reader_never_sees_an_import_half_done(storage: Storage, tmp_path: Path,
                                                 monkeypatch):
    """The page that lists runs, polling while an import writes: it sees the run before the
    import or after it, never a completed run holding a running trial."""
    reader = Storage(storage.path)
    seen = []

    def peek():
        runs = reader.list_runs()
        seen.append([(r.status, r.trials_done,
                      [t.status for t in reader.list_trials(r.id)]) for r in runs])

    folder = random_project(tmp_path / "p")
    monkeypatch.setattr(storage, "record_epochs", Failing(storage, 0, RuntimeError(), peek))
    import_project(storage, folder)
    assert seen and all(s == [] for s in seen)
    _grown(folder)
    import_project(storage, folder)
    assert seen[-1] == [(RunStatus.COMPLETED, 3, [TrialStatus.COMPLETED, TrialStatus.COMPLETED,
                                                  TrialStatus.FAILED])]
    reader.close()


def _import(db: Path, folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tuning", "--db", str(db), "import",
                             str(folder)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_an_import_killed_at_random_moments_lands_whole_or_not_at_all(tmp_path: Path):
    trials = [trial(str(i), {"units": 8 + i % 4 * 8, "act": "relu", "lr": 0.002}, 0.5 + i / 1e4)
              for i in range(1200)]
    folder = write_project(tmp_path / "big", trials)
    db = tmp_path / "t.db"
    started = time.monotonic()
    assert _import(db, folder).wait(timeout=120) == 0
    whole = time.monotonic() - started  # start-up, reading, then one transaction of writes
    Storage(db).delete_run(Storage(db).list_runs()[0].id)
    rng = random.Random(20261201)
    moments = sorted(rng.uniform(0.7, 0.97) * whole for _ in range(4))
    outcomes = []
    for moment in moments:
        proc = _import(db, folder)
        try:
            proc.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        store = Storage(db)
        runs = store.list_runs()
        assert len(runs) <= 1, runs
        for run in runs:
            assert run.status is RunStatus.COMPLETED and run.trials_done == 1200
            assert not [t for t in store.list_trials(run.id) if t.status is TrialStatus.RUNNING]
            store.delete_run(run.id)  # the next kill starts from an empty database again
        outcomes.append("landed" if runs else "nothing")
        store.close()
    print(f"kills: a {whole:.1f} s import killed at",
          ", ".join(f"{m:.1f} s" for m in moments), "->", ", ".join(outcomes))
