"""Tools from deep-learning tuning practice, run as strategies of their own.

A tool is registered here with what the spec validator and the launch form need (no
TensorFlow), and names the function that runs it inside a worker process. The executor
hands that function a ``ToolContext``: the same storage, stop and cancel semantics as a
KerasTuner search, so a tool's runs show live, compare and report like any other.

To add a tool: write ``tuning/tools/<name>.py`` with ``check(c, strategy, kind, space, spec)``
(validation, returns the normalised strategy section; ``c`` is the spec checker with
``fail``, ``integer``, ``number``, ``choice``) and ``run(ctx)`` (training; may import Keras
inside), then add a ``Tool`` to ``TOOLS``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    kinds: tuple[str, ...]
    when: str
    options: tuple[str, ...]
    module: str  # tuning.tools.<module> holds check() and run()
    fields: tuple[str, ...] = ()  # strategy fields the tool accepts, beyond the common ones

    def check(self) -> Callable[..., dict[str, Any]]:
        return importlib.import_module(f"tuning.tools.{self.module}").check

    def runner(self) -> Callable[["ToolContext"], None]:
        return importlib.import_module(f"tuning.tools.{self.module}").run


TOOLS: dict[str, Tool] = {}


class StopRequested(Exception):
    """The run was asked to stop; raised by ``ToolContext`` at an epoch boundary."""


class TrialCancelled(Exception):
    """The trial in flight was cancelled from the dashboard or the CLI."""


@dataclass
class ToolContext:
    """What a tool's ``run`` gets: the run, its data, its folder, and recording helpers.

    ``record_epoch`` commits one epoch and then raises ``StopRequested`` or
    ``TrialCancelled`` when asked to, so a tool that records every epoch is stoppable.
    """
    storage: Any
    run_id: int
    spec: Mapping[str, Any]
    dataset: Any
    folder: str
    worker: str

    def begin_trial(self, key: str, values: Mapping[str, Any]) -> int:
        number = len(self.storage.list_trials(self.run_id))
        return self.storage.begin_trial(self.run_id, key, number, values, worker=self.worker).id

    def record_epoch(self, trial_id: int, epoch: int, logs: Mapping[str, Any],
                     execution: int = 0) -> None:
        self.storage.record_epoch(trial_id, execution, epoch, logs)
        stop, cancel = self.storage.control_flags(self.run_id, trial_id)
        if stop:
            raise StopRequested("stop requested")
        if cancel:
            raise TrialCancelled(f"cancelled after epoch {epoch + 1}")

    def finish_trial(self, trial_id: int, status: Any, score: float | None = None,
                     metrics: Mapping[str, Any] | None = None, message: str | None = None,
                     flags: list[str] | None = None) -> None:
        self.storage.finish_trial(trial_id, status, score=score, metrics=metrics,
                                  message=message, flags=flags)

    def completed_trials(self) -> int:
        from storage import TrialStatus

        return sum(1 for t in self.storage.list_trials(self.run_id)
                   if t.status is TrialStatus.COMPLETED)


def _register(*tools: Tool) -> None:
    for tool in tools:
        TOOLS[tool.name] = tool


# ``options`` stays empty: the launch form draws a widget per option it knows, and these
# tools' own fields all have defaults (see each module's docstring).
_register(
    Tool("lr_range_test", "Learning-rate range test", ("keras",),
         "Before tuning the learning rate: one short training while the rate rises "
         "exponentially shows where the loss diverges, and suggests half that rate.",
         (), "lr_range", ("min_lr", "max_lr", "steps")),
    Tool("batch_size_study", "Batch-size study", ("keras",),
         "To choose a batch size: one trial per size with everything else fixed, charting "
         "time per epoch against validation score.",
         (), "batch_size", ("batch_sizes", "scale_learning_rate", "base_batch_size")),
    Tool("transfer_learning", "Transfer learning (frozen layers, fine-tuning rate)", ("keras",),
         "When a model trained on a related task exists: replace its head, tune how many "
         "lower layers stay frozen and the fine-tuning rate, against a from-scratch baseline.",
         (), "transfer", ("source", "frozen_layers", "baseline", "target_rows")),
    Tool("lora", "LoRA fine-tuning of a Gemma language model (keras-hub)", ("keras",),
         "To adapt a language model to your text cheaply: tune the LoRA rank and learning "
         "rate while the base model stays frozen.",
         (), "lora", ("ranks", "corpus", "preset_path", "sequence_length", "prompt",
                      "sample_length", "base_epochs")),
)
