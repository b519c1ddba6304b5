"""The trial page in a real browser, opened by its URL on a fresh server: the traceback, the
worker's log lines and every metric's curve drawn."""
from __future__ import annotations

import pytest
from e2e import FIRST_DRAW_MS, chart_count_js, goto, seed

from storage import TrialStatus

pytestmark = [pytest.mark.browser]
TRACE = 'Traceback (most recent call last):\n  File "model.py", line 9\nValueError: odd units'


def test_a_deep_link_shows_the_failed_trial_whole(server, page):
    url, store = server
    run = seed(store, trials=3)
    failed = store.begin_trial(run.id, "07", 7, {"units": 17, "dropout": 0.1 + 0.2})
    store.record_epoch(failed.id, 0, 0, {"loss": 2.0, "accuracy": 0.1})
    store.finish_trial(failed.id, TrialStatus.FAILED, message="ValueError: odd units")
    store.record_trial_output(failed.id, traceback=TRACE, log="building the model\n")
    goto(page, f"{url}/trial?run={run.id}&trial=07")
    page.get_by_text("Trial 07 · failed").wait_for(timeout=FIRST_DRAW_MS)
    page.locator("[data-testid=stCode]").filter(has_text="ValueError: odd units").wait_for()
    page.locator("[data-testid=stCode]").filter(has_text="building the model").wait_for()
    assert "0.30000000000000004" not in page.content()
    page.wait_for_function(f"({chart_count_js('learning_curves')})() >= 2",
                           timeout=FIRST_DRAW_MS)  # loss and accuracy
