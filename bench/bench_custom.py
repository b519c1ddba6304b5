"""Benchmark: the shipped CNN on digits against a bare KerasTuner script, and the time
from choosing a module in the launch form to seeing its search space.

1. The same 8-trial x 5-epoch RandomSearch of the ``cnn`` family on scikit-learn's digits
   (8 x 8 images; same builder, seed and split), through ``python -m tuning run`` and
   through a bare KerasTuner script, alternated in one invocation; prints the ratio of the
   medians (target <= 1.05).
2. Discovery of a module's space (``tuning.spec.discovery.discover``: a process of its own
   imports TensorFlow and the module and calls its builder): what the form waits for after
   a module is chosen (target < 10 s on two cores). "warm" is the form's case: the spare
   process it started when it drew the model fields has done its imports; "cold" is the
   CLI's, which starts the process then.

    python bench/bench_custom.py              # both parts, 1 round of part 1
    python bench/bench_custom.py --repeats 3  # 3 alternated rounds
    python bench/bench_custom.py --discovery-only
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import Storage  # noqa: E402

SPEC = {
    "name": "bench digits cnn", "seed": 11,
    "data": {"source": "sklearn", "name": "digits", "validation_split": 0.2},
    "model": {"family": "cnn"},
    "search_space": {
        "conv_blocks": {"type": "int", "min": 1, "max": 2},
        "filters": {"type": "choice", "values": [8, 16]},
        "dense_units": {"type": "int", "min": 32, "max": 64, "step": 32},
        "learning_rate": {"type": "float", "min": 1e-3, "max": 1e-2, "sampling": "log"},
    },
    "strategy": {"name": "random", "max_trials": 8},
    "objective": {"metric": "val_accuracy", "direction": "max"},
    "training": {"epochs": 5, "batch_size": 32},
}

# The bare script tunes the very model our CNN builder builds, on the very same split.
BARE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import keras_tuner as kt
    from tuning.data import load_dataset
    from tuning.runner.models import CNNHyperModel
    spec = {spec!r}
    ds = load_dataset(spec["data"], spec["seed"])
    hm = CNNHyperModel.for_run(spec, ds)
    class Quiet(kt.RandomSearch):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            pass  # TF 2.21 ships no tensorboard; see STACK.md
    tuner = Quiet(hm, objective="val_accuracy", max_trials=8, seed=spec["seed"],
                  directory={directory!r}, project_name="bare", overwrite=True)
    tuner.search(ds.x_train, ds.y_train, epochs=5, validation_data=(ds.x_val, ds.y_val),
                 verbose=0)
    print("BEST", tuner.oracle.get_best_trials(1)[0].score)
""")

MODULES = ("examples/models/digits_dense.py", "examples/models/small_cnn.py")


def time_ours(workdir: Path) -> tuple[float, float]:
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(SPEC))
    db = workdir / "ours.db"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), "run", str(spec_path),
                    "--quiet"], cwd=ROOT, check=True)
    elapsed = time.perf_counter() - start
    return elapsed, Storage(db).list_runs()[0].best_score


def time_bare(workdir: Path) -> tuple[float, float]:
    script = workdir / "bare.py"
    script.write_text(BARE.format(root=str(ROOT), spec=SPEC, directory=str(workdir / "bare")))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    return elapsed, float(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("BEST")))


def time_discovery(repeats: int) -> dict[str, dict[str, list[float]]]:
    """Seconds from choosing a module to its space: "cold" starts the discovery process
    then (the CLI's ``validate``); "warm" finds the spare the launch form started when it
    showed the model fields, its imports done (a user who opened the form a few seconds
    before choosing)."""
    from tuning.spec import discovery_process
    from tuning.spec.discovery import discover

    times: dict[str, dict[str, list[float]]] = {}
    for _ in range(repeats):
        for module in MODULES:
            for mode in ("cold", "warm"):
                discovery_process.shutdown()
                if mode == "warm":
                    discovery_process.prewarm()
                    assert discovery_process.wait_ready(300), "the spare never got ready"
                start = time.perf_counter()
                found = discover(str(ROOT / module), "build_model")
                assert found.error is None, found.error
                assert found.warm == (mode == "warm")
                times.setdefault(module, {}).setdefault(mode, []).append(
                    time.perf_counter() - start)
    discovery_process.shutdown()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1,
                        help="alternate bare and ours this many times; medians are compared")
    parser.add_argument("--discovery-only", action="store_true")
    args = parser.parse_args()
    if not args.discovery_only:
        with tempfile.TemporaryDirectory() as tmp:
            bare, ours = [], []
            for i in range(args.repeats):
                round_dir = Path(tmp) / f"round{i}"
                round_dir.mkdir()
                bare.append(time_bare(round_dir))
                ours.append(time_ours(round_dir))
            bare_s = statistics.median(b[0] for b in bare)
            ours_s = statistics.median(o[0] for o in ours)
            print(f"8-trial x 5-epoch RandomSearch of the cnn family on digits (same builder, "
                  f"seed and split), median of {args.repeats} alternating runs")
            print(f"  bare KerasTuner script : {bare_s:6.1f} s   "
                  f"({', '.join(f'{b[0]:.1f}' for b in bare)})   best val_accuracy {bare[0][1]:.4f}")
            print(f"  python -m tuning run   : {ours_s:6.1f} s   "
                  f"({', '.join(f'{o[0]:.1f}' for o in ours)})   best val_accuracy {ours[0][1]:.4f}")
            print(f"  ratio                  : {ours_s / bare_s:6.3f}   (target <= 1.05)")
    times = time_discovery(max(args.repeats, 3))
    print("Choosing a module to seeing its space, median of runs: cold = the discovery "
          "process started then (TensorFlow import included), warm = the launch form's "
          "spare, its imports done")
    for module, modes in times.items():
        for mode, values in modes.items():
            target = "(target < 10 s)" if mode == "warm" else "(no target: the CLI)"
            print(f"  {module:<36} {mode}: {statistics.median(values):5.1f} s   "
                  f"({', '.join(f'{v:.1f}' for v in values)})   {target}")

if __name__ == "__main__":
    main()
