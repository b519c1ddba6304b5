"""The launch form's oracle address: it says what it exposes, and refuses a public one
unless whoever runs the dashboard opted in."""
from __future__ import annotations

from page_helpers import open_app

from tuning.network import ALLOW_REMOTE_CHIEF


def _parallel_form():
    at = open_app()
    at.selectbox(key="f_sk_name").set_value("digits").run()
    at.selectbox(key="f_family").set_value("mlp").run()
    at.number_input(key="f_workers").set_value(2).run()
    return at


def test_the_form_says_what_the_oracle_exposes_and_refuses_a_public_address(db, monkeypatch):
    monkeypatch.delenv(ALLOW_REMOTE_CHIEF, raising=False)
    at = _parallel_form()
    assert any("no authentication" in c.value and "SSH tunnel" in c.value for c in at.caption)
    at.text_input(key="f_chief_host").set_value("0.0.0.0").run()
    shown = "\n".join(e.value for e in at.error)
    assert "strategy.chief_host" in shown and ALLOW_REMOTE_CHIEF in shown, shown
    at.button(key="launch").click().run()
    assert db.list_runs() == []


def test_with_the_opt_in_the_form_launches_on_another_address(db, monkeypatch):
    monkeypatch.setenv(ALLOW_REMOTE_CHIEF, "1")
    at = _parallel_form()
    at.text_input(key="f_chief_host").set_value("0.0.0.0").run()
    assert not at.error, [e.value for e in at.error]
    at.button(key="launch").click().run()
    (run,) = db.list_runs()
    assert run.spec["strategy"]["chief_host"] == "0.0.0.0"
