"""Fixtures shared by every test package."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import storage as storage_pkg


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database path that does not exist yet."""
    return tmp_path / "tuning.db"


@pytest.fixture
def storage(db_path: Path) -> storage_pkg.Storage:
    store = storage_pkg.Storage(db_path)
    yield store
    store.close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def _unavailable(reason: str) -> None:
    """Outside CI a missing browser skips; in CI it fails, so the check is never lost."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (which cannot download its own browser here)."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
