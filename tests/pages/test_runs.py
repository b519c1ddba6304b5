"""The runs table: every status shows, filters work, control errors are text."""
from __future__ import annotations

from page_helpers import SK_SPEC, open_app

from storage import RunStatus


def seed_every_status(db) -> dict[RunStatus, int]:
    ids = {}
    for status in RunStatus:
        spec = dict(SK_SPEC, strategy={"name": "random" if status.value < "q" else "bayesian",
                                       "max_trials": 4})
        ids[status] = db.create_run(f"{status.value} run", spec, status=status).id
    return ids


def table(at):
    (frame,) = [d.value for d in at.dataframe if "status" in d.value.columns]
    return frame


def test_the_table_shows_every_run_in_every_status(db):
    ids = seed_every_status(db)
    at = open_app("pages/runs.py")
    frame = table(at)
    assert set(frame["status"]) == {s.value for s in RunStatus}
    assert set(frame["id"]) == set(ids.values())
    assert {"id", "name", "data set", "model", "strategy", "status", "progress", "best score",
            "elapsed", "created"} <= set(frame.columns)
    assert set(frame["progress"]) == {"0 / 4"}


def test_filters_by_status_and_strategy(db):
    seed_every_status(db)
    at = open_app("pages/runs.py")
    at.multiselect(key="runs_status").set_value(["failed", "queued"]).run()
    assert sorted(table(at)["status"]) == ["failed", "queued"]
    at.multiselect(key="runs_strategy").set_value(["bayesian"]).run()
    assert list(table(at)["status"]) == ["queued"]


def test_an_invalid_action_shows_its_message_not_a_traceback(db):
    ids = seed_every_status(db)
    at = open_app("pages/runs.py", run=str(ids[RunStatus.COMPLETED]))
    at.button(key="runs_resume").click().run()
    assert not at.exception
    assert any("only a stopped, interrupted or failed run can be resumed" in e.value
               for e in at.error)


def test_stop_and_resume(db):
    ids = seed_every_status(db)
    at = open_app("pages/runs.py", run=str(ids[RunStatus.QUEUED]))
    at.button(key="runs_stop").click().run()
    assert db.get_run(ids[RunStatus.QUEUED]).status is RunStatus.STOPPED
    at.button(key="runs_resume").click().run()
    assert db.get_run(ids[RunStatus.QUEUED]).status is RunStatus.QUEUED
    assert [s.value for s in at.success]


def test_delete_asks_for_confirmation_first(db):
    ids = seed_every_status(db)
    victim = ids[RunStatus.FAILED]
    at = open_app("pages/runs.py", run=str(victim))
    at.button(key="runs_delete").click().run()
    assert db.get_run(victim)  # not yet
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="runs_delete_no").click().run()
    assert db.get_run(victim) and not at.warning
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_yes").click().run()
    assert victim not in {r.id for r in db.list_runs()}
    assert not at.exception and not at.error


def test_open_goes_to_the_live_page(db):
    ids = seed_every_status(db)
    at = open_app("pages/runs.py", run=str(ids[RunStatus.COMPLETED]))
    at.button(key="runs_open").click().run()
    assert at.title[0].value == "Live run"
    assert at.query_params["run"] in (str(ids[RunStatus.COMPLETED]),
                                      [str(ids[RunStatus.COMPLETED])])


def test_a_missing_run_id_says_so(db):
    seed_every_status(db)
    at = open_app("pages/runs.py", run="12")
    assert any(e.value == "run 12 does not exist" for e in at.error)
    assert not at.exception
