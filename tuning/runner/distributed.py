"""Parallel trials on KerasTuner's own chief/worker engine.

A run whose spec asks for ``strategy.workers`` > 1 is executed by a coordinator (the
worker process the engine launched): it builds the tuner as KerasTuner's *chief*, serves
the oracle over gRPC on ``strategy.chief_host`` (loopback by default), and starts N
worker processes (``KERASTUNER_TUNER_ID=tuner<i>``). Each worker runs trials proposed by
the chief and records every epoch into the database itself, with the same hooks as a
single-process run; trials carry the worker's name.

A worker that dies is started again under the same tuner id: KerasTuner's oracle hands
an id its unfinished trial first, so that trial is retried and the others go on. After
``MAX_RESTARTS`` the trial is failed instead. Stop and resume work as for single runs.

Imports TensorFlow and gRPC: worker processes only.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import Any

from storage import RunStatus, Storage, TrialStatus
from tuning.network import chief_host_refusal
from tuning.paths import PROJECT_ROOT, claim_run_folder, run_dir

from .run_control import EXIT_RECYCLE

MAX_RESTARTS = 3
REMOTE_STALL_S = 900.0
POLL_S = 0.05  # how soon the chief sees a worker end (the run's end waits on it)
LINGER_S = 30.0  # the most the end of a run waits for remote workers to be told
RELAY_QUIET_S = 1.0


class JoinedRecorder:
    """A distributed worker's store: the chief owns the run, so a worker that retires (its
    watchdog failed a hung trial, or it ran its ``recycle_every`` trials) only leaves and
    never hands the run back to the queue under its chief. Everything else is the
    store's own."""

    def __init__(self, storage: Any):
        self._storage = storage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    def requeue_for_recycle(self, run_id: int) -> None:
        """Nothing: the chief restarts a local worker that exits to recycle."""


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def chief_env(tuner_id: str, host: str, port: int) -> dict[str, str]:
    return {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host,
            "KERASTUNER_ORACLE_PORT": str(port)}


def serve_oracle(oracle: Any, host: str, port: int) -> Any:
    """Serve ``oracle`` like KerasTuner's chief, without its blocking loop (we supervise)."""
    import grpc

    from .kt_compat import add_oracle_service

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    add_oracle_service(server, oracle)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise RuntimeError(f"cannot serve the oracle on {host}:{port}; pick another "
                           "strategy.chief_host or free the port")
    server.start()
    return server


def spawn_worker(db_path: str, run_id: int, tuner_id: str, host: str, port: int,
                 log_path: str) -> subprocess.Popen:
    env = {**os.environ, **chief_env(tuner_id, host, port),
           # Two workers on two cores: one thread each keeps them from fighting.
           "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "tuning.worker", "--db", db_path, str(run_id),
             "--tuner-id", tuner_id, "--chief", f"{host}:{port}"],
            cwd=str(PROJECT_ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    finally:
        log.close()


def become_chief(spec: Mapping[str, Any]) -> tuple[str, int]:
    """Pick the oracle's address and mark this process as KerasTuner's chief.

    Call before building the tuner: KerasTuner reads these variables when it is built.
    ``PermissionError`` for an address other than loopback without the opt-in
    (``tuning.network``).
    """
    strategy = spec["strategy"]
    host = strategy.get("chief_host", "127.0.0.1")
    refusal = chief_host_refusal(host)
    if refusal is not None:  # checked again here: the spec may predate the setting
        raise PermissionError(f"strategy.chief_host {host!r} must {refusal}")
    port = int(strategy.get("chief_port") or free_port(host))
    os.environ.update(chief_env("chief", host, port))
    return host, port


def start_workers(storage: Storage, run_id: int, spec: Mapping[str, Any],
                  folder: str) -> dict[str, subprocess.Popen]:
    """Start the local worker processes, ``tuner1`` ... ``tuner<N-1>``: the chief itself
    trains as ``tuner0``. Call right after ``become_chief``: their TensorFlow import overlaps
    the chief's own, and KerasTuner's client waits for the oracle to come up."""
    host = os.environ["KERASTUNER_ORACLE_IP"]
    port = int(os.environ["KERASTUNER_ORACLE_PORT"])
    log = os.path.join(folder, "workers.log")
    return {f"tuner{i}": spawn_worker(storage.path, run_id, f"tuner{i}", host, port, log)
            for i in range(1, int(spec["strategy"]["workers"]))}


def start_before_import(storage: Storage, run_id: int) -> dict[str, subprocess.Popen] | None:
    """For a claimed run that asks for several workers: become the chief and start the
    local workers now, before this process imports TensorFlow, so that every process's
    import (seconds each) runs at the same time instead of one after the other. Returns
    the worker processes for ``executor.execute_run``, or None for a single-process run.

    When the workers fill the machine's cores, this process keeps to one TensorFlow
    thread too, as they do: on a small model more threads only fight over the cores.
    """
    run = storage.get_run(run_id)
    strategy = run.spec["strategy"]
    if int(strategy.get("workers") or 1) < 2:
        return None
    folder = str(run_dir(storage.path, run_id))
    os.makedirs(folder, exist_ok=True)
    claim_run_folder(folder, run.created_at)  # before any worker writes into it
    become_chief(run.spec)
    if int(strategy["workers"]) >= (os.cpu_count() or 1):
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    return start_workers(storage, run_id, run.spec, folder)


def stop_workers(procs: Mapping[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()


def coordinate(storage: Storage, run_id: int, spec: Mapping[str, Any], tuner: Any,
               folder: str, procs: dict[str, subprocess.Popen],
               local_search: Callable[[], None],
               after_local: Callable[[], None] | None = None) -> RunStatus:
    """Serve the chief oracle, train as ``tuner0`` in this process (``local_search``) while a
    thread keeps the worker processes going, and return once every worker is done.

    ``after_local`` runs once this process has no trial left to train, while the other
    workers finish theirs: work for the end of the run that would otherwise wait for them."""
    strategy = spec["strategy"]
    host = os.environ["KERASTUNER_ORACLE_IP"]
    port = int(os.environ["KERASTUNER_ORACLE_PORT"])
    tuner.save()
    server = serve_oracle(tuner.oracle, host, port)
    relay = _start_relay(storage, run_id, strategy, host, port, folder)
    halt = threading.Event()
    supervisor = threading.Thread(
        target=_supervise, name="worker-supervisor", daemon=True,
        args=(storage, run_id, tuner.oracle, procs, host, port, folder, halt))
    try:
        supervisor.start()
        local_search()
        if after_local is not None:
            after_local()
        supervisor.join()
        _wait_for_remote_workers(storage, run_id, tuner.oracle)
        release_remote_workers(tuner.oracle, relay, {"chief", "tuner0", *procs},
                               stopped=storage.control_flags(run_id)[0])
    finally:
        halt.set()
        stop_workers(procs)
        server.stop(0)
        relay.stop()
    if storage.control_flags(run_id)[0]:
        return RunStatus.STOPPED
    return RunStatus.COMPLETED


def _supervise(storage: Storage, run_id: int, oracle: Any, procs: dict[str, subprocess.Popen],
               host: str, port: int, folder: str, halt: threading.Event) -> None:
    """Restart worker processes that die (same tuner id: KerasTuner hands it its unfinished
    trial first) until each has finished, or give up their trial after MAX_RESTARTS."""
    log = os.path.join(folder, "workers.log")
    restarts = {tid: 0 for tid in procs}
    done: set[str] = set()
    while len(done) < len(procs) and not halt.wait(POLL_S):
        for tid, proc in list(procs.items()):
            if tid in done or proc.poll() is None:
                continue
            if proc.returncode == 0:
                done.add(tid)
            elif proc.returncode == EXIT_RECYCLE:  # retired to free memory: not a failure
                procs[tid] = spawn_worker(storage.path, run_id, tid, host, port, log)
            elif restarts[tid] < MAX_RESTARTS and not storage.control_flags(run_id)[0]:
                restarts[tid] += 1
                procs[tid] = spawn_worker(storage.path, run_id, tid, host, port, log)
            else:
                _fail_ongoing_trial(storage, run_id, oracle, tid, proc.returncode)
                done.add(tid)


def _wait_for_remote_workers(storage: Storage, run_id: int, oracle: Any) -> None:
    """Workers started on other machines may still hold trials: let them finish.

    A remote trial with no new epoch for ``REMOTE_STALL_S`` is failed (its worker is gone).
    """
    while oracle.ongoing_trials and not storage.control_flags(run_id)[0]:
        time.sleep(POLL_S)
        for tuner_id, trial in list(oracle.ongoing_trials.items()):
            try:
                record = storage.get_trial_by_key(run_id, trial.trial_id)
            except Exception:
                continue
            epochs = storage.list_epochs(run_id, record.id)
            last = epochs[-1].created_at if epochs else (record.started_at or time.time())
            if time.time() - last > REMOTE_STALL_S:
                _fail_ongoing_trial(storage, run_id, oracle, tuner_id, -1,
                                    f"no epoch from remote worker {tuner_id} for "
                                    f"{REMOTE_STALL_S:.0f} s; it is presumed gone")


def release_remote_workers(oracle: Any, relay: Any, local: set[str], stopped: bool,
                           linger_s: float = LINGER_S) -> None:
    """Keep the oracle and the relay up until the workers on other machines have been
    told the run is over, at most ``linger_s``.

    A remote worker asks the oracle for its next trial after recording the last one;
    once the oracle is gone that call waits for it (KerasTuner's client: up to an hour).
    KerasTuner drops a tuner id from ``oracle.tuner_ids`` when it answers it STOPPED, so
    the wait ends when no remote id is left and no remote trial is ongoing, and the relay
    has had a quiet moment (the worker's last writes have landed). A stopped run's
    workers leave on the stop flag instead, without asking: for them the quiet suffices.
    """
    deadline = time.monotonic() + linger_s
    while time.monotonic() < deadline:
        try:  # the oracle's gRPC thread may change them while they are copied
            remote_ongoing = set(oracle.ongoing_trials) - local
            remote_waiting = set(getattr(oracle, "tuner_ids", ())) - local
        except RuntimeError:
            continue
        quiet = time.monotonic() - relay.last_request_at >= RELAY_QUIET_S
        if quiet and not remote_ongoing and (stopped or not remote_waiting):
            return
        time.sleep(POLL_S)


def _start_relay(storage: Storage, run_id: int, strategy: Mapping[str, Any], host: str,
                 port: int, folder: str) -> Any:
    """Serve the recording relay for workers on other machines; write how to join."""
    from .relay import Relay

    relay = Relay(storage, run_id, host, int(strategy.get("relay_port") or 0)).start()
    command = (f"python -m tuning.worker {run_id} --tuner-id tuner<N> --chief {host}:{port} "
               f"--relay {relay.url} --token {relay.token}")
    path = os.path.join(folder, "relay.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"chief": f"{host}:{port}", "relay": relay.url, "token": relay.token,
                   "command": command}, fh)
    os.chmod(path, 0o600)  # the token lets its holder write to this run
    return relay


def join_command(folder: str) -> str:
    """The command that starts one more worker for a running distributed run."""
    with open(os.path.join(folder, "relay.json"), encoding="utf-8") as fh:
        return json.load(fh)["command"]


def _fail_ongoing_trial(storage: Storage, run_id: int, oracle: Any, tuner_id: str,
                        code: int, message: str | None = None) -> None:
    """A worker that keeps dying gives up its trial, so the chief is not left waiting."""
    trial = oracle.ongoing_trials.get(tuner_id)
    if trial is None:
        return
    message = message or (f"worker {tuner_id} exited with code {code} {MAX_RESTARTS + 1} "
                          "times while running this trial")
    trial.status = "FAILED"
    trial.message = message
    try:
        oracle.end_trial(trial)
    except RuntimeError:
        pass  # over the consecutive-failure limit: the run ends as failed below
    try:
        record = storage.get_trial_by_key(run_id, trial.trial_id)
        storage.finish_trial(record.id, TrialStatus.FAILED, message=message)
    except Exception:
        pass
