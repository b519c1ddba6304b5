"""Downloads of tuning.insights.reports: CSV, JSON, Markdown, the offline HTML report and the
rebuild script, from runs in a real SQLite storage."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time

import pandas as pd
import pytest

from storage import Storage, TrialStatus
from tuning.insights import reports
from tuning.paths import run_dir
from tuning.spec import validate_spec

XSS = "<script>alert(1)</script>"
MLP_SPACE = {
    "num_layers": {"type": "int", "min": 1, "max": 2},
    "units": {"type": "int", "min": 8, "max": 32, "step": 8},
    "units_1": {"type": "int", "min": 8, "max": 16, "step": 8},
    "activation": {"type": "choice", "values": ["relu", "tanh"]},
    "learning_rate": {"type": "float", "min": 1e-3, "max": 1e-1, "sampling": "log"},
    "l2": {"type": "fixed", "value": 0.0001},
}
SVM_SPACE = {
    "C": {"type": "float", "min": 0.01, "max": 100.0, "sampling": "log"},
    "kernel": {"type": "choice", "values": ["rbf", "linear"]},
}


def mlp_run(store: Storage, name: str = "digits mlp", strategy: dict | None = None):
    spec = validate_spec({
        "name": name, "data": {"source": "sklearn", "name": "digits"},
        "model": {"family": "mlp"}, "search_space": MLP_SPACE,
        "strategy": strategy or {"name": "random", "max_trials": 8},
        "training": {"epochs": 3, "batch_size": 64}})
    run = store.create_run(name, spec)
    assert store.claim_run(run.id, pid=1)
    return run


def svm_run(store: Storage, name: str = "iris svm"):
    spec = validate_spec({
        "name": name, "data": {"source": "sklearn", "name": "iris"},
        "model": {"family": "svm"}, "search_space": SVM_SPACE,
        "strategy": {"name": "random", "max_trials": 4, "cv_folds": 3}})
    run = store.create_run(name, spec)
    assert store.claim_run(run.id, pid=1)
    return run


def add_mlp_trials(store: Storage, run_id: int, scores: list[float | None],
                   hyperband: bool = False) -> None:
    for number, score in enumerate(scores):
        hps = {"num_layers": 1 + number % 2, "units": 8 * (number + 1), "units_1": 8,
               "activation": ["relu", "tanh"][number % 2], "learning_rate": 10 ** -(1 + number % 3),
               "l2": 0.0001}
        where = {}
        if hyperband:
            hps.update({"tuner/epochs": 2, "tuner/initial_epoch": 0, "tuner/bracket": 1,
                        "tuner/round": 1 if number == len(scores) - 1 else 0})
            where = {"bracket": 1, "round": hps["tuner/round"],
                     "parent_key": "t01" if number == len(scores) - 1 else None}
        trial = store.begin_trial(run_id, f"t{number:02d}", number, hps, **where)
        for epoch in range(3):
            store.record_epoch(trial.id, 0, epoch, {
                "loss": 1.0 / (epoch + 1), "accuracy": 0.5 + 0.1 * epoch,
                "val_loss": 1.1 / (epoch + 1), "val_accuracy": 0.45 + 0.1 * epoch})
        if score is None:
            store.finish_trial(trial.id, TrialStatus.FAILED, message="<b>out of memory</b>")
        else:
            store.finish_trial(trial.id, TrialStatus.COMPLETED, score=score,
                               metrics={"val_accuracy": score, "val_loss": 1 - score})


def add_svm_trials(store: Storage, run_id: int) -> None:
    for number, (c, kernel, score) in enumerate([(0.1, "linear", 0.9), (3.0, "rbf", 0.96),
                                                 (50.0, "rbf", 0.94)]):
        trial = store.begin_trial(run_id, f"t{number:02d}", number, {"C": c, "kernel": kernel})
        for fold in range(3):
            store.record_epoch(trial.id, 0, fold, {"score": score + 0.01 * (fold - 1)})
        store.finish_trial(trial.id, TrialStatus.COMPLETED, score=score)


def everything(store: Storage, run_id: int):
    return store.get_run(run_id), store.list_trials(run_id), store.list_epochs(run_id)


def test_trials_csv_has_one_row_per_trial(storage):
    run = mlp_run(storage)
    add_mlp_trials(storage, run.id, [0.7, None, 0.9])
    run, trials, _ = everything(storage, run.id)
    frame = pd.read_csv(io.StringIO(reports.trials_csv(run, trials)))
    assert frame["trial_key"].tolist() == ["t00", "t01", "t02"]
    assert frame["status"].tolist() == ["completed", "failed", "completed"]
    assert "hp:learning_rate" in frame.columns and "hp:tuner/epochs" not in frame.columns


def test_best_params_json_holds_the_best_hyperparameters_and_the_spec(storage):
    run = mlp_run(storage, strategy={"name": "hyperband", "max_epochs": 4, "factor": 2})
    add_mlp_trials(storage, run.id, [0.7, 0.95, 0.8], hyperband=True)
    run, trials, _ = everything(storage, run.id)
    doc = json.loads(reports.best_params_json(run, trials))
    assert doc["run"] == {"id": run.id, "name": "digits mlp", "status": "running",
                          "strategy": "hyperband"}
    assert doc["objective"] == {"metric": "val_accuracy", "direction": "max"}
    best = doc["best_trial"]
    assert (best["trial_key"], best["number"], best["score"]) == ("t01", 1, 0.95)
    assert best["hyperparameters"] == {"num_layers": 2, "units": 16, "units_1": 8,
                                       "activation": "tanh", "learning_rate": 0.01,
                                       "l2": 0.0001}
    assert best["metrics"] == {"val_accuracy": 0.95, "val_loss": pytest.approx(0.05)}
    assert doc["spec"]["search_space"]["learning_rate"]["sampling"] == "log"


def test_best_params_json_is_valid_before_any_trial_completes(storage):
    run = mlp_run(storage)
    add_mlp_trials(storage, run.id, [None])
    run, trials, _ = everything(storage, run.id)
    doc = json.loads(reports.best_params_json(run, trials))
    assert doc["best_trial"] is None and doc["spec"]["model"]["family"] == "mlp"


def test_markdown_summary_has_counts_best_and_a_top_table(storage):
    run = mlp_run(storage, name="a | b run")
    add_mlp_trials(storage, run.id, [0.7, None] + [0.5 + 0.01 * i for i in range(12)])
    run, trials, _ = everything(storage, run.id)
    text = reports.markdown_summary(run, trials)
    assert text.startswith(f"# Run {run.id}: a \\| b run")
    assert "13 completed, 1 failed" in text
    assert "digits" in text and "Keras MLP" in text and "random" in text
    assert "**0.7**" in text
    assert "## Top 10" in text
    table = [line for line in text.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(table) == 10 and table[0].startswith("| 1 | t00 | 0.7 |")


def test_html_report_is_one_offline_file_with_escaped_user_text(storage):
    run = mlp_run(storage, name=XSS)
    add_mlp_trials(storage, run.id, [0.7, None, 0.9, 0.8, 0.85])
    run, trials, epochs = everything(storage, run.id)
    page = reports.html_report(run, trials, epochs)
    charts = reports.run_charts(run, trials, epochs)
    assert set(charts) == {"learning_curves", "best_so_far", "parallel_coordinates",
                           "importance", "slices"}
    assert page.count('class="plotly-graph-div"') == len(charts)
    assert page.count("plotly.js v") == 1  # the library, embedded once
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>out of memory</b>" not in page and "&lt;b&gt;out of memory" in page
    assert "Leaderboard" in page and "t02" in page


def test_html_report_of_a_hyperband_run_draws_its_brackets(storage):
    run = mlp_run(storage, strategy={"name": "hyperband", "max_epochs": 4, "factor": 2})
    add_mlp_trials(storage, run.id, [0.7, 0.9, 0.95], hyperband=True)
    run, trials, epochs = everything(storage, run.id)
    charts = reports.run_charts(run, trials, epochs)
    assert "hyperband" in charts and "importance" not in charts  # 3 trials: too few
    page = reports.html_report(run, trials, epochs)
    assert "Hyperband brackets" in page
    assert page.count('class="plotly-graph-div"') == len(charts)


def test_run_charts_of_a_scikit_learn_run_draw_the_folds(storage):
    run = svm_run(storage)
    add_svm_trials(storage, run.id)
    charts = reports.run_charts(*everything(storage, run.id))
    assert charts["learning_curves"].layout.yaxis.title.text == "score"
    assert {t.name for t in charts["learning_curves"].data} == {"t00", "t01", "t02"}


@pytest.mark.slow
def test_rebuild_script_for_an_sklearn_run_runs_and_prints_a_score(storage, tmp_path):
    run = svm_run(storage, name="it's \"quoted\" \\ svm")
    add_svm_trials(storage, run.id)
    script = reports.rebuild_script(*everything(storage, run.id)[:2])
    compile(script, "rebuild.py", "exec")
    assert "from sklearn.svm import SVC, SVR" in script
    path = tmp_path / "rebuild.py"
    path.write_text(script)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    score = re.search(r"cross-validation accuracy: ([0-9.]+)", done.stdout)
    assert score and 0.8 < float(score.group(1)) <= 1.0, done.stdout
    assert "t01" in done.stdout  # the best trial it rebuilt
    assert (tmp_path / "best_model.joblib").is_file()


def test_rebuild_script_for_a_keras_mlp_compiles_with_the_best_hyperparameters(storage):
    run = mlp_run(storage, name="it's \"quoted\"")
    add_mlp_trials(storage, run.id, [0.7, 0.95, None])
    script = reports.rebuild_script(*everything(storage, run.id)[:2])
    code = compile(script, "rebuild.py", "exec")
    constants = {"__name__": "rebuild"}  # defines everything, trains nothing
    exec(code, constants)
    assert "keras" not in constants  # Keras is imported only when main() runs
    assert constants["HYPERPARAMETERS"] == {
        "num_layers": 2, "units": 16, "activation": "tanh", "dropout": 0.0, "optimizer": "adam",
        "learning_rate": 0.01, "l2": 0.0001, "units_1": 8}
    assert constants["EPOCHS"] == 3 and constants["BATCH_SIZE"] == 64
    assert constants["RUN_NAME"] == "it's \"quoted\""
    assert "keras.regularizers.l2(l2) if l2 > 0 else None" in script
    assert 'hp.get(f"units_{i}", hp["units"])' in script
    assert 'model.save("best_model.keras")' in script


def test_rebuild_script_before_any_trial_completes_trains_the_defaults(storage):
    run = mlp_run(storage)
    add_mlp_trials(storage, run.id, [None])
    script = reports.rebuild_script(*everything(storage, run.id)[:2])
    compile(script, "rebuild.py", "exec")
    assert "BEST_TRIAL = None" in script and "defaults" in script


def test_best_model_path_finds_the_saved_model(storage):
    run = mlp_run(storage)
    assert reports.best_model_path(storage.path, run.id) is None
    folder = run_dir(storage.path, run.id)
    folder.mkdir(parents=True)
    (folder / "best_model.joblib").write_bytes(b"x")
    assert reports.best_model_path(storage.path, run.id) == folder / "best_model.joblib"
    (folder / "best_model.keras").write_bytes(b"x")
    assert reports.best_model_path(storage.path, run.id) == folder / "best_model.keras"


HOSTILE_NAME = "<a href='http://evil.example'>r</a> ![p](http://evil.example/p.png) %{evil}"
FORMULAS = ["=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "<a href='http://evil.example'>k</a>"]


def hostile_run(store: Storage):
    spec = validate_spec({
        "name": HOSTILE_NAME, "data": {"source": "sklearn", "name": "iris"},
        "model": {"family": "svm"},
        "search_space": {"C": {"type": "float", "min": 0.01, "max": 100.0, "sampling": "log"},
                         "kernel": {"type": "choice", "values": FORMULAS}},
        "strategy": {"name": "random", "max_trials": 8, "cv_folds": 3}})
    run = store.create_run(HOSTILE_NAME, spec)
    assert store.claim_run(run.id, pid=1)
    for number, kernel in enumerate(FORMULAS * 2):
        trial = store.begin_trial(run.id, f"{kernel}-{number}", number,
                                  {"C": 0.5 + number, "kernel": kernel})
        store.record_epoch(trial.id, 0, 0, {"score": -0.5 - number})
        store.finish_trial(trial.id, TrialStatus.COMPLETED, score=-0.5 - number,
                           message="=HYPERLINK(\"http://evil.example\")")
    return store.get_run(run.id)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif hasattr(value, "tolist"):
        yield from _strings(value.tolist())


def test_trials_csv_neutralises_formula_cells_and_keeps_numbers(tmp_path):
    import csv

    store = Storage(tmp_path / "t.db")
    run = hostile_run(store)
    rows = list(csv.DictReader(io.StringIO(reports.trials_csv(run, store.list_trials(run.id)))))
    cells = [v for row in rows for v in row.values()] + list(rows[0])
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")
                or (c.startswith("-") and not re.fullmatch(r"-[\d.e+-]+", c))], cells
    assert {row["hp:kernel"] for row in rows} >= {"'=1+1", "'@SUM(A1)", "'+cmd|' /C calc'!A0"}
    assert rows[0]["message"] == "'=HYPERLINK(\"http://evil.example\")"
    assert float(rows[0]["score"]) == -0.5  # a negative number stays a number


def test_user_text_renders_as_text_in_the_summary_and_every_chart(tmp_path):
    from markdown_it import MarkdownIt

    store = Storage(tmp_path / "t.db")
    run = hostile_run(store)
    trials = store.list_trials(run.id)
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(
        reports.markdown_summary(run, trials))
    assert "<a " not in rendered and "<img" not in rendered, rendered
    charts = reports.run_charts(run, trials, store.list_epochs(run.id))
    assert {"best_so_far", "slices", "parallel_coordinates"} <= set(charts)
    for key, fig in charts.items():
        texts = list(_strings(fig.to_plotly_json()))
        assert not [t for t in texts if "<a " in t or "%{evil" in t], (key, texts)
