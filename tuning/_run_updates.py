"""Two run updates that ``Storage`` does not offer (yet), for runs fed from outside the engine.

A watched script owns its run directly (no queue, no worker) and an imported project
refreshes its run's spec on re-import. Both go through ``Storage._write`` so they are
one short transaction like every other write; they belong in ``Storage`` itself
(``reopen_run``, ``replace_spec``) and should move there with the next storage change.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from storage import Storage
from storage._sqlite import _dumps


def reopen_run(storage: Storage, run_id: int, spec: Mapping[str, Any], pid: int,
               max_trials: int | None) -> bool:
    """Make a run that is not running ``running`` for process ``pid``, in one step.

    Unlike ``requeue`` + ``claim_run`` the run is never ``queued`` in between, so an
    engine never launches a worker for it; a completed run may be reopened (a second
    ``search`` in a notebook goes on with it). The spec is replaced (the search space
    and trial budget may have grown). False when another process holds it running.
    """
    now = time.time()
    direction = str(spec.get("objective", {}).get("direction", "max"))
    with storage._write() as conn:
        cur = conn.execute(
            "UPDATE runs SET status = 'running', spec = ?, direction = ?, max_trials = ?, "
            "worker_pid = ?, heartbeat_at = ?, started_at = COALESCE(started_at, ?), "
            "finished_at = NULL, error = NULL, stop_requested = 0 "
            "WHERE id = ? AND (status != 'running' OR worker_pid = ?)",
            (_dumps(spec), direction, max_trials, pid, now, now, run_id, pid))
        return cur.rowcount == 1


def replace_spec(storage: Storage, run_id: int, name: str, spec: Mapping[str, Any]) -> None:
    """Store a new name and spec for a run (an imported project read again)."""
    direction = str(spec.get("objective", {}).get("direction", "max"))
    with storage._write() as conn:
        conn.execute("UPDATE runs SET name = ?, spec = ?, direction = ? WHERE id = ?",
                     (name, _dumps(spec), direction, run_id))
