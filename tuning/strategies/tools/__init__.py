"""Tools from deep-learning tuning practice, run as strategies of their own.

A tool is registered here with what the spec validator and the launch form need (no
TensorFlow), and names the function that runs it inside a worker process. The executor
hands that function a ``ToolContext``: the same storage, stop and cancel semantics as a
KerasTuner search, so a tool's runs show live, compare and report like any other.

To add a tool: write ``tuning/strategies/tools/<name>.py`` with ``check(c, strategy, kind, space, spec)``
(validation, returns the normalised strategy section; ``c`` is the spec checker with
``fail``, ``integer``, ``number``, ``choice``) and ``run(ctx)`` (training; may import Keras
inside), then add a ``Tool`` to ``TOOLS``. ``_common.run_trials`` (the trial loop, with the
run's and the trials' time limits) and ``_common.fit_recorded`` (a recorded ``fit`` with the
spec's ``training`` callbacks) give a new tool what the others honour; the validator
refuses the engine's ``workers``, chief/relay ports and ``pruning`` for every tool, and a
tool that trains once per trial refuses ``executions_per_trial`` > 1
(``_common.single_execution``).
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from storage import Recorder


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    kinds: tuple[str, ...]
    when: str
    options: tuple[str, ...]
    module: str  # tuning.strategies.tools.<module> holds check() and run()
    fields: tuple[str, ...] = ()  # strategy fields the tool accepts, beyond the common ones

    def check(self) -> Callable[..., dict[str, Any]]:
        return importlib.import_module(f"tuning.strategies.tools.{self.module}").check

    def runner(self) -> Callable[["ToolContext"], None]:
        return importlib.import_module(f"tuning.strategies.tools.{self.module}").run


TOOLS: dict[str, Tool] = {}


class StopRequested(Exception):
    """The run was asked to stop; raised by ``ToolContext`` at an epoch boundary."""


class TrialCancelled(Exception):
    """The trial in flight was cancelled from the dashboard or the CLI."""


class TrialTimedOut(Exception):
    """The trial in flight ran past ``trial_time_limit_s``; its message is the whole reason."""


class TimeLimitReached(Exception):
    """The run's ``time_limit_s`` is spent: no trial starts, the run ends completed."""


@dataclass
class ToolContext:
    """What a tool's ``run`` gets: the run, its data, its folder, and recording helpers.

    ``record_epoch`` commits one epoch and then raises, in this order: ``StopRequested``
    or ``TrialCancelled`` when asked to, ``TrialTimedOut`` once the trial has run past
    ``trial_time_limit_s``, ``TimeLimitReached`` once the run's ``time_limit_s`` is spent.
    So a tool that records every epoch (or batch) is stoppable and bounded in time.
    ``time_spent_s`` is what earlier sessions of a resumed run already spent (the executor
    passes ``executor._time_spent``); ``clock`` is injectable for tests.
    """
    storage: Recorder
    run_id: int
    spec: Mapping[str, Any]
    dataset: Any
    folder: str
    worker: str
    time_spent_s: float = 0.0
    clock: Callable[[], float] = time.monotonic
    _session_start: float = field(init=False, repr=False)
    _trial_started: float | None = field(init=False, default=None, repr=False)
    _trial_id: int | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self._session_start = self.clock()

    def begin_trial(self, key: str, values: Mapping[str, Any]) -> int:
        number = len(self.storage.list_trials(self.run_id))
        trial_id = self.storage.begin_trial(self.run_id, key, number, values,
                                            worker=self.worker).id
        self._trial_started = self.clock()
        self._trial_id = trial_id
        return trial_id

    def trial_in_flight(self) -> tuple[float | None, int | None]:
        """(when the trial in flight began, on ``clock``; its database id), or (None, None)
        between trials: what ``recording.Watchdog`` watches."""
        return self._trial_started, self._trial_id

    def record_epoch(self, trial_id: int, epoch: int, logs: Mapping[str, Any],
                     execution: int = 0) -> None:
        self.storage.record_epoch(trial_id, execution, epoch, logs)
        stop, cancel = self.storage.control_flags(self.run_id, trial_id)
        if stop:
            raise StopRequested("stop requested")
        if cancel:
            raise TrialCancelled(f"cancelled after epoch {epoch + 1}")
        self.check_trial_time()
        self.check_time_budget()

    def check_trial_time(self) -> None:
        """Raise ``TrialTimedOut`` once the trial in flight has run past its limit; the
        wording is the engine's (``recording.check_trial_time``)."""
        limit = self.spec.get("trial_time_limit_s")
        if not limit or self._trial_started is None:
            return
        spent = self.clock() - self._trial_started
        if spent > limit:
            raise TrialTimedOut(f"ran past the per-trial time limit of {limit:g} s "
                                f"({spent:.0f} s); raise trial_time_limit_s or shrink the model")

    def check_time_budget(self) -> None:
        """Raise ``TimeLimitReached`` once the run's budget is spent, counting earlier
        sessions; the wording is the engine's (``recording.pre_create_trial``)."""
        budget = self.spec.get("time_limit_s")
        if not budget:
            return
        spent = self.time_spent_s + (self.clock() - self._session_start)
        if spent >= budget:
            raise TimeLimitReached(f"time limit of {budget:g} s reached after {spent:.0f} s")

    def finish_trial(self, trial_id: int, status: Any, score: float | None = None,
                     metrics: Mapping[str, Any] | None = None, message: str | None = None,
                     flags: list[str] | None = None) -> None:
        self._trial_started = self._trial_id = None
        self.storage.finish_trial(trial_id, status, score=score, metrics=metrics,
                                  message=message, flags=flags)

    def completed_trials(self) -> int:
        from storage import TrialStatus

        return sum(1 for t in self.storage.list_trials(self.run_id)
                   if t.status is TrialStatus.COMPLETED)


def _register(*tools: Tool) -> None:
    for tool in tools:
        TOOLS[tool.name] = tool


# ``options``: the common strategy options the launch form draws a widget for; the tools'
# own fields all have defaults (see each module's docstring) and are typed as JSON.
_register(
    Tool("lr_range_test", "Learning-rate range test", ("keras",),
         "Before tuning the learning rate: one short training while the rate rises "
         "exponentially shows where the loss diverges, and suggests half that rate.",
         (), "lr_range", ("min_lr", "max_lr", "steps")),
    Tool("batch_size_study", "Batch-size study", ("keras",),
         "To choose a batch size: one trial per size with everything else fixed, charting "
         "time per epoch against validation score.",
         ("executions_per_trial",), "batch_size", ("batch_sizes", "scale_learning_rate", "base_batch_size")),
    Tool("transfer_learning", "Transfer learning (frozen layers, fine-tuning rate)", ("keras",),
         "When a model trained on a related task exists: replace its head, tune how many "
         "lower layers stay frozen and the fine-tuning rate, against a from-scratch baseline.",
         ("executions_per_trial",), "transfer", ("source", "frozen_layers", "baseline", "target_rows")),
    Tool("lora", "LoRA fine-tuning of a Gemma language model (keras-hub)", ("keras",),
         "To adapt a language model to your text cheaply: tune the LoRA rank and learning "
         "rate while the base model stays frozen.",
         (), "lora", ("ranks", "corpus", "preset_path", "sequence_length", "prompt",
                      "sample_length", "base_epochs")),
)
