"""The live page's bounded cache (``RunView``) and the storage reads behind it, against the
whole-run computations of ``analysis`` on the same seeded runs."""
from __future__ import annotations

import random
import time

import numpy as np
import pandas as pd
from test_analysis import add_trial, make_run

from storage import RunStatus, Storage, TrialStatus
from tuning.insights import analysis
from tuning.insights.run_view import RunView


class CountingStorage:
    """Wraps a Storage and keeps every answer of changes_since and every epochs_of."""

    def __init__(self, store: Storage):
        self.store = store
        self.answers = []
        self.epoch_reads = []

    def changes_since(self, run_id, cursor):
        answer = self.store.changes_since(run_id, cursor)
        self.answers.append(answer)
        return answer

    def epochs_of(self, trial_ids):
        found = self.store.epochs_of(trial_ids)
        self.epoch_reads.append(len(found))
        return found

    def __getattr__(self, name):
        return getattr(self.store, name)


def seeded_run(store: Storage, trials: int, epochs: int = 4, seed: int = 0, direction="max"):
    run = make_run(store, metric="val_accuracy" if direction == "max" else "val_loss",
                   strategy={"name": "random", "max_trials": trials + 5})
    rng = random.Random(seed)
    for number in range(trials):
        status = rng.choice([TrialStatus.COMPLETED] * 6 + [TrialStatus.FAILED])
        quality = rng.random()
        trial = store.begin_trial(run.id, f"t{number:03d}", number, {"units": 16})
        for epoch in range(epochs):
            store.record_epoch(trial.id, 0, epoch, {
                "accuracy": quality * (epoch + 1) / epochs,
                "val_accuracy": quality * (epoch + 1) / epochs - 0.05})
        store.finish_trial(trial.id, status, score=round(quality, 2)
                           if status is TrialStatus.COMPLETED else None)
    return store.get_run(run.id)


def test_trial_page_is_the_leaderboard_order_in_pages(storage):
    for direction in ("max", "min"):
        run = seeded_run(storage, 37, seed=3, direction=direction)
        whole = analysis.leaderboard(run, storage.list_trials(run.id))["trial_key"].tolist()
        paged = [t.trial_key for offset in range(0, 40, 10)
                 for t in storage.trial_page(run.id, run.direction, offset, 10)]
        assert paged == whole


def test_counts_and_best_so_far_in_sql_match_the_whole_run_computations(storage):
    run = seeded_run(storage, 30, seed=1)
    running = add_trial(storage, run.id, 30, None, TrialStatus.RUNNING, epochs=2)
    trials = storage.list_trials(run.id)
    now = time.time()
    assert analysis.progress_of(run, storage.trial_counts(run.id), now) == \
        analysis.progress(run, trials, now)
    whole = analysis.best_so_far(run, trials)
    points = analysis.best_so_far_points(run, storage.best_so_far(run.id, run.direction))
    pd.testing.assert_frame_equal(points, whole, check_dtype=False)
    assert running.id not in set(points["number"])
    # With few markers allowed, every improvement of the best is still there.
    few = storage.best_so_far(run.id, run.direction, markers=3)
    assert {p.best for p in few} == set(whole["best"])


def test_band_is_the_quantiles_of_the_trials_not_drawn(storage):
    run = seeded_run(storage, 40, seed=2)
    exclude = [t.id for t in storage.trial_page(run.id, run.direction, 0, 5)]
    band = storage.curve_band(run.id, ["accuracy", "val_accuracy"], exclude=exclude)
    frame = analysis.curves_frame(storage.list_epochs(run.id), storage.list_trials(run.id))
    rest = frame[~frame["trial_id"].isin(exclude)]
    expected = rest.groupby(["metric", "epoch"], observed=True)["value"].quantile(
        [0.1, 0.5, 0.9]).unstack()
    assert band.trials == band.sampled == 35
    for point in band.points:
        np.testing.assert_allclose([point.low, point.median, point.high],
                                   expected.loc[(point.metric, point.epoch)].to_numpy())
    sampled = storage.curve_band(run.id, ["accuracy"], exclude=exclude, sample=7)
    assert (sampled.trials, sampled.sampled) == (35, 7)
    assert {p.count for p in sampled.points} == {7}


def test_the_view_holds_only_the_drawn_trials_epochs(storage):
    run = seeded_run(storage, 60, epochs=5, seed=4)
    running = add_trial(storage, run.id, 60, None, TrialStatus.RUNNING, epochs=2)
    view = RunView(max_curves=10)
    view.refresh(storage, run.id)
    top = [t.trial_key for t in storage.trial_page(run.id, run.direction, 0, 10)]
    assert view.top_keys() == top
    assert set(t.trial_key for t in view.trial_list()) == set(top) | {running.trial_key}
    assert len(view.epochs) == 10 * 5 + 2  # not the run's 302 epochs
    assert view.counts.total == 61 and view.others() == 50
    band = view.band(storage, ("accuracy", "val_accuracy"))
    assert band.trials == 50
    # Any trial's full curve, on demand.
    view.want(storage, ["t000"])
    assert {e.trial_id for e in view.epochs} >= {storage.get_trial_by_key(run.id, "t000").id}


def test_a_refresh_after_one_new_epoch_reads_only_that_epoch(storage):
    run = seeded_run(storage, 30, seed=5)
    running = add_trial(storage, run.id, 30, None, TrialStatus.RUNNING, epochs=2)
    spy = CountingStorage(storage)
    view = RunView(max_curves=5)
    view.refresh(spy, run.id)
    before = view.counts.epochs_done
    assert not view.refresh(spy, run.id).changed  # nothing new: nothing read
    storage.record_epoch(running.id, 0, 2, {"accuracy": 0.8, "val_accuracy": 0.75})
    reads = len(spy.epoch_reads)
    update = view.refresh(spy, run.id)
    assert [(e.trial_id, e.epoch) for e in spy.answers[-1].epochs] == [(running.id, 2)]
    assert [t.id for t in update.trials] == [running.id]
    assert len(spy.epoch_reads) == reads  # no trial's epochs read again
    assert view.trials[running.id].epochs_done == 3
    assert view.counts.epochs_done == before + 1
    curves = view.curves()
    assert curves[curves["trial_id"] == running.id]["epoch"].max() == 2


def test_a_trial_that_finishes_best_is_drawn_and_counted(storage):
    run = seeded_run(storage, 12, seed=6)
    running = add_trial(storage, run.id, 12, None, TrialStatus.RUNNING, epochs=3)
    view = RunView(max_curves=3)
    view.refresh(storage, run.id)
    storage.finish_trial(running.id, TrialStatus.COMPLETED, score=2.0)
    view.refresh(storage, run.id)
    assert view.top_keys()[0] == running.trial_key
    assert view.counts.count(TrialStatus.RUNNING) == 0
    assert view.best_points(storage)[-1].best == 2.0


def test_the_view_drops_the_epochs_of_a_trial_that_restarted(storage):
    run = make_run(storage)
    trial = add_trial(storage, run.id, 0, None, TrialStatus.RUNNING, epochs=3)
    view = RunView()
    view.refresh(storage, run.id)
    assert len(view.curves()) == 12
    # The worker died and the resumed run trains the trial again from its first epoch.
    storage.finish_run(run.id, RunStatus.INTERRUPTED)
    again = storage.begin_trial(run.id, "t00", 0, {"units": 32})
    storage.record_epoch(again.id, 0, 0, {"loss": 9.0})
    update = view.refresh(storage, run.id)
    assert update.restarted == (trial.id,)
    assert [(e.epoch, dict(e.metrics)) for e in view.epochs] == [(0, {"loss": 9.0})]
    assert view.curves()["value"].tolist() == [9.0]


def test_the_view_replaces_a_re_recorded_epoch_and_starts_over_for_another_run(storage):
    run = make_run(storage)
    trial = add_trial(storage, run.id, 0, None, TrialStatus.RUNNING, epochs=1)
    view = RunView()
    view.refresh(storage, run.id)
    view.curves()
    storage.record_epoch(trial.id, 0, 0, {"loss": 5.0})
    view.refresh(storage, run.id)
    assert view.curves()["value"].tolist() == [5.0]

    other = make_run(storage, name="other")
    add_trial(storage, other.id, 0, 0.4, epochs=2)
    view.refresh(storage, other.id)
    assert view.run.id == other.id and len(view.trials) == 1
    assert set(view.curves()["trial_key"]) == {"t00"} and len(view.curves()) == 8
