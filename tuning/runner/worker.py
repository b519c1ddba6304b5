"""Worker process entry: ``python -m tuning.worker --db PATH RUN_ID``.

Claims the queued run (so two launchers never run it twice), then executes it.
The claim comes before the slow TensorFlow import, so a launcher sees the run
move to running within a second of starting the process.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys

from storage import RunStatus, Storage, StorageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuning.worker")
    parser.add_argument("run_id", type=int)
    parser.add_argument("--db", help="the database (on the chief's machine)")
    parser.add_argument("--tuner-id", help="join a distributed run as this KerasTuner worker")
    parser.add_argument("--chief", help="HOST:PORT of the distributed run's chief oracle")
    parser.add_argument("--relay", help="URL of the chief's recording relay (another machine)")
    parser.add_argument("--token", help="the run's relay token (relay.json in its folder)")
    parser.add_argument("--workdir", help="local folder for KerasTuner's files on a remote "
                                          "worker (default: data/remote-runs/)")
    args = parser.parse_args(argv)
    if args.relay:
        return _join_remote(args)
    if not args.db:
        parser.error("--db is required (or --relay and --token on another machine)")
    try:
        storage = Storage(args.db)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.tuner_id:
        return _join(storage, args)
    from .liveness import process_identity
    from .run_control import stop_on_signal

    if not storage.claim_run(args.run_id, os.getpid(), identity=process_identity()):
        print(f"run {args.run_id} is not queued (another worker has it, or it was stopped)",
              file=sys.stderr)
        return 0
    stop_on_signal(storage, args.run_id)  # SIGTERM: end cleanly after the epoch in flight
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .distributed import start_before_import

    try:
        workers = start_before_import(storage, args.run_id)
    except OSError as exc:  # chief_host is no address of this machine, or the port is taken
        storage.finish_run(args.run_id, RunStatus.FAILED, error=(
            f"cannot serve the oracle: {exc}; set strategy.chief_host to an address of this "
            "machine (127.0.0.1 keeps it local) and strategy.chief_port to a free port"))
        return 0
    from .executor import execute_run

    return execute_run(storage, args.run_id, worker_name=f"{socket.gethostname()}:{os.getpid()}",
                       workers=workers)


def _join(storage, args: argparse.Namespace, folder: str | None = None) -> int:
    """A distributed worker: the chief owns the run; this process only runs trials."""
    if not args.chief or ":" not in args.chief:
        print("error: --chief HOST:PORT is required with --tuner-id", file=sys.stderr)
        return 2
    host, port = args.chief.rsplit(":", 1)
    os.environ.update({"KERASTUNER_TUNER_ID": args.tuner_id, "KERASTUNER_ORACLE_IP": host,
                       "KERASTUNER_ORACLE_PORT": port})
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .executor import execute_worker

    return execute_worker(storage, args.run_id, args.tuner_id, folder)


def _join_remote(args: argparse.Namespace) -> int:
    """A worker on another machine: epochs go to the chief's database through its relay."""
    if not (args.token and args.tuner_id and args.chief):
        print("error: --relay needs --token, --tuner-id and --chief", file=sys.stderr)
        return 2
    from tuning.paths import DATA_DIR

    from .relay import ChiefWatch, RemoteStorage

    storage = RemoteStorage(args.relay, args.token, args.run_id)
    ChiefWatch(args.relay, args.token, args.run_id).start()  # a gone chief ends this worker
    root = args.workdir or str(DATA_DIR / "remote-runs")
    folder = os.path.join(root, f"run-{args.run_id}-{args.tuner_id}")
    return _join(storage, args, folder)


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: everything is committed by now, and
    unloading TensorFlow takes over a second that nobody waits for usefully."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
