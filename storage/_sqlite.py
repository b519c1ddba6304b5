"""SQLite storage: runs, trials and per-epoch metrics in one file.

``Storage`` implements ``storage.Store`` (the written contract is ``_contract``). Here:
- One ``Storage`` object may be shared by threads: each thread gets its own
  connection. Several processes may open the same file; SQLite's WAL mode lets
  one writer and many readers work at once, and a busy timeout absorbs short
  write contention.
- Every write is its own short transaction and is committed before the method
  returns, so a reader in another process sees it at once; inside ``transaction()``
  a thread's writes are one transaction, committed when its block ends.
- A write that depends on a run's status (claim, stop, requeue, delete, cancel, mark
  interrupted) reads that status inside its own write transaction (``BEGIN IMMEDIATE``)
  or states it in the ``UPDATE``'s ``WHERE``: no other process can change the status
  between the check and the write.
- Every value returned is a frozen dataclass (see ``_models``); JSON columns
  come back as read-only mappings.
- Cursors (``Cursor``) only grow: ``changes_since`` returns rows written after
  the cursor it was given, so a page polling every second reads only new rows.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

import orjson

from ._json import frozen_json, plain_json
from ._models import Cursor, Epoch, Run, RunChanges, RunStatus, Trial, TrialStatus
from ._reads import PageReads
from ._schema import migrate
from .errors import InvalidTransitionError, NotFoundError, StorageError

BUSY_TIMEOUT_S = 30.0
TRIAL_OUTPUT_LIMIT = 200_000  # characters of a trial's traceback or log that are kept
# Trials with a result: ``begin_trial(keep_finished=True)`` never trains them again.
_KEPT = (TrialStatus.COMPLETED.value, TrialStatus.PRUNED.value, TrialStatus.CANCELLED.value)

_RUN_COLUMNS = """
    r.id, r.name, r.spec, r.status, r.created_at, r.started_at, r.finished_at, r.error,
    r.worker_pid, r.heartbeat_at, r.stop_requested, r.max_trials,
    (SELECT COUNT(*) FROM trials t WHERE t.run_id = r.id AND t.status != 'running'),
    (SELECT CASE WHEN r.direction = 'min' THEN MIN(t.score) ELSE MAX(t.score) END
       FROM trials t WHERE t.run_id = r.id AND t.status = 'completed'),
    r.worker_identity, r.data_summary
"""

_TRIAL_COLUMNS = """
    id, run_id, trial_key, number, status, hyperparameters, score, metrics, message,
    started_at, finished_at, bracket, round, parent_key, epochs_done, cancel_requested,
    worker, flags, rev
"""


def _dumps(value: Any) -> str:
    return json.dumps(plain_json(value), default=plain_json, allow_nan=False, sort_keys=True)


def _clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    clean: dict[str, float | None] = {}
    for key, value in metrics.items():
        # Not plain_json: a diverged (NaN) epoch is kept as None, not dropped.
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        clean[str(key)] = number if math.isfinite(number) else None
    return clean


# Parsed specs by their text: the Runs page lists every run each refresh, and freezing a
# thousand specs again each time would be most of its cost. The values are immutable and
# follow from the text alone, so one cache serves every Storage and thread.
_SPECS: dict[str, Mapping[str, Any]] = {}
_SPECS_LIMIT = 10_000


def _frozen_spec(text: str) -> Mapping[str, Any]:
    spec = _SPECS.get(text)
    if spec is None:
        if len(_SPECS) >= _SPECS_LIMIT:
            _SPECS.clear()
        spec = _SPECS[text] = frozen_json(json.loads(text))
    return spec


def _damaged(conn: sqlite3.Connection, exc: sqlite3.DatabaseError) -> StorageError:
    path = getattr(conn, "db_path", "the database")
    return StorageError(
        f"{path} cannot be read: it is corrupt or not an SQLite file ({exc}). Restore it "
        "from a backup or point --db/TUNING_DB at another file; this one was left untouched.")


class _Cursor(sqlite3.Cursor):
    """A cursor that reports a damaged file (``sqlite3.DatabaseError`` itself; busy,
    locked and constraint errors are its subclasses and pass unchanged) as
    ``StorageError``, wherever SQLite meets the damage: a file whose header is sound opens
    fine and fails only when a query reaches a damaged page."""

    def fetchone(self):
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:
                raise _damaged(self.connection, exc) from exc
            raise

    def fetchall(self):
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:
                raise _damaged(self.connection, exc) from exc
            raise

    def __iter__(self):
        return iter(self.fetchall())


class _Connection(sqlite3.Connection):
    def execute(self, sql, parameters=()):
        # sqlite3.Connection.execute makes a plain cursor whatever the factory: make ours.
        cursor = self.cursor(_Cursor)
        try:
            return cursor.execute(sql, parameters)
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:
                raise _damaged(self, exc) from exc
            raise


class Storage(PageReads):
    """Repository over one SQLite file. See the module docstring for the contract."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()
        try:
            migrate(conn, self.path)
            # Only once the file is known to be ours: switching to WAL rewrites its header.
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"{self.path} cannot be read as a database ({exc}); it may be corrupt. "
                "Point --db/TUNING_DB at another file; this one was left untouched.") from exc

    # -- connections ---------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False, factory=_Connection)
            conn.db_path = self.path
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"{self.path} cannot be opened as a database ({exc}); it may be corrupt or "
                "not an SQLite file. Point --db/TUNING_DB at another file; "
                "this one was left untouched.") from exc
        self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Every call this thread makes inside the block is one write transaction: all of
        it is committed when the block ends, none of it if the block raises. Other
        writers wait (up to the busy timeout) until then; a nested block joins the outer."""
        if getattr(self._local, "in_transaction", False):
            yield
            return
        with self._write():
            self._local.in_transaction = True
            try:
                yield
            finally:
                self._local.in_transaction = False

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken eagerly so writers queue instead of deadlocking."""
        conn = self._conn()
        if getattr(self._local, "in_transaction", False):
            yield conn  # part of the caller's transaction(): it commits or rolls back
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageError(f"database {self.path} is busy: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction, so several SELECTs see one snapshot."""
        conn = self._conn()
        if getattr(self._local, "in_transaction", False):
            yield conn  # the caller's transaction() already holds one snapshot
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # -- runs ------------------------------------------------------------------------

    def create_run(self, name: str, spec: Mapping[str, Any],
                   status: RunStatus = RunStatus.QUEUED) -> Run:
        return self.create_runs([(name, spec)], status)[0]

    def create_runs(self, runs: list[tuple[str, Mapping[str, Any]]],
                    status: RunStatus = RunStatus.QUEUED) -> list[Run]:
        """Store several runs in one transaction: all of them, or (on any error) none."""
        rows = []
        for name, spec in runs:
            max_trials = spec.get("strategy", {}).get("max_trials")
            rows.append((name, _dumps(spec), RunStatus(status).value,
                         str(spec.get("objective", {}).get("direction", "max")),
                         int(max_trials) if max_trials is not None else None))
        ids = []
        with self._write() as conn:
            now = time.time()
            for row in rows:
                cur = conn.execute(
                    "INSERT INTO runs (name, spec, status, direction, max_trials, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (*row, now))
                ids.append(int(cur.lastrowid))
        return [self.get_run(run_id) for run_id in ids]

    def get_run(self, run_id: int) -> Run:
        row = self._conn().execute(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"run {run_id} does not exist")
        return self._run(row)

    def list_runs(self, statuses: list[RunStatus] | None = None,
                  strategies: list[str] | None = None) -> list[Run]:
        """All runs, newest first, optionally filtered by status and strategy name."""
        rows = self._conn().execute(
            f"SELECT {_RUN_COLUMNS} FROM runs r ORDER BY r.id DESC").fetchall()
        runs = [self._run(row) for row in rows]
        if statuses:
            wanted = {RunStatus(s) for s in statuses}
            runs = [r for r in runs if r.status in wanted]
        if strategies:
            runs = [r for r in runs if r.strategy in strategies]
        return runs

    def update_max_trials(self, run_id: int, max_trials: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET max_trials = ? WHERE id = ?", (int(max_trials), run_id))

    def claim_run(self, run_id: int, pid: int, identity: str | None = None) -> bool:
        """Move a queued run to running for worker ``pid`` (``identity``: that process's
        identity, see ``Run.worker_identity``); False if someone else took it."""
        now = time.time()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'running', worker_pid = ?, worker_identity = ?, "
                "heartbeat_at = ?, started_at = COALESCE(started_at, ?), finished_at = NULL, "
                "error = NULL, stop_requested = 0 WHERE id = ? AND status = 'queued'",
                (pid, identity, now, now, run_id))
            return cur.rowcount == 1

    def queued_run_ids(self) -> list[int]:
        rows = self._conn().execute(
            "SELECT id FROM runs WHERE status = 'queued' ORDER BY id").fetchall()
        return [int(r[0]) for r in rows]

    def set_worker(self, run_id: int, pid: int, identity: str | None = None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET worker_pid = ?, worker_identity = ?, heartbeat_at = ? "
                         "WHERE id = ?", (pid, identity, time.time(), run_id))

    def heartbeat(self, run_id: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time(), run_id))

    def record_data_summary(self, run_id: int, summary: Mapping[str, Any]) -> None:
        """What the run's worker found in its data (``tuning.data.summarize``): the rows,
        the input shape, the classes' names. Replaced by the worker of each session."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET data_summary = ? WHERE id = ?",
                         (_dumps(summary), run_id))

    def finish_run(self, run_id: int, status: RunStatus, error: str | None = None) -> None:
        """Record how a run ended. Trials still marked running are marked as the run is."""
        status = RunStatus(status)
        trial_status = (TrialStatus.STOPPED if status is RunStatus.STOPPED
                        else TrialStatus.INTERRUPTED)
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                (status.value, now, error, run_id))
            self._end_running_trials(conn, run_id, trial_status, now)

    def mark_interrupted(self, run_id: int, reason: str, worker_pid: int | None = None) -> bool:
        """Mark a running run whose worker is gone; False if it is no longer running, or
        (``worker_pid`` given) if another process holds it now."""
        now = time.time()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? "
                "WHERE id = ? AND status = 'running' AND (? IS NULL OR worker_pid IS ?)",
                (now, reason, run_id, worker_pid, worker_pid))
            if cur.rowcount != 1:
                return False
            self._end_running_trials(conn, run_id, TrialStatus.INTERRUPTED, now)
            return True

    def _end_running_trials(self, conn: sqlite3.Connection, run_id: int,
                            status: TrialStatus, now: float) -> None:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM trials WHERE run_id = ? AND status = 'running'", (run_id,))]
        for trial_id in ids:
            conn.execute(
                "UPDATE trials SET status = ?, finished_at = ?, rev = ? WHERE id = ?",
                (status.value, now, self._next_rev(conn, run_id), trial_id))

    def reopen_run(self, run_id: int, spec: Mapping[str, Any], pid: int,
                   max_trials: int | None, identity: str | None = None) -> bool:
        """Make a run that is not running ``running`` for process ``pid``, in one step.

        For runs fed from outside the engine (a watched script): unlike ``requeue`` plus
        ``claim_run`` the run is never ``queued`` in between, so no engine launches a worker
        for it, and a completed run may be reopened. The spec is replaced. False when another
        process holds it running.
        """
        now = time.time()
        direction = str(spec.get("objective", {}).get("direction", "max"))
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'running', spec = ?, direction = ?, max_trials = ?, "
                "worker_pid = ?, worker_identity = ?, heartbeat_at = ?, "
                "started_at = COALESCE(started_at, ?), finished_at = NULL, error = NULL, "
                "stop_requested = 0 WHERE id = ? AND (status != 'running' OR worker_pid = ?)",
                (_dumps(spec), direction, max_trials, pid, identity, now, now, run_id, pid))
            return cur.rowcount == 1

    def replace_spec(self, run_id: int, name: str, spec: Mapping[str, Any]) -> None:
        """Store a new name and spec for a run (an imported project read again)."""
        direction = str(spec.get("objective", {}).get("direction", "max"))
        with self._write() as conn:
            conn.execute("UPDATE runs SET name = ?, spec = ?, direction = ? WHERE id = ?",
                         (name, _dumps(spec), direction, run_id))

    def requeue_for_recycle(self, run_id: int) -> None:
        """A worker retiring to free memory hands its run back to the queue, keeping its clock."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET status = 'queued', worker_pid = NULL, "
                         "worker_identity = NULL WHERE id = ? AND status = 'running'", (run_id,))

    @staticmethod
    def _status_in(conn: sqlite3.Connection, run_id: int) -> RunStatus:
        """The run's status, read inside the caller's write transaction."""
        row = conn.execute("SELECT status FROM runs WHERE id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"run {run_id} does not exist")
        return RunStatus(row[0])

    def request_stop(self, run_id: int) -> Run:
        """Ask the run's worker to stop after the epoch in flight; a queued run stops at once."""
        with self._write() as conn:
            status = self._status_in(conn, run_id)
            if status is RunStatus.QUEUED:
                conn.execute("UPDATE runs SET status = 'stopped', finished_at = ? WHERE id = ?",
                             (time.time(), run_id))
            elif status is RunStatus.RUNNING:
                conn.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))
            else:
                raise InvalidTransitionError(
                    f"run {run_id} is {status.value}; only a queued or running run can be stopped")
        return self.get_run(run_id)

    def requeue(self, run_id: int) -> Run:
        """Queue a stopped, interrupted or failed run again so a worker resumes it."""
        with self._write() as conn:
            status = self._status_in(conn, run_id)
            if not status.is_resumable():
                raise InvalidTransitionError(
                    f"run {run_id} is {status.value}; only a stopped, interrupted or "
                    "failed run can be resumed")
            conn.execute(
                "UPDATE runs SET status = 'queued', stop_requested = 0, finished_at = NULL, "
                "error = NULL, worker_pid = NULL, worker_identity = NULL WHERE id = ?",
                (run_id,))
        return self.get_run(run_id)

    def delete_run(self, run_id: int) -> None:
        with self._write() as conn:
            if self._status_in(conn, run_id) is RunStatus.RUNNING:
                raise InvalidTransitionError(
                    f"run {run_id} is running; stop it before deleting it")
            conn.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM trials WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def control_flags(self, run_id: int, trial_id: int | None = None) -> tuple[bool, bool]:
        """(stop requested for the run, cancel requested for the trial): the worker's poll."""
        conn = self._conn()
        stop = conn.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        if stop is None:
            # The run was deleted under the worker: stopping is the only sane answer.
            return True, False
        cancel = False
        if trial_id is not None:
            row = conn.execute("SELECT cancel_requested FROM trials WHERE id = ?",
                               (trial_id,)).fetchone()
            cancel = bool(row and row[0])
        return bool(stop[0]), cancel

    # -- trials ----------------------------------------------------------------------

    @staticmethod
    def _next_rev(conn: sqlite3.Connection, run_id: int) -> int:
        row = conn.execute("SELECT COALESCE(MAX(rev), 0) + 1 FROM trials WHERE run_id = ?",
                           (run_id,)).fetchone()
        return int(row[0])

    def begin_trial(self, run_id: int, trial_key: str, number: int,
                    hyperparameters: Mapping[str, Any], *, bracket: int | None = None,
                    round: int | None = None, parent_key: str | None = None,
                    worker: str | None = None, keep_finished: bool = False) -> Trial:
        """Record that a trial starts. A trial that starts again (after a resume) loses the
        epochs of its unfinished attempt, so nothing is ever recorded twice.

        ``keep_finished``: refuse (``InvalidTransitionError``, nothing written) to begin
        again a trial that has a result, completed, pruned or cancelled: the relay asks
        this for workers on other machines."""
        now = time.time()
        with self._write() as conn:
            rev = self._next_rev(conn, run_id)
            row = conn.execute("SELECT id, status FROM trials WHERE run_id = ? AND "
                               "trial_key = ?", (run_id, trial_key)).fetchone()
            if row is not None and keep_finished and row[1] in _KEPT:
                raise InvalidTransitionError(
                    f"trial {trial_key} of run {run_id} is {row[1]}; a trial with a result "
                    "is not begun again")
            if row is None:
                cur = conn.execute(
                    "INSERT INTO trials (run_id, trial_key, number, status, hyperparameters, "
                    "started_at, bracket, round, parent_key, worker, rev) "
                    "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, trial_key, number, _dumps(hyperparameters), now, bracket, round,
                     parent_key, worker, rev))
                trial_id = int(cur.lastrowid)
            else:
                trial_id = int(row[0])
                conn.execute("DELETE FROM epochs WHERE trial_id = ?", (trial_id,))
                conn.execute(
                    "UPDATE trials SET status = 'running', hyperparameters = ?, score = NULL, "
                    "metrics = '{}', message = NULL, started_at = ?, finished_at = NULL, "
                    "bracket = ?, round = ?, parent_key = ?, epochs_done = 0, "
                    "cancel_requested = 0, worker = ?, flags = '[]', traceback = NULL, log = NULL, "
                    "rev = ? WHERE id = ?",
                    (_dumps(hyperparameters), now, bracket, round, parent_key, worker, rev,
                     trial_id))
        return self.get_trial(trial_id)

    def record_epoch(self, trial_id: int, execution: int, epoch: int,
                     metrics: Mapping[str, Any]) -> None:
        """Append one epoch's metrics; committed before returning."""
        self.record_epochs(trial_id, [(execution, epoch, metrics)])

    def record_epochs(self, trial_id: int,
                      rows: Iterable[tuple[int, int, Mapping[str, Any]]]) -> None:
        """``record_epoch`` for many ``(execution, epoch, metrics)`` rows in one write."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute("SELECT run_id FROM trials WHERE id = ?", (trial_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"trial {trial_id} does not exist")
            run_id = int(row[0])
            conn.executemany(
                "INSERT OR REPLACE INTO epochs (run_id, trial_id, execution, epoch, metrics, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, trial_id, int(execution), int(epoch),
                  json.dumps(_clean_metrics(metrics)), now) for execution, epoch, metrics in rows])
            conn.execute(
                "UPDATE trials SET epochs_done = (SELECT COUNT(*) FROM epochs WHERE trial_id = ?), "
                "rev = ? WHERE id = ?", (trial_id, self._next_rev(conn, run_id), trial_id))

    def finish_trial(self, trial_id: int, status: TrialStatus, score: float | None = None,
                     metrics: Mapping[str, Any] | None = None, message: str | None = None,
                     flags: list[str] | None = None,
                     hyperparameters: Mapping[str, Any] | None = None) -> None:
        score = plain_json(score)
        if score is not None:
            score = float(score)
            if not math.isfinite(score):
                score = None
        with self._write() as conn:
            row = conn.execute("SELECT run_id FROM trials WHERE id = ?", (trial_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"trial {trial_id} does not exist")
            conn.execute(
                "UPDATE trials SET status = ?, score = ?, metrics = ?, message = ?, "
                "finished_at = ?, flags = COALESCE(?, flags), "
                "hyperparameters = COALESCE(?, hyperparameters), rev = ? WHERE id = ?",
                (TrialStatus(status).value, score, _dumps(metrics or {}), message, time.time(),
                 json.dumps(flags) if flags is not None else None,
                 _dumps(hyperparameters) if hyperparameters is not None else None,
                 self._next_rev(conn, int(row[0])), trial_id))

    def record_trial_output(self, trial_id: int, traceback: str | None = None,
                            log: str | None = None) -> None:
        """Keep what a trial left besides its numbers: the full traceback of its failure and
        the lines its worker wrote while it ran (``TRIAL_OUTPUT_LIMIT`` characters of each,
        the end kept). None leaves a value as it is."""
        def tail(text: str | None) -> str | None:
            return None if text is None else str(text)[-TRIAL_OUTPUT_LIMIT:]

        with self._write() as conn:
            cur = conn.execute(
                "UPDATE trials SET traceback = COALESCE(?, traceback), log = COALESCE(?, log) "
                "WHERE id = ?", (tail(traceback), tail(log), trial_id))
            if cur.rowcount != 1:
                raise NotFoundError(f"trial {trial_id} does not exist")

    def trial_output(self, trial_id: int) -> tuple[str | None, str | None]:
        """(traceback, log) kept by ``record_trial_output``."""
        row = self._conn().execute("SELECT traceback, log FROM trials WHERE id = ?",
                                   (trial_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"trial {trial_id} does not exist")
        return row[0], row[1]

    def request_cancel(self, run_id: int, trial_key: str) -> Trial:
        with self._write() as conn:
            row = conn.execute("SELECT id, status FROM trials WHERE run_id = ? AND trial_key = ?",
                               (run_id, str(trial_key))).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id} has no trial {trial_key}")
            if row[1] != TrialStatus.RUNNING.value:
                raise InvalidTransitionError(
                    f"trial {trial_key} of run {run_id} is {row[1]}; only a running "
                    "trial can be cancelled")
            conn.execute("UPDATE trials SET cancel_requested = 1, rev = ? WHERE id = ?",
                         (self._next_rev(conn, run_id), row[0]))
        return self.get_trial(int(row[0]))

    def get_trial(self, trial_id: int) -> Trial:
        row = self._conn().execute(f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE id = ?",
                                   (trial_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"trial {trial_id} does not exist")
        return self._trial(row)

    def get_trial_by_key(self, run_id: int, trial_key: str) -> Trial:
        row = self._conn().execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? AND trial_key = ?",
            (run_id, str(trial_key))).fetchone()
        if row is None:
            raise NotFoundError(f"run {run_id} has no trial {trial_key}")
        return self._trial(row)

    def list_trials(self, run_id: int) -> list[Trial]:
        rows = self._conn().execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? ORDER BY number, id",
            (run_id,)).fetchall()
        return [self._trial(r) for r in rows]

    def list_epochs(self, run_id: int, trial_id: int | None = None,
                    after_id: int = 0) -> list[Epoch]:
        sql = ("SELECT id, run_id, trial_id, execution, epoch, metrics, created_at FROM epochs "
               "WHERE run_id = ? AND id > ?")
        args: list[Any] = [run_id, after_id]
        if trial_id is not None:
            sql += " AND trial_id = ?"
            args.append(trial_id)
        rows = self._conn().execute(sql + " ORDER BY id", args).fetchall()
        return [self._epoch(r) for r in rows]

    def changes_since(self, run_id: int, cursor: Cursor = Cursor()) -> RunChanges:
        """The run, the trials changed and the epochs added since ``cursor``, in one snapshot.

        A trial that restarted (``epochs_done`` dropped) has had its old epochs deleted:
        readers drop what they cached for it.
        """
        with self._read() as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ?",
                               (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id} does not exist")
            trials = [self._trial(r) for r in conn.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? AND rev > ? ORDER BY rev",
                (run_id, cursor.trial_rev))]
            epochs = [self._epoch(r) for r in conn.execute(
                "SELECT id, run_id, trial_id, execution, epoch, metrics, created_at FROM epochs "
                "WHERE run_id = ? AND id > ? ORDER BY id", (run_id, cursor.epoch_id))]
        new_cursor = Cursor(
            epoch_id=epochs[-1].id if epochs else cursor.epoch_id,
            trial_rev=max([t.rev for t in trials], default=cursor.trial_rev))
        return RunChanges(run=self._run(row), trials=tuple(trials), epochs=tuple(epochs),
                          cursor=new_cursor)

    # -- row mapping -----------------------------------------------------------------

    @staticmethod
    def _run(row: tuple) -> Run:
        return Run(
            id=int(row[0]), name=row[1], spec=_frozen_spec(row[2]),
            status=RunStatus(row[3]), created_at=row[4], started_at=row[5],
            finished_at=row[6], error=row[7], worker_pid=row[8], heartbeat_at=row[9],
            stop_requested=bool(row[10]), max_trials=row[11], trials_done=int(row[12]),
            best_score=row[13], worker_identity=row[14],
            data_summary=None if row[15] is None else frozen_json(json.loads(row[15])))

    @staticmethod
    def _trial(row: tuple) -> Trial:
        return Trial(
            id=int(row[0]), run_id=int(row[1]), trial_key=row[2], number=int(row[3]),
            status=TrialStatus(row[4]), hyperparameters=frozen_json(json.loads(row[5])),
            score=row[6], metrics=frozen_json(json.loads(row[7])), message=row[8],
            started_at=row[9], finished_at=row[10], bracket=row[11], round=row[12],
            parent_key=row[13], epochs_done=int(row[14]), cancel_requested=bool(row[15]),
            worker=row[16], flags=tuple(json.loads(row[17])), rev=int(row[18]))

    @staticmethod
    def _epoch(row: tuple) -> Epoch:
        # Metrics are a flat mapping of numbers: no recursive freeze needed (hot path:
        # a live page's first read can be 100,000 epochs).
        return Epoch(row[0], row[1], row[2], row[3], row[4],
                     MappingProxyType(orjson.loads(row[5])), row[6])
