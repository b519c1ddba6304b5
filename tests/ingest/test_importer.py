"""Importing KerasTuner project folders: hand-written folders (fast) and folders the four
watched examples wrote (slow, shared with test_watch.py through conftest.py)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.support.kt_folders import (
    hyperband_project,
    keras_metrics,
    random_project,
    trial,
    write_project,
)
from tuning import cli
from tuning.ingest.importer import ProjectImportError, import_project, read_project
from tuning.ingest.kt_project import grid_size, infer_objective, search_space
from tuning.insights.reports import best_params_json, html_report, markdown_summary, rebuild_script


def test_a_project_becomes_a_completed_run(storage: Storage, tmp_path: Path):
    folder = random_project(tmp_path / "random_search_dir" / "random_search")
    run = import_project(storage, folder)
    assert run.status is RunStatus.COMPLETED and run.error is None
    assert run.name == "random_search" and run.strategy == "random"
    assert run.trials_done == 3 and run.max_trials == 3 and run.best_score == pytest.approx(0.74)
    assert dict(run.spec["objective"]) == {"metric": "val_accuracy", "direction": "max"}
    assert run.spec["data"]["source"] == "keras_tuner_project"
    assert run.spec["data"]["path"] == str(folder)
    assert run.spec["model"] == {"family": "custom", "kind": "keras"}
    assert dict(run.spec["search_space"]["units"]) == {"type": "int", "min": 8, "max": 32,
                                                       "step": 8, "sampling": "linear"}
    trials = {t.trial_key: t for t in storage.list_trials(run.id)}
    assert {k: t.status for k, t in trials.items()} == {
        "0": TrialStatus.COMPLETED, "1": TrialStatus.COMPLETED, "2": TrialStatus.FAILED}
    assert trials["2"].message == "ValueError: bad units" and trials["2"].score is None
    assert trials["1"].metrics["val_loss"] == pytest.approx(1.26)
    assert dict(trials["0"].hyperparameters) == {"units": 16, "act": "relu", "lr": 0.002}
    # The saved observation of each execution becomes an epoch row at its step.
    epochs = storage.list_epochs(run.id, trials["0"].id)
    assert [(e.execution, e.epoch) for e in epochs] == [(0, 2), (1, 2)]
    assert epochs[0].metrics["val_accuracy"] == pytest.approx(0.61)


def test_hyperband_brackets_rounds_and_parents_are_recovered(storage: Storage, tmp_path: Path):
    run = import_project(storage, hyperband_project(tmp_path / "hb"))
    assert run.strategy == "hyperband" and run.max_trials == 6
    assert run.spec["strategy"]["factor"] == 3 and run.spec["training"]["epochs"] == 3
    trials = {t.trial_key: t for t in storage.list_trials(run.id)}
    assert trials["0003"].parent_key == "0002" and trials["0003"].round == 1
    assert trials["0003"].bracket == 1 and trials["0004"].bracket == 0
    assert trials["0004"].number == 4
    assert [e.epoch for e in storage.list_epochs(run.id, trials["0003"].id)] == [2]
    assert run.best_score == pytest.approx(0.70)


def test_importing_again_updates_the_same_run(storage: Storage, tmp_path: Path):
    folder = write_project(tmp_path / "p", [
        trial("0", {"units": 8, "act": "relu", "lr": 0.002}, 0.5),
        trial("1", {"units": 16, "act": "tanh", "lr": 0.004}, None, status="RUNNING"),
    ])
    first = import_project(storage, folder)
    assert first.error == "imported; 1 trial(s) were still running when the project was saved"
    running = storage.get_trial_by_key(first.id, "1")
    assert running.status is TrialStatus.INTERRUPTED and "trains it again" in running.message
    untouched = storage.get_trial_by_key(first.id, "0")
    # The search went on: trial 1 finished and trial 2 ran.
    write_project(folder, [
        trial("0", {"units": 8, "act": "relu", "lr": 0.002}, 0.5),
        trial("1", {"units": 16, "act": "tanh", "lr": 0.004}, 0.8),
        trial("2", {"units": 24, "act": "relu", "lr": 0.006}, 0.6),
    ])
    again = import_project(storage, str(folder) + "/", name="renamed")
    assert again.id == first.id and len(storage.list_runs()) == 1
    assert again.name == "renamed" and again.error is None
    assert again.trials_done == 3 and again.best_score == pytest.approx(0.8)
    assert storage.get_trial_by_key(again.id, "1").status is TrialStatus.COMPLETED
    assert storage.get_trial_by_key(again.id, "0").rev == untouched.rev  # not rewritten
    assert import_project(storage, folder).name == "renamed"
    assert len(storage.list_runs()) == 1


def test_a_folder_overwritten_by_another_search_is_a_new_run(storage: Storage, tmp_path: Path):
    folder = random_project(tmp_path / "p")
    first = import_project(storage, folder)
    write_project(folder, [trial("0", {"units": 32, "act": "tanh", "lr": 0.01}, 0.9)], seed=99)
    second = import_project(storage, folder)
    assert second.id != first.id and len(storage.list_runs()) == 2


def test_grid_search_and_bayesian_folders_name_their_strategy(storage: Storage, tmp_path: Path):
    grid_space = [{"class_name": "Choice", "config": {
        "name": "units", "default": 8, "conditions": [], "values": [8, 16], "ordered": True}}]
    grid = write_project(tmp_path / "grid", [
        dict(trial("0", {"units": 8}, 0.5), hyperparameters={"space": grid_space,
                                                             "values": {"units": 8}}),
        dict(trial("1", {"units": 16}, 0.6), hyperparameters={"space": grid_space,
                                                              "values": {"units": 16}}),
    ])
    oracle = json.loads((grid / "oracle.json").read_text())
    oracle["hyperparameters"]["space"] = grid_space
    (grid / "oracle.json").write_text(json.dumps(oracle))
    run = import_project(storage, grid)
    assert run.strategy == "grid" and run.max_trials == 2
    bayes = write_project(tmp_path / "bo", [
        trial("0", {"units": 8, "act": "relu", "lr": 0.002}, 1.2,
              metrics_config={"metrics": {"val_loss": {"direction": "min", "observations": [
                  {"value": [1.2], "step": 4}]}}})], num_initial_points=None, alpha=1e-4, beta=2.6)
    run = import_project(storage, bayes)
    assert run.strategy == "bayesian" and run.direction == "min"


@pytest.mark.parametrize("damage, expected", [
    ("corrupt_trial", ["trial_1/trial.json is not valid JSON", "delete its folder trial_1"]),
    ("trial_fields", ["trial_0/trial.json: status must be one of COMPLETED", "restore it"]),
    ("corrupt_oracle", ["oracle.json is not valid JSON", "run the search again"]),
    ("oracle_fields", ["oracle.json: hyperparameters must be an object; got null",
                       "not written by KerasTuner"]),
    ("no_oracle", ["not a KerasTuner project: it has no oracle.json", "<project_name>"]),
    ("random_folder", ["not a KerasTuner project", "trial_* folders"]),
    ("parent_folder", ["its subfolder(s) p do: pass one of them"]),
    ("missing", ["the folder does not exist"]),
    ("a_file", ["this is a file, not a folder"]),
])
def test_a_damaged_or_foreign_folder_is_refused_with_the_file_and_the_fix(
        storage: Storage, tmp_path: Path, damage: str, expected: list[str]):
    folder = random_project(tmp_path / "dir" / "p")
    target = folder
    if damage == "corrupt_trial":
        (folder / "trial_1" / "trial.json").write_text('{"trial_id": "1", ')
    elif damage == "trial_fields":
        state = json.loads((folder / "trial_0" / "trial.json").read_text())
        del state["status"]
        (folder / "trial_0" / "trial.json").write_text(json.dumps(state))
    elif damage == "corrupt_oracle":
        (folder / "oracle.json").write_text("not json at all")
    elif damage == "oracle_fields":
        (folder / "oracle.json").write_text(json.dumps({"seed": 1}))
    elif damage == "no_oracle":
        (folder / "oracle.json").unlink()
    elif damage == "random_folder":
        target = tmp_path / "photos"
        target.mkdir()
        (target / "cat.jpg").write_bytes(b"\xff\xd8")
    elif damage == "parent_folder":
        target = folder.parent
    elif damage == "missing":
        target = tmp_path / "nowhere"
    elif damage == "a_file":
        target = folder / "oracle.json"
    with pytest.raises(ProjectImportError) as info:
        import_project(storage, target)
    message = str(info.value)
    assert message.startswith("cannot import ")
    for text in expected:
        assert text in message
    assert storage.list_runs() == []  # nothing written


def test_every_damaged_file_is_listed_at_once(tmp_path: Path):
    folder = random_project(tmp_path / "p")
    (folder / "trial_0" / "trial.json").write_text("[]")
    (folder / "trial_2" / "trial.json").write_text("{")
    with pytest.raises(ProjectImportError) as info:
        read_project(folder)
    assert len(info.value.problems) == 2
    assert "trial_0/trial.json: the document must be a JSON object (KerasTuner's trial " \
        "state); got []" in str(info.value)


def test_cli_import_prints_the_run_and_exits_2_on_a_bad_folder(tmp_path: Path, capsys):
    db = str(tmp_path / "t.db")
    folder = random_project(tmp_path / "p")
    assert cli.main(["--db", db, "import", str(folder), "--name", "mine"]) == 0
    assert "run 1 imported: mine (random, 3 trials, best 0.74)" in capsys.readouterr().out
    assert cli.main(["--db", db, "import", str(folder)]) == 0
    assert cli.main(["--db", db, "import", str(tmp_path)]) == 2
    assert "error: cannot import" in capsys.readouterr().err
    assert len(Storage(db).list_runs()) == 1


def test_reports_of_a_custom_run_print_the_best_hyperparameters(storage: Storage,
                                                                tmp_path: Path):
    run = import_project(storage, random_project(tmp_path / "p"))
    trials = storage.list_trials(run.id)
    script = rebuild_script(run, trials)
    compile(script, "rebuild.py", "exec")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "cannot rebuild it" in result.stdout
    assert "units = 32" in result.stdout and "act = 'tanh'" in result.stdout
    assert "Trial 1 (number 1)" in markdown_summary(run, trials)
    assert json.loads(best_params_json(run, trials))["best_trial"]["trial_key"] == "1"
    assert "<html" in html_report(run, trials, storage.list_epochs(run.id))


def test_search_space_translation_covers_every_hyperparameter_class():
    config = {"space": [
        {"class_name": "Int", "config": {"name": "n", "min_value": 1, "max_value": 9, "step": 1,
                                         "sampling": "linear", "default": 3}},
        {"class_name": "Float", "config": {"name": "lr", "min_value": 1e-4, "max_value": 1e-1,
                                           "step": None, "sampling": "reverse_log"}},
        {"class_name": "Choice", "config": {"name": "opt", "values": ["adam", "sgd"],
                                            "default": "adam"}},
        {"class_name": "Boolean", "config": {"name": "bn", "default": True}},
        {"class_name": "Fixed", "config": {"name": "k", "value": 3}},
        {"class_name": "Int", "config": {"name": "units_1", "min_value": 8, "max_value": 16,
                                         "step": 8, "sampling": "linear", "conditions": [
                                             {"class_name": "Parent", "config": {
                                                 "name": "n", "values": [2]}}]}},
        {"class_name": "Mystery", "config": {"name": "x"}},
    ], "values": {}}
    space = search_space(config)
    assert space["n"] == {"type": "int", "min": 1, "max": 9, "sampling": "linear", "default": 3}
    assert space["lr"] == {"type": "float", "min": 1e-4, "max": 0.1, "sampling": "log"}
    assert space["opt"] == {"type": "choice", "values": ["adam", "sgd"], "default": "adam"}
    assert space["bn"] == {"type": "bool", "default": True}
    assert space["k"] == {"type": "fixed", "value": 3}
    assert space["units_1"]["conditions"][0]["config"]["name"] == "n"
    assert "x" not in space
    assert grid_size({k: v for k, v in space.items() if k != "lr"}) == 9 * 2 * 2 * 2
    assert grid_size(space) is None


def test_objective_is_the_metric_each_score_matches():
    trials = [trial("0", {}, 0.7), trial("1", {}, 0.8)]
    assert infer_objective(trials) == {"metric": "val_accuracy", "direction": "max"}
    assert infer_objective([trial("0", {}, None, status="FAILED")]) == {
        "metric": "score", "direction": "max"}
    summed = trial("0", {}, 9.9, metrics_config=keras_metrics(0.7))  # a sum of objectives
    assert infer_objective([summed]) == {"metric": "multi_objective", "direction": "min"}


# -- folders written by the watched examples ---------------------------------------------

STRATEGIES = {"random": "random", "bayesian": "bayesian", "hyperband": "hyperband",
              "grid": "grid", "sklearn": "bayesian"}


@pytest.mark.slow
def test_folders_written_by_each_tuner_import_with_their_trials_and_best_score(
        watched_examples, tmp_path: Path):
    store = Storage(tmp_path / "imports.db")
    watched = Storage(watched_examples.db)
    ids = {}
    for key, strategy in STRATEGIES.items():
        report = watched_examples.report[key]
        run = import_project(store, report["project"])
        ids[key] = run.id
        assert run.strategy == strategy, key
        assert run.trials_done == report["trials"], key
        assert run.best_score == pytest.approx(report["best"]), key
        # Same objective, space and trials as the watched run recorded.
        live = watched.get_run(report["run_id"])
        assert dict(run.spec["objective"]) == dict(live.spec["objective"]), key
        assert run.spec["search_space"] == live.spec["search_space"], key
        imported = {t.trial_key: (t.status, t.score, dict(t.hyperparameters))
                    for t in store.list_trials(run.id)}
        recorded = {t.trial_key: (t.status, t.score, dict(t.hyperparameters))
                    for t in watched.list_trials(live.id)}
        assert imported.keys() == recorded.keys(), key
        for k, (status, score, values) in recorded.items():
            assert imported[k][0] is status and imported[k][2] == values, (key, k)
            assert imported[k][1] == pytest.approx(score), (key, k)
    assert store.get_run(ids["sklearn"]).spec["model"]["kind"] == "sklearn"
    hyperband = store.list_trials(ids["hyperband"])
    assert {t.bracket for t in hyperband} == {0, 1} and any(t.parent_key for t in hyperband)
    # Importing every folder again changes nothing and adds no run.
    for key in STRATEGIES:
        assert import_project(store, watched_examples.report[key]["project"]).id == ids[key]
    assert len(store.list_runs()) == len(STRATEGIES)


@pytest.mark.parametrize("settings", [
    {"factor": 1}, {"factor": 0}, {"factor": -3}, {"factor": 2.5}, {"factor": float("inf")},
    {"factor": float("nan")}, {"max_epochs": 0}, {"max_epochs": 10**12},
    {"hyperband_iterations": 0}, {"factor": "3"}, {"factor": True},
])
def test_hyperband_settings_no_search_could_run_plan_no_trial_count(settings):
    """An oracle.json may say anything: such settings give no trial count, at once (a
    factor of 1 used to loop forever in the dashboard's process)."""
    from tuning.ingest.kt_project import strategy_section
    from tuning.strategies.hyperband import hyperband_trials

    good = {"max_epochs": 3, "factor": 3, "hyperband_iterations": 1}
    assert hyperband_trials(good) == 6  # KerasTuner's own count for these settings
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("hyperband_trials did not return"))
    signal.alarm(5)
    try:
        assert hyperband_trials({**good, **settings}) is None
        # The importer reads oracle.json's numbers as ints: "3" and 2.5 pass as 3 and 2.
        planned = strategy_section("hyperband", {**good, **settings}, {})["max_trials"]
        assert planned is None if settings not in ({"factor": "3"}, {"factor": 2.5}) else planned > 0
    finally:
        signal.alarm(0)


def test_every_layout_kerastuner_writes_passes_the_checks(storage: Storage, tmp_path: Path):
    """The checks refuse what KerasTuner cannot write, never what it does: every class with
    conditions, log steps, reverse_log, booleans, a diverged (NaN) epoch, a failed trial's
    null score, an empty parent id, a traceback holding what UTF-8 cannot."""
    space = [
        {"class_name": "Int", "config": {"name": "filters", "default": None, "conditions": [],
                                         "min_value": 8, "max_value": 64, "step": 2,
                                         "sampling": "log"}},
        {"class_name": "Float", "config": {"name": "decay", "default": None, "conditions": [],
                                           "min_value": 0.5, "max_value": 0.999, "step": None,
                                           "sampling": "reverse_log"}},
        {"class_name": "Choice", "config": {"name": "bn", "default": True, "conditions": [],
                                            "values": [True, False], "ordered": False}},
        {"class_name": "Boolean", "config": {"name": "residual", "default": False,
                                             "conditions": []}},
        {"class_name": "Fixed", "config": {"name": "optimizer", "value": "adam",
                                           "conditions": []}},
        {"class_name": "Int", "config": {"name": "units_1", "default": 16, "min_value": 16,
                                         "max_value": 32, "step": 16, "sampling": "linear",
                                         "conditions": [{"class_name": "Parent", "config": {
                                             "name": "filters", "values": [16, 32]}}]}},
    ]
    values = {"filters": 16, "decay": 0.9, "bn": True, "residual": False, "optimizer": "adam",
              "units_1": 16, "tuner/trial_id": ""}
    diverged = keras_metrics(0.7)
    diverged["metrics"]["val_loss"]["observations"].append({"value": [float("nan")], "step": 3})
    trials = [dict(trial("00", values, 0.7, metrics_config=diverged),
                   hyperparameters={"space": space, "values": values}),
              dict(trial("01", values, None, status="FAILED",
                         message="Traceback\nValueError: bad \udcff byte"),
                   hyperparameters={"space": space, "values": values})]
    folder = write_project(tmp_path / "layouts", trials)
    oracle = json.loads((folder / "oracle.json").read_text())
    oracle["hyperparameters"]["space"] = space
    (folder / "oracle.json").write_text(json.dumps(oracle))
    run = import_project(storage, folder)
    assert run.trials_done == 2 and run.best_score == pytest.approx(0.7)
    assert run.spec["search_space"]["units_1"]["conditions"][0]["config"]["name"] == "filters"
    assert run.spec["search_space"]["filters"]["step"] == 2
    failed = storage.get_trial_by_key(run.id, "01")
    assert failed.message == "ValueError: bad \ufffd byte" and failed.parent_key is None
    epochs = storage.list_epochs(run.id, storage.get_trial_by_key(run.id, "00").id)
    assert [e.epoch for e in epochs] == [1]  # the NaN epoch is left out
