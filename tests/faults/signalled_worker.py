"""A real worker that sends itself SIGTERM in the middle of one of its own writes:
``python tests/faults/signalled_worker.py KIND N --db DB RUN_ID``.

KIND names a write (``begin`` a trial, record an ``epoch``, ``finish`` a trial, or a
``heartbeat``); the signal is sent right after the N-th such statement has executed, while
its transaction is still open, so the handler runs inside that write. The worker is
otherwise ``python -m tuning.worker`` unchanged, except that for a ``heartbeat`` the run is
not concluded before the N-th beat's signal has come: the heartbeat thread beats on its own
clock, and a short run could otherwise end before it, on a loaded machine or an idle one.
The signal then lands before the conclusion at the latest, which must still see it.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage import _sqlite  # noqa: E402  (the connection class is where writes happen)

STATEMENTS = {
    "begin": "INSERT INTO trials",
    "epoch": "INSERT OR REPLACE INTO epochs",
    "finish": "UPDATE trials SET status = ?, score = ?",
    "heartbeat": "UPDATE runs SET heartbeat_at = ?",
}


def install(kind: str, nth: int) -> None:
    prefix, seen = STATEMENTS[kind], [0]
    execute = _sqlite._Connection.execute

    def signalling_execute(self, sql, parameters=()):
        cursor = execute(self, sql, parameters)
        if sql.lstrip().startswith(prefix):
            seen[0] += 1
            if seen[0] == nth:
                assert self.in_transaction, "the signal must land inside the write"
                os.kill(os.getpid(), signal.SIGTERM)
        return cursor

    _sqlite._Connection.execute = signalling_execute
    if kind == "heartbeat":
        _conclude_after_the_signal()


def _conclude_after_the_signal(within_s: float = 60.0) -> None:
    """Make ``conclude`` wait for the signal's flag (the executor imports it later)."""
    from tuning.runner import run_control

    conclude = run_control.conclude

    def concluding_after_the_signal(*args, **kwargs):
        deadline = time.monotonic() + within_s
        # A short wait, not one long one: the handler runs in this thread between waits.
        while not run_control.SIGNALLED_STOP.event.wait(0.05):
            assert time.monotonic() < deadline, "no heartbeat came to be signalled"
        return conclude(*args, **kwargs)

    run_control.conclude = concluding_after_the_signal


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]))
    from tuning.runner.worker import exit_now, main

    exit_now(main(sys.argv[3:]))
