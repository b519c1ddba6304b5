"""The hung-trial watchdog, with a fake storage and exit: what it records, and when."""
from __future__ import annotations

import time

from storage import TrialStatus
from tuning.runner.run_control import EXIT_RECYCLE, Watchdog
from tuning.runner.tool_context import ToolContext


class FakeStorage:
    def __init__(self):
        self.finished, self.requeued = [], []

    def finish_trial(self, trial_id, status, message=None, **_):
        self.finished.append((trial_id, status, message))

    def requeue_for_recycle(self, run_id):
        self.requeued.append(run_id)

    def begin_trial(self, run_id, key, number, values, worker=None):
        return type("Trial", (), {"id": 41})()

    def list_trials(self, run_id):
        return []


def watch(storage, current, limit=2.0):
    exits = []
    dog = Watchdog(storage, 7, limit, current, exit=exits.append, poll_s=0.01)
    dog.start()
    return dog, exits


def test_a_trial_past_its_limit_and_grace_is_failed_and_the_run_requeued():
    storage = FakeStorage()
    dog, exits = watch(storage, lambda: (time.monotonic() - 60, 12))
    dog.join(timeout=5)
    assert not dog.is_alive()
    (finished,) = storage.finished
    assert finished[:2] == (12, TrialStatus.FAILED)
    assert finished[2].startswith("hung: no progress for 60 s, past the per-trial time limit "
                                  "of 2 s")
    assert storage.requeued == [7] and exits == [EXIT_RECYCLE]


def test_between_trials_and_within_the_grace_nothing_happens():
    storage = FakeStorage()
    dog, exits = watch(storage, lambda: (None, None))
    dog.join(timeout=0.1)
    assert dog.is_alive() and not storage.finished and not exits
    assert Watchdog(storage, 7, 2.0, lambda: (None, None)).deadline == 7.0  # 2 s + 5 s grace
    assert Watchdog(storage, 7, 100.0, lambda: (None, None)).deadline == 125.0
    dog2, exits2 = watch(storage, lambda: (time.monotonic() - 3, 12))  # past 2 s, not 7 s
    dog2.join(timeout=0.1)
    assert dog2.is_alive() and not storage.finished and not exits2


def test_a_tool_context_shows_the_watchdog_its_trial_in_flight():
    storage = FakeStorage()
    ctx = ToolContext(storage, 7, {"trial_time_limit_s": 2}, None, "", "w",
                      clock=time.monotonic)
    assert ctx.trial_in_flight() == (None, None)
    trial_id = ctx.begin_trial("bs-16", {})
    started, current = ctx.trial_in_flight()
    assert current == trial_id == 41 and abs(time.monotonic() - started) < 1
    ctx.finish_trial(trial_id, TrialStatus.COMPLETED)
    assert ctx.trial_in_flight() == (None, None)


def test_a_distributed_workers_watchdog_fails_the_trial_and_leaves_the_run_to_its_chief(
        tmp_path):
    """Requeueing the run from a worker would queue it under its running chief."""
    import os

    from storage import RunStatus, Storage
    from tuning.runner.distributed import JoinedRecorder

    db = Storage(tmp_path / "w.db")
    run = db.create_run("distributed", {"strategy": {"name": "random", "workers": 2}})
    assert db.claim_run(run.id, pid=os.getpid())
    trial = db.begin_trial(run.id, "0", 0, {})
    exits = []
    dog = Watchdog(JoinedRecorder(db), run.id, 2.0, lambda: (time.monotonic() - 60, trial.id),
                   exit=exits.append, poll_s=0.01)
    dog.start()
    dog.join(timeout=5)
    assert exits == [EXIT_RECYCLE]
    assert db.get_trial(trial.id).status is TrialStatus.FAILED
    assert db.get_run(run.id).status is RunStatus.RUNNING
