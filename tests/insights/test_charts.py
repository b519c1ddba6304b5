"""Figures of tuning.insights.charts, built from a real SQLite storage."""
from __future__ import annotations

import random

import numpy as np
import pytest

from storage import Storage, TrialStatus
from tuning.insights import analysis, charts
from tuning.spec import validate_spec

SPACE = {
    "units": {"type": "int", "min": 16, "max": 64, "step": 16},
    "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-1, "sampling": "log"},
    "activation": {"type": "choice", "values": ["relu", "tanh"]},
    "l2": {"type": "fixed", "value": 0.0},
}


def make_run(store: Storage, strategy: dict | None = None, name: str = "run"):
    spec = validate_spec({
        "name": name, "data": {"source": "sklearn", "name": "digits"},
        "model": {"family": "mlp"}, "search_space": SPACE,
        "strategy": strategy or {"name": "random", "max_trials": 50},
        "training": {"epochs": 4}})
    run = store.create_run(name, spec)
    assert store.claim_run(run.id, pid=1)
    return store.get_run(run.id)


def fill(store: Storage, run_id: int, n: int, epochs: int = 4, running_last: bool = True,
         executions: int = 1, seed: int = 0) -> None:
    rng = random.Random(seed)
    for number in range(n):
        hps = {"units": rng.choice([16, 32, 48, 64]), "learning_rate": 10 ** rng.uniform(-4, -1),
               "activation": rng.choice(["relu", "tanh"]), "l2": 0.0}
        quality = 0.5 + 0.4 * number / max(n - 1, 1)
        trial = store.begin_trial(run_id, f"t{number:02d}", number, hps)
        for execution in range(executions):
            for epoch in range(epochs):
                acc = quality * (1 - 0.5 ** (epoch + 1))
                store.record_epoch(trial.id, execution, epoch, {
                    "loss": 1 - acc, "accuracy": acc + 0.02, "val_loss": 1.1 - acc,
                    "val_accuracy": acc})
        if not (running_last and number == n - 1):
            store.finish_trial(trial.id, TrialStatus.COMPLETED, score=acc)


def data(store: Storage, run_id: int):
    trials = store.list_trials(run_id)
    return trials, analysis.curves_frame(store.list_epochs(run_id), trials)


def assert_stable_revision(fig) -> None:
    assert isinstance(fig.layout.uirevision, str) and fig.layout.uirevision


def test_learning_curves_draw_training_solid_and_validation_dashed_per_trial(storage):
    run = make_run(storage)
    fill(storage, run.id, 3)
    _, curves = data(storage, run.id)
    fig = charts.learning_curves(curves, "accuracy", highlight_key="t02")
    assert_stable_revision(fig)
    assert len(fig.data) == 3 * 2
    dashes = {(t.name, t.line.dash) for t in fig.data}
    assert dashes == {(k, d) for k in ("t00", "t01", "t02") for d in ("solid", "dash")}
    assert list(fig.data[0].x) == [1, 2, 3, 4]  # epochs are shown 1-based
    # The running trial is drawn last (on top), thicker and opaque; the others faded.
    assert [t.name for t in fig.data[-2:]] == ["t02", "t02"]
    assert fig.data[-1].line.width > fig.data[0].line.width
    assert fig.data[-1].opacity == 1.0 and fig.data[0].opacity < 1.0
    assert fig.layout.yaxis.type != "log"
    assert charts.learning_curves(curves, "accuracy", log_y=True).layout.yaxis.type == "log"


def test_learning_curves_draw_one_line_per_execution(storage):
    run = make_run(storage)
    fill(storage, run.id, 2, executions=2, running_last=False)
    _, curves = data(storage, run.id)
    fig = charts.learning_curves(curves, "loss")
    assert len(fig.data) == 2 * 2 * 2
    assert sum(t.showlegend is not False for t in fig.data) == 2  # one legend entry a trial


def test_learning_curves_draw_the_best_trials_and_aggregate_the_rest(storage):
    run = make_run(storage)
    fill(storage, run.id, 12)
    trials, curves = data(storage, run.id)
    top = analysis.top_trial_keys(run, trials, 3)
    assert top == ["t10", "t09", "t08"]
    fig = charts.learning_curves(curves, "accuracy", highlight_key="t11", top_keys=top,
                                 max_trials=3)
    own = {t.name for t in fig.data if not t.name.startswith("other")}
    assert own == {"t10", "t09", "t08", "t11"}
    others = [t for t in fig.data if t.name.startswith("other")]
    assert others and all("8 trials" in t.name for t in others)
    band = [t for t in others if t.fill == "toself"]
    assert len(band) == 2  # training and validation, each a 10-90 % band and a median
    # Without top_keys the best validation values decide.
    fig = charts.learning_curves(curves, "accuracy", max_trials=2)
    assert {t.name for t in fig.data if not t.name.startswith("other")} == {"t10", "t11"}


def test_learning_curves_of_nothing_is_an_empty_figure(storage):
    fig = charts.learning_curves(analysis.curves_frame([], []), "accuracy")
    assert len(fig.data) == 0 and fig.layout.annotations
    assert_stable_revision(fig)


def test_best_so_far_chart_has_a_step_line_per_run_and_markers(storage):
    first, second = make_run(storage, name="a"), make_run(storage, name="b")
    fill(storage, first.id, 5, running_last=False)
    fill(storage, second.id, 4, running_last=False, seed=1)
    series = {r.name: analysis.best_so_far(r, storage.list_trials(r.id)) for r in (first, second)}
    for x in ("number", "elapsed_s", "epochs_cum"):
        fig = charts.best_so_far_chart(series, x=x)
        assert_stable_revision(fig)
        steps = [t for t in fig.data if t.mode == "lines"]
        assert [t.name for t in steps] == ["a", "b"]
        assert all(t.line.shape == "hv" for t in steps)
        markers = [t for t in fig.data if t.mode == "markers"]
        assert [len(t.y) for t in markers] == [5, 4]
        assert list(steps[0].x) == series["a"][x].tolist()
    with pytest.raises(ValueError, match="x must be one of"):
        charts.best_so_far_chart(series, x="wall")


def test_parallel_coordinates_label_choices_and_use_log10_for_log_ranges(storage):
    run = make_run(storage)
    fill(storage, run.id, 6)
    frame = analysis.trials_frame(storage.list_trials(run.id))
    fig = charts.parallel_coordinates(frame, SPACE)
    assert_stable_revision(fig)
    dims = {d.label: d for d in fig.data[0].dimensions}
    assert set(dims) == {"units", "learning_rate (log10)", "activation", "score"}  # no fixed
    assert list(dims["activation"].ticktext) == ["relu", "tanh"]
    assert list(dims["activation"].tickvals) == [0, 1]
    scored = frame[frame["score"].notna()]
    assert np.allclose(dims["learning_rate (log10)"].values,
                       np.log10(scored["hp:learning_rate"].to_numpy(float)))
    assert list(dims["activation"].values) == [
        ["relu", "tanh"].index(v) for v in scored["hp:activation"]]
    assert len(dims["score"].values) == 5  # the running trial has no score yet


def test_importance_chart_is_horizontal_with_the_largest_on_top():
    import pandas as pd

    fig = charts.importance_chart(pd.Series({"learning_rate": 0.7, "units": 0.3}))
    assert fig.data[0].orientation == "h"
    assert list(fig.data[0].y) == ["learning_rate", "units"]
    assert fig.layout.yaxis.autorange == "reversed"
    assert_stable_revision(fig)
    assert charts.importance_chart(pd.Series(dtype=float)).layout.annotations


def test_slice_plots_have_one_subplot_per_hyperparameter_and_log_axes(storage):
    run = make_run(storage)
    fill(storage, run.id, 6)
    frame = analysis.trials_frame(storage.list_trials(run.id))
    fig = charts.slice_plots(frame, SPACE)
    assert_stable_revision(fig)
    assert [a.text for a in fig.layout.annotations] == ["units", "learning_rate", "activation"]
    assert len(fig.data) == 3
    axes = {t.name: fig.layout[t.xaxis.replace("x", "xaxis")] for t in fig.data}
    assert axes["learning_rate"].type == "log"
    assert axes["units"].type != "log"
    assert axes["activation"].type == "category"
    assert all(len(t.y) == 5 for t in fig.data)


def test_hyperband_chart_joins_parents_to_promoted_children(storage):
    run = make_run(storage, strategy={"name": "hyperband", "max_epochs": 4, "factor": 2})
    hps = {"units": 16, "learning_rate": 1e-3, "activation": "relu"}
    for number, (bracket, round_, parent) in enumerate(
            [(1, 0, None), (1, 0, None), (1, 1, "t01"), (0, 0, None)]):
        trial = storage.begin_trial(run.id, f"t{number:02d}", number, hps, bracket=bracket,
                                    round=round_, parent_key=parent)
        storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5 + 0.1 * number)
    fig = charts.hyperband_chart(analysis.hyperband_table(storage.list_trials(run.id)))
    assert_stable_revision(fig)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 1
    segment = [(x, y) for x, y in zip(lines[0].x, lines[0].y) if x is not None]
    assert [x for x, _ in segment] == [0, 1]
    assert segment[0][1] == segment[1][1]  # a lineage stays on its row
    brackets = [t.name for t in fig.data if t.mode == "markers"]
    assert brackets == ["bracket 1", "bracket 0"]
    assert len(fig.layout.yaxis.tickvals) == 3  # rows: t00, t01 (then t02), t03
