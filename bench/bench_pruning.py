"""Benchmark: the same random search on digits with and without median pruning.

Prints the epochs each spent and the best validation accuracy each found.
Target: pruning saves at least 30% of the epochs and loses under 1 point of accuracy.

    python bench/bench_pruning.py [--trials 20] [--epochs 10]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import Storage, TrialStatus  # noqa: E402


def spec(trials: int, epochs: int, pruning: bool) -> dict:
    strategy = {"name": "random", "max_trials": trials}
    if pruning:
        strategy["pruning"] = {"warmup_epochs": 2, "min_trials": 3}
    return {
        "name": f"digits random {'with' if pruning else 'without'} pruning", "seed": 5,
        "data": {"source": "sklearn", "name": "digits", "validation_split": 0.25},
        "model": {"family": "mlp"},
        "search_space": {
            "learning_rate": {"type": "float", "min": 1e-5, "max": 0.3, "sampling": "log"},
            "units": {"type": "int", "min": 8, "max": 128, "step": 8},
            "activation": {"type": "choice", "values": ["relu", "tanh", "sigmoid"]},
            "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
        },
        "strategy": strategy,
        "objective": {"metric": "val_accuracy", "direction": "max"},
        "training": {"epochs": epochs, "batch_size": 64},
    }


def run(workdir: Path, doc: dict, name: str) -> tuple[int, float, int]:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(doc))
    db = workdir / f"{name}.db"
    subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), "run", str(path),
                    "--quiet"], cwd=ROOT, check=True)
    storage = Storage(db)
    r = storage.list_runs()[0]
    trials = storage.list_trials(r.id)
    epochs = sum(t.epochs_done for t in trials)
    pruned = sum(1 for t in trials if t.status is TrialStatus.PRUNED)
    return epochs, r.best_score, pruned


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plain = run(workdir, spec(args.trials, args.epochs, False), "plain")
        pruned = run(workdir, spec(args.trials, args.epochs, True), "pruned")
    print(f"{args.trials}-trial random search on digits, {args.epochs} epochs a trial, same seed")
    print(f"  without pruning : {plain[0]:4d} epochs   best val_accuracy {plain[1]:.4f}")
    print(f"  with pruning    : {pruned[0]:4d} epochs   best val_accuracy {pruned[1]:.4f}   "
          f"({pruned[2]} trials pruned)")
    saved = 1 - pruned[0] / plain[0]
    lost = (plain[1] - pruned[1]) * 100
    print(f"  epochs saved    : {saved:.0%}   (target >= 30%)")
    print(f"  accuracy lost   : {lost:.2f} points   (target < 1)")


if __name__ == "__main__":
    main()
