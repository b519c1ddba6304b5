"""Runs: every run in one table, with filters and the control actions."""
from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import streamlit as st

from pages._common import LIVE_PAGE, fmt_duration, fmt_score, get_storage, pick_run, show_error
from storage import RunStatus, StorageError
from tuning import strategies
from tuning.insights.escaping import markdown_text
from tuning.runner.control import delete_run, resume_run, stop_run

storage = get_storage()
state = st.session_state


def act(action, run_id: int, done: str) -> None:
    """Run a control action from a button callback; its outcome shows on the next draw."""
    state.pop("confirm_delete", None)
    try:
        action(storage, run_id)
    except StorageError as exc:
        state["runs_flash"] = ("error", str(exc))
    else:
        state["runs_flash"] = ("success", done)
        if action is delete_run:
            st.query_params.pop("run", None)
            state.pop("runs_run", None)


def runs_table(statuses: list[str], strategies: list[str]) -> pd.DataFrame | None:
    try:
        runs = storage.list_runs(statuses=[RunStatus(s) for s in statuses] or None,
                                 strategies=strategies or None)
    except StorageError as exc:
        show_error(exc)
        return None
    now = time.time()
    return pd.DataFrame([{
        "id": r.id, "name": r.name, "data set": r.dataset, "model": r.model_family,
        "strategy": r.strategy, "status": r.status.value,
        "progress": f"{r.trials_done} / {r.max_trials if r.max_trials is not None else '?'}",
        "best score": r.best_score, "elapsed": fmt_duration(r.elapsed_s(now)),
        "created": dt.datetime.fromtimestamp(r.created_at),
        "message": r.error or "",
    } for r in runs], columns=["id", "name", "data set", "model", "strategy", "status",
                               "progress", "best score", "elapsed", "created", "message"])


st.title("Runs")
flash = state.pop("runs_flash", None)
if flash:
    (st.error if flash[0] == "error" else st.success)(markdown_text(flash[1]))
left, right = st.columns(2)
status_filter = left.multiselect("Status", [s.value for s in RunStatus], key="runs_status")
strategy_filter = right.multiselect("Strategy", strategies.names(), key="runs_strategy")

try:
    all_runs = storage.list_runs()
except StorageError:
    all_runs = []
active = any(not r.status.is_finished() for r in all_runs)
statuses = [(r.id, r.status) for r in all_runs]


@st.fragment(run_every=2.0 if active else None)
def table() -> None:
    try:
        if [(r.id, r.status) for r in storage.list_runs()] != statuses:
            st.rerun()  # a run changed state: redraw the picker and the buttons too
    except StorageError:
        pass  # runs_table shows the message
    frame = runs_table(status_filter, strategy_filter)
    if frame is None:
        return
    if frame.empty:
        st.info("No runs match." if status_filter or strategy_filter
                else "No runs yet. Launch one on the Launch page.")
        return
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "best score": st.column_config.NumberColumn(format="%.4g"),
        "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    })


table()
if not all_runs:
    st.stop()

st.subheader("Act on a run")
run = pick_run(storage, key="runs_run")
if run is not None:
    st.caption(f"{run.status.value} · {run.trials_done} trials done · best "
               f"{fmt_score(run.best_score)}" + (f" · {markdown_text(run.error)}" if run.error
                                                 else ""))
    open_col, stop_col, resume_col, delete_col = st.columns(4)
    if open_col.button("Open live view", key="runs_open", width="stretch"):
        st.switch_page(LIVE_PAGE, query_params={"run": str(run.id)})
    stop_col.button("Stop", key="runs_stop", width="stretch", on_click=act,
                    args=(stop_run, run.id, f"Stop requested for run {run.id}."))
    resume_col.button("Resume", key="runs_resume", width="stretch", on_click=act,
                      args=(resume_run, run.id, f"Run {run.id} queued to resume."))
    if delete_col.button("Delete…", key="runs_delete", width="stretch"):
        state["confirm_delete"] = run.id
    if state.get("confirm_delete") == run.id:
        st.warning(f"Delete run {run.id} ({markdown_text(run.name)}) with its trials, epochs and files? "
                   "This cannot be undone.")
        yes, no = st.columns(2)
        yes.button("Yes, delete it", key="runs_delete_yes", type="primary", on_click=act,
                   args=(delete_run, run.id, f"Run {run.id} deleted."))
        no.button("Cancel", key="runs_delete_no", on_click=state.pop,
                  args=("confirm_delete", None))
