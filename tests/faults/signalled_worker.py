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


def install(kind: str, nth: int) -> list[int]:
    """Hook the connection's ``execute`` and ``executemany``; returns the counter of the
    statements seen (an ``executemany`` counts one per row: one epoch, one statement)."""
    prefix, seen = STATEMENTS[kind], [0]
    execute, executemany = _sqlite._Connection.execute, _sqlite._Connection.executemany

    def count(connection, sql: str, rows: int) -> None:
        if sql.lstrip().startswith(prefix):
            before = seen[0]
            seen[0] += rows
            if before < nth <= seen[0]:
                assert connection.in_transaction, "the signal must land inside the write"
                os.kill(os.getpid(), signal.SIGTERM)

    def signalling_execute(self, sql, parameters=()):
        cursor = execute(self, sql, parameters)
        count(self, sql, 1)
        return cursor

    def signalling_executemany(self, sql, seq_of_parameters):
        rows = list(seq_of_parameters)
        cursor = executemany(self, sql, rows)
        count(self, sql, len(rows))
        return cursor

    _sqlite._Connection.execute = signalling_execute
    _sqlite._Connection.executemany = signalling_executemany
    if kind == "heartbeat":
        _conclude_after_the_signal()
    return seen


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
    kind, nth = sys.argv[1], int(sys.argv[2])
    seen = install(kind, nth)
    from tuning.runner.worker import exit_now, main

    code = main(sys.argv[3:])
    if seen[0] < nth:  # a hook that no longer matches the writes must not pass for a stop
        print(f"signalled_worker: only {seen[0]} {kind} writes ({STATEMENTS[kind]!r}) were "
              f"seen, so the signal after the {nth}th was never sent", file=sys.stderr)
        code = 3
    exit_now(code)
