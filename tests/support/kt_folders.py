"""Write small KerasTuner project folders by hand, in KerasTuner 1.4's own JSON formats
(``Oracle.get_state``, ``Trial.get_state``, ``MetricsTracker.get_config``), so importer
tests need no TensorFlow."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPACE = [
    {"class_name": "Int", "config": {"name": "units", "default": None, "conditions": [],
                                     "min_value": 8, "max_value": 32, "step": 8,
                                     "sampling": "linear"}},
    {"class_name": "Choice", "config": {"name": "act", "default": "relu", "conditions": [],
                                        "values": ["relu", "tanh"], "ordered": False}},
    {"class_name": "Float", "config": {"name": "lr", "default": 0.001, "conditions": [],
                                       "min_value": 0.001, "max_value": 0.01, "step": None,
                                       "sampling": "log"}},
]


def metrics(**histories: tuple[str, list[tuple[int, list[float]]]]) -> dict[str, Any]:
    """``metrics(val_accuracy=("max", [(step, [value per execution]), ...]))``."""
    return {"metrics": {name: {"direction": direction,
                               "observations": [{"value": values, "step": step}
                                                for step, values in observations]}
                        for name, (direction, observations) in histories.items()}}


def keras_metrics(val_accuracy: float, step: int = 1, executions: int = 1) -> dict[str, Any]:
    """What the stock tuner saves for a trial: the best epoch of each metric."""
    return metrics(val_accuracy=("max", [(step, [val_accuracy] * executions)]),
                   val_loss=("min", [(step, [2.0 - val_accuracy] * executions)]),
                   accuracy=("max", [(step, [val_accuracy + 0.05] * executions)]),
                   loss=("min", [(step, [1.9 - val_accuracy] * executions)]))


def trial(trial_id: str, values: dict[str, Any], score: float | None = None,
          status: str = "COMPLETED", metrics_config: dict | None = None,
          message: str | None = None) -> dict[str, Any]:
    if metrics_config is None:
        metrics_config = keras_metrics(score) if score is not None else {"metrics": {}}
    return {"trial_id": trial_id, "hyperparameters": {"space": SPACE, "values": values},
            "metrics": metrics_config, "score": score, "best_step": 1, "status": status,
            "message": message}


def write_project(path: Path, trials: list[dict[str, Any]], seed: int = 7,
                  **oracle_extra: Any) -> Path:
    """A project folder ``path`` with ``oracle.json`` and one ``trial_<id>/trial.json`` each."""
    path.mkdir(parents=True, exist_ok=True)
    ids = [t["trial_id"] for t in trials]
    oracle = {"ongoing_trials": {}, "hyperparameters": {"space": SPACE, "values": {}},
              "start_order": ids, "end_order": ids, "run_times": {i: 1 for i in ids},
              "retry_queue": [], "seed": seed, "seed_state": seed + len(ids),
              "tried_so_far": [], "id_to_hash": {}, "display": {}, **oracle_extra}
    (path / "oracle.json").write_text(json.dumps(oracle))
    (path / "tuner0.json").write_text("{}")
    for t in trials:
        folder = path / f"trial_{t['trial_id']}"
        folder.mkdir(exist_ok=True)
        (folder / "trial.json").write_text(json.dumps(t))
    return path


def random_project(path: Path) -> Path:
    """Three trials of a random search on val_accuracy: two completed (one over two
    executions), one failed with KerasTuner's traceback message."""
    return write_project(path, [
        trial("0", {"units": 16, "act": "relu", "lr": 0.002}, 0.61,
              metrics_config=keras_metrics(0.61, step=2, executions=2)),
        trial("1", {"units": 32, "act": "tanh", "lr": 0.005}, 0.74),
        trial("2", {"units": 8, "act": "relu", "lr": 0.009}, None, status="FAILED",
              message="Traceback (most recent call last):\n  ...\nValueError: bad units"),
    ])


def hyperband_project(path: Path) -> Path:
    """A Hyperband search (max_epochs 3, factor 3): bracket 1 promotes trial 0002 to 0003."""
    def hb(values, epochs, initial, bracket, round_, parent=None):
        out = {"units": values[0], "act": values[1], "lr": values[2], "tuner/epochs": epochs,
               "tuner/initial_epoch": initial, "tuner/bracket": bracket, "tuner/round": round_}
        if parent:
            out["tuner/trial_id"] = parent
        return out

    return write_project(path, [
        trial("0000", hb((8, "relu", 0.002), 1, 0, 1, 0), 0.30),
        trial("0001", hb((16, "tanh", 0.004), 1, 0, 1, 0), 0.28),
        trial("0002", hb((24, "relu", 0.008), 1, 0, 1, 0), 0.45),
        trial("0003", hb((24, "relu", 0.008), 3, 1, 1, 1, "0002"), 0.66,
              metrics_config=keras_metrics(0.66, step=2)),
        trial("0004", hb((32, "tanh", 0.006), 3, 0, 0, 0), 0.70),
    ], hyperband_iterations=1, max_epochs=3, min_epochs=1, factor=3, brackets=[],
        current_bracket=0, current_iteration=0)
