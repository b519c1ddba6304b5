"""Live run: progress, leaderboard and curves of one run, redrawn twice a second while it runs.

A ``RunView`` in the session reads only rows written since its last refresh and holds only
what the page draws (the best trials' and the running ones' curves; the others come as a
band read in storage), so the page's cost follows the screen, not the run's size. The
leaderboard is read one page at a time. The widgets live outside the refreshing fragment,
so a refresh never resets a choice being made.
"""
from __future__ import annotations

import time

import streamlit as st

from pages._advice import advice_panel
from pages._common import (
    fmt_duration,
    fmt_number,
    fmt_score,
    get_storage,
    pick_run,
    rounded,
    show_error,
    trial_url,
)
from storage import StorageError, TrialStatus, plain_json
from tuning import catalog, strategies
from tuning.insights.analysis import (
    best_so_far_points,
    hyperband_table,
    hyperparameters,
    metric_names,
    progress_of,
)
from tuning.insights.charts import best_so_far_chart, hyperband_chart, learning_curves
from tuning.insights.data_summary import data_items
from tuning.insights.escaping import markdown_text
from tuning.insights.run_view import RunView, leaderboard_page_frame
from tuning.insights.stages import pruning_summary_of, sequential_stages
from tuning.insights.tool_charts import (
    batch_size_chart,
    lora_chart,
    lr_range_chart,
    lr_suggestion,
    score_vs_params_chart,
    transfer_chart,
)
from tuning.runner.control import cancel_trial, stop_run
from tuning.strategies.lr_finder import fixed_training_spec, follow_up_spec

storage = get_storage()
state = st.session_state
HIDDEN_COLUMNS = ("trial_id", "started_at", "finished_at", "worker")
HYPERBAND_COLUMNS = ("bracket", "round", "parent_key")
PAGE_ROWS = 50
# Panels that need every trial's record (stages, brackets, the tools' charts) read at most
# this many, the best first.
RECORDS_LIMIT = 500


def refreshed_view(run_id: int) -> RunView:
    view = state.get("live_view")
    if not isinstance(view, RunView):
        view = state["live_view"] = RunView()
    view.refresh(storage, run_id)
    return view


def records(view: RunView) -> list:
    return view.records(storage, RECORDS_LIMIT)


def leaderboard_page(run, page: int):
    return leaderboard_page_frame(storage, run, page, PAGE_ROWS, link=trial_url)


def fallback_metrics(run) -> list[str]:
    """What the run will record, before its first epoch does."""
    family = catalog.FAMILIES.get(run.model_family)
    if family is None or family.kind == "sklearn":
        return ["score"]
    task = run.spec.get("data", {}).get("task", "classification")
    names = catalog.KERAS_METRICS.get(task, catalog.KERAS_METRICS["classification"])
    return sorted({n.removeprefix("val_") for n in names})


def shape_of(view: RunView) -> tuple:
    """What the widgets outside the fragment depend on: when it changes, redraw them too."""
    running = tuple(t.trial_key for t in view.running())
    pages = max(1, -(-view.counts.total // PAGE_ROWS))
    return view.run.status, running, tuple(metric_names(view.epochs)), pages


def act(action, *args) -> None:
    try:
        action(storage, *args)
    except StorageError as exc:
        state["live_flash"] = ("error", str(exc))
    else:
        state["live_flash"] = ("success", "Requested; the worker acts after the epoch in flight.")


st.title("Live run")
run = pick_run(storage, key="live_run")
if run is None:
    st.stop()
try:
    view = refreshed_view(run.id)
except StorageError as exc:
    show_error(exc)
    st.stop()
run = view.run
active = not run.status.is_finished()
state["live_shape"] = shape_of(view)
running = [t.trial_key for t in view.running()]

flash = state.pop("live_flash", None)
if flash:
    (st.error if flash[0] == "error" else st.success)(markdown_text(flash[1]))
metrics = metric_names(view.epochs) or fallback_metrics(run)
objective = str(run.spec.get("objective", {}).get("metric", "")).removeprefix("val_")
controls = st.columns([2, 1, 2, 1, 1], vertical_alignment="bottom")
metric = controls[0].selectbox("Curve metric", metrics, key="live_metric",
                               index=metrics.index(objective) if objective in metrics else 0)
log_y = controls[1].toggle("Log scale", key="live_log")
to_cancel = controls[2].selectbox("Running trial", running, key="live_cancel_key",
                                  placeholder="no trial running", disabled=not running)
controls[3].button("Cancel trial", key="live_cancel", disabled=not running or to_cancel is None,
                   on_click=act, args=(cancel_trial, run.id, to_cancel))
controls[4].button("Stop run", key="live_stop", disabled=not active,
                   on_click=act, args=(stop_run, run.id))
pages = state["live_shape"][3]
browse = st.columns([1, 3], vertical_alignment="bottom")
board_page = browse[0].number_input(
    f"Leaderboard page (of {pages:,}, {PAGE_ROWS} trials each)", min_value=1, max_value=pages,
    value=min(int(state.get("live_page", 1)), pages), step=1, key="live_page") - 1
also = browse[1].text_input(
    "Also draw trials", key="live_also", placeholder="trial keys, comma-separated",
    help="Any trial's full curve, beside the best ones and the running ones")
view.want(storage, [k.strip() for k in also.split(",") if k.strip()])


# How often the panel redraws while the run is active: every half second, so an epoch is
# on screen within about a second of its commit (bench/bench_freshness.py), but never more
# often than three times the last redraw's cost, so a tab on a huge run holds at most a
# third of a core. The first redraw of a browser session waits longer: while the browser is
# still loading the charts' and the grid's code, a redraw every half second delayed the
# first chart by about a second on a two-core machine (bench/bench_freshness.py). The
# second draw reruns the page, which sets the usual pace.
LIVE_TICK_S = 0.5
FIRST_TICK_S = 2.0


def tick_s() -> float:
    if state.get("live_panel_draws", 0) < 2:
        return FIRST_TICK_S
    return max(LIVE_TICK_S, 3.0 * state.get("live_tick_cost", 0.0))


@st.fragment(run_every=tick_s() if active else None)
def live_panel(run_id: int) -> None:
    draws = state["live_panel_draws"] = state.get("live_panel_draws", 0) + 1
    if draws == 2 and active:
        st.rerun()  # the browser has drawn the page once: redraw at the usual pace
    started = time.perf_counter()
    try:
        draw_live_panel(run_id)
    finally:
        state["live_tick_cost"] = time.perf_counter() - started


def draw_live_panel(run_id: int) -> None:
    try:
        view = refreshed_view(run_id)
    except StorageError as exc:
        show_error(exc)
        return
    if shape_of(view) != state.get("live_shape"):
        st.rerun()  # the run ended, a trial started or a metric appeared: redraw the widgets
    run, trials = view.run, view.trial_list()
    now = time.time()
    p = progress_of(run, view.counts, now)
    total = f"{p.total:,}" if p.total is not None else "?"
    st.progress(p.fraction or 0.0, text=(
        f"{run.status.value} · {p.done:,} of {total} trials · {p.running} running · "
        f"{p.failed:,} failed · {p.epochs_done:,} epochs · elapsed {fmt_duration(p.elapsed_s)}"
        + (f" · ETA {fmt_duration(p.eta_s)}" if active and p.eta_s is not None else "")))
    if run.error:
        (st.error if run.status.value == "failed" else st.warning)(markdown_text(run.error))
    if run.stop_requested and active:
        st.info("Stop requested: the run ends after the epoch in flight.")
    about_data = data_items(run)
    if about_data:
        with st.expander(f"Data: {about_data[0][1]}"):
            st.markdown("\n".join(f"- **{markdown_text(k)}:** {markdown_text(v)}"
                                   for k, v in about_data))

    best = view.trials.get(view.top_ids[0]) if view.top_ids else None
    left, right = st.columns([1, 2])
    metric_name = run.spec.get("objective", {}).get("metric", "score")
    left.metric(f"Best {metric_name} ({run.direction})",
                fmt_score(best.score if best else None),
                help=f"trial {best.trial_key}" if best else None)
    if best is not None:
        right.caption(f"Best parameters (trial {best.trial_key})")
        right.json(rounded(hyperparameters(best)), expanded=True)

    pruning = pruning_summary_of(run, view.counts)
    if pruning is not None:
        st.caption(f"Pruning: {pruning.describe()}")
    panel = strategies.panel_of(run.strategy)
    if panel == "stages":
        st.subheader("Stages")
        st.dataframe(sequential_stages(run, records(view)), hide_index=True, width="stretch")

    board = leaderboard_page(run, board_page)
    hide = list(HIDDEN_COLUMNS) + ([] if panel == "brackets" else list(HYPERBAND_COLUMNS))
    if run.spec.get("strategy", {}).get("workers", 1) > 1 or \
            run.spec.get("data", {}).get("source") == "script":
        hide.remove("worker")  # which worker runs which trial
    st.subheader("Leaderboard")
    if view.counts.total > PAGE_ROWS:
        st.caption(f"Trials {board_page * PAGE_ROWS + 1:,} to "
                   f"{min((board_page + 1) * PAGE_ROWS, view.counts.total):,} of "
                   f"{view.counts.total:,}, best first; pick another page above.")
    st.dataframe(board.drop(columns=[c for c in hide if c in board]), hide_index=True,
                 width="stretch", height=min(420, 38 + 35 * max(len(board), 1)),
                 column_config={
                     "open": st.column_config.LinkColumn("trial page", display_text="open"),
                     "score": st.column_config.NumberColumn(format="%.4g"),
                     "duration_s": st.column_config.NumberColumn("duration", format="%.1f s")})

    st.subheader("Learning curves")
    highlight = next((t.trial_key for t in trials if t.status is TrialStatus.RUNNING), None)
    band = view.band(storage, (metric, f"val_{metric}"))
    st.plotly_chart(learning_curves(view.curves(), metric, highlight_key=highlight, log_y=log_y,
                                    top_keys=view.top_keys(), direction=run.direction,
                                    band=band), key="live_curves")
    if run.model_family in catalog.FAMILIES and \
            catalog.FAMILIES[run.model_family].kind == "sklearn":
        st.caption("For a scikit-learn model each point is one cross-validation fold's score.")

    st.subheader("Best so far")
    series = {run.name: best_so_far_points(run, view.best_points(storage))}
    by_number, by_time = st.columns(2)
    by_number.plotly_chart(best_so_far_chart(series, x="number", direction=run.direction),
                           key="live_best_number")
    by_time.plotly_chart(best_so_far_chart(series, x="elapsed_s", direction=run.direction),
                         key="live_best_time")

    if panel == "brackets":
        st.subheader("Hyperband brackets")
        st.plotly_chart(hyperband_chart(hyperband_table(records(view))), key="live_hyperband")
    if panel in TOOL_PANELS:
        TOOL_PANELS[panel](run, records(view), view)
    scored = records(view)
    if any("param_count" in t.metrics for t in scored):  # every Keras trial records it
        st.subheader("Score against parameter count")
        st.plotly_chart(score_vs_params_chart(scored), key="live_params")


# What a range test's suggestion can start: (button, widget key, help, spec builder).
LR_FOLLOW_UPS = (
    ("Train once at it, cosine decay", "live_lr_train",
     "One training that starts at the suggested rate and anneals it to 0: the cheap way to "
     "use the suggestion", fixed_training_spec),
    ("Tune the learning rate around it", "live_lr_follow_up",
     "A 10-trial random search from a tenth of the suggestion to three times it",
     follow_up_spec),
)


def lr_range_panel(run, trials, view) -> None:
    st.subheader("Learning-rate range test")
    st.plotly_chart(lr_range_chart(view.epochs), key="live_lr_range")
    for trial in trials:
        suggestion = lr_suggestion(trial)
        if suggestion is None:
            continue
        st.success(f"Suggested learning rate: **{fmt_number(suggestion['suggested_lr'], 3)}** "
                   f"(loss starts to diverge near {fmt_number(suggestion['diverge_lr'], 3)}).")
        st.caption(suggestion["reasoning"])
        for column, (label, key, hint, make_spec) in zip(st.columns(2), LR_FOLLOW_UPS):
            if column.button(label, key=key, help=hint):
                state["launch_prefill"] = make_spec(plain_json(run.spec), suggestion["suggested_lr"])
                st.switch_page("pages/launch.py")


def batch_size_panel(run, trials, view) -> None:
    st.subheader("Batch size: speed against generalisation")
    st.plotly_chart(batch_size_chart(trials), key="live_batch_size")


def transfer_panel(run, trials, view) -> None:
    st.subheader("Transfer against training from scratch")
    st.plotly_chart(transfer_chart(trials), key="live_transfer")


def lora_panel(run, trials, view) -> None:
    st.subheader("LoRA rank: trainable parameters and loss")
    st.plotly_chart(lora_chart(trials), key="live_lora")
    for trial in trials:
        if trial.metrics.get("sample"):
            st.caption(markdown_text(f"trial {trial.trial_key} (rank "
                                     f"{trial.hyperparameters.get('rank')}): "
                                     f"{trial.metrics['sample']}"))


# What each tool's panel (``Strategy.panel``) adds to the live view.
TOOL_PANELS = {"lr_range": lr_range_panel, "batch_size": batch_size_panel,
               "transfer": transfer_panel, "lora_ranks": lora_panel}


live_panel(run.id)


def advice_fragment(run_id: int, timed: bool) -> None:
    """The advice, in a fragment of its own: a large run's is read on a background thread
    (``AdviceJobs``), so the panel draws again on a timer (``timed``) while an answer is
    awaited or the run is active; a full run starts or stops that timer."""
    view = state.get("live_view")  # refreshed by the live panel at most a second ago
    if not isinstance(view, RunView) or view.run is None or view.run.id != run_id:
        return
    current = view.run
    pending = advice_panel(storage, current, view.counts)
    state["live_advice_pending"] = (run_id, pending)
    if timed != (pending or not current.status.is_finished()):
        st.rerun()


waiting = state.get("live_advice_pending") == (run.id, True)
advice_timed = active or waiting
# An active run's advice is read again every ACTIVE_REFRESH_S at most: no need to redraw
# the panel more often than every few seconds, unless an answer is awaited.
st.fragment(advice_fragment, run_every=1.0 if waiting else 3.0 if active else None)(
    run.id, advice_timed)
