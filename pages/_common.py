"""Helpers every page shares: the storage, the engine, error display, the run picker.

The storage and the engine are opened once per process (``st.cache_resource``) and keyed by
the database path, so tests that point ``TUNING_DB`` at a fresh file get a fresh storage.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from storage import Run, Storage, StorageError
from tuning.formatting import fmt_duration as fmt_duration  # re-exported for the pages
from tuning.formatting import fmt_number as fmt_number
from tuning.formatting import fmt_score as fmt_score
from tuning.formatting import fmt_time as fmt_time
from tuning.formatting import rounded as rounded
from tuning.insights.escaping import markdown_text
from tuning.paths import default_db_path
from tuning.spec import SpecError


def _leave_pages_directory_mode() -> None:
    """Make sure app.py, not a page, is what runs.

    Until app.py has called ``st.navigation`` once in a server process, Streamlit treats
    ``pages/`` as a legacy multipage folder: a fresh server whose first request is a deep
    link (``/live?run=3``) would run that page alone, with no engine and with this module
    listed as a page. Leaving that mode and rerunning sends the request through app.py,
    which routes it to the same page by its URL.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_pages_directory_mode()

LIVE_PAGE = "pages/live.py"
COMPARE_PAGE = "pages/compare.py"
TRIAL_PAGE = "pages/trial.py"
# The launch form's "Spec (JSON)" expander (its state: open or not).
SPEC_JSON_KEY = "launch_spec_json"


@contextmanager
def drawn_when_open(label: str, key: str) -> Iterator[bool]:
    """An expander whose content is drawn only while it is open: ``with drawn_when_open(...)
    as is_open: if is_open: ...``.

    Streamlit sends a collapsed expander's content too, and the browser fetches and runs the
    code of every element type on the page before it shows the page: a hidden ``st.code``
    costs the syntax highlighter (1.5 MB of JavaScript), a hidden chart Plotly's bundle, a
    hidden table the data grid. Opening or closing it reruns the page (or its fragment).
    """
    with st.expander(label, key=key, on_change="rerun") as box:
        yield bool(box.open)


def trial_url(run_id: int, trial_key: str) -> str:
    """The trial page's address for one trial (``?run=12&trial=07``), relative to the app."""
    from urllib.parse import urlencode

    return "trial?" + urlencode({"run": run_id, "trial": trial_key})


@st.cache_resource(show_spinner=False)
def _open_storage(path: str) -> Storage:
    return Storage(path)


def get_storage() -> Storage:
    """The storage for ``default_db_path()``; a database that cannot be used stops the page."""
    try:
        return _open_storage(os.path.abspath(default_db_path()))
    except StorageError as exc:
        show_error(exc)
        st.stop()


@st.cache_resource(show_spinner=False)
def _start_engine(path: str, concurrency: int):
    from tuning.runner.engine import Engine

    engine = Engine(path, concurrency=concurrency)
    engine.start()
    return engine


def ensure_engine() -> None:
    """Start this process's engine unless ``TUNING_ENGINE=0`` (AppTests run without one)."""
    if os.environ.get("TUNING_ENGINE", "1").strip() == "0":
        return
    raw = os.environ.get("TUNING_CONCURRENCY", "1")
    try:
        concurrency = max(1, int(raw))
    except ValueError:
        st.warning(f"TUNING_CONCURRENCY must be a whole number; got {raw!r}. Using 1.")
        concurrency = 1
    try:
        _start_engine(os.path.abspath(default_db_path()), concurrency)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("tuning"):
            raise
        st.warning("The training engine is not installed yet: runs stay queued.")
    except StorageError as exc:
        st.error(f"The training engine cannot start: {markdown_text(exc)}")


def show_error(exc: BaseException) -> None:
    """An error as text in the page, never as a traceback, nor as Markdown: the message
    quotes what users typed (``escaping.markdown_text``)."""
    if isinstance(exc, SpecError):
        st.error("\n".join(f"- {markdown_text(p)}" for p in exc.problems))
    else:
        st.error(markdown_text(exc))


# -- formatting: one module for every surface (tuning.formatting) -----------------------

def run_label(run: Run) -> str:
    return f"#{run.id} · {run.name} · {run.status.value}"


# -- choosing runs ---------------------------------------------------------------------

def _query_run_id() -> tuple[int | None, str | None]:
    """The run id in ``?run=``, and an error message when it is not a number."""
    raw = st.query_params.get("run")
    if raw is None or raw == "":
        return None, None
    try:
        return int(raw), None
    except ValueError:
        return None, f"?run={raw} is not a run id; pick a run below"


def _remember_run(key: str) -> None:
    chosen = st.session_state.get(key)
    if chosen is not None:
        st.query_params["run"] = str(chosen)


def pick_run(storage: Storage, key: str, label: str = "Run") -> Run | None:
    """A run chosen in a select box that follows ``?run=`` (and writes it back).

    A run id in the URL that does not exist shows "run N does not exist" and leaves the
    choice empty; returns None when there is no run to show.
    """
    try:
        runs = storage.list_runs()
    except StorageError as exc:
        show_error(exc)
        return None
    if not runs:
        st.info("No runs yet. Launch one on the Launch page.")
        return None
    by_id = {r.id: r for r in runs}
    wanted, problem = _query_run_id()
    if problem:
        st.error(markdown_text(problem))
    elif wanted is not None and wanted not in by_id:
        st.error(f"run {wanted} does not exist")
        problem = "missing"
    if problem:
        # A separate key: the missing id must not become this widget's value.
        st.selectbox(label, list(by_id), index=None, format_func=lambda i: run_label(by_id[i]),
                     key=f"{key}_missing", placeholder="Pick a run",
                     on_change=_remember_run, args=(f"{key}_missing",))
        return None
    if wanted is not None:
        st.session_state[key] = wanted
    elif st.session_state.get(key) not in by_id:
        st.session_state[key] = runs[0].id
    st.selectbox(label, list(by_id), format_func=lambda i: run_label(by_id[i]), key=key,
                 on_change=_remember_run, args=(key,))
    chosen = st.session_state[key]
    st.query_params["run"] = str(chosen)
    return by_id[chosen]
