"""The reports page in a real browser: every download, and the HTML report opened with the
network blocked, drawing every chart it embeds."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from e2e import FIRST_DRAW_MS, REACT_MS, goto, seed

pytestmark = [pytest.mark.browser]
DOWNLOADS = {"Trials (CSV)": "trials.csv", "Best parameters + spec (JSON)": "best.json",
             "Summary (Markdown)": "summary.md", "Report (HTML, works offline)": "report.html",
             "Rebuild script (Python)": "rebuild.py"}


def test_every_download_and_the_offline_report(server, page, browser, tmp_path):
    url, store = server
    run = seed(store)
    goto(page, f"{url}/reports?run={run.id}")
    files = {}
    for label, suffix in DOWNLOADS.items():
        button = page.get_by_role("button", name=label)
        button.wait_for(timeout=FIRST_DRAW_MS)
        with page.expect_download(timeout=REACT_MS) as download:
            button.click()
        assert download.value.suggested_filename == f"run-{run.id}-{suffix}"
        files[suffix] = Path(download.value.path()).read_text()
    best = json.loads(files["best.json"])
    assert best["best_trial"]["hyperparameters"]["dropout"] == 0.1 + 0.2  # full precision
    assert "0.30000000000000004" in files["trials.csv"]  # CSV keeps it too
    assert "0.30000000000000004" not in files["summary.md"]  # Markdown reads 0.3
    compile(files["rebuild.py"], "rebuild.py", "exec")

    report = tmp_path / "report.html"
    report.write_text(files["report.html"])
    offline = browser.new_context()
    offline.route(re.compile(r"^https?://"), lambda route: route.abort())
    tab = offline.new_page()
    tab.goto(report.as_uri(), timeout=FIRST_DRAW_MS)
    expected = files["report.html"].count('class="plotly-graph-div"')
    assert expected >= 3
    tab.wait_for_function(
        f"() => [...document.querySelectorAll('.js-plotly-plot')]"
        f".filter(g => g._fullData).length === {expected}", timeout=FIRST_DRAW_MS)
    assert "0.30000000000000004" not in tab.content()
    offline.close()
