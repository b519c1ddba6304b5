"""One trial: its hyperparameters, every execution's curves for every metric, its metrics
and flags, why it failed (the whole traceback) and the lines its worker logged while it ran;
for Hyperband its parent and children, for a tool run the tool's own view of it.

Reached from the live page's leaderboard or by URL: ``/trial?run=12&trial=07``. It reads
this one trial's rows, whatever the size of the run.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages._common import (
    LIVE_PAGE,
    fmt_duration,
    fmt_number,
    fmt_score,
    fmt_time,
    get_storage,
    pick_run,
    rounded,
    show_error,
    trial_url,
)
from storage import NotFoundError, StorageError
from tuning import strategies
from tuning.insights.analysis import curves_frame, hyperparameters, metric_names
from tuning.insights.charts import learning_curves
from tuning.insights.tool_charts import lr_range_chart, lr_suggestion

storage = get_storage()
state = st.session_state


def chosen_key(run) -> str | None:
    """The trial in ``?trial=``, else the run's best (or first) trial."""
    wanted = st.query_params.get("trial")
    if wanted:
        return str(wanted)
    first = storage.trial_page(run.id, run.direction, 0, 1)
    return first[0].trial_key if first else None


def remember_key() -> None:
    key = state.get("trial_key", "").strip()
    if key:
        st.query_params["trial"] = key


def link(run_id: int, trial) -> str:
    return f"[{trial.trial_key}]({trial_url(run_id, trial.trial_key)}) ({trial.status.value}, " \
           f"score {fmt_score(trial.score)})"


def facts(trial) -> pd.DataFrame:
    rows = [("status", trial.status.value), ("score", fmt_score(trial.score)),
            ("number", str(trial.number)), ("epochs", str(trial.epochs_done)),
            ("started", fmt_time(trial.started_at)), ("finished", fmt_time(trial.finished_at)),
            ("duration", fmt_duration(None if trial.finished_at is None or trial.started_at
                                      is None else trial.finished_at - trial.started_at)),
            ("worker", trial.worker or "–")]
    if trial.bracket is not None:
        rows += [("bracket", str(trial.bracket)), ("round", str(trial.round))]
    return pd.DataFrame(rows, columns=["", "value"])


def tool_view(run, trial, epochs) -> None:
    """What the run's tool shows of this trial."""
    panel = strategies.panel_of(run.strategy)
    if panel == "lr_range":
        st.subheader("Learning-rate range test")
        st.plotly_chart(lr_range_chart(epochs), key="trial_lr_range")
        suggestion = lr_suggestion(trial)
        if suggestion is not None:
            st.success(f"Suggested learning rate: **{fmt_number(suggestion['suggested_lr'], 3)}**"
                       f" (loss starts to diverge near {fmt_number(suggestion['diverge_lr'], 3)}).")
            st.caption(suggestion["reasoning"])
    elif panel == "lora_ranks" and trial.metrics.get("sample"):
        st.subheader("Generated sample")
        st.code(str(trial.metrics["sample"]), language=None)


st.title("Trial")
run = pick_run(storage, key="trial_run")
if run is None:
    st.stop()
key = chosen_key(run)
if key is None:
    st.info("This run has no trial yet.")
    st.stop()
if state.get("trial_key_for") != (run.id, key):
    state["trial_key"], state["trial_key_for"] = key, (run.id, key)
st.text_input("Trial key", key="trial_key", on_change=remember_key,
              help="The key shown in the live page's leaderboard")
key = state["trial_key"].strip()
st.query_params["trial"] = key
try:
    trial = storage.get_trial_by_key(run.id, key)
except NotFoundError:
    st.error(f"run {run.id} has no trial {key!r}; pick one from the live page's leaderboard")
    st.stop()
except StorageError as exc:
    show_error(exc)
    st.stop()
if st.button("Back to the live run", key="trial_back"):
    st.switch_page(LIVE_PAGE, query_params={"run": str(run.id)})

st.header(f"Trial {trial.trial_key} · {trial.status.value} · score {fmt_score(trial.score)}")
if trial.message:
    (st.error if trial.status.value == "failed" else st.info)(trial.message)
for flag in trial.flags:
    st.warning(flag)

left, middle, right = st.columns(3)
left.caption("Trial")
left.dataframe(facts(trial), hide_index=True, width="stretch")
middle.caption("Hyperparameters")
middle.json(rounded(hyperparameters(trial)), expanded=True)
right.caption("Metrics")
right.dataframe(pd.DataFrame([(k, fmt_number(v)) for k, v in trial.metrics.items()],
                             columns=["metric", "value"]), hide_index=True, width="stretch")

epochs = storage.epochs_of([trial.id])
st.subheader("Learning curves")
if not epochs:
    st.info("No epoch recorded for this trial.")
curves = curves_frame(epochs, [trial])
executions = sorted(set(curves["execution"].tolist())) if len(curves) else []
if len(executions) > 1:
    st.caption(f"{len(executions)} executions, one line each.")
for name in metric_names(curves):
    st.plotly_chart(learning_curves(curves, name), key=f"trial_curve_{name}")

parent = trial.parent_key or trial.hyperparameters.get("tuner/trial_id")
children = storage.trial_children(run.id, trial.trial_key)
if parent or children:
    st.subheader("Hyperband")
    if parent:
        try:
            st.markdown("Promoted from " + link(run.id, storage.get_trial_by_key(run.id, parent)))
        except NotFoundError:
            st.markdown(f"Promoted from {parent} (not recorded)")
    for child in children:
        st.markdown("Promoted to " + link(run.id, child))

tool_view(run, trial, epochs)

traceback, log = storage.trial_output(trial.id)
if traceback:
    st.subheader("Traceback")
    st.code(traceback, language="python")
st.subheader("Worker log while it ran")
if log:
    st.code(log, language=None)
else:
    st.caption("Nothing was logged for this trial (or it ran where its output is not kept).")
