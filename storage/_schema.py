"""Schema of the SQLite database and the migrations between its versions.

The version lives in ``PRAGMA user_version``. A database written by an older
release is migrated forward in one transaction; a newer one is refused so that
an old release never rewrites data it does not understand.
"""
from __future__ import annotations

import sqlite3

from .errors import StorageError

# The leaderboard's order (``Storage.trial_page``): completed trials with a score first, best
# first, then running ones, then every other status, each by number. Indexed as written
# here: a query names these very expressions to be served by the index.
RANK_GROUP = ("CASE WHEN status = 'completed' AND score IS NOT NULL THEN 0 "
              "WHEN status = 'running' THEN 1 ELSE 2 END")
RANK_MIN = "CASE WHEN status = 'completed' AND score IS NOT NULL THEN score END"
RANK_MAX = "CASE WHEN status = 'completed' AND score IS NOT NULL THEN -score END"

# Each entry moves the schema from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        direction TEXT NOT NULL DEFAULT 'max',
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        error TEXT,
        worker_pid INTEGER,
        heartbeat_at REAL,
        stop_requested INTEGER NOT NULL DEFAULT 0,
        max_trials INTEGER
    );
    CREATE TABLE trials (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        trial_key TEXT NOT NULL,
        number INTEGER NOT NULL,
        status TEXT NOT NULL,
        hyperparameters TEXT NOT NULL,
        score REAL,
        metrics TEXT NOT NULL DEFAULT '{}',
        message TEXT,
        started_at REAL,
        finished_at REAL,
        bracket INTEGER,
        round INTEGER,
        parent_key TEXT,
        epochs_done INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        worker TEXT,
        rev INTEGER NOT NULL,
        UNIQUE (run_id, trial_key)
    );
    CREATE INDEX trials_by_run_rev ON trials (run_id, rev);
    CREATE TABLE epochs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        execution INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        metrics TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (trial_id, execution, epoch)
    );
    CREATE INDEX epochs_by_run ON epochs (run_id, id);
    """,
    # 1 -> 2: flags raised on a trial's learning curve (overfitting, divergence, ...).
    """
    ALTER TABLE trials ADD COLUMN flags TEXT NOT NULL DEFAULT '[]';
    """,
    # 2 -> 3: who holds a running run, beyond its pid (which the system reuses): the
    # process's identity (machine, boot, pid namespace, pid, start time).
    """
    ALTER TABLE runs ADD COLUMN worker_identity TEXT;
    """,
    # 3 -> 4: reads that follow what a page draws. A run's counts and best score
    # (``list_runs``) read the first index alone, a live page's counts and best-so-far
    # the second; a page of the leaderboard reads only its rows (``trial_page``); a
    # failed trial keeps its traceback and the lines its worker logged while it ran.
    f"""
    CREATE INDEX trials_by_run_status ON trials (run_id, status, score);
    CREATE INDEX trials_finished ON trials (run_id, finished_at, number, status, score,
                                            epochs_done, started_at, rev, trial_key);
    CREATE INDEX trials_rank_min ON trials (run_id, ({RANK_GROUP}), ({RANK_MIN}), number, id);
    CREATE INDEX trials_rank_max ON trials (run_id, ({RANK_GROUP}), ({RANK_MAX}), number, id);
    ALTER TABLE trials ADD COLUMN traceback TEXT;
    ALTER TABLE trials ADD COLUMN log TEXT;
    """,
    # 4 -> 5: what the run's worker found when it loaded the data (rows, input shape,
    # class names), for the pages and reports, which never load the data themselves.
    """
    ALTER TABLE runs ADD COLUMN data_summary TEXT;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns the version found."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StorageError(
            f"database {path} has schema version {found}, newer than this release "
            f"understands ({SCHEMA_VERSION}); upgrade the dashboard or point --db/TUNING_DB "
            "at another file. The file was left untouched.")
    if found == SCHEMA_VERSION:
        return found
    if found == 0 and _has_foreign_tables(conn):
        raise StorageError(
            f"{path} is an SQLite database but not one of this dashboard's; "
            "point --db/TUNING_DB at another file. The file was left untouched.")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        for version in range(found, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def _has_foreign_tables(conn: sqlite3.Connection) -> bool:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return bool(rows)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
