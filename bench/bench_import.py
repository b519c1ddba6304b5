"""How long importing a KerasTuner project folder takes, and how long its one transaction
holds the database's write lock (other writers, such as workers recording epochs, wait for
it), at the largest project an import takes.

    python bench/bench_import.py                 # 10,000 trials (the cap), 10 epochs each
    python bench/bench_import.py --trials 1000

Target: the transaction of the largest import holds the lock for at most a third of the
database's busy timeout, so a waiting writer never gives up.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import Storage  # noqa: E402
from storage._sqlite import BUSY_TIMEOUT_S  # noqa: E402
from tests.support.kt_folders import metrics, trial, write_project  # noqa: E402
from tuning.ingest import importer  # noqa: E402
from tuning.ingest.project_files import MAX_TRIALS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=MAX_TRIALS)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    epochs = min(args.epochs, importer.MAX_EPOCH_ROWS // args.trials)
    with tempfile.TemporaryDirectory() as tmp:
        trials = [trial(str(i).zfill(5), {"units": 8 + i % 4 * 8, "act": "relu", "lr": 0.002},
                        0.5 + i / 1e6, metrics_config=metrics(val_accuracy=("max", [
                            (e, [0.5 + i / 1e6]) for e in range(epochs)])))
                  for i in range(args.trials)]
        folder = write_project(Path(tmp) / "project", trials)
        storage = Storage(Path(tmp) / "t.db")
        started = time.perf_counter()
        project = importer.read_project(folder)
        read = time.perf_counter() - started
        started = time.perf_counter()
        with storage.transaction():
            importer._write_project(storage, project, None)
        held = time.perf_counter() - started
    target = BUSY_TIMEOUT_S / 3
    print(f"{args.trials} trials x {epochs} epochs: reading and checking the folder "
          f"{read:.1f} s (no lock held); the transaction {held:.1f} s "
          f"(target <= {target:.0f} s: {'met' if held <= target else 'MISSED'})")
    return 0 if held <= target else 1


if __name__ == "__main__":
    sys.exit(main())
