"""What every Keras training of a run shares, from the spec's ``training`` section: early
stopping and the learning-rate schedule, as callbacks for ``fit``.

``training.lr_schedule`` is ``"constant"`` (the default: the rate stays where the
hyperparameter put it) or ``"cosine"``: the rate starts at the trial's learning rate and
falls along half a cosine to 0 at the last batch of the last epoch. Annealing is how a
learning-rate range test's suggestion is meant to be used (Smith, "Super-Convergence",
2018): a high rate early to move fast, a low one late to settle.

The schedule is a callback rather than a ``keras.optimizers.schedules`` object, so it needs
no step count when the model is built (KerasTuner builds it before ``fit`` says how many
epochs and batches there are, and Hyperband changes them per round), and the saved model
keeps a plain float learning rate. Keras is imported inside functions: the spec validator
imports ``SCHEDULES`` from here.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SCHEDULES = ("constant", "cosine")
SCHEDULE_LABELS = {"constant": "constant", "cosine": "cosine decay to 0"}


def cosine_rate(base: float, step: int, total: int) -> float:
    """The cosine schedule's rate at ``step`` of ``total`` (``base`` at 0, 0 at ``total``)."""
    progress = min(max(step / max(total, 1), 0.0), 1.0)
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def fit_callbacks(spec: Mapping[str, Any]) -> list[Any]:
    """The callbacks ``training`` asks for: early stopping and a learning-rate schedule."""
    training = spec.get("training") or {}
    out: list[Any] = []
    if training.get("lr_schedule", "constant") == "cosine":
        out.append(cosine_schedule())
    early = training.get("early_stopping")
    if early:
        import keras

        out.append(keras.callbacks.EarlyStopping(
            monitor=early["monitor"], patience=early["patience"], min_delta=early["min_delta"],
            restore_best_weights=early["restore_best_weights"]))
    return out


def cosine_schedule() -> Any:
    """A Keras callback that anneals the optimizer's learning rate from its value when
    ``fit`` starts to 0 by the end of ``fit``'s epochs, batch by batch, and puts the starting
    value back when ``fit`` ends (the saved or refitted model keeps the trial's rate)."""
    import keras

    class CosineSchedule(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            rate = self.model.optimizer.learning_rate
            self.base = float(keras.ops.convert_to_numpy(rate))
            self.steps = int(self.params.get("steps") or 1)
            self.total = int(self.params.get("epochs") or 1) * self.steps
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            step = self.epoch * self.steps + batch
            self.model.optimizer.learning_rate.assign(cosine_rate(self.base, step, self.total))

        def on_train_end(self, logs=None):
            self.model.optimizer.learning_rate.assign(self.base)

    return CosineSchedule()
