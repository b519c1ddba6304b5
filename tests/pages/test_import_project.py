"""The Import page: a KerasTuner project folder becomes a run; a bad folder is a message."""
from __future__ import annotations

import re

import pytest
from page_helpers import open_app, plotly_specs

from tests.support.kt_folders import hyperband_project, random_project

PAGE = "pages/import_project.py"


@pytest.fixture(autouse=True)
def allowed(tmp_path, monkeypatch):
    """The test folders are where the dashboard may import from (``TUNING_DATA_DIRS``)."""
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))


def import_folder(at, path: str, name: str = ""):
    at.text_input(key="import_path").input(path)
    at.text_input(key="import_name").input(name)
    return at.button(key="import_go").click().run()


def test_importing_a_folder_shows_its_run_and_importing_again_keeps_it(db, tmp_path):
    folder = random_project(tmp_path / "random_search_dir" / "random_search")
    at = import_folder(open_app(PAGE), str(folder), name="from disk")
    assert not at.exception and not at.error
    (run,) = db.list_runs()
    assert run.name == "from disk" and run.trials_done == 3
    assert f"Run {run.id} · from disk: 3 trials, random search, best val_accuracy (max) 0.74." \
        in [s.value for s in at.success]
    at = import_folder(at, str(folder))
    assert [r.id for r in db.list_runs()] == [run.id]
    at.button(key="import_open").click().run()
    assert not at.exception
    assert at.query_params["run"] == str(run.id)
    assert at.title[0].value == "Live run"


def test_the_watch_snippet_is_drawn_once_its_expander_is_opened(db):
    at = open_app(PAGE)
    assert not at.code
    at.session_state["import_watch"] = True
    at.run()
    (code,) = at.code
    assert code.language == "python" and "tuning.watch" in code.value


def test_a_folder_that_is_not_a_project_is_an_error_message(db, tmp_path):
    at = import_folder(open_app(PAGE), str(tmp_path))
    assert not at.exception and not at.success
    assert "not a KerasTuner project: it has no oracle.json" in at.error[0].value
    folder = random_project(tmp_path / "p")
    (folder / "trial_1" / "trial.json").write_text("{")
    at = import_folder(at, str(folder))
    assert "trial_1/trial.json is not valid JSON" in at.error[0].value
    assert db.list_runs() == []


def test_imported_runs_show_on_the_live_reports_and_compare_pages(db, tmp_path):
    at = import_folder(open_app(PAGE), str(random_project(tmp_path / "rs")))
    random_id = db.list_runs()[0].id
    import_folder(at, str(hyperband_project(tmp_path / "hb")))
    hyperband_id = db.list_runs()[0].id
    assert hyperband_id != random_id
    live = open_app("pages/live.py", run=str(hyperband_id))
    assert not live.exception and "live_hyperband" in plotly_specs(live)
    reports = open_app("pages/reports.py", run=str(random_id))
    assert not reports.exception and not reports.error
    compare = open_app("pages/compare.py", runs=f"{random_id},{hyperband_id}")
    assert not compare.exception and not compare.error


def test_a_folder_outside_the_allowed_ones_is_refused_unread(db, tmp_path, monkeypatch):
    folder = random_project(tmp_path / "elsewhere" / "rs")
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path / "allowed"))
    at = import_folder(open_app(PAGE), str(folder))
    assert not at.exception and not at.success
    message = at.error[0].value
    assert "imports project folders only from inside" in message
    assert "TUNING_DATA_DIRS" in message and f"python -m tuning import {folder}" in message
    at = import_folder(at, "/etc")
    assert "imports project folders only from inside" in at.error[0].value
    assert "does not exist" not in at.error[0].value  # says nothing of what is there
    assert db.list_runs() == []


def test_fields_of_the_wrong_type_or_range_are_an_error_message_not_a_crash(db, tmp_path):
    """Each used to raise out of the page (ValueError, OverflowError, ZeroDivisionError)."""
    import json

    at = open_app(PAGE)
    damages = {
        "step": ("trial_1/trial.json", lambda d: d["metrics"]["metrics"]["val_accuracy"][
            "observations"][0].update(step=float("nan"))),
        "trial_id": ("trial_1/trial.json", lambda d: d.update(trial_id="\u00b2")),
        "bracket": ("trial_1/trial.json", lambda d: d["hyperparameters"]["values"].update(
            {"tuner/bracket": float("inf")})),
        "score": ("trial_1/trial.json", lambda d: d.update(score=10**30)),
        "hyperparameters.space[0] (units).step": ("oracle.json", lambda d: d[
            "hyperparameters"]["space"][0]["config"].update(step=0)),
    }
    for field, (file, damage) in damages.items():
        folder = random_project(tmp_path / field.replace(" ", "_"))
        doc = json.loads((folder / file).read_text())
        damage(doc)
        (folder / file).write_text(json.dumps(doc))
        at = import_folder(at, str(folder))
        assert not at.exception and not at.success, field
        shown = re.sub(r"\\(.)", r"\1", at.error[0].value)  # as the Markdown renders
        assert f"{file}: " in shown and field in shown, field
    assert db.list_runs() == []
