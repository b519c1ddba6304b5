"""The engine's bookkeeping, with stand-in worker processes (no TensorFlow)."""
from __future__ import annotations

import subprocess
import sys
import time

from storage import RunStatus, Storage
from tuning.runner.engine import Engine, worker_alive

SPEC = {"strategy": {"name": "random", "max_trials": 1}}


class RecordingEngine(Engine):
    """Spawns a harmless sleeper instead of a real worker, and remembers what it launched."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.launched: list[int] = []

    def spawn(self, run_id: int) -> subprocess.Popen:
        self.launched.append(run_id)
        return fake_worker()


def fake_worker() -> subprocess.Popen:
    # "tuning.worker" in the command line is how the engine recognises its workers.
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # tuning.worker"])


def test_a_surviving_worker_counts_against_the_concurrency_of_a_restarted_engine(tmp_path):
    store = Storage(tmp_path / "t.db")
    survivor = store.create_run("survivor", SPEC)
    waiting = store.create_run("waiting", SPEC)
    sleeper = fake_worker()
    try:
        assert store.claim_run(survivor.id, sleeper.pid)
        assert worker_alive(sleeper.pid)
        engine = RecordingEngine(store.path, concurrency=1)
        engine.tick()
        assert engine.launched == []  # the survivor holds the only slot
        assert store.get_run(survivor.id).status is RunStatus.RUNNING  # and is left alone
    finally:
        sleeper.kill()
        sleeper.wait()
    later = time.time() + 60  # heartbeat long stale
    engine.clock = lambda: later
    engine.tick()
    assert store.get_run(survivor.id).status is RunStatus.INTERRUPTED
    assert engine.launched == [waiting.id]
    for proc in engine.workers.values():
        proc.kill()


def test_an_engine_for_one_run_ignores_others(tmp_path):
    store = Storage(tmp_path / "t.db")
    other = store.create_run("other", SPEC)
    mine = store.create_run("mine", SPEC)
    sleeper = fake_worker()
    try:
        store.claim_run(other.id, sleeper.pid)
        engine = RecordingEngine(store.path, run_filter=lambda rid: rid == mine.id)
        engine.tick()
        assert engine.launched == [mine.id]  # a CLI's run does not wait for the dashboard's
    finally:
        sleeper.kill()
        for proc in engine.workers.values():
            proc.kill()
