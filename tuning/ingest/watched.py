"""The classes ``tuning.watch`` puts in front of a user's KerasTuner tuner class.

``Watched`` is the engine's ``Recording`` mixin (every trial and epoch recorded, stop and
cancel obeyed) with the user's ``search`` wrapped in a run of the database (see
``watch._search``) and no seeding: a watched script keeps the randomness its author chose.
``WatchedSklearn`` records a ``SklearnTuner`` fold by fold through its own ``run_trial``.

Imports KerasTuner: ``watch`` imports this module only when a tuner is watched.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras_tuner as kt

from tuning.runner.recording import Recording


class Watched(Recording):
    seed_executions = False

    def search(self, *args, **kwargs):
        from .watch import _search

        return _search(self, super().search, args, kwargs)


class _Folds:
    """Records a SklearnTuner trial fold by fold, by wrapping its scoring and metrics.

    SklearnTuner scores each fold, then computes each extra metric; a fold's row is
    written at its score and rewritten as each metric arrives.
    """

    def __init__(self, tuner: Any):
        self.tuner = tuner
        self.fold = -1
        self.row: dict[str, Any] = {}

    def _write(self) -> None:
        self.tuner._storage.record_epoch(self.tuner._db_trial_id, 0, self.fold, self.row)

    def scoring(self, scoring: Any) -> Callable[..., Any]:
        def score(model, X, y, sample_weight=None):
            value = (model.score(X, y, sample_weight=sample_weight) if scoring is None
                     else scoring(model, X, y, sample_weight=sample_weight))
            self.fold += 1
            self.row = {"score": value}
            self._write()
            self.tuner.obey_controls(f"fold {self.fold + 1}")
            return value
        return score

    def metric(self, metric: Any) -> Any:
        if not hasattr(metric, "__name__"):
            return metric  # SklearnTuner itself fails on it, with its own message

        @functools.wraps(metric)
        def measured(y_true, y_pred, sample_weight=None):
            value = metric(y_true, y_pred, sample_weight=sample_weight)
            self.row[metric.__name__] = value
            self._write()
            return value
        return measured


class WatchedSklearn(Watched):
    def run_trial(self, trial, *args, **kwargs):
        scoring, metrics = self.scoring, self.metrics
        folds = _Folds(self)
        self.scoring = folds.scoring(scoring)
        self.metrics = [folds.metric(m) for m in metrics]
        try:
            return super().run_trial(trial, *args, **kwargs)
        finally:
            self.scoring, self.metrics = scoring, metrics


def watched_class(base: type) -> type:
    """``base`` with ``Watched`` (``WatchedSklearn`` for a ``SklearnTuner``) in front."""
    mixin = WatchedSklearn if issubclass(base, kt.SklearnTuner) else Watched
    cls = type(f"Watched{base.__name__}", (mixin, base), {})
    cls.__qualname__ = cls.__name__
    return cls
