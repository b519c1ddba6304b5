"""The compare page in a real browser: a race queued from the Launch page opens it, and a
deep link to two runs draws their charts."""
from __future__ import annotations

import re

import pytest
from e2e import FIRST_DRAW_MS, MLP_SPEC, REACT_MS, chart_count_js, goto, seed, wait_idle

pytestmark = [pytest.mark.browser]

# The number of axes of each parallel-coordinates chart drawn on the page.
DIMENSIONS_JS = ("() => [...document.querySelectorAll('.js-plotly-plot')].filter(g => "
                 "g._fullData && String((g.layout || {}).uirevision || '')"
                 ".startsWith('parallel_coordinates')).map(g => g._fullData[0].dimensions.length)")


def test_a_deep_link_to_two_runs_draws_both(server, page):
    url, store = server
    first, second = seed(store, name="first"), seed(store, name="second", trials=4)
    goto(page, f"{url}/compare?runs={first.id},{second.id}")
    page.get_by_text("Best of each run").wait_for(timeout=FIRST_DRAW_MS)
    page.wait_for_function(f"({chart_count_js('best_so_far')})() >= 2", timeout=FIRST_DRAW_MS)
    page.wait_for_function(f"({chart_count_js('parallel_coordinates')})() >= 1",
                           timeout=FIRST_DRAW_MS)
    assert "0.30000000000000004" not in page.content()


def test_a_race_opens_the_compare_page(server, page):
    url, store = server
    goto(page, url)
    box = page.get_by_role("combobox", name="Race strategies (same space, one run each)")
    for option in ("random", "bayesian"):
        wait_idle(page)
        box.click()
        page.get_by_role("option", name=option, exact=True).click(timeout=REACT_MS)
        page.keyboard.press("Escape")
    wait_idle(page)
    page.get_by_role("button", name="Race strategies").click()
    page.wait_for_url(re.compile(r"/compare\?runs=\d+(%2C|,)\d+"), timeout=REACT_MS)
    assert len(store.list_runs()) == 2


def test_runs_of_different_spaces_draw_one_tab_at_a_time(server, page):
    """A tab per run; only the open tab's charts are drawn, and another tab draws its own."""
    url, store = server
    first = seed(store, name="first")
    narrow = dict(MLP_SPEC, search_space={"units": MLP_SPEC["search_space"]["units"]})
    second = seed(store, name="second", trials=4, spec=narrow)
    goto(page, f"{url}/compare?runs={first.id},{second.id}")
    page.get_by_role("tab", name=f"#{second.id} second").wait_for(timeout=FIRST_DRAW_MS)
    # The first run's chart alone: units, dropout and the score.
    page.wait_for_function(f"JSON.stringify(({DIMENSIONS_JS})()) === '[3]'", timeout=FIRST_DRAW_MS)
    page.get_by_role("tab", name=f"#{second.id} second").click()
    # Now the second run's alone: units and the score.
    page.wait_for_function(f"JSON.stringify(({DIMENSIONS_JS})()) === '[2]'", timeout=REACT_MS)

