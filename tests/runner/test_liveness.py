"""The one rule for "the run's worker is gone", with stand-in processes (no TensorFlow)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import pytest

from storage import InvalidTransitionError, RunStatus, Storage
from tuning import cli
from tuning.runner import liveness
from tuning.runner.control import delete_run, resume_run, stop_run
from tuning.runner.engine import Engine
from tuning.runner.liveness import holder_gone, identity_alive, mark_orphans, process_identity

SPEC = {"strategy": {"name": "random", "max_trials": 1}}


def _lookalike() -> subprocess.Popen:
    # "tuning.worker" in its command line: what the pid-only check took for a worker.
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # tuning.worker"])


def _with_start(identity: str, start: str) -> str:
    return identity.rsplit("/", 1)[0] + "/" + start


@pytest.fixture
def store(tmp_path):
    return Storage(tmp_path / "t.db")


def test_an_identity_is_alive_exactly_while_its_process_is():
    assert identity_alive(process_identity()) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    assert identity is not None
    # Not reaped yet: once it exits it is a zombie (as under a container's pid 1): gone.
    deadline = time.monotonic() + 30
    while identity_alive(identity) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert identity_alive(identity) is False
    assert os.path.exists(f"/proc/{child.pid}"), "the zombie was reaped before the check"
    child.wait()
    assert identity_alive(identity) is False
    assert process_identity(child.pid) is None or process_identity(child.pid) != identity


def test_a_reused_pid_does_not_keep_a_dead_run_running(store):
    """The worker died; its pid now belongs to another process that even looks like a
    worker. Its start time differs, so the run is interrupted, heartbeat fresh or not."""
    run = store.create_run("r", SPEC)
    newcomer = _lookalike()
    try:
        dead_worker = _with_start(process_identity(newcomer.pid), "1")
        assert store.claim_run(run.id, newcomer.pid, identity=dead_worker)
        assert liveness.worker_alive(newcomer.pid), "the pid-only check is fooled"
        assert holder_gone(store.get_run(run.id))
        Engine(store.path).tick()
        after = store.get_run(run.id)
        assert after.status is RunStatus.INTERRUPTED and "disappeared" in after.error
    finally:
        newcomer.kill()
        newcomer.wait()


def test_a_run_from_before_a_reboot_is_gone_even_with_its_pid_alive(store):
    run = store.create_run("r", SPEC)
    boot = process_identity().split("/")[2]
    before_reboot = process_identity().replace(f"/{boot}/", "/an-earlier-boot/")
    assert store.claim_run(run.id, os.getpid(), identity=before_reboot)
    assert identity_alive(before_reboot) is False
    assert mark_orphans(store) == [run.id]


def test_where_the_identity_cannot_be_checked_the_heartbeat_decides(store):
    run = store.create_run("r", SPEC)
    elsewhere = process_identity().replace(process_identity().split("/")[1], "another-host", 1)
    assert identity_alive(elsewhere) is None
    assert store.claim_run(run.id, 1, identity=elsewhere)
    fresh = store.get_run(run.id)
    assert not holder_gone(fresh)
    assert holder_gone(fresh, now=fresh.heartbeat_at + liveness.STALE_HEARTBEAT_S + 1)


def test_a_live_holder_is_left_alone_and_a_resumed_run_is_not_interrupted_late(store):
    run = store.create_run("r", SPEC)
    assert store.claim_run(run.id, os.getpid(), identity=process_identity())
    assert mark_orphans(store) == []
    # A snapshot read while a dead worker held the run; since then it was resumed.
    stale_view = store.get_run(run.id)
    store.mark_interrupted(run.id, "gone")
    store.requeue(run.id)
    newcomer = _lookalike()
    try:
        assert store.claim_run(run.id, newcomer.pid, identity=process_identity(newcomer.pid))
        dead = dataclasses.replace(
            stale_view, worker_identity=_with_start(stale_view.worker_identity, "1"))
        assert mark_orphans(store, [dead]) == []
        assert store.get_run(run.id).status is RunStatus.RUNNING
    finally:
        newcomer.kill()
        newcomer.wait()


def _claim_by_dead_worker(store: Storage) -> int:
    run = store.create_run("r", SPEC)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    assert store.claim_run(run.id, child.pid, identity=identity)
    return run.id


def test_the_cli_list_shows_a_run_with_a_dead_worker_interrupted(store, capsys):
    run_id = _claim_by_dead_worker(store)
    assert cli.main(["--db", store.path, "list"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.split()[0] == str(run_id)]
    assert row and row[0].split()[1] == "interrupted", row
    assert store.get_run(run_id).status is RunStatus.INTERRUPTED


def test_resuming_a_run_whose_worker_died_queues_it(store):
    run_id = _claim_by_dead_worker(store)
    assert resume_run(store, run_id).status is RunStatus.QUEUED


def test_resuming_a_queued_run_leaves_it_queued_and_a_live_one_is_refused(store):
    queued = store.create_run("q", SPEC)
    assert resume_run(store, queued.id).status is RunStatus.QUEUED
    live = store.create_run("l", SPEC)
    assert store.claim_run(live.id, os.getpid(), identity=process_identity())
    with pytest.raises(Exception, match="running"):
        resume_run(store, live.id)


def test_stopping_or_deleting_a_run_whose_worker_died_needs_no_dashboard(store):
    stuck = _claim_by_dead_worker(store)
    with pytest.raises(InvalidTransitionError, match="no worker any more"):
        stop_run(store, stuck)
    assert store.get_run(stuck).status is RunStatus.INTERRUPTED
    other = _claim_by_dead_worker(store)
    delete_run(store, other)
    assert [r.id for r in store.list_runs()] == [stuck]
