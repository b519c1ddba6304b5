"""Benchmark: the engine benchmark's search with 2 local workers, against bare KerasTuner.

The 10-trial x 5-epoch RandomSearch on digits from ``bench_engine.py``, run once by a bare
KerasTuner script (serial, one process) and once by ``python -m tuning run`` with
``strategy.workers = 2`` (a chief and two workers on loopback), in one invocation.
Target: at most 0.65 of bare KerasTuner's wall time on a 2-core machine.

    python bench/bench_distributed.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import SPEC, time_bare  # noqa: E402
from storage import Storage  # noqa: E402


def time_workers(workdir: Path, workers: int) -> tuple[float, float, int]:
    spec = json.loads(json.dumps(SPEC))
    spec["name"] = f"bench digits random, {workers} workers"
    spec["strategy"]["workers"] = workers
    path = workdir / f"workers{workers}.json"
    path.write_text(json.dumps(spec))
    db = workdir / f"workers{workers}.db"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), "run", str(path),
                    "--quiet"], cwd=ROOT, check=True)
    elapsed = time.perf_counter() - start
    storage = Storage(db)
    run = storage.list_runs()[0]
    return elapsed, run.best_score, len(storage.list_trials(run.id))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare_s, bare_best = time_bare(workdir)
        ours_s, ours_best, trials = time_workers(workdir, 2)
        print("10-trial x 5-epoch RandomSearch on digits (MLP, same seed)")
        print(f"  bare KerasTuner, serial      : {bare_s:6.1f} s   best val_accuracy {bare_best:.4f}")
        print(f"  python -m tuning, 2 workers  : {ours_s:6.1f} s   best val_accuracy "
              f"{ours_best:.4f}   ({trials} trials)")
        print(f"  ratio                        : {ours_s / bare_s:6.3f}   (target <= 0.65)")


if __name__ == "__main__":
    main()
