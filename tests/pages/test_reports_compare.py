"""Reports offer every download; Compare draws two runs side by side."""
from __future__ import annotations

import json

import pytest
from page_helpers import MLP_SPEC, SK_SPEC, finished, open_app, plotly_specs, seed_trials
from streamlit.runtime.media_file_manager import MediaFileManager

from tuning.insights.escaping import markdown_text
from tuning.paths import run_dir
from tuning.runner.control import queue_run


@pytest.fixture
def downloads(monkeypatch):
    """What each download button would send, by file name (AppTest keeps only a URL)."""
    files: dict[str, object] = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def spy_add(self, data, mimetype, coordinates, file_name=None, **kwargs):
        files[file_name] = data
        return add(self, data, mimetype, coordinates, file_name=file_name, **kwargs)

    def spy_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        files[file_name] = data_callable
        return add_deferred(self, data_callable, mimetype, coordinates, file_name=file_name,
                            **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", spy_add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", spy_deferred)
    return files


def test_reports_offer_every_download(db, downloads):
    run = queue_run(db, MLP_SPEC)
    seed_trials(db, run.id, [0.7, 0.9, None])
    finished(db, run.id)
    at = open_app("pages/reports.py", run=str(run.id))
    assert len(at.download_button) == 5
    stem = f"run-{run.id}"
    assert {f"{stem}-trials.csv", f"{stem}-best.json", f"{stem}-summary.md",
            f"{stem}-report.html", f"{stem}-rebuild.py"} <= set(downloads)
    best = json.loads(downloads[f"{stem}-best.json"])
    assert best["best_trial"]["trial_key"] == "t01"
    assert best["best_trial"]["hyperparameters"] == {"units": 32, "learning_rate": 0.001}
    assert downloads[f"{stem}-trials.csv"].decode().startswith("trial_id,")
    html = downloads[f"{stem}-report.html"]()  # generated only when clicked
    assert "<html" in html.lower()


def test_the_best_model_is_offered_once_saved(db, downloads):
    run = queue_run(db, SK_SPEC)
    seed_trials(db, run.id, [0.9])
    finished(db, run.id)
    folder = run_dir(db.path, run.id)
    folder.mkdir(parents=True)
    (folder / "best_model.joblib").write_bytes(b"model")
    at = open_app("pages/reports.py", run=str(run.id))
    assert len(at.download_button) == 6
    assert downloads[f"run-{run.id}-best_model.joblib"]() == b"model"


def test_compare_preselects_runs_from_the_url(db):
    first, second = queue_run(db, MLP_SPEC), queue_run(db, dict(MLP_SPEC, name="again"))
    queue_run(db, SK_SPEC)
    for run, scores in ((first, [0.7, 0.8, 0.75, 0.9]), (second, [0.6, 0.65, 0.85, 0.7])):
        seed_trials(db, run.id, scores)
        finished(db, run.id)
    at = open_app("pages/compare.py", runs=f"{first.id},{second.id}")
    assert at.multiselect(key="compare_runs").value == [first.id, second.id]
    charts = plotly_specs(at)
    time_chart = charts["compare_best_time"]
    assert {t["name"] for t in time_chart["data"]} == {f"#{first.id} digits mlp",
                                                       f"#{second.id} again"}
    assert charts["compare_best_epochs"]["layout"]["xaxis"]["title"]["text"].startswith("epochs")
    assert "compare_parallel_pooled" in charts  # same space: pooled by default
    assert {f"compare_importance_{first.id}", f"compare_importance_{second.id}"} <= set(charts)
    table = [d.value for d in at.dataframe][0]
    assert list(table.columns) == [f"#{first.id} digits mlp", f"#{second.id} again"]
    assert table.loc["best score"].tolist() == ["0.9", "0.85"]


def test_compare_with_different_spaces_draws_one_chart_per_run(db):
    first, second = queue_run(db, MLP_SPEC), queue_run(db, SK_SPEC)
    seed_trials(db, first.id, [0.7, 0.8])
    seed_trials(db, second.id, [0.6])
    at = open_app("pages/compare.py", runs=f"{first.id},{second.id},99")
    assert "run 99 does not exist" in [e.value for e in at.error]
    charts = plotly_specs(at)
    # One tab per run, and only the open one drawn (a hidden tab's charts cost the browser).
    assert f"compare_parallel_{first.id}" in charts
    assert f"compare_parallel_{second.id}" not in charts
    assert at.toggle(key="compare_pooled").disabled
    at.session_state["compare_tab"] = markdown_text(f"#{second.id} iris svm")
    at.run()
    charts = plotly_specs(at)
    assert {f"compare_parallel_{second.id}", f"compare_slices_{second.id}"} <= set(charts)
    assert f"compare_parallel_{first.id}" not in charts
