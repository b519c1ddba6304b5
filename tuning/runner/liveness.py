"""Whether the process holding a running run is still alive: the one rule, used by the
dashboard's engine, the CLI (``list``, ``resume``, a followed run) and ``control``.

A pid alone proves nothing: the system hands it to a new process once the old one is
gone (after a reboot, the same pids come back in the same order). A worker therefore
records its *identity* when it claims a run: the machine, the boot, the pid namespace,
the pid and the process's start time (``/proc/PID/stat``). On the machine, boot and
namespace that recorded it, the identity is alive exactly while a process with that pid
and that start time exists (and is not a zombie): a run whose worker died is seen as
interrupted at once, by whoever looks. Elsewhere (another machine or container shares
the file), or for a run whose holder recorded no identity, only the heartbeat can tell:
the holder is gone once it has not beaten for ``STALE_HEARTBEAT_S``.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable

import psutil

from storage import Run, RunStatus, Store

STALE_HEARTBEAT_S = 15.0
GONE_REASON = "worker process disappeared (killed, crashed or its machine restarted)"

_PREFIX, _SEP = "proc1", "/"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _start_ticks(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of ``pid`` from ``/proc``, or None."""
    stat = _read(f"/proc/{int(pid)}/stat")
    if not stat or ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _here() -> tuple[str, str, str]:
    """(host name, boot id, pid namespace) of this process."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "-"
    return socket.gethostname(), _read("/proc/sys/kernel/random/boot_id") or "-", namespace


def process_identity(pid: int | None = None) -> str | None:
    """The identity of process ``pid`` (default: this one), or None if it does not exist."""
    pid = os.getpid() if pid is None else int(pid)
    host, boot, namespace = _here()
    found = _start_ticks(pid)
    if found is not None:
        start = found[1]
    else:  # no /proc (not Linux): psutil's start time, to the hundredth of a second
        try:
            start = f"{psutil.Process(pid).create_time():.2f}"
        except (psutil.Error, OSError):
            return None
    return _SEP.join(part.replace(_SEP, "_") for part in
                     (_PREFIX, host, boot, namespace, str(pid), start))


def identity_alive(identity: str | None) -> bool | None:
    """True while the process ``identity`` names is alive, False once it is gone; None
    when this process cannot tell (no identity, or another machine or namespace)."""
    parts = (identity or "").split(_SEP)
    if len(parts) != 6 or parts[0] != _PREFIX:
        return None
    _, host, boot, namespace, pid, start = parts
    here_host, here_boot, here_namespace = (p.replace(_SEP, "_") for p in _here())
    if host != here_host:
        return None
    if boot != here_boot:
        return False if boot != "-" else None  # this machine restarted since
    if namespace != here_namespace or not pid.isdigit():
        return None
    now = process_identity(int(pid))
    if now is None or now.rsplit(_SEP, 1)[1] != start:
        return False
    found = _start_ticks(int(pid))
    return not (found and found[0] in ("Z", "X"))


def worker_alive(pid: int | None) -> bool:
    """True when ``pid`` is a live worker of ours judged by its command line: the check
    for rows without an identity (written by an older release, or by tests)."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return "tuning.worker" in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def holder_gone(run: Run, now: float | None = None) -> bool:
    """True when nothing holds this running run any more (see the module docstring)."""
    alive = identity_alive(run.worker_identity)
    if alive is not None:
        return not alive
    now = time.time() if now is None else now
    stale = run.heartbeat_at is None or now - run.heartbeat_at > STALE_HEARTBEAT_S
    if run.worker_identity is not None:
        return stale  # recorded elsewhere: its pid means nothing here
    return stale and not worker_alive(run.worker_pid)


def holder_running(run: Run) -> bool:
    """True when the run's holder is alive, as far as this process can tell."""
    alive = identity_alive(run.worker_identity)
    return worker_alive(run.worker_pid) if alive is None else alive


def mark_orphans(storage: Store, runs: Iterable[Run] | None = None, *,
                 skip: Callable[[int], bool] = lambda run_id: False,
                 now: float | None = None) -> list[int]:
    """Mark interrupted each running run (of ``runs``, default all) whose holder is gone,
    unless ``skip(run_id)``; returns the ids marked. The run is marked only if the same
    worker still holds it, so a run resumed meanwhile by a new worker is left alone."""
    marked = []
    if runs is None:
        runs = storage.list_runs([RunStatus.RUNNING])
    for run in runs:
        if run.status is not RunStatus.RUNNING or skip(run.id) or not holder_gone(run, now):
            continue
        if storage.mark_interrupted(run.id, GONE_REASON, worker_pid=run.worker_pid):
            marked.append(run.id)
    return marked
