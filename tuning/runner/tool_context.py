"""What a tool's ``run`` gets inside the worker (``ToolContext``), and the exceptions that
end its trials and its run.

A tool is a strategy that runs its own trials (``tuning.strategies.registry.Strategy.run``);
the executor hands it a ``ToolContext``: the same storage, stop and cancel semantics as a
KerasTuner search, so a tool's runs show live, compare and report like any other.
``tuning.strategies._tools`` has the trial loop (``run_trials``, with the run's and the
trials' time limits) and a recorded ``fit`` (``fit_recorded``) that tools share.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from storage import Recorder, TrialStatus

from .run_control import RunControl, StopRequested, TimeLimitReached, TrialCancelled, TrialTimedOut

__all__ = ["StopRequested", "TimeLimitReached", "ToolContext", "ToolRefused", "TrialCancelled",
           "TrialTimedOut"]


class ToolRefused(RuntimeError):
    """The tool cannot train this run's model (say, its optimizer's learning rate cannot
    be set): the trial is recorded as failed and the run ends with this message, which
    says why and the fix."""


@dataclass
class ToolContext:
    """What a tool's ``run`` gets: the run, its data, its folder, and recording helpers.

    ``record_epoch`` commits one epoch and then raises, in this order: ``StopRequested``
    or ``TrialCancelled`` when asked to, ``TrialTimedOut`` once the trial has run past
    ``trial_time_limit_s``, ``TimeLimitReached`` once the run's ``time_limit_s`` is spent.
    So a tool that records every epoch (or batch) is stoppable and bounded in time: the
    rules and their words are the run control's (``run_control.RunControl``), as for a
    KerasTuner search. ``time_spent_s`` is what earlier sessions of a resumed run already
    spent (``run_control.time_spent``); ``clock`` is injectable for tests.
    """
    storage: Recorder
    run_id: int
    spec: Mapping[str, Any]
    dataset: Any
    folder: str
    worker: str
    time_spent_s: float = 0.0
    clock: Callable[[], float] = time.monotonic
    control: RunControl = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.control = RunControl(self.storage, self.run_id, self.spec,
                                  time_spent_s=self.time_spent_s, clock=self.clock)

    def begin_trial(self, key: str, values: Mapping[str, Any]) -> int:
        number = len(self.storage.list_trials(self.run_id))
        trial_id = self.storage.begin_trial(self.run_id, key, number, values,
                                            worker=self.worker).id
        self.control.trial_began(trial_id)
        return trial_id

    def trial_in_flight(self) -> tuple[float | None, int | None]:
        """(when the trial in flight began, on ``clock``; its database id), or (None, None)
        between trials: what ``run_control.Watchdog`` watches."""
        return self.control.in_flight()

    def record_epoch(self, trial_id: int, epoch: int, logs: Mapping[str, Any],
                     execution: int = 0) -> None:
        self.storage.record_epoch(trial_id, execution, epoch, logs)
        self.control.at_boundary(f"epoch {epoch + 1}", trial_id)
        self.control.check_time_budget()

    def check_trial_time(self) -> None:
        self.control.check_trial_time()

    def check_time_budget(self) -> None:
        self.control.check_time_budget()

    def finish_trial(self, trial_id: int, status: Any, score: float | None = None,
                     metrics: Mapping[str, Any] | None = None, message: str | None = None,
                     flags: list[str] | None = None) -> None:
        self.control.trial_ended()
        self.storage.finish_trial(trial_id, status, score=score, metrics=metrics,
                                  message=message, flags=flags)

    def completed_trials(self) -> int:
        return sum(1 for t in self.storage.list_trials(self.run_id)
                   if t.status is TrialStatus.COMPLETED)
