"""The "What to try next" panel in a real browser: a suggestion's evidence is drawn, chart
and table, once its expander is opened (not before), and Apply opens the launch form
prefilled, with the old → new changes."""
from __future__ import annotations

import math

import pytest
from e2e import FIRST_DRAW_MS, goto, wait_idle

from tests.insights.test_advice_rules import svm_trials
from tests.support.advice_runs import SVM, stored_run

pytestmark = [pytest.mark.browser]


def test_evidence_draws_once_opened_and_apply_prefills_the_launch_form(server, page):
    url, store = server
    run = stored_run(store, SVM, svm_trials(lambda c, g, k: 0.5 + 0.4 * (math.log10(c) + 3) / 2))
    goto(page, f"{url}/live?run={run.id}")
    page.get_by_text("What to try next").wait_for(timeout=FIRST_DRAW_MS)
    evidence = page.locator("[data-testid=stExpander]").filter(has_text="Evidence and patch")
    evidence.first.wait_for(timeout=FIRST_DRAW_MS)
    wait_idle(page)
    assert evidence.first.locator("[data-testid=stDataFrame]").count() == 0
    assert evidence.first.locator(".js-plotly-plot").count() == 0

    evidence.first.get_by_text("Evidence and patch").click()
    evidence.first.locator("[data-testid=stDataFrame]").wait_for(timeout=FIRST_DRAW_MS)
    evidence.first.locator(".js-plotly-plot").wait_for(timeout=FIRST_DRAW_MS)

    page.get_by_role("button", name="Apply", exact=True).first.click()
    page.get_by_role("heading", name="Launch a tuning run").wait_for(timeout=FIRST_DRAW_MS)
    page.get_by_text(f"Suggested changes to run {run.id}").wait_for(timeout=FIRST_DRAW_MS)
