"""The engine: one background thread per process that launches and watches workers.

It launches a worker process for each queued run, up to ``concurrency`` at once,
and marks a run interrupted when its worker is gone (``liveness``: the rule the CLI
applies too). Workers run in their own session, so they outlive a dashboard that is
killed; a restarted engine finds them through their process identity and heartbeat.

Contract: the engine never touches Streamlit and never imports TensorFlow; all it
knows of a run comes from the database.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from storage import RunStatus, Storage
from tuning.paths import PROJECT_ROOT, run_dir

from .liveness import STALE_HEARTBEAT_S, holder_running, mark_orphans, worker_alive
from .run_control import EXIT_RECYCLE

__all__ = ["Engine", "STALE_HEARTBEAT_S", "worker_alive"]


class Engine:
    """Launches workers for queued runs and reaps dead ones. ``tick`` does one pass."""

    def __init__(self, db_path: str, concurrency: int = 1, poll_s: float = 0.5,
                 run_filter: Callable[[int], bool] | None = None,
                 clock: Callable[[], float] = time.time):
        self.db_path = os.path.abspath(db_path)
        self.storage = Storage(self.db_path)
        self.concurrency = max(1, int(concurrency))
        self.poll_s = poll_s
        self.run_filter = run_filter
        self.clock = clock
        self.workers: dict[int, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- thread ----------------------------------------------------------------------
    def start(self) -> Engine:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="tuning-engine", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # the engine must outlive a busy or broken database
                print(f"tuning engine: {exc}", file=sys.stderr)
            self._stop.wait(self.poll_s)

    # -- one pass --------------------------------------------------------------------
    def tick(self) -> None:
        self._reap()
        self._watch_orphans()
        self._launch()

    def _reap(self) -> None:
        for run_id, proc in list(self.workers.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.workers[run_id]
            if code == EXIT_RECYCLE:
                continue  # the run is queued again; _launch starts a fresh worker
            if code != 0:
                # Only if this worker still holds it: one that lost the claim leaves it be.
                self.storage.mark_interrupted(
                    run_id, f"worker process exited with code {code}; see "
                            f"{run_dir(self.db_path, run_id) / 'worker.log'}",
                    worker_pid=proc.pid)

    def _watch_orphans(self) -> None:
        """Runs marked running whose worker is not ours: interrupted once it is gone."""
        mark_orphans(self.storage, now=self.clock(),
                     skip=lambda run_id: run_id in self.workers or not self._wanted(run_id))

    def _launch(self) -> None:
        queued = self.storage.queued_run_ids()
        if not queued:
            return
        busy = len(self.workers)
        if self.run_filter is None:
            # Workers this engine did not start (it was restarted, or a CLI started them)
            # use the same machine: they count against the limit too.
            busy += sum(1 for r in self.storage.list_runs([RunStatus.RUNNING])
                        if r.id not in self.workers and holder_running(r))
        for run_id in queued:
            if busy >= self.concurrency:
                return
            if run_id in self.workers or not self._wanted(run_id):
                continue
            self.workers[run_id] = self.spawn(run_id)
            busy += 1

    def _wanted(self, run_id: int) -> bool:
        return self.run_filter is None or self.run_filter(run_id)

    def spawn(self, run_id: int) -> subprocess.Popen:
        folder = run_dir(self.db_path, run_id)
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / "worker.log", "ab")
        try:
            # A session of its own: the worker survives the dashboard being killed.
            return subprocess.Popen(
                [sys.executable, "-m", "tuning.worker", "--db", self.db_path, str(run_id)],
                cwd=str(PROJECT_ROOT), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()

    def busy(self) -> bool:
        return bool(self.workers)
