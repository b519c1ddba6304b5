"""A browser session's polling loop, as a process: ``python tests/faults/reader.py DB OUT RUN...``.

Polls ``Storage.changes_since`` for each run every 20 ms, as the live page does every second,
until every run has finished (then reads once more), and writes what it received to OUT
as JSON: ``{"epochs": {run: [[id, trial, execution, epoch], ...]}, "errors": [...], "polls": n}``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage import Cursor, Storage  # noqa: E402

POLL_S = 0.02
DEADLINE_S = 240


def follow(db: str, run_ids: list[int]) -> dict:
    store = Storage(db)
    cursors = {r: Cursor() for r in run_ids}
    seen: dict[int, list[list[int]]] = {r: [] for r in run_ids}
    errors: list[str] = []
    polls, last_round = 0, False
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        finished = True
        for run_id in run_ids:
            try:
                changes = store.changes_since(run_id, cursors[run_id])
            except Exception as exc:  # every failure is reported, none is retried silently
                errors.append(f"{type(exc).__name__}: {exc}")
                finished = False
                continue
            cursors[run_id] = changes.cursor
            seen[run_id] += [[e.id, e.trial_id, e.execution, e.epoch] for e in changes.epochs]
            finished = finished and changes.run.status.is_finished()
        polls += 1
        if last_round:
            break
        last_round = finished
        time.sleep(POLL_S)
    else:
        errors.append(f"runs not finished after {DEADLINE_S} s")
    return {"epochs": {str(k): v for k, v in seen.items()}, "errors": errors, "polls": polls}


if __name__ == "__main__":
    db, out, *runs = sys.argv[1:]
    Path(out).write_text(json.dumps(follow(db, [int(r) for r in runs])))
