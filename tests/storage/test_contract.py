"""The recording contract (``storage.Recorder``): one suite, run against every implementation.

``sqlite`` is ``storage.Storage`` on a file; ``relay`` is a ``RemoteStorage`` talking over
loopback to a real ``Relay`` in front of that file, as a worker on another machine does.
Each test records through the implementation and checks what a dashboard reading the file
(a second ``Storage``, its own connection) sees, and what the recorder itself reads back.
The rest of ``Store`` has one implementation; ``test_storage.py`` covers it.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import os
import threading
from collections.abc import Iterator
from types import MappingProxyType

import numpy as np
import pytest

from storage import NotFoundError, Recorder, RunStatus, Storage, Store, TrialStatus
from tuning.runner.relay import Relay, RemoteStorage

SPEC = {"name": "contract", "seed": 1, "objective": {"metric": "val_loss", "direction": "min"},
        "strategy": {"name": "random", "max_trials": 4},
        "search_space": {"units": {"type": "choice", "values": [16, 32]}}}


@dataclasses.dataclass
class Bench:
    recorder: Recorder   # what the worker records through
    dashboard: Storage   # a separate reader and controller of the same file
    run_id: int


@pytest.fixture(params=["sqlite", "relay"])
def bench(request, tmp_path) -> Iterator[Bench]:
    db = Storage(tmp_path / "contract.db")
    run = db.create_run("contract", SPEC)
    assert db.claim_run(run.id, pid=os.getpid())
    dashboard = Storage(db.path)
    if request.param == "sqlite":
        yield Bench(db, dashboard, run.id)
    else:
        relay = Relay(db, run.id, "127.0.0.1").start()
        try:
            yield Bench(RemoteStorage(relay.url, relay.token, run.id, timeout_s=10.0),
                        dashboard, run.id)
        finally:
            relay.stop()
    dashboard.close()
    db.close()


def _assert_read_only(mapping) -> None:
    assert isinstance(mapping, MappingProxyType)
    with pytest.raises(TypeError):
        mapping["new"] = 1


# -- the protocols themselves -----------------------------------------------------------

def _protocol_methods(protocol: type) -> list[str]:
    return sorted(name for name, value in inspect.getmembers(protocol, inspect.isfunction)
                  if not name.startswith("_"))


@pytest.mark.parametrize("implementation, protocol",
                         [(Storage, Store), (Storage, Recorder), (RemoteStorage, Recorder)],
                         ids=["Storage-Store", "Storage-Recorder", "RemoteStorage-Recorder"])
def test_implementation_accepts_every_call_of_its_protocol(implementation, protocol):
    """Each protocol parameter exists with the same kind and default; extras are optional."""
    methods = _protocol_methods(protocol)
    assert methods, protocol
    for name in methods:
        wanted = inspect.signature(getattr(protocol, name)).parameters
        given = inspect.signature(getattr(implementation, name)).parameters
        for param in wanted.values():
            assert param.name in given, f"{implementation.__name__}.{name} lacks {param.name}"
            got = given[param.name]
            assert got.kind == param.kind, f"{implementation.__name__}.{name}({param.name})"
            assert got.default == param.default, f"{implementation.__name__}.{name}({param.name})"
        extra = [p for p in given.values() if p.name not in wanted]
        assert all(p.default is not inspect.Parameter.empty for p in extra), (name, extra)


def test_both_implementations_are_recorders(bench):
    assert isinstance(bench.recorder, Recorder)
    assert isinstance(bench.recorder.path, str) and bench.recorder.path


# -- runs -------------------------------------------------------------------------------

def test_get_run_reads_the_runs_spec_and_status_as_frozen_values(bench):
    run = bench.recorder.get_run(bench.run_id)
    assert run.id == bench.run_id and run.status is RunStatus.RUNNING
    assert run.created_at == bench.dashboard.get_run(bench.run_id).created_at
    assert run.spec["objective"]["metric"] == "val_loss"
    assert run.spec["search_space"]["units"]["values"] == (16, 32)
    _assert_read_only(run.spec)
    _assert_read_only(run.spec["strategy"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = RunStatus.STOPPED


# -- trials -----------------------------------------------------------------------------

def test_begin_trial_returns_a_running_frozen_trial(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {"units": np.int64(32), "lr": np.float32(0.5),
                                                  "sizes": (8, 4)},
                          bracket=1, round=0, parent_key="p", worker="tuner9@far")
    assert trial.run_id == bench.run_id and trial.trial_key == "t0" and trial.number == 0
    assert trial.status is TrialStatus.RUNNING and trial.started_at is not None
    assert (trial.bracket, trial.round, trial.parent_key, trial.worker) == (1, 0, "p",
                                                                          "tuner9@far")
    assert (trial.score, trial.message, trial.finished_at) == (None, None, None)
    assert trial.epochs_done == 0 and not trial.cancel_requested and trial.flags == ()
    assert dict(trial.hyperparameters) == {"units": 32, "lr": 0.5, "sizes": (8, 4)}
    assert type(trial.hyperparameters["units"]) is int  # numpy scalars stored as numbers
    _assert_read_only(trial.hyperparameters)
    with pytest.raises(dataclasses.FrozenInstanceError):
        trial.score = 1.0
    assert bench.dashboard.get_trial(trial.id) == trial


def test_trials_are_listed_by_number_and_found_by_key(bench):
    r = bench.recorder
    for key, number in (("b", 2), ("z", 0), ("a", 1)):
        r.begin_trial(bench.run_id, key, number, {"units": number})
    assert [t.trial_key for t in r.list_trials(bench.run_id)] == ["z", "a", "b"]
    found = r.get_trial_by_key(bench.run_id, "a")
    assert found.number == 1 and found.hyperparameters["units"] == 1
    numbered = r.begin_trial(bench.run_id, "7", 3, {})
    assert r.get_trial_by_key(bench.run_id, 7).id == numbered.id  # any str()-able key


def test_beginning_a_key_again_restarts_the_trial_from_nothing(bench):
    r = bench.recorder
    first = r.begin_trial(bench.run_id, "t0", 0, {"units": 16})
    r.record_epoch(first.id, 0, 0, {"loss": 1.0})
    r.record_epoch(first.id, 0, 1, {"loss": 0.8})
    bench.dashboard.request_cancel(bench.run_id, "t0")
    r.finish_trial(first.id, TrialStatus.INTERRUPTED, score=0.8, message="worker died",
                   flags=["slow"])
    again = r.begin_trial(bench.run_id, "t0", 0, {"units": 32}, worker="w2")
    assert again.id == first.id and again.status is TrialStatus.RUNNING
    assert (again.score, again.message, again.flags, again.epochs_done) == (None, None, (), 0)
    assert not again.cancel_requested and again.worker == "w2"
    assert dict(again.hyperparameters) == {"units": 32}
    assert r.list_epochs(bench.run_id, again.id) == []
    assert len(bench.dashboard.list_trials(bench.run_id)) == 1


def test_a_trials_traceback_and_log_are_kept_whole_and_cleared_by_a_restart(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {"units": 16})
    trace = "Traceback (most recent call last):\n  File \"model.py\", line 3\nValueError: bad"
    r.record_trial_output(trial.id, traceback=trace, log="epoch 1\nepoch 2\n")
    r.record_trial_output(trial.id, log=None)  # None keeps what is there
    assert bench.dashboard.trial_output(trial.id) == (trace, "epoch 1\nepoch 2\n")
    r.begin_trial(bench.run_id, "t0", 0, {"units": 16})
    assert bench.dashboard.trial_output(trial.id) == (None, None)


# -- epochs -----------------------------------------------------------------------------

def test_epochs_are_stored_in_order_counted_and_frozen(bench):
    r = bench.recorder
    one = r.begin_trial(bench.run_id, "t0", 0, {})
    two = r.begin_trial(bench.run_id, "t1", 1, {})
    r.record_epoch(one.id, 0, 0, {"loss": np.float64(0.9), "acc": np.float32(0.5)})
    r.record_epoch(two.id, 0, 0, {"loss": 2.0})
    r.record_epoch(one.id, 1, 0, {"loss": 0.7, "acc": 1})
    epochs = r.list_epochs(bench.run_id)
    assert [(e.trial_id, e.execution, e.epoch) for e in epochs] == [
        (one.id, 0, 0), (two.id, 0, 0), (one.id, 1, 0)]
    assert dict(epochs[0].metrics) == {"loss": 0.9, "acc": 0.5}
    assert type(epochs[2].metrics["acc"]) is float
    assert all(e.run_id == bench.run_id and e.created_at > 0 for e in epochs)
    _assert_read_only(epochs[0].metrics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        epochs[0].epoch = 5
    assert [e.execution for e in r.list_epochs(bench.run_id, one.id)] == [0, 1]
    assert r.get_trial_by_key(bench.run_id, "t0").epochs_done == 2
    assert bench.dashboard.list_epochs(bench.run_id) == epochs


def test_a_diverged_epoch_keeps_its_metric_as_none_and_drops_what_is_not_a_number(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {})
    r.record_epoch(trial.id, 0, 0, {"loss": float("nan"), "val_loss": float("inf"),
                                    "acc": np.float32("nan"), "lr": "0.5", "note": "text"})
    (epoch,) = bench.dashboard.list_epochs(bench.run_id)
    assert dict(epoch.metrics) == {"loss": None, "val_loss": None, "acc": None, "lr": 0.5}
    assert r.list_epochs(bench.run_id) == [epoch]


def test_recording_an_epoch_again_replaces_it(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {})
    r.record_epoch(trial.id, 0, 3, {"loss": 1.0})
    r.record_epoch(trial.id, 0, 3, {"loss": 0.5})
    assert [dict(e.metrics) for e in r.list_epochs(bench.run_id)] == [{"loss": 0.5}]
    assert r.get_trial_by_key(bench.run_id, "t0").epochs_done == 1


# -- finishing --------------------------------------------------------------------------

def test_finish_trial_stores_score_metrics_message_and_flags(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {})
    r.finish_trial(trial.id, TrialStatus.COMPLETED, score=np.float64(0.25),
                   metrics={"val_loss": np.float32(0.25), "curve": [1, 2], "bad": float("nan")},
                   message="fine", flags=["overfitting"])
    (done,) = r.list_trials(bench.run_id)
    assert done.status is TrialStatus.COMPLETED and done.score == 0.25
    assert type(done.score) is float
    assert dict(done.metrics) == {"val_loss": 0.25, "curve": (1, 2), "bad": None}
    _assert_read_only(done.metrics)
    assert done.message == "fine" and done.flags == ("overfitting",)
    assert done.finished_at >= done.started_at
    assert bench.dashboard.get_trial(trial.id) == done
    assert bench.dashboard.get_run(bench.run_id).best_score == 0.25


def test_a_non_finite_score_is_stored_as_none(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {})
    r.finish_trial(trial.id, TrialStatus.FAILED, score=float("nan"), message="diverged")
    done = r.get_trial_by_key(bench.run_id, "t0")
    assert done.status is TrialStatus.FAILED and done.score is None
    assert done.message == "diverged" and dict(done.metrics) == {}


def test_finishing_again_overwrites_the_result_and_keeps_flags_unless_given(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {})
    r.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5, metrics={"m": 1},
                   flags=["noisy"])
    r.finish_trial(trial.id, TrialStatus.FAILED, message="hung")
    again = r.get_trial_by_key(bench.run_id, "t0")
    assert again.status is TrialStatus.FAILED and again.message == "hung"
    assert again.score is None and dict(again.metrics) == {}
    assert again.flags == ("noisy",)
    r.finish_trial(trial.id, TrialStatus.FAILED, flags=[])
    assert r.get_trial_by_key(bench.run_id, "t0").flags == ()


def test_finishing_with_hyperparameters_replaces_them_and_without_keeps_them(bench):
    """A define-by-run builder (or a HyperModel's fit) registers entries after the trial
    began: the finished record carries them."""
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {"layers": 2})
    r.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5,
                   hyperparameters={"layers": 2, "units_1": np.int64(16)})
    done = r.get_trial_by_key(bench.run_id, "t0")
    assert dict(done.hyperparameters) == {"layers": 2, "units_1": 16}
    r.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.6)
    assert dict(r.get_trial_by_key(bench.run_id, "t0").hyperparameters) == {
        "layers": 2, "units_1": 16}


def test_records_already_returned_never_change(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {"units": 16})
    listed = r.list_trials(bench.run_id)
    r.record_epoch(trial.id, 0, 0, {"loss": 1.0})
    r.finish_trial(trial.id, TrialStatus.COMPLETED, score=1.0)
    assert trial.status is TrialStatus.RUNNING and trial.epochs_done == 0
    assert listed[0].status is TrialStatus.RUNNING and listed[0].score is None
    now = r.get_trial_by_key(bench.run_id, "t0")
    assert now.status is TrialStatus.COMPLETED and now.epochs_done == 1


# -- controls ---------------------------------------------------------------------------

def test_control_flags_follow_the_dashboards_cancel_and_stop(bench):
    r = bench.recorder
    one = r.begin_trial(bench.run_id, "t0", 0, {})
    two = r.begin_trial(bench.run_id, "t1", 1, {})
    assert r.control_flags(bench.run_id) == (False, False)
    assert r.control_flags(bench.run_id, one.id) == (False, False)
    bench.dashboard.request_cancel(bench.run_id, "t0")
    assert r.control_flags(bench.run_id, one.id) == (False, True)
    assert r.control_flags(bench.run_id, two.id) == (False, False)
    assert r.control_flags(bench.run_id) == (False, False)
    bench.dashboard.request_stop(bench.run_id)
    assert r.control_flags(bench.run_id) == (True, False)
    assert r.control_flags(bench.run_id, one.id) == (True, True)
    assert r.get_run(bench.run_id).status is RunStatus.RUNNING  # stops after the epoch


# -- errors -----------------------------------------------------------------------------

def test_unknown_trials_raise_not_found(bench):
    r = bench.recorder
    with pytest.raises(NotFoundError):
        r.record_epoch(987654, 0, 0, {"loss": 1.0})
    with pytest.raises(NotFoundError):
        r.finish_trial(987654, TrialStatus.COMPLETED, score=1.0)
    with pytest.raises(NotFoundError):
        r.get_trial_by_key(bench.run_id, "never begun")
    assert r.list_trials(bench.run_id) == [] and r.list_epochs(bench.run_id) == []


def test_a_status_that_does_not_exist_is_refused_before_anything_is_written(bench):
    r = bench.recorder
    trial = r.begin_trial(bench.run_id, "t0", 0, {})
    with pytest.raises(ValueError):
        r.finish_trial(trial.id, "exploded", score=1.0)
    assert bench.dashboard.get_trial(trial.id).status is TrialStatus.RUNNING


# -- threads ----------------------------------------------------------------------------

def test_one_recorder_serves_several_threads(bench):
    """A worker's main thread, heartbeat and watchdog share one recorder."""
    r, errors = bench.recorder, []

    def work(n: int) -> None:
        try:
            trial = r.begin_trial(bench.run_id, f"t{n}", n, {"n": n})
            for epoch in range(5):
                r.record_epoch(trial.id, 0, epoch, {"loss": 1.0 / (epoch + 1)})
                r.control_flags(bench.run_id, trial.id)
                r.heartbeat(bench.run_id)
            r.finish_trial(trial.id, TrialStatus.COMPLETED, score=float(n))
        except BaseException as exc:  # reported below: a thread's exception is lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    trials = bench.dashboard.list_trials(bench.run_id)
    assert [t.trial_key for t in trials] == ["t0", "t1", "t2", "t3"]
    assert all(t.status is TrialStatus.COMPLETED and t.epochs_done == 5 for t in trials)
    for t in trials:
        curve = [e.metrics["loss"] for e in bench.dashboard.list_epochs(bench.run_id, t.id)]
        assert curve == [1.0 / (e + 1) for e in range(5)]
    assert math.isclose(sum(t.score for t in trials), 6.0)
