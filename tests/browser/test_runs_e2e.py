"""The Runs page in a real browser, by a deep link on a fresh server; its live-view button."""
from __future__ import annotations

import re

import pytest
from e2e import FIRST_DRAW_MS, REACT_MS, goto, seed

pytestmark = [pytest.mark.browser]


def test_the_table_lists_every_run_and_opens_one_live(server, page):
    url, store = server
    runs = [seed(store, name=f"run {i}", trials=2, epochs=1) for i in range(3)]
    goto(page, f"{url}/runs?run={runs[1].id}")
    page.get_by_text(re.compile(r"completed · 2 trials done · best 0\.55")).wait_for(
        timeout=FIRST_DRAW_MS)
    page.get_by_role("button", name="Open live view").click()
    page.wait_for_url(re.compile(rf"/live\?run={runs[1].id}"), timeout=REACT_MS)
