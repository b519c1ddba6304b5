"""The "What to try next" panel: Apply opens the launch form prefilled with the changed
spec and the old → new table; two suggestions apply together; too little evidence says
so; the Runs page marks runs with suggestions; a large run's advice is read off the page's
path and drawn when it came."""
from __future__ import annotations

import math
import threading

from tests.insights.test_advice_rules import svm_trials
from tests.pages.page_helpers import open_app, shown_spec
from tests.support.advice_runs import SVM, stored_run

EDGE_KEY = "advice_apply_edge_of_range_search_space_C_max"


def edge_run(db):
    return stored_run(db, SVM, svm_trials(lambda c, g, k: 0.5 + 0.4 * (math.log10(c) + 3) / 2))


def diff_table(at):
    frames = [d.value for d in at.dataframe if list(d.value.columns) == ["field", "old", "new"]]
    assert frames, "no old → new table on the launch page"
    return {row["field"]: (row["old"], row["new"]) for row in frames[0].to_dict("records")}


def test_apply_opens_the_launch_form_prefilled_with_the_diff(db):
    run = edge_run(db)
    at = open_app("pages/live.py", run=str(run.id))
    assert "What to try next" in [h.value for h in at.subheader]
    at.button(key=EDGE_KEY).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Launch a tuning run"
    assert not at.error, [e.value for e in at.error]
    assert shown_spec(at)["search_space"]["C"]["max"] == 1.0
    assert diff_table(at)["search_space.C.max"] == ("0.1", "1.0")
    assert at.selectbox(key="f_family").value == "svm"
    # The table stays while the form is edited, until dismissed. (AppTest reruns the page
    # it was told to open, not the one the script switched to: tell it.)
    at.switch_page("pages/launch.py").run()
    assert "search_space.C.max" in diff_table(at)
    at.number_input(key="f_seed").set_value(7).run()
    assert "search_space.C.max" in diff_table(at)
    at.button(key="launch_diff_dismiss").click().run()
    assert not [d for d in at.dataframe if list(d.value.columns) == ["field", "old", "new"]]


def test_two_suggestions_on_different_fields_apply_together(db):
    run = edge_run(db)
    at = open_app("pages/live.py", run=str(run.id))
    picks = [c.key for c in at.checkbox if c.key and c.key.startswith("advice_pick_")]
    edge = next(k for k in picks if k.startswith("advice_pick_edge_of_range"))
    weak = next(k for k in picks if k.startswith("advice_pick_unimportant"))
    assert at.button(key="advice_apply_ticked").disabled
    at.checkbox(key=edge).check().run()
    at.checkbox(key=weak).check().run()
    at.button(key="advice_apply_ticked").click().run()
    assert at.title[0].value == "Launch a tuning run"
    spec = shown_spec(at)
    assert spec["search_space"]["C"]["max"] == 1.0
    assert spec["search_space"]["gamma"]["type"] == "fixed"
    rows = diff_table(at)
    assert "search_space.C.max" in rows and "search_space.gamma.type" in rows


def test_a_suggestions_evidence_is_drawn_only_once_opened(db):
    """Its table and chart stay unsent while collapsed: the page would otherwise draw a
    hidden chart and a hidden grid for every suggestion."""
    run = edge_run(db)
    at = open_app("pages/live.py", run=str(run.id))
    evidence_key = "advice_evidence_" + EDGE_KEY.removeprefix("advice_apply_")
    assert [e for e in at.expander if e.label == "Evidence and patch"]
    assert not [d for d in at.dataframe if list(d.value.columns) == ["field", "old", "new"]]
    charts = len(at.get("plotly_chart"))
    at.session_state[evidence_key] = True
    at.run()
    rows = [d.value for d in at.dataframe if list(d.value.columns) == ["field", "old", "new"]]
    assert [r["field"] for r in rows[0].to_dict("records")] == ["search_space.C.max"]
    assert len(at.get("plotly_chart")) == charts + 1


def test_a_run_with_two_trials_says_there_is_nothing_to_say_yet(db):
    run = stored_run(db, SVM, svm_trials(lambda c, g, k: 0.5 + c)[:2])
    at = open_app("pages/live.py", run=str(run.id))
    assert "What to try next" in [h.value for h in at.subheader]
    assert any("2 finished trials: nothing to say yet" in i.value for i in at.info)


def test_the_runs_page_marks_runs_with_suggestions(db):
    advised = edge_run(db)
    quiet = stored_run(db, SVM, svm_trials(lambda c, g, k: 0.5 + c)[:2])
    at = open_app("pages/runs.py")
    frame = at.dataframe[0].value.set_index("id")
    assert frame.loc[advised.id, "advice"].startswith("💡")
    assert frame.loc[quiet.id, "advice"] == ""


def test_the_reports_page_shows_the_suggestions(db):
    run = edge_run(db)
    at = open_app("pages/reports.py", run=str(run.id))
    text = "\n".join(m.value for m in at.markdown)
    assert "## What to try next" in text and "Widen C upwards" in text


def test_a_large_runs_advice_is_read_off_the_page_and_drawn_once_it_came(db, monkeypatch):
    import pages._advice as panel

    jobs = panel.AdviceJobs()  # this test's own, so the answer can be awaited
    monkeypatch.setattr(panel, "advice_jobs", lambda: jobs)
    monkeypatch.setattr(panel, "INLINE_TRIALS", 0)  # every run counts as large here
    gate, compute = threading.Event(), panel._compute
    monkeypatch.setattr(panel, "_compute", lambda s, r: (gate.wait(60), compute(s, r))[1])
    run = edge_run(db)
    at = open_app("pages/live.py", run=str(run.id))
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Reading the trials of run {run.id}" in c.value for c in at.caption)
    assert EDGE_KEY not in [b.key for b in at.button]  # the page did not wait for it
    gate.set()
    (entry,) = jobs._latest.values()
    entry.job.result(timeout=60)
    at.run()
    assert EDGE_KEY in [b.key for b in at.button]
    assert not any("Reading the" in c.value for c in at.caption)
    # Nothing new: the same answer is drawn again, not read again.
    at.run()
    assert list(jobs._latest.values()) == [entry]
