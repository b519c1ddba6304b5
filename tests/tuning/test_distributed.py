"""A chief and two workers on loopback, on KerasTuner's own distributed engine."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.tuning.runner import ROOT, run_spec, wait_for

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
    assert_each_epoch_once(storage, run_id, 2)
    assert {t.worker.split("@")[0] for t in trials} == {"tuner0", "tuner1"}


def test_a_worker_killed_mid_trial_is_restarted_and_the_run_completes(tmp_path):
    db = tmp_path / "t.db"
    (tmp_path / "spec.json").write_text(json.dumps(spec(trials=5, epochs=12)))
    proc = subprocess.Popen([sys.executable, "-m", "tuning", "--db", str(db), "run",
                             str(tmp_path / "spec.json"), "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    storage = wait_for(lambda: db.exists() and Storage(db), 30, "database")
    run_id = wait_for(lambda: storage.list_runs() and storage.list_runs()[0].id, 30, "run")
    victim = wait_for(lambda: [t for t in storage.list_trials(run_id)
                               if t.status is TrialStatus.RUNNING and t.epochs_done >= 2],
                      180, "a trial mid-way")[0]
    os.kill(int(victim.worker.rsplit(":", 1)[1]), signal.SIGKILL)
    assert proc.wait(timeout=400) == 0
    assert storage.get_run(run_id).status is RunStatus.COMPLETED
    trials = storage.list_trials(run_id)
    assert len(trials) == 5 and all(t.status is TrialStatus.COMPLETED for t in trials)
    retried = storage.get_trial(victim.id)
    assert retried.worker != victim.worker  # a fresh process of the same tuner id ran it
    assert retried.worker.split("@")[0] == victim.worker.split("@")[0]
    assert_each_epoch_once(storage, run_id, 12)
