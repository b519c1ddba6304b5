"""Summaries of the manual strategies for the live page and the reports: the stages of a
sequential run with the value each one chose, and what pruning saved."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from storage import Run, Trial, TrialCounts, TrialStatus

STAGE_KEY = "tuner/stage"
STAGE_HP_KEY = "tuner/stage_hp"


def sequential_stages(run: Run, trials: Sequence[Trial]) -> pd.DataFrame:
    """One row per stage: its hyperparameter, the values tried, the winner and its score."""
    rows = []
    by_stage: dict[int, list[Trial]] = {}
    for t in trials:
        stage = t.hyperparameters.get(STAGE_KEY)
        if stage is not None:
            by_stage.setdefault(int(stage), []).append(t)
    pick = min if run.direction == "min" else max
    winner = None  # the previous stage's winner, carried into the next stage as a contender
    for stage in sorted(by_stage):
        members = by_stage[stage]
        name = members[0].hyperparameters.get(STAGE_HP_KEY)
        done = [t for t in members if t.status is TrialStatus.COMPLETED and t.score is not None]
        tried = [str(t.hyperparameters.get(name)) for t in members]
        if winner is not None:
            tried.insert(0, f"{winner.hyperparameters.get(name)} (carried from stage {stage - 1})")
            done = done + [winner]
        winner = pick(done, key=lambda t: t.score) if done else None
        rows.append({
            "stage": stage, "hyperparameter": name,
            "values tried": ", ".join(tried),
            "chosen": None if winner is None else str(winner.hyperparameters.get(name)),
            "best score": None if winner is None else winner.score,
            "trials": f"{sum(t.status is TrialStatus.COMPLETED for t in members)} of "
                      f"{len(members)} completed",
        })
    return pd.DataFrame(rows, columns=["stage", "hyperparameter", "values tried", "chosen",
                                       "best score", "trials"])


@dataclass(frozen=True)
class PruningSummary:
    pruned: int
    epochs_trained: int
    epochs_saved: int

    def describe(self) -> str:
        total = self.epochs_trained + self.epochs_saved
        share = self.epochs_saved / total if total else 0.0
        return (f"{self.pruned} trial(s) pruned, saving {self.epochs_saved} of {total} epochs "
                f"({share:.0%}).")


def pruning_summary(run: Run, trials: Sequence[Trial]) -> PruningSummary | None:
    """Epochs saved by pruning: each pruned trial's unused budget. None without pruning."""
    if not run.spec.get("strategy", {}).get("pruning"):
        return None
    budget = int(run.spec.get("training", {}).get("epochs", 0)) * int(
        run.spec.get("strategy", {}).get("executions_per_trial", 1))
    pruned = [t for t in trials if t.status is TrialStatus.PRUNED]
    trained = sum(t.epochs_done for t in trials)
    saved = sum(max(0, budget - t.epochs_done) for t in pruned)
    return PruningSummary(len(pruned), trained, saved)


def pruning_summary_of(run: Run, counts: TrialCounts) -> PruningSummary | None:
    """``pruning_summary`` from counts made in SQL (``Storage.trial_counts``)."""
    if not run.spec.get("strategy", {}).get("pruning"):
        return None
    budget = int(run.spec.get("training", {}).get("epochs", 0)) * int(
        run.spec.get("strategy", {}).get("executions_per_trial", 1))
    pruned = counts.count(TrialStatus.PRUNED)
    trained = counts.epochs_done
    saved = max(0, pruned * budget - counts.epochs_by_status.get(TrialStatus.PRUNED.value, 0))
    return PruningSummary(pruned, trained, saved)
