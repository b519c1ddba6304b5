"""Benchmark: the learning-rate range test against a random search over the learning rate.

On digits, with the same 2 x 64 MLP (Adam, batch 32) and the same data split:

A. random search: 10 trials, learning rate log-uniform in [1e-4, 1e-1], 10 epochs each;
B. range test (100 batches, 1e-6 to 1) then one fixed training of 8 epochs at the rate
   it suggests;
C. the same fixed training (8 epochs, same seed) at the rate A found best: what A's rate
   is worth in B's protocol, free of A's selection bias;
D. for reference, the same fixed training at a tenth of the divergence rate (a more
   conservative reading of the same test, close to fast.ai's "minimum / 10").

Both run through ``python -m tuning run`` in worker processes, as a user would run them.
Accuracy is the validation accuracy each run reports: the best epoch's (the tuner's
score), and the last epoch's. Compute is epochs of training data seen: the range test's
batches count as batches x batch size / training rows. Target: B within 1 point of A's
accuracy at about a tenth of A's epochs. A picks its best of 10 trials on the very
validation set it is scored on, which flatters it by about a point on 360 validation
rows; C against B compares the two learning rates on equal terms.

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

DATA = {"source": "sklearn", "name": "digits", "validation_split": 0.2}
NETWORK = {"num_layers": {"type": "fixed", "value": 2}, "units": {"type": "fixed", "value": 64},
           "optimizer": {"type": "fixed", "value": "adam"}}
SEARCH_TRIALS, SEARCH_EPOCHS = 10, 10
RANGE_STEPS, FIXED_EPOCHS, BATCH = 100, 8, 32


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


def one_seed(seed: int, folder: Path) -> dict:
    search = spec("random search", seed,
                  {"learning_rate": {"type": "float", "min": 1e-4, "max": 1e-1,
                                     "sampling": "log"}},
                  {"name": "random", "max_trials": SEARCH_TRIALS}, SEARCH_EPOCHS)
    storage, run_id, search_s = run(search, folder, f"search-{seed}")
    trials = [t for t in storage.list_trials(run_id) if t.status is TrialStatus.COMPLETED]
    best = max(trials, key=lambda t: (t.score, -t.number))
    search_epochs = sum(t.epochs_done for t in storage.list_trials(run_id))

    probe = spec("range test", seed, {}, {"name": "lr_range_test", "steps": RANGE_STEPS}, 1)
    storage2, run2, range_s = run(probe, folder, f"range-{seed}")
    (range_trial,) = storage2.list_trials(run2)
    suggested = float(range_trial.metrics["suggested_lr"])
    range_epochs = float(range_trial.metrics["epochs_equivalent"])

    fixed = spec("fixed training", seed, {"learning_rate": {"type": "fixed", "value": suggested}},
                 {"name": "grid"}, FIXED_EPOCHS)
    storage3, run3, fixed_s = run(fixed, folder, f"fixed-{seed}")
    (fixed_trial,) = storage3.list_trials(run3)
    again = spec("search's rate, fixed training", seed,
                 {"learning_rate": {"type": "fixed",
                                    "value": float(best.hyperparameters["learning_rate"])}},
                 {"name": "grid"}, FIXED_EPOCHS)
    storage4, run4, _ = run(again, folder, f"again-{seed}")
    (again_trial,) = storage4.list_trials(run4)
    tenth = float(range_trial.metrics["diverge_lr"]) / 10
    careful = spec("a tenth of the divergence rate", seed,
                   {"learning_rate": {"type": "fixed", "value": tenth}}, {"name": "grid"},
                   FIXED_EPOCHS)
    storage5, run5, _ = run(careful, folder, f"tenth-{seed}")
    (tenth_trial,) = storage5.list_trials(run5)
    return {
        "tenth_lr": tenth, "tenth_best": float(tenth_trial.score),
        "tenth_final": final_accuracy(storage5, run5, tenth_trial.id),
        "retrained_best": float(again_trial.score),
        "retrained_final": final_accuracy(storage4, run4, again_trial.id),
        "seed": seed,
        "search_lr": float(best.hyperparameters["learning_rate"]),
        "search_best": float(best.score),
        "search_final": final_accuracy(storage, run_id, best.id),
        "search_epochs": search_epochs, "search_s": search_s,
        "suggested_lr": suggested, "diverge_lr": range_trial.metrics["diverge_lr"],
        "range_best": float(fixed_trial.score),
        "range_final": final_accuracy(storage3, run3, fixed_trial.id),
        "range_epochs": range_epochs + fixed_trial.epochs_done,
        "range_s": range_s + fixed_s,
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
            print(f"seed {seed}: random search lr {row['search_lr']:.3g} -> "
                  f"{row['search_best']:.2%} best epoch, {row['search_final']:.2%} last "
                  f"({row['search_epochs']} epochs, {row['search_s']:.0f} s) | range test lr "
                  f"{row['suggested_lr']:.3g} (diverges at {row['diverge_lr']:.3g}) -> "
                  f"{row['range_best']:.2%} best epoch, {row['range_final']:.2%} last "
                  f"({row['range_epochs']:.1f} epochs, {row['range_s']:.0f} s) | search's rate "
                  f"in the fixed training -> {row['retrained_best']:.2%} best epoch, "
                  f"{row['retrained_final']:.2%} last | a tenth of the divergence rate "
                  f"({row['tenth_lr']:.3g}) -> {row['tenth_best']:.2%} best epoch, "
                  f"{row['tenth_final']:.2%} last", flush=True)
    mean = {k: statistics.mean(r[k] for r in rows) for k in rows[0] if k != "seed"}
    gap = 100 * (mean["search_best"] - mean["range_best"])
    gap_final = 100 * (mean["search_final"] - mean["range_final"])
    ratio = mean["range_epochs"] / mean["search_epochs"]
    print(f"\nmean over {len(rows)} seed(s):")
    print(f"  random search, {SEARCH_TRIALS} trials x {SEARCH_EPOCHS} epochs: "
          f"{mean['search_best']:.2%} (best epoch), {mean['search_final']:.2%} (last epoch), "
          f"{mean['search_epochs']:.0f} epochs, {mean['search_s']:.0f} s wall")
    print(f"  range test ({RANGE_STEPS} batches) + {FIXED_EPOCHS} epochs at its suggestion: "
          f"{mean['range_best']:.2%} (best epoch), {mean['range_final']:.2%} (last epoch), "
          f"{mean['range_epochs']:.1f} epochs, {mean['range_s']:.0f} s wall")
    print(f"  the search's best rate, {FIXED_EPOCHS} epochs like the range test's: "
          f"{mean['retrained_best']:.2%} (best epoch), {mean['retrained_final']:.2%} (last epoch)")
    print(f"  for reference, {FIXED_EPOCHS} epochs at a tenth of the divergence rate: "
          f"{mean['tenth_best']:.2%} (best epoch), {mean['tenth_final']:.2%} (last epoch)")
    like = 100 * (mean["retrained_best"] - mean["range_best"])
    like_final = 100 * (mean["retrained_final"] - mean["range_final"])
    print(f"  gap to the search's reported best: {gap:+.2f} points (best epoch), "
          f"{gap_final:+.2f} (last epoch)")
    print(f"  gap to the search's rate trained alike: {like:+.2f} points (best epoch), "
          f"{like_final:+.2f} (last epoch)")
    print(f"  compute: {ratio:.3f} of the search's epochs")
    for label, value in (("reported best", gap), ("rate trained alike", like)):
        met = value <= 1.0 and ratio <= 0.11
        print(f"  target against the search's {label} (within 1 point at about a tenth of "
              f"the compute): {'met' if met else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
