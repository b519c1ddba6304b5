"""A chief and two workers on loopback, on KerasTuner's own distributed engine."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.support.runs import ROOT, run_spec, start_spec, wait_for
from tuning.paths import run_dir
from tuning.runner.distributed import start_before_import, stop_workers

pytestmark = pytest.mark.slow


def spec(trials: int, epochs: int) -> dict:
    return {"name": "digits distributed", "seed": 3,
            "data": {"source": "sklearn", "name": "digits"}, "model": {"family": "mlp"},
            "search_space": {"units": {"type": "int", "min": 16, "max": 64, "step": 16},
                             "learning_rate": {"type": "float", "min": 0.001, "max": 0.01,
                                               "sampling": "log"}},
            "strategy": {"name": "random", "max_trials": trials, "workers": 2},
            "training": {"epochs": epochs, "batch_size": 64}}


def assert_each_epoch_once(storage: Storage, run_id: int, epochs: int) -> None:
    for t in storage.list_trials(run_id):
        seen = sorted((e.execution, e.epoch) for e in storage.list_epochs(run_id, t.id))
        assert seen == [(0, i) for i in range(epochs)], (t.trial_key, seen)


def test_chief_and_two_workers_record_every_trial_once_and_share_the_work(tmp_path):
    storage, run_id, result = run_spec(tmp_path, spec(trials=4, epochs=2))
    assert result.returncode == 0, result.stderr[-2000:]
    assert storage.get_run(run_id).status is RunStatus.COMPLETED
    trials = storage.list_trials(run_id)
    assert sorted(t.trial_key for t in trials) == ["0", "1", "2", "3"]
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    assert (run_dir(storage.path, run_id) / "best_model.keras").is_file()
    assert_each_epoch_once(storage, run_id, 2)
    assert {t.worker.split("@")[0] for t in trials} == {"tuner0", "tuner1"}


def test_a_worker_killed_mid_trial_is_restarted_and_the_run_completes(tmp_path):
    proc, storage, db, run_id = start_spec(tmp_path, spec(trials=5, epochs=12))
    # tuner0 is the chief itself (it trains too); kill a worker process.
    victim = wait_for(lambda: [t for t in storage.list_trials(run_id)
                               if t.status is TrialStatus.RUNNING and t.epochs_done >= 2
                               and t.worker.startswith("tuner1@")],
                      180, "a worker's trial mid-way")[0]
    os.kill(int(victim.worker.rsplit(":", 1)[1]), signal.SIGKILL)
    assert proc.wait(timeout=400) == 0
    assert storage.get_run(run_id).status is RunStatus.COMPLETED
    trials = storage.list_trials(run_id)
    assert len(trials) == 5 and all(t.status is TrialStatus.COMPLETED for t in trials)
    retried = storage.get_trial(victim.id)
    assert retried.worker != victim.worker  # a fresh process of the same tuner id ran it
    assert retried.worker.split("@")[0] == victim.worker.split("@")[0]
    assert_each_epoch_once(storage, run_id, 12)


def test_a_worker_on_another_machine_records_through_the_relay(tmp_path):
    """A worker started with only the relay's URL and token (no database) adds its trials.

    The run has far more trials than the two local workers finish while the remote one
    starts (its TensorFlow import alone takes seconds on a loaded machine); with 6 the
    local workers sometimes finished the run first and the remote worker had nothing to do."""
    from tuning.paths import run_dir

    proc, storage, db, run_id = start_spec(tmp_path, spec(trials=30, epochs=4))
    relay_file = run_dir(db, run_id) / "relay.json"
    wait_for(relay_file.exists, 120, "the chief's relay.json")
    command = json.loads(relay_file.read_text())["command"].replace("tuner<N>", "tuner9")
    assert "--db" not in command and "--token" in command
    args = command.split()[1:] + ["--workdir", str(tmp_path / "remote")]
    log = tmp_path / "remote.log"
    with log.open("w") as err:
        remote = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=err)
    assert proc.wait(timeout=600) == 0
    assert remote.wait(timeout=120) == 0, log.read_text()[-3000:]
    trials = storage.list_trials(run_id)
    assert len(trials) == 30 and all(t.status is TrialStatus.COMPLETED for t in trials)
    assert any(t.worker.startswith("tuner9@") for t in trials), [t.worker for t in trials]
    assert_each_epoch_once(storage, run_id, 4)
    cli_command = subprocess.run([sys.executable, "-m", "tuning", "--db", str(db),
                                  "worker-command", str(run_id)], cwd=ROOT, capture_output=True,
                                 text=True)
    assert cli_command.returncode == 2 and "not a running distributed run" in cli_command.stderr


def test_relay_refuses_a_wrong_token_and_other_runs_trials(tmp_path):
    from tuning.runner.relay import Relay, RemoteStorage

    storage = Storage(tmp_path / "t.db")
    mine = storage.create_run("mine", {"strategy": {"name": "random"}})
    other = storage.create_run("other", {"strategy": {"name": "random"}})
    foreign = storage.begin_trial(other.id, "0", 0, {"x": 1})
    relay = Relay(storage, mine.id, "127.0.0.1").start()
    try:
        remote = RemoteStorage(relay.url, relay.token, mine.id)
        trial = remote.begin_trial(mine.id, "0", 0, {"units": 8}, worker="tuner9@far")
        remote.record_epoch(trial.id, 0, 0, {"loss": 1.5, "val_loss": float("nan")})
        assert remote.control_flags(mine.id, trial.id) == (False, False)
        assert [e.metrics["loss"] for e in storage.list_epochs(mine.id, trial.id)] == [1.5]
        with pytest.raises(Exception, match="not part of run"):
            remote.record_epoch(foreign.id, 0, 0, {"loss": 9.0})
        assert storage.list_epochs(other.id) == []
        intruder = RemoteStorage(relay.url, "wrong-token", mine.id)
        with pytest.raises(RuntimeError, match="wrong or missing token"):
            intruder.list_trials(mine.id)
    finally:
        relay.stop()


def test_stop_and_resume_a_distributed_run(tmp_path):
    from tests.support.runs import cli

    proc, storage, db, run_id = start_spec(tmp_path, spec(trials=4, epochs=25))
    wait_for(lambda: len([t for t in storage.list_trials(run_id)
                          if t.status is TrialStatus.RUNNING and t.epochs_done >= 1]) == 2,
             180, "both workers mid-trial")
    assert cli(db, "stop", str(run_id)).returncode == 0
    assert proc.wait(timeout=120) == 3
    assert storage.get_run(run_id).status is RunStatus.STOPPED
    stopped = [t for t in storage.list_trials(run_id) if t.status is TrialStatus.STOPPED]
    assert len(stopped) == 2
    result = cli(db, "resume", str(run_id), "--quiet", timeout=400)
    assert result.returncode == 0, result.stderr[-2000:]
    trials = storage.list_trials(run_id)
    assert len(trials) == 4 and all(t.status is TrialStatus.COMPLETED for t in trials)
    assert_each_epoch_once(storage, run_id, 25)


def test_workers_start_before_the_chief_imports_tensorflow(tmp_path, monkeypatch):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT",
                 "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, "")  # so that monkeypatch restores it after the test
        monkeypatch.delenv(name)
    storage = Storage(tmp_path / "t.db")
    single = spec(trials=2, epochs=1)
    single["strategy"]["workers"] = 1
    one = storage.create_run("one", single)
    assert start_before_import(storage, one.id) is None
    assert "KERASTUNER_TUNER_ID" not in os.environ

    run = storage.create_run("two", spec(trials=2, epochs=1))
    folder = run_dir(storage.path, run.id)
    (folder / "kt").mkdir(parents=True)  # left by another database's run of the same id
    procs = start_before_import(storage, run.id)
    try:
        assert set(procs) == {"tuner1"} and procs["tuner1"].poll() is None
        assert os.environ["KERASTUNER_TUNER_ID"] == "chief"
        assert os.environ["KERASTUNER_ORACLE_IP"] == "127.0.0.1"
        assert not (folder / "kt").exists()  # claimed before any worker could write there
        assert json.loads((folder / "run.json").read_text())["created_at"] == run.created_at
    finally:
        stop_workers(procs)
        procs["tuner1"].wait(timeout=30)


def test_a_chief_host_that_is_not_this_machine_fails_the_run_with_the_fix(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("TUNING_ALLOW_REMOTE_CHIEF", "1")  # else the spec is refused first
    doc = spec(trials=2, epochs=1)
    doc["strategy"]["chief_host"] = "203.0.113.7"  # TEST-NET-3: never an address of ours
    storage, run_id, result = run_spec(tmp_path, doc)
    run = storage.get_run(run_id)
    assert run.status is RunStatus.FAILED, (run.status, result.stderr[-2000:])
    assert run.error.startswith("cannot serve the oracle: ")
    assert "strategy.chief_host" in run.error and storage.list_trials(run_id) == []
