"""Shared pieces of the fault catalogue: specs that train in seconds, a database snapshot
that proves nothing stored changed, and a dashboard process the tests can kill."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from storage import RunStatus, Storage, TrialStatus
from tests.support.runs import ROOT, wait_for

__all__ = ["ROOT", "wait_for", "sklearn_spec", "write_spec", "db_fingerprint", "Dashboard",
           "end_workers", "free_port", "completed_records"]


def sklearn_spec(**extra: Any) -> dict[str, Any]:
    """Gradient boosting on digits: about a second per cross-validation fold on 2 cores,
    so a kill can land before, inside or between trials."""
    spec = {
        "name": "faults: digits gradient boosting", "seed": 11,
        "data": {"source": "sklearn", "name": "digits"},
        "model": {"family": "gradient_boosting"},
        "search_space": {"n_estimators": {"type": "int", "min": 4, "max": 12},
                         "max_depth": {"type": "int", "min": 1, "max": 3},
                         "learning_rate": {"type": "float", "min": 0.05, "max": 0.5,
                                           "sampling": "log"}},
        "strategy": {"name": "random", "max_trials": 6, "cv_folds": 3},
        "objective": {"metric": "accuracy"},
    }
    spec.update(extra)
    return spec


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(spec))
    return path


def db_fingerprint(path: Path) -> tuple[str, tuple[str, ...]]:
    """(sha256 of the file's bytes, a logical dump): equal before and after means nothing
    stored changed, byte for byte and row for row."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        dump = tuple(conn.iterdump())
    finally:
        conn.close()
    return digest, dump


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dashboard:
    """``streamlit run app.py`` with its own database and engine, as a user starts it.

    ``address=None`` leaves the bind address to ``.streamlit/config.toml``.
    """

    def __init__(self, db: Path, log: Path, *, address: str | None = "127.0.0.1",
                 env: dict[str, str] | None = None):
        self.db, self.log = db, log
        self.port = free_port()
        args = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port",
                str(self.port), "--server.headless", "true", "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false"]
        if address is not None:
            args += ["--server.address", address]
        full_env = dict(os.environ, TUNING_DB=str(db), TUNING_ENGINE="1",
                        TUNING_CONCURRENCY="1")
        full_env.update(env or {})
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=out,
                                         stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"streamlit exited with {self.proc.returncode}:\n"
                                     + self.log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    return resp.read().strip() == b"ok"
            except OSError:
                return False

        wait_for(healthy, timeout, "streamlit's health endpoint")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when the machine's OOM killer picks it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def end_workers(db: Path) -> None:
    """Workers run in their own session and outlive whoever launched them: end ours."""
    if not Path(db).exists():
        return
    store = Storage(db)
    try:
        for run in store.list_runs([RunStatus.RUNNING, RunStatus.QUEUED]):
            try:
                store.request_stop(run.id)
            except Exception:
                pass
            if run.worker_pid:
                try:
                    os.kill(run.worker_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    finally:
        store.close()


def completed_records(store: Storage, run_id: int) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """Every completed trial with its epochs, exactly as stored."""
    out = {}
    for t in store.list_trials(run_id):
        if t.status is TrialStatus.COMPLETED:
            out[t.trial_key] = (t, tuple(store.list_epochs(run_id, t.id)))
    return out
