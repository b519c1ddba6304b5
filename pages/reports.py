"""Reports: every download for one run, and its Markdown summary on the page."""
from __future__ import annotations

import streamlit as st

from pages._common import get_storage, pick_run, show_error
from storage import StorageError
from tuning.insights.advice import advise_stored
from tuning.insights.reports import (
    best_model_path,
    best_params_json,
    html_report,
    markdown_summary,
    rebuild_script,
    trials_csv,
)

storage = get_storage()

st.title("Reports")
run = pick_run(storage, key="reports_run")
if run is None:
    st.stop()
try:
    trials = storage.list_trials(run.id)
    advice = advise_stored(storage, run.id)  # what to try next: in both reports
except StorageError as exc:
    show_error(exc)
    st.stop()
stem = f"run-{run.id}"
summary = markdown_summary(run, trials, advice=advice)


def html_file() -> str:
    # Deferred until clicked: the file embeds plotly.js (several MB) and every chart.
    return html_report(run, trials, storage.list_epochs(run.id), advice=advice)


buttons = st.columns(3)
buttons[0].download_button("Trials (CSV)", trials_csv(run, trials), f"{stem}-trials.csv",
                           "text/csv", key="dl_csv", on_click="ignore", width="stretch")
buttons[1].download_button("Best parameters + spec (JSON)", best_params_json(run, trials),
                           f"{stem}-best.json", "application/json", key="dl_json",
                           on_click="ignore", width="stretch")
buttons[2].download_button("Summary (Markdown)", summary,
                           f"{stem}-summary.md", "text/markdown", key="dl_md",
                           on_click="ignore", width="stretch")
buttons[0].download_button("Report (HTML, works offline)", html_file, f"{stem}-report.html",
                           "text/html", key="dl_html", on_click="ignore", width="stretch")
buttons[1].download_button("Rebuild script (Python)", rebuild_script(run, trials),
                           f"{stem}-rebuild.py", "text/x-python", key="dl_script",
                           on_click="ignore", width="stretch")
model = best_model_path(storage.path, run.id)
if model is not None:
    buttons[2].download_button(f"Best model ({model.suffix[1:]})", model.read_bytes,
                               f"{stem}-{model.name}", "application/octet-stream",
                               key="dl_model", on_click="ignore", width="stretch")
else:
    buttons[2].caption("No saved model yet: one is written when a run completes.")

st.divider()
st.markdown(summary)
