"""KerasTuner oracles for the manual strategies: a fixed list of points, and sequential tuning.

Both are stateless beyond KerasTuner's own trial records: the next point is derived from
the trials already created, so a resumed or recycled worker carries on where the last
one stopped. Imports KerasTuner: worker processes only.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras_tuner as kt

from tuning.runner.kt_compat import rebuild_grid_frontier

from .manual import sequential_plan, sequential_values

STAGE_KEY = "tuner/stage"
STAGE_HP_KEY = "tuner/stage_hp"


class PointsOracle(kt.Oracle):
    """Proposes a precomputed list of points in order (random sampling of chosen ranges)."""

    def __init__(self, points: Sequence[Mapping[str, Any]], **kwargs: Any):
        super().__init__(max_trials=len(points), **kwargs)
        self.points = [dict(p) for p in points]

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        index = len(self.trials)
        if index >= len(self.points):
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": dict(self.points[index])}


class SequentialOracle(kt.Oracle):
    """One hyperparameter at a time: stage k tries each candidate of ``order[k]`` with the
    winners of stages 1..k-1 fixed and every other hyperparameter at its default."""

    def __init__(self, space: Mapping[str, Any], order: Sequence[str], family: str | None,
                 **kwargs: Any):
        self.plan = sequential_plan(space, order, family)
        super().__init__(max_trials=len(self.plan), **kwargs)
        self.space = space
        self.order = list(order)
        self.family = family

    def best_of_stages(self) -> dict[int, Any]:
        """Winning value of each stage so far. A stage's contenders are its own completed
        trials and the previous stage's winner, which is carried in (it holds the stage's
        hyperparameter at its default, the candidate the plan leaves out)."""
        by_stage: dict[int, list[kt.engine.trial.Trial]] = {}
        for trial in self.trials.values():
            stage = trial.hyperparameters.values.get(STAGE_KEY)
            if stage is not None and trial.status == "COMPLETED" and trial.score is not None:
                by_stage.setdefault(int(stage), []).append(trial)
        pick = max if self.objective.direction == "max" else min
        best: dict[int, Any] = {}
        carried = None
        for stage, name in enumerate(self.order, start=1):
            contenders = by_stage.get(stage, []) + ([carried] if carried is not None else [])
            if not contenders:
                break
            carried = pick(contenders, key=lambda t: t.score)
            best[stage] = carried.hyperparameters.values[name]
        return best

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        status = kt.engine.trial.TrialStatus
        index = len(self.trials)
        if index >= len(self.plan):
            return {"status": status.STOPPED, "values": None}
        stage, name, value = self.plan[index]
        unfinished_earlier = [
            t for t in self.trials.values()
            if int(t.hyperparameters.values.get(STAGE_KEY, 0)) < stage
            and t.status not in ("COMPLETED", "FAILED", "INVALID")]
        if unfinished_earlier:
            return {"status": status.IDLE}  # a later stage needs the earlier winner
        values = sequential_values(self.space, self.order, self.family, stage, name, value,
                                   self.best_of_stages())
        values[STAGE_KEY] = stage
        values[STAGE_HP_KEY] = name
        return {"status": status.RUNNING, "values": values}


class ResumableGridSearchOracle(kt.oracles.GridSearchOracle):
    """KerasTuner's grid oracle, able to resume.

    The stock oracle keeps the grid's order and its frontier only in memory: reloaded
    from disk it either raises KeyError or declares the grid finished after the trials
    already run. Both are derived again from the trials on disk, which is all they
    encode (``kt_compat.rebuild_grid_frontier``).
    """

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        rebuild_grid_frontier(self)
