"""The Import page in a real browser: a KerasTuner project folder becomes a run, opened live."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from e2e import FIRST_DRAW_MS, REACT_MS, goto, wait_idle

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from kt_folders import random_project  # noqa: E402

pytestmark = [pytest.mark.browser]


def test_a_project_folder_is_imported_and_opened(server, page, tmp_path):
    url, store = server
    folder = random_project(tmp_path / "project")
    goto(page, f"{url}/import_project")
    field = page.get_by_label("Project folder")
    field.fill(str(folder))
    field.press("Enter")
    wait_idle(page)  # the server has the folder before the button is pressed
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text(re.compile(r"Run \d+ · .*: 3 trials")).wait_for(timeout=FIRST_DRAW_MS)
    [run] = store.list_runs()
    assert run.trials_done == 3
    page.get_by_role("button", name="Open live view").click()
    page.wait_for_url(re.compile(rf"/live\?run={run.id}"), timeout=REACT_MS)
