"""Size and cost estimates made before launch, without TensorFlow.

A trial that cannot fit in memory is refused at validation instead of taking the
worker (and the machine) down mid-run.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuning import catalog, strategies

FEATURES = {"iris": 4, "digits": 64, "wine": 13, "breast_cancer": 30, "diabetes": 10,
            "mnist": 784, "fashion_mnist": 784}
OUTPUTS = {"iris": 3, "digits": 10, "wine": 3, "breast_cancer": 2, "diabetes": 1,
           "mnist": 10, "fashion_mnist": 10}
BYTES_PER_FLOAT = 4
# Weights, their gradients and two Adam moments, plus the Keras copy KerasTuner keeps
# for the best checkpoint: about six floats per parameter while training.
FLOATS_PER_PARAMETER = 6


def memory_budget_bytes() -> int:
    """``TUNING_MEMORY_LIMIT_MB`` if set, else half of this machine's memory."""
    raw = os.environ.get("TUNING_MEMORY_LIMIT_MB")
    if raw:
        try:
            return int(float(raw) * 2**20)
        except ValueError:
            pass
    import psutil

    return psutil.virtual_memory().total // 2


def _largest(hp: Mapping[str, Any] | None, default: Any) -> Any:
    if hp is None:
        return default
    kind = hp["type"]
    if kind in ("int", "float"):
        return hp["max"]
    if kind == "choice":
        numbers = [v for v in hp["values"] if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return max(numbers) if numbers else default
    if kind == "fixed":
        return hp["value"]
    return default


@dataclass(frozen=True)
class ModelSize:
    parameters: int
    bytes: int


def largest_mlp(space: Mapping[str, Any], n_features: int, n_outputs: int,
                batch_size: int) -> ModelSize:
    """The biggest MLP the space allows: every layer at its widest, the most layers."""
    layers = int(_largest(space.get("num_layers"), catalog.MLP_DEFAULTS["num_layers"]))
    units = int(_largest(space.get("units"), catalog.MLP_DEFAULTS["units"]))
    batch = int(_largest(space.get("batch_size"), batch_size))
    widths = [int(_largest(space.get(f"units_{i}"), units)) for i in range(layers)]
    params, previous = 0, n_features
    for width in widths + [n_outputs]:
        params += previous * width + width
        previous = width
    activations = batch * (n_features + sum(widths) + n_outputs) * 3  # forward, grads, dropout
    return ModelSize(params, (params * FLOATS_PER_PARAMETER + activations) * BYTES_PER_FLOAT)


def data_shape(data: Mapping[str, Any]) -> tuple[int, int] | None:
    """(features, outputs) when known without reading the data, else None."""
    name = data.get("name")
    if data.get("source") in ("sklearn", "keras") and name in FEATURES:
        return FEATURES[name], OUTPUTS[name]
    return None


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


def memory_problem(spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """(field, message) when the largest model in the space would not fit, else None."""
    if spec["model"].get("family") != "mlp":
        return None
    shape = data_shape(spec["data"])
    if shape is None:
        return None
    size = largest_mlp(spec["search_space"], shape[0], shape[1], spec["training"]["batch_size"])
    budget = memory_budget_bytes()
    if size.bytes <= budget:
        return None
    return ("search_space", f"allows models of up to {size.parameters:,} parameters, about "
            f"{human_bytes(size.bytes)} to train, more than the {human_bytes(budget)} allowed "
            "(TUNING_MEMORY_LIMIT_MB, default half this machine's memory); lower the maximum "
            "of units or num_layers")


@dataclass(frozen=True)
class Cost:
    trials: int | None
    epochs: int | None  # epochs (Keras) or cross-validation fits (scikit-learn), at most

    def describe(self) -> str:
        if self.trials is None:
            return "The number of trials is decided as the run goes."
        unit = "epochs" if self.epochs is not None else ""
        text = f"Up to {self.trials} trials"
        if self.epochs is not None:
            text += f", {self.epochs:,} {unit} of training in all"
        return text + "."


def run_cost(spec: Mapping[str, Any]) -> Cost:
    """What a validated spec will cost at most: trials, and epochs (or CV fits) in all."""
    strategy = spec["strategy"]
    trials = strategy.get("max_trials")
    if trials is None:
        return Cost(None, None)
    if spec["model"].get("family") != "mlp":
        return Cost(trials, trials * strategy.get("cv_folds", 3))
    executions = strategy.get("executions_per_trial", 1)
    chosen = strategies.find(strategy["name"])
    if chosen is not None and chosen.epochs_field is not None:
        # A strategy that sets each trial's epochs itself (each Hyperband bracket spends
        # about max_epochs per final model): no total to promise.
        return Cost(trials, None)
    return Cost(trials, trials * executions * spec["training"]["epochs"])
