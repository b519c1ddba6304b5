"""Helpers for tests that drive the CLI in real worker processes."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from storage import Storage

ROOT = Path(__file__).resolve().parents[2]


def cli(db: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def run_spec(tmp_path: Path, spec: dict, db_name: str = "t.db"
             ) -> tuple[Storage, int, subprocess.CompletedProcess]:
    """Run a spec to its end through ``python -m tuning run``; returns (storage, run id, result)."""
    db = tmp_path / db_name
    path = tmp_path / f"spec-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    result = cli(db, "run", str(path), "--quiet")
    storage = Storage(db)
    run = storage.list_runs()[0]
    return storage, run.id, result


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_spec(tmp_path: Path, spec: dict) -> tuple[subprocess.Popen, Storage, Path, int]:
    """Start ``python -m tuning run`` in the background; returns once its run exists:
    (the CLI process, the storage, the database path, the run id)."""
    db = tmp_path / "t.db"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, "-m", "tuning", "--db", str(db), "run", str(path),
                             "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    storage = wait_for(lambda: db.exists() and Storage(db), 30, "database")
    run_id = wait_for(lambda: storage.list_runs() and storage.list_runs()[0].id, 30, "run")
    return proc, storage, db, run_id
