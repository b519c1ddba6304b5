"""The Launch page in a real browser, on a fresh server with an empty database: a form with
invalid budget fields shows each error in the section that holds those fields and queues
nothing; fixed, it launches a tiny scikit-learn run and opens that run's live view.

No engine: a launch queues the run (what this page does); the engine's own tests train it.
"""
from __future__ import annotations

import re

import pytest
from e2e import FIRST_DRAW_MS, REACT_MS, goto, wait_idle

from storage import RunStatus

pytestmark = [pytest.mark.browser]
TIME_LIMIT = "Time limit, minutes (empty: none)"
TRIAL_LIMIT = "Per-trial limit, seconds (empty: none)"


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox ``label`` (a react-aria combobox, see STACK.md)."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def enter(page, label: str, value: str) -> None:
    """Type ``value`` and commit it; again if a rerun started by the field before redrew
    this one with its old value (a busy machine reruns slower than Playwright types)."""
    field = page.get_by_label(label, exact=True)
    for _ in range(5):
        field.fill(value)
        field.press("Enter")
        wait_idle(page)
        if same(field.input_value(), value):
            return
    assert same(field.input_value(), value), f"{label} kept {field.input_value()!r}"


def same(shown: str, value: str) -> bool:
    """A text field shows what was typed; a number field shows it formatted ("0.00")."""
    try:
        return float(shown) == float(value)
    except ValueError:
        return shown == value


def top(locator) -> float:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not drawn"
    return box["y"]


def test_errors_show_by_their_fields_then_a_valid_launch_opens_live(server, page):
    url, store = server
    assert store.list_runs() == []
    goto(page, f"{url}/launch")
    choose(page, "Data set", "wine (classification)")
    choose(page, "Model family", "k-nearest neighbours")
    choose(page, "Strategy", "Random search (KerasTuner RandomSearch)")
    enter(page, "Max trials", "2")
    enter(page, "Run name", "e2e launch")
    # Zero is no limit at all: the validator asks for a positive limit or an empty field.
    enter(page, TIME_LIMIT, "0")
    enter(page, TRIAL_LIMIT, "0")

    errors = page.get_by_test_id("stAlertContentError")
    budget_error = errors.filter(has_text="time_limit_s").filter(has_text="trial_time_limit_s")
    budget_error.wait_for(timeout=REACT_MS)  # both fields' reruns are done
    assert budget_error.count() == 1  # one list for the section, naming both fields
    message = budget_error.inner_text()
    assert "trial_time_limit_s" in message and re.search(r"(?m)^\s*time_limit_s", message)
    assert errors.count() == 1  # no other section has a problem
    section = page.get_by_role("heading", name="5 · Objective and budget")
    launch = page.get_by_role("button", name="Launch", exact=True)
    assert top(page.get_by_label("Description (optional)", exact=True)) \
        < top(budget_error) < top(launch)
    assert top(section) < top(budget_error)

    launch.click()
    refused = errors.filter(has_text="Nothing was queued: fix the 2 problem(s) shown above.")
    refused.wait_for(timeout=REACT_MS)
    wait_idle(page)
    assert store.list_runs() == []
    assert "/live" not in page.url  # still on the form

    enter(page, TIME_LIMIT, "5")
    enter(page, TRIAL_LIMIT, "60")
    budget_error.wait_for(state="detached", timeout=REACT_MS)
    assert errors.count() == 0
    page.get_by_text(re.compile(r"^Up to 2 trials\b")).wait_for(timeout=REACT_MS)  # cost note
    launch.click()

    page.wait_for_url(re.compile(r"/live\?run=\d+"), timeout=FIRST_DRAW_MS)
    [run] = store.list_runs()
    assert page.url.endswith(f"/live?run={run.id}")
    assert run.name == "e2e launch"
    assert run.status is RunStatus.QUEUED
    assert run.spec["data"] == {**run.spec["data"], "source": "sklearn", "name": "wine"}
    assert run.spec["model"]["family"] == "knn"
    assert run.spec["strategy"]["name"] == "random"
    assert run.spec["strategy"]["max_trials"] == 2
    assert run.spec["time_limit_s"] == 300 and run.spec["trial_time_limit_s"] == 60
    # The live view shows the new run, queued for the engine.
    page.get_by_text(re.compile(r"^queued · 0 of 2 trials")).wait_for(timeout=FIRST_DRAW_MS)
    assert page.get_by_role("combobox", name="Run", exact=True).input_value() \
        == f"#{run.id} · e2e launch · queued"
