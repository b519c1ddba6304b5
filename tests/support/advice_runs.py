"""Crafted runs for the advice rules: a validated spec and hand-made trials and curves
written straight into a store, as a worker would record them. Nothing trains."""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from storage import Run, RunStatus, Storage, TrialStatus
from tuning.spec import validate_spec

SVM = {
    "name": "iris svm",
    "seed": 1,
    "data": {"source": "sklearn", "name": "iris"},
    "model": {"family": "svm"},
    "search_space": {"C": {"type": "float", "min": 0.001, "max": 0.1, "sampling": "log"},
                     "gamma": {"type": "choice", "values": ["scale", "auto"]},
                     "kernel": {"type": "choice", "values": ["rbf", "linear"]}},
    "strategy": {"name": "random", "max_trials": 12},
}
MLP = {
    "name": "digits mlp",
    "seed": 1,
    "data": {"source": "sklearn", "name": "digits"},
    "model": {"family": "mlp"},
    "search_space": {"units": {"type": "int", "min": 16, "max": 64, "step": 16},
                     "learning_rate": {"type": "float", "min": 1e-4, "max": 1.0,
                                       "sampling": "log"}},
    "strategy": {"name": "random", "max_trials": 10},
    "training": {"epochs": 6},
}


def spec(base: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``base`` with top-level sections merged (``search_space=...`` replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "search_space":
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def trial(hp: Mapping[str, Any], score: float | None, curve: Sequence[Mapping[str, float]] = (),
          status: TrialStatus = TrialStatus.COMPLETED, flags: Sequence[str] | None = None,
          message: str | None = None) -> dict[str, Any]:
    return {"hp": dict(hp), "score": score, "curve": list(curve), "status": status,
            "flags": None if flags is None else list(flags), "message": message}


def stored_run(store: Storage, doc: Mapping[str, Any], trials: Sequence[Mapping[str, Any]],
               status: RunStatus = RunStatus.COMPLETED) -> Run:
    """The run of ``doc`` (validated) with ``trials`` recorded in order, then ended."""
    normalised = validate_spec(copy.deepcopy(dict(doc)))
    run = store.create_run(normalised["name"], normalised)
    assert store.claim_run(run.id, pid=1)
    for number, t in enumerate(trials):
        row = store.begin_trial(run.id, str(number), number, t["hp"])
        for epoch, metrics in enumerate(t["curve"]):
            store.record_epoch(row.id, 0, epoch, metrics)
        store.finish_trial(row.id, t["status"], score=t["score"], message=t["message"],
                           flags=t["flags"])
    if status.is_finished():
        store.finish_run(run.id, status)
    return store.get_run(run.id)


def rising(start: float, end: float, epochs: int, bend: float = 1.0) -> list[float]:
    """A curve from ``start`` to ``end``; ``bend`` > 1 flattens its end (a plateau)."""
    return [start + (end - start) * (1 - (1 - (i + 1) / epochs) ** bend) for i in range(epochs)]


def accuracy_curve(values: Sequence[float]) -> list[dict[str, float]]:
    """Epoch rows whose val_accuracy follows ``values`` (losses follow 1 - accuracy)."""
    return [{"val_accuracy": v, "accuracy": min(1.0, v + 0.02), "loss": 1.05 - v,
             "val_loss": 1.1 - v} for v in values]
