"""Sequential stages and pruning savings, as the live page and the reports show them."""
from __future__ import annotations

from storage import Storage, TrialStatus
from tuning.insights.reports import html_report, markdown_summary
from tuning.insights.stages import pruning_summary, sequential_stages
from tuning.spec import validate_spec


def seq_run(storage: Storage):
    spec = validate_spec({
        "name": "seq <b>", "data": {"source": "sklearn", "name": "iris"},
        "model": {"family": "knn"},
        "search_space": {"n_neighbors": {"type": "choice", "values": [1, 5]},
                         "weights": {"type": "choice", "values": ["uniform", "distance"]}},
        "strategy": {"name": "sequential", "order": ["n_neighbors", "weights"]}})
    run = storage.create_run(spec["name"], spec)
    plan = [(1, "n_neighbors", {"n_neighbors": 1, "weights": "uniform"}, 0.90),
            (1, "n_neighbors", {"n_neighbors": 5, "weights": "uniform"}, 0.95),
            (2, "weights", {"n_neighbors": 5, "weights": "distance"}, 0.97)]
    for i, (stage, name, values, score) in enumerate(plan):
        t = storage.begin_trial(run.id, str(i), i, {**values, "tuner/stage": stage,
                                                     "tuner/stage_hp": name})
        storage.finish_trial(t.id, TrialStatus.COMPLETED, score=score)
    return storage.get_run(run.id)


def test_a_carried_winner_can_win_its_next_stage(storage):
    run = seq_run(storage)
    worse = storage.list_trials(run.id)[-1]
    storage.finish_trial(worse.id, TrialStatus.COMPLETED, score=0.5)  # "distance" now loses
    stages = sequential_stages(run, storage.list_trials(run.id))
    assert stages["chosen"].tolist() == ["5", "uniform"]


def test_sequential_stages_show_each_stage_winner(storage):
    run = seq_run(storage)
    stages = sequential_stages(run, storage.list_trials(run.id))
    assert stages[["stage", "hyperparameter", "chosen"]].values.tolist() == [
        [1, "n_neighbors", "5"], [2, "weights", "distance"]]
    assert stages["values tried"].tolist() == ["1, 5", "uniform (carried from stage 1), distance"]
    md = markdown_summary(run, storage.list_trials(run.id))
    assert "## Stages" in md
    assert "| 2 | weights | uniform (carried from stage 1), distance | distance |" in md
    page = html_report(run, storage.list_trials(run.id), [])
    assert "<h2>Stages</h2>" in page and "seq &lt;b&gt;" in page


def test_pruning_summary_counts_the_unused_budget_of_pruned_trials(storage):
    spec = validate_spec({
        "data": {"source": "sklearn", "name": "digits"}, "model": {"family": "mlp"},
        "search_space": {"units": {"type": "choice", "values": [8, 16, 32]}},
        "strategy": {"name": "grid", "pruning": {"warmup_epochs": 1}},
        "training": {"epochs": 10}})
    run = storage.create_run("pruned", spec)
    for i, (status, epochs) in enumerate([(TrialStatus.COMPLETED, 10), (TrialStatus.PRUNED, 3),
                                          (TrialStatus.PRUNED, 2)]):
        t = storage.begin_trial(run.id, str(i), i, {"units": 8})
        for e in range(epochs):
            storage.record_epoch(t.id, 0, e, {"loss": 1.0})
        storage.finish_trial(t.id, status, score=0.5)
    summary = pruning_summary(run, storage.list_trials(run.id))
    assert (summary.pruned, summary.epochs_trained, summary.epochs_saved) == (2, 15, 15)
    assert summary.describe() == "2 trial(s) pruned, saving 15 of 30 epochs (50%)."
    assert pruning_summary(seq_run(storage), []) is None
