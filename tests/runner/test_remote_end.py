"""The end of a distributed run, seen from workers on other machines: the chief tells them
it is over before it stops serving, and a worker whose chief is gone leaves."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from storage import RunStatus, Storage
from tuning.runner.relay import Relay, RemoteStorage


@pytest.fixture
def db(tmp_path) -> Iterator[Storage]:
    store = Storage(tmp_path / "relay.db")
    yield store
    store.close()


def _running_run(db: Storage) -> int:
    run = db.create_run("remote", {"strategy": {"name": "random"}})
    assert db.claim_run(run.id, pid=os.getpid())
    return run.id


def _run_id(db: Storage) -> int:
    return db.list_runs()[0].id


def test_a_remote_worker_retiring_leaves_the_run_to_its_chief(db):
    relay = Relay(db, _running_run(db), "127.0.0.1").start()
    try:
        RemoteStorage(relay.url, relay.token, _run_id(db)).requeue_for_recycle(_run_id(db))
    finally:
        relay.stop()
    assert db.get_run(_run_id(db)).status is RunStatus.RUNNING


# -- the end of a run ---------------------------------------------------------------------

def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)  # polling with a deadline
    return False


def test_a_remote_worker_whose_chief_is_gone_leaves_instead_of_waiting_an_hour(db):
    from tuning.runner.relay import ChiefWatch

    live = Relay(db, _running_run(db), "127.0.0.1").start()
    exits: list[int] = []
    watch = ChiefWatch(live.url, live.token, _run_id(db), gone_s=0.3, poll_s=0.05,
                       exit=exits.append)
    watch.start()
    try:
        assert not _wait(lambda: exits, 0.6)  # the chief answers: the worker stays
        live.stop()
        assert _wait(lambda: exits == [1], 5.0)
    finally:
        watch.done.set()


class _Oracle:
    def __init__(self, ongoing, waiting):
        self.ongoing_trials, self.tuner_ids = dict(ongoing), set(waiting)


class _QuietRelay:
    last_request_at = -1e9


def test_the_chief_keeps_serving_until_its_remote_workers_are_told_the_run_is_over():
    import threading

    from tuning.runner.distributed import release_remote_workers

    oracle = _Oracle({"tuner9": object()}, {"tuner9", "tuner1"})
    done = threading.Event()
    release = threading.Thread(target=lambda: (release_remote_workers(
        oracle, _QuietRelay(), {"chief", "tuner0", "tuner1"}, stopped=False), done.set()))
    release.start()
    assert not done.wait(0.3)  # tuner9 is mid-trial
    oracle.ongoing_trials.clear()
    assert not done.wait(0.3)  # tuner9 has not asked for its next trial yet
    oracle.tuner_ids.discard("tuner9")  # KerasTuner answered it STOPPED
    assert done.wait(5.0)
    release.join()


def test_the_chief_stops_waiting_for_a_remote_worker_that_never_comes_back():
    from tuning.runner.distributed import release_remote_workers

    began = time.monotonic()
    release_remote_workers(_Oracle({}, {"tuner9"}), _QuietRelay(), {"tuner0"}, stopped=False,
                           linger_s=0.3)
    assert 0.3 <= time.monotonic() - began < 3
    began = time.monotonic()
    release_remote_workers(_Oracle({}, {"tuner9"}), _QuietRelay(), {"tuner0"}, stopped=True)
    assert time.monotonic() - began < 1  # a stopped run's workers leave on the stop flag
