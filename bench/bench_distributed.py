"""Benchmark: the engine benchmark's search with 2 local workers, against bare KerasTuner.

The 10-trial x 5-epoch RandomSearch on digits from ``bench_engine.py``, run once by a bare
KerasTuner script (serial, one process) and once by ``python -m tuning run`` with
``strategy.workers = 2`` (a chief and two workers on loopback), in one invocation.
Target: at most 0.65 of bare KerasTuner's wall time on a 2-core machine.

    python bench/bench_distributed.py
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternate bare and ours this many times; medians are compared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare, ours = [], []
        for i in range(args.repeats):
            workdir = Path(tmp) / f"round{i}"
            workdir.mkdir()
            bare.append(time_bare(workdir))
            ours.append(time_workers(workdir, 2))
        bare_s = statistics.median(b[0] for b in bare)
        ours_s = statistics.median(o[0] for o in ours)
        print(f"10-trial x 5-epoch RandomSearch on digits (MLP, same seed), median of "
              f"{args.repeats} alternating runs")
        print(f"  bare KerasTuner, serial      : {bare_s:6.1f} s   "
              f"({', '.join(f'{b[0]:.1f}' for b in bare)})")
        print(f"  python -m tuning, 2 workers  : {ours_s:6.1f} s   "
              f"({', '.join(f'{o[0]:.1f}' for o in ours)})   {ours[0][2]} trials")
        print(f"  ratio                        : {ours_s / bare_s:6.3f}   (target <= 0.65)")


if __name__ == "__main__":
    main()
