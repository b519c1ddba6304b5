"""Benchmark: what recording every epoch costs, and whether a long run's memory stays flat.

1. The same 10-trial x 5-epoch RandomSearch on digits (same seed, same model), run
   through ``python -m tuning run`` and through a bare KerasTuner script, timed in one
   invocation; prints the ratio (target <= 1.05).
2. A 50-trial run with 1-epoch trials: the worker's resident memory after 5 and after
   50 trials, with the default recycling (a fresh worker every 25 trials) and without.

    python bench/bench_engine.py            # both parts
    python bench/bench_engine.py --quick    # part 1 only
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import Storage, TrialStatus  # noqa: E402

SPEC = {
    "name": "bench digits random", "seed": 11,
    "data": {"source": "sklearn", "name": "digits", "validation_split": 0.2},
    "model": {"family": "mlp"},
    "search_space": {
        "units": {"type": "int", "min": 32, "max": 256, "step": 32},
        "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
        "num_layers": {"type": "fixed", "value": 2},
    },
    "strategy": {"name": "random", "max_trials": 10},
    "objective": {"metric": "val_accuracy", "direction": "max"},
    "training": {"epochs": 5, "batch_size": 32},
}

# The bare script builds the very model our MLP builder builds, on the very same split.
BARE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import keras, keras_tuner as kt
    from tuning.data import load_dataset
    from tuning.runner.models import MLPHyperModel
    ds = load_dataset({data!r}, {seed})
    hm = MLPHyperModel({space!r}, ds.x_train.shape[1], ds.task, ds.n_classes, 32)
    class Quiet(kt.RandomSearch):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            pass  # TF 2.21 ships no tensorboard; see STACK.md
    tuner = Quiet(hm, objective="val_accuracy", max_trials=10, seed={seed},
                  directory={directory!r}, project_name="bare", overwrite=True)
    tuner.search(ds.x_train, ds.y_train, epochs=5, validation_data=(ds.x_val, ds.y_val),
                 verbose=0)
    best = tuner.oracle.get_best_trials(1)[0]
    print("BEST", best.score)
""")


def time_ours(workdir: Path) -> tuple[float, float]:
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(SPEC))
    db = workdir / "ours.db"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), "run", str(spec_path),
                    "--quiet"], cwd=ROOT, check=True)
    elapsed = time.perf_counter() - start
    run = Storage(db).list_runs()[0]
    return elapsed, run.best_score


def time_bare(workdir: Path) -> tuple[float, float]:
    script = workdir / "bare.py"
    script.write_text(BARE.format(root=str(ROOT), data=SPEC["data"], seed=SPEC["seed"],
                                  space=SPEC["search_space"], directory=str(workdir / "bare")))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    best = float(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("BEST")))
    return elapsed, best


def memory_profile(workdir: Path, recycle_every: int) -> list[tuple[int, float]]:
    """(trials completed, worker RSS in MB), sampled each time a trial completes."""
    spec = json.loads(json.dumps(SPEC))
    spec["name"] = f"bench memory recycle={recycle_every}"
    spec["strategy"] = {"name": "random", "max_trials": 50, "recycle_every": recycle_every}
    spec["training"]["epochs"] = 1
    spec["search_space"]["units"] = {"type": "int", "min": 8, "max": 512, "step": 1}
    spec_path = workdir / f"mem{recycle_every}.json"
    spec_path.write_text(json.dumps(spec))
    db = workdir / f"mem{recycle_every}.db"
    proc = subprocess.Popen([sys.executable, "-m", "tuning", "--db", str(db), "run",
                             str(spec_path), "--quiet"], cwd=ROOT)
    storage = None
    samples: list[tuple[int, float]] = []
    while proc.poll() is None:
        time.sleep(0.05)
        if storage is None:
            if not db.exists():
                continue
            storage = Storage(db)
        runs = storage.list_runs()
        if not runs or not runs[0].worker_pid:
            continue
        done = sum(1 for t in storage.list_trials(runs[0].id)
                   if t.status is TrialStatus.COMPLETED)
        if done and (not samples or samples[-1][0] != done):
            try:
                samples.append((done, psutil.Process(runs[0].worker_pid).memory_info().rss / 2**20))
            except psutil.NoSuchProcess:
                pass
    return samples


def _rss_at(samples: list[tuple[int, float]], trials: int) -> float:
    """RSS at the last sample taken with at most ``trials`` trials done."""
    before = [rss for done, rss in samples if done <= trials]
    return before[-1] if before else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the 50-trial memory part")
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternate bare and ours this many times; medians are compared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare, ours = [], []
        for i in range(args.repeats):
            # Alternating cancels drift (caches warming, other load) between the two.
            round_dir = workdir / f"round{i}"
            round_dir.mkdir()
            bare.append(time_bare(round_dir))
            ours.append(time_ours(round_dir))
        bare_s = statistics.median(b[0] for b in bare)
        ours_s = statistics.median(o[0] for o in ours)
        print(f"10-trial x 5-epoch RandomSearch on digits (MLP, same seed and split), "
              f"median of {args.repeats} alternating runs")
        print(f"  bare KerasTuner script : {bare_s:6.1f} s   ({', '.join(f'{b[0]:.1f}' for b in bare)})"
              f"   best val_accuracy {bare[0][1]:.4f}")
        print(f"  python -m tuning run   : {ours_s:6.1f} s   ({', '.join(f'{o[0]:.1f}' for o in ours)})"
              f"   best val_accuracy {ours[0][1]:.4f}")
        print(f"  ratio                  : {ours_s / bare_s:6.3f}   (target <= 1.05)")
        if args.quick:
            return
        print("Worker memory (RSS) in a 50-trial x 1-epoch run")
        for recycle in (25, 1000):
            samples = memory_profile(workdir, recycle)
            label = "recycled every 25 trials" if recycle == 25 else "one worker, no recycling"
            after5, after50 = _rss_at(samples, 5), _rss_at(samples, 50)
            peak = max((rss for _, rss in samples), default=float("nan"))
            print(f"  {label:<26}: after 5 trials {after5:6.0f} MB, after ~50 trials "
                  f"{after50:6.0f} MB (last sample at {samples[-1][0] if samples else 0}), "
                  f"peak {peak:6.0f} MB")


if __name__ == "__main__":
    main()
