"""In a real Chromium: upload your own model's module (uploads turned on by the one who
starts the dashboard), see its discovered space in the form, launch it, watch it finish.

Uses the dashboard of ``test_dashboard_browser`` (its own database and a live engine).
"""
from __future__ import annotations

import re
import time

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.browser import test_dashboard_browser as base
from tests.browser.test_dashboard_browser import RUN_TIMEOUT_S, _choose, _idle

dashboard = base.dashboard  # the fixture: a dashboard with its own database and engine

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULE = '''
import keras


def build_model(hp):
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(hp.Int("width", 4, 12, step=4), activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [0.01, 0.003])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


@pytest.fixture
def uploads_on(monkeypatch):
    monkeypatch.setenv("TUNING_ALLOW_MODULE_UPLOAD", "1")


def test_upload_a_module_see_its_space_and_launch_it(uploads_on, dashboard, browser, tmp_path):
    url, db_path = dashboard
    module = tmp_path / "my_dense.py"
    module.write_text(MODULE)
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    try:
        page.goto(url)
        _idle(page)
        _choose(page, "Data set", "digits (classification)")
        _choose(page, "Model family", "Your own Keras model (a Python file)")
        page.get_by_text("Uploads are on").wait_for(timeout=20_000)
        page.locator("input[type=file]").set_input_files(str(module))
        # Discovery runs the module in a process of its own (TensorFlow included).
        page.get_by_text("declares 2 hyperparameters").wait_for(timeout=120_000)
        _idle(page)
        # The form grew above the expander (the module's fields): open it now.
        page.get_by_text("Spec (JSON)").click()
        code = page.locator("[data-testid=stCode]")
        code.filter(has_text='"width"').wait_for(timeout=20_000)
        code.filter(has_text=re.compile(r'"module": ".*module_[0-9a-f]+\.py"')).wait_for(
            timeout=20_000)
        for label, value in (("Max trials", "2"), ("Epochs per trial", "1")):
            field = page.get_by_label(label, exact=True)
            field.fill(value)
            field.press("Enter")
            code.filter(has_text=f'"{"max_trials" if "trials" in label else "epochs"}": '
                                 f'{value}').wait_for(timeout=20_000)
        _idle(page)
        page.get_by_role("button", name="Launch", exact=True).click()
        page.wait_for_url(re.compile(r"/live\?run=\d+"), timeout=30_000)
        run_id = int(re.search(r"run=(\d+)", page.url).group(1))
        store = Storage(db_path)
        spec = store.get_run(run_id).spec
        assert spec["model"]["family"] == "custom" and "module_" in spec["model"]["module"]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while store.get_run(run_id).status in (RunStatus.QUEUED, RunStatus.RUNNING):
            assert time.monotonic() < deadline, "the run did not finish in time"
            time.sleep(0.5)  # poll interval, bounded by the deadline
        run = store.get_run(run_id)
        assert run.status is RunStatus.COMPLETED, run.error
        trials = store.list_trials(run_id)
        assert len(trials) == 2 and all(t.status is TrialStatus.COMPLETED for t in trials)
        assert all({"width", "lr"} <= set(t.hyperparameters) for t in trials)
        store.close()
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"screenshot of the failure: {tmp_path / 'failure.png'}")
        raise
