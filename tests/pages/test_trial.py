"""The trial page: one trial by URL, with its curves, numbers, failure and log."""
from __future__ import annotations

from page_helpers import MLP_SPEC, open_app, plotly_specs, points

from storage import TrialStatus
from tuning.runner.control import queue_run

TRACE = ('Traceback (most recent call last):\n  File "model.py", line 12, in build\n'
         '    raise ValueError("units must be even")\nValueError: units must be even')


def test_a_failed_trial_shows_its_traceback_log_and_every_executions_curves(db):
    run = queue_run(db, MLP_SPEC)
    assert db.claim_run(run.id, pid=1)
    trial = db.begin_trial(run.id, "07", 7, {"units": 17, "dropout": 0.1 + 0.2})
    for execution in (0, 1):
        for epoch in range(3):
            db.record_epoch(trial.id, execution, epoch, {"loss": 1.0 / (epoch + 1),
                                                         "val_loss": 1.1 / (epoch + 1),
                                                         "accuracy": 0.3 + 0.1 * epoch})
    db.finish_trial(trial.id, TrialStatus.FAILED, message="ValueError: units must be even",
                    metrics={"param_count": 1234, "val_loss": 1 / 3})
    db.record_trial_output(trial.id, traceback=TRACE, log="Epoch 1/3\nEpoch 2/3\n")
    at = open_app("pages/trial.py", run=str(run.id), trial="07")
    assert not at.exception
    assert "units must be even" in at.error[0].value
    codes = [c.value for c in at.code]
    assert TRACE in codes and "Epoch 1/3\nEpoch 2/3" in codes
    assert '"dropout": 0.3' in at.json[0].value  # not 0.30000000000000004
    metrics = [d.value for d in at.dataframe if "metric" in d.value.columns][0]
    assert dict(zip(metrics["metric"], metrics["value"])) == {"param_count": "1234",
                                                               "val_loss": "0.333333"}
    charts = plotly_specs(at)
    assert {"trial_curve_loss", "trial_curve_accuracy"} <= set(charts)
    loss = charts["trial_curve_loss"]["data"]
    assert len(loss) == 4  # two executions x (loss, val_loss)
    assert {t["name"] for t in loss} == {"07"}
    assert points(loss[0]["x"]) == [1, 2, 3]
    assert charts["trial_curve_loss"]["layout"]["xaxis"]["dtick"] == 1


def test_hyperband_parent_and_children_link_to_their_pages(db):
    run = queue_run(db, dict(MLP_SPEC, strategy={"name": "hyperband", "max_epochs": 3,
                                                 "factor": 3}))
    assert db.claim_run(run.id, pid=1)
    parent = db.begin_trial(run.id, "h0", 0, {"units": 16}, bracket=1, round=0)
    db.finish_trial(parent.id, TrialStatus.COMPLETED, score=0.5)
    child = db.begin_trial(run.id, "h1", 1, {"units": 16}, bracket=1, round=1,
                           parent_key="h0")
    db.finish_trial(child.id, TrialStatus.COMPLETED, score=0.6)
    at = open_app("pages/trial.py", run=str(run.id), trial="h0")
    text = " ".join(m.value for m in at.markdown)
    assert f"trial?run={run.id}&trial=h1" in text and "Promoted to" in text
    at = open_app("pages/trial.py", run=str(run.id), trial="h1")
    assert f"trial?run={run.id}&trial=h0" in " ".join(m.value for m in at.markdown)


def test_an_unknown_trial_says_so_and_the_best_is_the_default(db):
    run = queue_run(db, MLP_SPEC)
    assert db.claim_run(run.id, pid=1)
    for number, score in enumerate([0.4, 0.9]):
        t = db.begin_trial(run.id, f"t{number}", number, {"units": 16})
        db.finish_trial(t.id, TrialStatus.COMPLETED, score=score)
    at = open_app("pages/trial.py", run=str(run.id), trial="nope")
    assert "has no trial 'nope'" in at.error[0].value
    at = open_app("pages/trial.py", run=str(run.id))
    assert at.text_input(key="trial_key").value == "t1"
