"""The processes discovery runs in, one per discovery, the next one started ahead of need.

Most of a discovery's time is the process importing TensorFlow and KerasTuner (about
9 s of CPU on two cores); the user's builder takes well under a second. So the launch
form asks for a **spare** (``prewarm``) as soon as it shows a custom model's fields: a
``python -m tuning.spec.discovery --serve`` process that imports them, then waits on its
standard input for one request. ``discover`` hands its request to the spare when one is
alive (ready or still importing: either is ahead of a fresh start) and starts the next
spare; with none, it starts a process and hands it the request at once. The work is
the same either way.

Each process serves **one** request and exits, so no user module, no Keras state and
no TensorFlow graph outlives the discovery that made it. The request carries the
caller's environment and working folder, which the process takes before it imports the
user's module: a setting changed after the spare started (``TUNING_DATA_DIRS``) holds.
A spare nobody asks for exits after ``TUNING_DISCOVERY_SPARE_IDLE_S`` seconds (600), and
at once when the process that started it ends (its standard input closes).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

IDLE_ENV = "TUNING_DISCOVERY_SPARE_IDLE_S"
DEFAULT_IDLE_S = 600.0
# Read by TensorFlow when it is imported: fixed for the process's life.
PROCESS_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

_lock = threading.Lock()
_spare: _Process | None = None


READY = "TUNING-DISCOVERY-READY"


class _Process:
    def __init__(self, python_path: str, idle_s: float):
        self.python_path = python_path
        env = {**os.environ, **PROCESS_ENV, "PYTHONPATH": python_path}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tuning.spec.discovery", "--serve", f"{idle_s:g}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=_project_root())
        self.ready = threading.Event()  # its imports are done: it waits for the request
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.popen.stdout, self._out),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.popen.stderr, self._err),
                                          daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            if line.rstrip("\n") == READY:
                self.ready.set()
            else:
                into.append(line)
        self.ready.set()  # ended: nobody should wait for it any longer

    def alive(self) -> bool:
        return self.popen.poll() is None

    def ask(self, request: Mapping[str, Any], timeout_s: float) -> tuple[int | None, str, str]:
        """Send the request; (exit code, stdout, stderr). Raises ``TimeoutExpired`` after
        killing the process."""
        line = json.dumps({**request, "env": dict(os.environ), "cwd": os.getcwd()}) + "\n"
        try:
            self.popen.stdin.write(line)
            self.popen.stdin.close()
        except (BrokenPipeError, OSError):  # it exited (idle) between the check and the write
            pass
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise
        for reader in self._readers:
            reader.join(timeout=5)
        return self.popen.returncode, "".join(self._out), "".join(self._err)

    def end(self) -> None:
        if self.alive():
            self.popen.kill()
        self.popen.wait()
        try:
            self.popen.stdin.close()
        except OSError:  # already closed by ``ask``, or its pipe broke
            pass


def _project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python_path() -> str:
    return os.pathsep.join(p for p in (_project_root(), os.environ.get("PYTHONPATH", "")) if p)


def _idle_s() -> float:
    try:
        return max(1.0, float(os.environ.get(IDLE_ENV, DEFAULT_IDLE_S)))
    except ValueError:
        return DEFAULT_IDLE_S


def prewarm() -> None:
    """Start a spare discovery process unless one is alive; returns at once."""
    global _spare
    with _lock:
        if _spare is not None and _spare.alive() and _spare.python_path == _python_path():
            return
        _discard(_spare)
        _spare = _Process(_python_path(), _idle_s())


def take() -> tuple[_Process, bool]:
    """A process for one discovery: the spare when one is alive (True), else a new one
    (False). Taking the spare starts the next one."""
    global _spare
    with _lock:
        spare, _spare = _spare, None
    if spare is not None and spare.alive() and spare.python_path == _python_path():
        prewarm()
        return spare, True
    _discard(spare)
    return _Process(_python_path(), _idle_s()), False


def wait_ready(timeout_s: float) -> bool:
    """Wait until the spare has done its imports (benchmarks: a user who opened the form
    a while before choosing a module); False without a spare, or past the timeout."""
    with _lock:
        spare = _spare
    return spare is not None and spare.ready.wait(timeout_s) and spare.alive()


def spare_pid() -> int | None:
    """The spare's process id, None without one (for tests and diagnostics)."""
    with _lock:
        return _spare.popen.pid if _spare is not None and _spare.alive() else None


def shutdown() -> None:
    """End the spare (tests, and a dashboard that stops)."""
    global _spare
    with _lock:
        spare, _spare = _spare, None
    _discard(spare)


def _discard(process: _Process | None) -> None:
    if process is not None:
        process.end()
