"""Schema 3 and the page reads: a version-2 file migrates in place, and the leaderboard's
page is served by its index (the expressions in the query and the index must agree)."""
from __future__ import annotations

import sqlite3

from storage import MIGRATIONS, SCHEMA_VERSION, Storage, TrialStatus
from storage._schema import RANK_GROUP, RANK_MAX, RANK_MIN


def test_a_version_2_database_migrates_and_keeps_its_trials(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO runs (name, spec, status, created_at) "
                 "VALUES ('old', '{}', 'completed', 0)")
    conn.execute("INSERT INTO trials (run_id, trial_key, number, status, hyperparameters, "
                 "score, rev) VALUES (1, 't0', 0, 'completed', '{}', 0.5, 1)")
    conn.commit()
    conn.close()
    store = Storage(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    [trial] = store.trial_page(1, "max")
    assert trial.trial_key == "t0" and store.trial_output(trial.id) == (None, None)
    assert store.trial_counts(1).count(TrialStatus.COMPLETED) == 1


def test_the_leaderboard_page_reads_its_index_not_a_sort(storage):
    conn = sqlite3.connect(storage.path)
    for key, index in ((RANK_MAX, "trials_rank_max"), (RANK_MIN, "trials_rank_min")):
        plan = " ".join(str(r) for r in conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM trials WHERE run_id = 1 "
            f"ORDER BY ({RANK_GROUP}), ({key}), number, id LIMIT 50"))
        assert index in plan and "TEMP B-TREE" not in plan, plan
