"""Compare: two or more runs side by side (best so far, hyperparameters, importance).

Its cost follows what it draws, not the runs' sizes: best so far comes from storage's own
running best, the best trial from the leaderboard's first row, and the hyperparameter
charts and the importance from at most ``SAMPLE`` completed trials per run (the best
half, then the others spread evenly).
"""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from pages._common import fmt_duration, fmt_number, fmt_score, get_storage, run_label, show_error
from storage import StorageError, plain_json
from tuning.insights.analysis import (
    best_so_far_points,
    hp_importance,
    hyperparameters,
    trials_frame,
)
from tuning.insights.charts import (
    best_so_far_chart,
    importance_chart,
    parallel_coordinates,
    slice_plots,
)
from tuning.insights.escaping import markdown_text

storage = get_storage()
state = st.session_state
SAMPLE = 1000
# The page's forest: a quarter of the trees and half the samples of the reports'
# (analysis.hp_importance): the first draw of two runs of 20,000 trials stays under 1 s.
IMPORTANCE = {"trees": 16, "samples": 500}


def wanted_ids(known: set[int]) -> list[int]:
    """Run ids from ``?runs=1,2``; ids that are not runs are reported, not kept."""
    raw = st.query_params.get("runs", "")
    ids, missing = [], []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if part.isdigit() and int(part) in known:
            ids.append(int(part))
        else:
            missing.append(part)
    for part in missing:
        st.error(f"run {part} does not exist" if part.isdigit()
                 else f"{markdown_text(repr(part))} is not a run id")
    return list(dict.fromkeys(ids))


def remember_choice() -> None:
    st.query_params["runs"] = ",".join(str(i) for i in state["compare_runs"])


@st.cache_data(show_spinner="Measuring importance…", max_entries=64)
def importance(db_path: str, run_id: int, revision: tuple, space: dict,
               direction: str) -> pd.Series:
    """Keyed by the trials' counts: a forest is fitted again only when a trial finished."""
    return hp_importance(sampled[run_id], space, direction, **IMPORTANCE)


st.title("Compare runs")
try:
    runs = {r.id: r for r in storage.list_runs()}
except StorageError as exc:
    show_error(exc)
    st.stop()
if len(runs) < 2:
    st.info("Comparing needs at least two runs. Launch more, or race strategies from Launch.")
    st.stop()
preselected = wanted_ids(set(runs))
if preselected or "compare_runs" not in state:
    state["compare_runs"] = preselected or list(runs)[:2]
chosen = st.multiselect("Runs", list(runs), format_func=lambda i: run_label(runs[i]),
                        key="compare_runs", on_change=remember_choice)
if len(chosen) < 2:
    st.info("Pick two or more runs.")
    st.stop()
st.query_params["runs"] = ",".join(str(i) for i in chosen)

try:
    sampled = {i: storage.scored_sample(i, runs[i].direction, SAMPLE) for i in chosen}
    counts = {i: storage.trial_counts(i) for i in chosen}
    best_points = {i: storage.best_so_far(i, runs[i].direction) for i in chosen}
except StorageError as exc:
    show_error(exc)
    st.stop()
selected = [runs[i] for i in chosen]
labels = {r.id: f"#{r.id} {r.name}" for r in selected}
directions = {r.direction for r in selected}
metrics = {str(r.spec.get("objective", {}).get("metric")) for r in selected}
if len(metrics) > 1:
    st.warning("These runs optimise different metrics (" + ", ".join(
        markdown_text(m) for m in sorted(metrics))
               + "): their scores are not comparable.")
direction = selected[0].direction if len(directions) == 1 else "max"

st.subheader("Best so far")
series = {labels[r.id]: best_so_far_points(r, best_points[r.id]) for r in selected}
by_time, by_epochs = st.columns(2)
by_time.plotly_chart(best_so_far_chart(series, x="elapsed_s", direction=direction),
                     key="compare_best_time")
by_epochs.plotly_chart(best_so_far_chart(series, x="epochs_cum", direction=direction),
                       key="compare_best_epochs")

st.subheader("Best of each run")
now = time.time()
rows = {}
for r in selected:
    best = sampled[r.id][0] if sampled[r.id] else None
    column = {"strategy": r.strategy, "status": r.status.value,
              "metric": str(r.spec.get("objective", {}).get("metric")),
              "best score": None if best is None else fmt_score(best.score),
              "best trial": None if best is None else best.trial_key,
              "trials done": f"{r.trials_done:,}", "elapsed": fmt_duration(r.elapsed_s(now))}
    if best is not None:
        column.update({f"hp: {k}": fmt_number(v) for k, v in hyperparameters(best).items()})
    rows[labels[r.id]] = column
st.dataframe(pd.DataFrame(rows), width="stretch")

spaces = {r.id: plain_json(r.spec.get("search_space", {})) for r in selected}
same_space = all(s == spaces[chosen[0]] for s in spaces.values())
st.subheader("Hyperparameters against score")
large = [r for r in selected if counts[r.id].count("completed") > SAMPLE]
if large:
    st.caption(f"Runs of more than {SAMPLE:,} completed trials show their best {SAMPLE // 2:,} "
               f"and {SAMPLE - SAMPLE // 2:,} others spread evenly: "
               + ", ".join(f"{labels[r.id]} ({counts[r.id].count('completed'):,})"
                           for r in large) + ".")
pooled = st.toggle("Pool all runs in one chart", value=same_space, disabled=not same_space,
                   key="compare_pooled",
                   help="Only when every run searches the same space.")
if pooled and same_space:
    frames = [trials_frame(sampled[r.id]).assign(run=labels[r.id]) for r in selected]
    frame = pd.concat(frames, ignore_index=True)
    st.plotly_chart(parallel_coordinates(frame, spaces[chosen[0]], direction=direction),
                    key="compare_parallel_pooled")
    st.plotly_chart(slice_plots(frame, spaces[chosen[0]]), key="compare_slices_pooled")
else:
    # Only the open tab is drawn: a hidden tab's charts would be drawn by the browser too.
    tabs = st.tabs([markdown_text(labels[r.id]) for r in selected], key="compare_tab",
                   on_change="rerun")
    for tab, r in zip(tabs, selected):
        if tab.open:
            frame = trials_frame(sampled[r.id])
            tab.plotly_chart(parallel_coordinates(frame, spaces[r.id], direction=r.direction),
                             key=f"compare_parallel_{r.id}")
            tab.plotly_chart(slice_plots(frame, spaces[r.id]), key=f"compare_slices_{r.id}")

st.subheader("Hyperparameter importance")
st.caption("How much each hyperparameter explains the score in the trials seen (a random "
           "forest's impurity decrease, as in Optuna); noisy with few trials.")
for column, r in zip(st.columns(min(len(selected), 3)) * len(selected), selected):
    revision = (counts[r.id].rev, tuple(counts[r.id].by_status.items()))
    column.caption(markdown_text(labels[r.id]))
    column.plotly_chart(importance_chart(importance(storage.path, r.id, revision,
                                                               spaces[r.id], r.direction)),
                        key=f"compare_importance_{r.id}")
