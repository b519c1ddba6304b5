"""The live page: progress, leaderboard and curves read from the database."""
from __future__ import annotations

from page_helpers import (
    MLP_SPEC,
    finished,
    open_app,
    plotly_specs,
    points,
    seed_trials,
    shown_spec,
)

from storage import RunStatus
from tuning.runner.control import queue_run


def test_a_running_run_shows_curves_with_the_running_trial_highlighted(db):
    run = queue_run(db, MLP_SPEC)
    seed_trials(db, run.id, [0.8, None, 0.0], epochs=3, running_last=True)
    at = open_app("pages/live.py", run=str(run.id))
    charts = plotly_specs(at)
    assert {"live_curves", "live_best_number", "live_best_time"} <= set(charts)

    curves = charts["live_curves"]["data"]
    # metric "accuracy" is the objective's base name: training and validation per trial.
    assert at.selectbox(key="live_metric").value == "accuracy"
    assert {t["name"] for t in curves} == {"t00", "t01", "t02"}
    assert len(curves) == 6
    assert all(len(points(t["y"])) == 3 for t in curves)
    assert points(curves[0]["x"]) == [1, 2, 3]
    widths = {t["name"]: t["line"]["width"] for t in curves}
    assert widths["t02"] > widths["t00"]
    assert {t["line"].get("dash") for t in curves} == {"solid", "dash"}

    board = [d.value for d in at.dataframe if "rank" in d.value.columns][0]
    assert list(board["trial_key"]) == ["t00", "t02", "t01"]
    assert board["open"][0] == f"trial?run={run.id}&trial=t00"  # each row opens its trial page
    assert "out of memory" in set(board["message"].dropna())
    assert "2 of 3 trials · 1 running · 1 failed" in at.get("progress")[0].proto.text
    assert not at.button(key="live_cancel").disabled
    assert at.selectbox(key="live_cancel_key").value == "t02"


def test_cancel_a_running_trial(db):
    run = queue_run(db, MLP_SPEC)
    seed_trials(db, run.id, [0.8, 0.0], running_last=True)
    at = open_app("pages/live.py", run=str(run.id))
    at.button(key="live_cancel").click().run()
    assert db.get_trial_by_key(run.id, "t01").cancel_requested
    assert not at.exception and not at.error


def test_new_rows_appear_on_the_next_refresh(db):
    run = queue_run(db, MLP_SPEC)
    seed_trials(db, run.id, [0.8], epochs=2)
    at = open_app("pages/live.py", run=str(run.id))
    assert len(plotly_specs(at)["live_curves"]["data"]) == 2
    trial = db.begin_trial(run.id, "t01", 1, {"units": 32})
    db.record_epoch(trial.id, 0, 0, {"accuracy": 0.3, "val_accuracy": 0.2})
    at.run()  # AppTest never fires run_every: a rerun stands in for the timer
    assert {t["name"] for t in plotly_specs(at)["live_curves"]["data"]} == {"t00", "t01"}


def test_a_sessions_second_draw_of_an_active_run_reruns_the_page_at_the_usual_pace(db):
    """The first draw sets a slow first redraw (the browser is still loading the charts'
    code); the second reruns the whole page, whose timer is then the usual one."""
    run = queue_run(db, MLP_SPEC)
    seed_trials(db, run.id, [0.8, 0.0], running_last=True)
    at = open_app("pages/live.py", run=str(run.id))
    assert at.session_state["live_panel_draws"] == 1
    at.run()  # stands in for the first timer tick
    assert not at.exception
    assert at.session_state["live_panel_draws"] == 3  # the tick's draw, then the rerun's
    at.run()
    assert at.session_state["live_panel_draws"] == 4


def test_log_scale_and_metric_choice(db):
    run = queue_run(db, MLP_SPEC)
    seed_trials(db, run.id, [0.8, 0.9])
    finished(db, run.id)
    at = open_app("pages/live.py", run=str(run.id))
    at.selectbox(key="live_metric").set_value("loss")
    at.toggle(key="live_log").set_value(True).run()
    layout = plotly_specs(at)["live_curves"]["layout"]
    assert layout["yaxis"]["type"] == "log" and layout["yaxis"]["title"]["text"] == "loss"
    assert at.button(key="live_stop").disabled


def test_hyperband_shows_its_brackets(db):
    spec = dict(MLP_SPEC, strategy={"name": "hyperband", "max_epochs": 3, "factor": 3})
    run = queue_run(db, spec)
    assert db.claim_run(run.id, pid=1)
    first = db.begin_trial(run.id, "h0", 0, {"units": 16}, bracket=1, round=0)
    db.finish_trial(first.id, "completed", score=0.5)
    child = db.begin_trial(run.id, "h1", 1, {"units": 16}, bracket=1, round=1, parent_key="h0")
    db.finish_trial(child.id, "completed", score=0.6)
    at = open_app("pages/live.py", run=str(run.id))
    assert "live_hyperband" in plotly_specs(at)


def test_failed_run_shows_its_error(db):
    run = queue_run(db, MLP_SPEC)
    assert db.claim_run(run.id, pid=1)
    db.finish_run(run.id, RunStatus.FAILED, error="data.name mnist is not in the Keras cache")
    at = open_app("pages/live.py", run=str(run.id))
    assert any("not in the Keras cache" in e.value for e in at.error)


def test_a_missing_run_id_says_so(db):
    queue_run(db, MLP_SPEC)
    at = open_app("pages/live.py", run="12")
    assert [e.value for e in at.error] == ["run 12 does not exist"]
    assert not at.get("plotly_chart") and not at.exception


def test_range_test_suggestion_is_shown_and_carried_into_a_new_search_space(db):
    import json
    import math
    from pathlib import Path

    from storage import TrialStatus

    doc = json.loads((Path(__file__).resolve().parents[2] / "examples" /
                      "digits_lr_range_test.json").read_text())
    run = queue_run(db, doc)
    trial = db.begin_trial(run.id, "0", 0, {"units": 64})
    for step in range(30):
        lr = 1e-6 * (1e6 ** (step / 29))
        loss = 2.3 - 0.05 * step if step < 20 else 1.3 + math.exp(step - 20)
        db.record_epoch(trial.id, 0, step, {"lr": lr, "loss": loss, "smoothed_loss": loss})
    db.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.9,
                    metrics={"suggested_lr": 0.01, "diverge_lr": 0.02},
                    message="the loss starts to diverge at 0.02")
    finished(db, run.id)
    at = open_app("pages/live.py", run=str(run.id))
    assert "live_lr_range" in plotly_specs(at)
    assert any("Suggested learning rate: **0.01**" in s.value for s in at.success)
    at.button(key="live_lr_follow_up").click().run()
    assert at.title[0].value == "Launch a tuning run"
    assert at.selectbox(key="f_strategy").value == "random"
    space = shown_spec(at)["search_space"]["learning_rate"]
    assert space["sampling"] == "log" and space["min"] < 0.01 < space["max"]

    at = open_app("pages/live.py", run=str(run.id))
    at.button(key="live_lr_train").click().run()
    assert at.title[0].value == "Launch a tuning run"
    assert not at.error, [e.value for e in at.error]
    shown = shown_spec(at)
    assert shown["strategy"]["name"] == "grid" and shown["strategy"]["max_trials"] == 1
    assert shown["search_space"]["learning_rate"] == {"type": "fixed", "value": 0.01}
    assert shown["training"]["lr_schedule"] == "cosine"
