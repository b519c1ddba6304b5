"""Benchmark: the learning-rate range test against a random search over the learning rate.

On digits, with the same 2 x 64 MLP (Adam, batch 32) and the same data split:

A. random search: 10 trials, learning rate log-uniform in [1e-4, 1e-1], 10 epochs each,
   constant rate (the search a user runs without the tool);
B. range test (100 batches, 1e-6 to 1), then the one training the dashboard's "Train once
   at it" button queues (``lr_finder.fixed_training_spec``): 7 epochs starting at the
   suggested rate, annealed along a cosine to 0;
B0. the same 7 epochs at the suggested rate held constant: what the suggestion is worth
   without annealing;
C. B's 7-epoch cosine training at the rate A found best: A's rate on B's terms, free of
   A's selection bias.

Every run goes through ``python -m tuning run`` in a worker process, as a user would run
it. Accuracy is the validation accuracy each run reports: the best epoch's (the tuner's
score), and the last epoch's. Compute is epochs of training data seen: the range test's
batches count as batches x batch size / training rows. Target: B within 1 point of A's
accuracy at a tenth of A's epochs. A picks its best of 10 trials on the very validation
set it is scored on, which flatters it by about a point on 360 validation rows.

    python bench/bench_lr_range.py            # seeds 1, 2, 3
    python bench/bench_lr_range.py --quick    # seed 1 only
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import RunStatus, Storage, TrialStatus  # noqa: E402
from tuning.strategies.lr_finder import fixed_training_spec  # noqa: E402

DATA = {"source": "sklearn", "name": "digits", "validation_split": 0.2}
NETWORK = {"num_layers": {"type": "fixed", "value": 2}, "units": {"type": "fixed", "value": 64},
           "optimizer": {"type": "fixed", "value": "adam"}}
SEARCH_TRIALS, SEARCH_EPOCHS = 10, 10
RANGE_STEPS, FIXED_EPOCHS, BATCH = 100, 7, 32


def run(spec: dict, folder: Path, name: str) -> tuple[Storage, int, float]:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(spec))
    db = folder / f"{name}.db"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), "run", str(path),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    storage = Storage(db)
    run_id = storage.list_runs()[0].id
    status = storage.get_run(run_id).status
    if done.returncode != 0 or status is not RunStatus.COMPLETED:
        raise SystemExit(f"{name} ended {status.value}: {done.stderr[-2000:]}")
    return storage, run_id, seconds


def spec(name: str, seed: int, space: dict, strategy: dict, epochs: int) -> dict:
    return {"name": name, "seed": seed, "data": DATA, "model": {"family": "mlp"},
            "search_space": {**NETWORK, **space}, "strategy": strategy,
            "objective": {"metric": "val_accuracy", "direction": "max"},
            "training": {"epochs": epochs, "batch_size": BATCH}}


def final_accuracy(storage: Storage, run_id: int, trial_id: int) -> float:
    epochs = storage.list_epochs(run_id, trial_id)
    return float(max(epochs, key=lambda e: e.epoch).metrics["val_accuracy"])


def one_training(folder: Path, name: str, doc: dict) -> dict:
    """Run a one-trial spec; its best-epoch and last-epoch accuracy, epochs, seconds."""
    storage, run_id, seconds = run(doc, folder, name)
    (trial,) = storage.list_trials(run_id)
    return {"best": float(trial.score), "final": final_accuracy(storage, run_id, trial.id),
            "epochs": trial.epochs_done, "s": seconds}


def one_seed(seed: int, folder: Path) -> dict:
    search = spec("random search", seed,
                  {"learning_rate": {"type": "float", "min": 1e-4, "max": 1e-1,
                                     "sampling": "log"}},
                  {"name": "random", "max_trials": SEARCH_TRIALS}, SEARCH_EPOCHS)
    storage, run_id, search_s = run(search, folder, f"search-{seed}")
    trials = [t for t in storage.list_trials(run_id) if t.status is TrialStatus.COMPLETED]
    best = max(trials, key=lambda t: (t.score, -t.number))
    search_lr = float(best.hyperparameters["learning_rate"])

    probe = spec("range test", seed, {}, {"name": "lr_range_test", "steps": RANGE_STEPS},
                 FIXED_EPOCHS)
    storage2, run2, range_s = run(probe, folder, f"range-{seed}")
    (range_trial,) = storage2.list_trials(run2)
    suggested = float(range_trial.metrics["suggested_lr"])
    annealed = one_training(folder, f"annealed-{seed}",
                            fixed_training_spec(storage2.get_run(run2).spec, suggested))
    constant = fixed_training_spec(storage2.get_run(run2).spec, suggested)
    constant["training"]["lr_schedule"] = "constant"
    held = one_training(folder, f"constant-{seed}", constant)
    alike = fixed_training_spec(storage2.get_run(run2).spec, search_lr)
    searched = one_training(folder, f"alike-{seed}", alike)
    return {
        "seed": seed, "search_lr": search_lr, "search_best": float(best.score),
        "search_final": final_accuracy(storage, run_id, best.id),
        "search_epochs": sum(t.epochs_done for t in storage.list_trials(run_id)),
        "search_s": search_s,
        "suggested_lr": suggested, "diverge_lr": float(range_trial.metrics["diverge_lr"]),
        "range_epochs": float(range_trial.metrics["epochs_equivalent"]) + annealed["epochs"],
        "range_s": range_s + annealed["s"],
        "range_best": annealed["best"], "range_final": annealed["final"],
        "constant_best": held["best"], "constant_final": held["final"],
        "alike_best": searched["best"], "alike_final": searched["final"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed instead of three")
    args = parser.parse_args()
    seeds = [1] if args.quick else [1, 2, 3]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-lr-range-") as tmp:
        for seed in seeds:
            row = one_seed(seed, Path(tmp))
            rows.append(row)
            print(f"seed {seed}: A search's best rate {row['search_lr']:.3g} -> "
                  f"{row['search_best']:.2%} / {row['search_final']:.2%} | range test suggests "
                  f"{row['suggested_lr']:.3g} (diverges at {row['diverge_lr']:.3g}) -> B "
                  f"{row['range_best']:.2%} / {row['range_final']:.2%}, B0 "
                  f"{row['constant_best']:.2%} / {row['constant_final']:.2%} | C "
                  f"{row['alike_best']:.2%} / {row['alike_final']:.2%}", flush=True)
    mean = {k: statistics.mean(r[k] for r in rows) for k in rows[0] if k != "seed"}
    ratio = mean["range_epochs"] / mean["search_epochs"]
    print(f"\nmean over {len(rows)} seed(s), validation accuracy of the best epoch / last epoch:")
    lines = (
        (f"A  random search, {SEARCH_TRIALS} trials x {SEARCH_EPOCHS} epochs", "search",
         f"{mean['search_epochs']:.0f} epochs, {mean['search_s']:.0f} s wall"),
        (f"B  range test ({RANGE_STEPS} batches) + {FIXED_EPOCHS} epochs, cosine from its "
         "suggestion", "range",
         f"{mean['range_epochs']:.1f} epochs ({ratio:.3f} of A), {mean['range_s']:.0f} s wall"),
        (f"B0 the same {FIXED_EPOCHS} epochs at the suggestion held constant", "constant", ""),
        (f"C  B's {FIXED_EPOCHS}-epoch cosine training at A's best rate", "alike", ""))
    for label, key, extra in lines:
        print(f"  {label}: {mean[key + '_best']:.2%} / {mean[key + '_final']:.2%}"
              + (f"  ({extra})" if extra else ""))
    gap = 100 * (mean["search_best"] - mean["range_best"])
    like = 100 * (mean["alike_best"] - mean["range_best"])
    print(f"  B against A: {gap:+.2f} points (best epoch), "
          f"{100 * (mean['search_final'] - mean['range_final']):+.2f} (last epoch)")
    print(f"  B against C (the two rates trained alike): {like:+.2f} points (best epoch)")
    print(f"  compute: {ratio:.3f} of the search's epochs")
    met = gap <= 1.0 and ratio <= 0.10
    print(f"  target (B within 1 point of A at a tenth of the compute): "
          f"{'met' if met else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
