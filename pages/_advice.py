"""The "What to try next" panel (live page), the Runs page's mark, and the launch form's
old → new table for a spec an Apply button handed over. The advice itself is computed in
``tuning.insights.advice``; here it is only drawn, cached and handed to the launch page.

Hand-over: Apply puts the patched spec in ``st.session_state["launch_prefill"]`` (the
launch page fills its form from it, as for the range test's buttons) and the difference
in ``st.session_state["launch_prefill_diff"]``; ``show_prefill_diff`` draws it there.
"""
from __future__ import annotations

import re
import time
from collections.abc import Sequence

import streamlit as st

from storage import Epoch, Run, Storage, StorageError, Trial, plain_json
from tuning.insights.advice import (
    Advice,
    AdviceError,
    Suggestion,
    advise,
    apply_suggestions,
    conflicts,
    diff_rows,
    peers_of,
    spec_diff,
)
from tuning.insights.advice.charts import suggestion_figure

LAUNCH_PAGE = "pages/launch.py"
ACTIVE_REFRESH_S = 10.0
RUNS_MARKED = 25   # the Runs page reads advice for this many of the newest runs
ADVICE_TRIALS = 1000   # a larger run is advised on its best half and an even sample
state = st.session_state


def advice_inputs(storage: Storage, run: Run) -> tuple[list[Trial], list[Epoch]]:
    """The trials and epochs the advice reads: every one of a run of up to
    ``ADVICE_TRIALS`` trials; of a larger run, its best trials and an even sample of the
    rest (``Storage.scored_sample``) with the running ones, so the page never holds every
    epoch of a run of tens of thousands of trials."""
    counts = storage.trial_counts(run.id)
    if counts.total <= ADVICE_TRIALS:
        trials = storage.list_trials(run.id)
    else:
        trials = storage.scored_sample(run.id, run.direction, ADVICE_TRIALS)
        seen = {t.id for t in trials}
        trials += [t for t in storage.running_trials(run.id) if t.id not in seen]
    return trials, storage.epochs_of(t.id for t in trials)


def cached_advice(storage: Storage, run: Run, trials: Sequence[Trial],
                  epochs: Sequence[Epoch]) -> Advice:
    """``advise`` again only when a trial finished or changed, or the run's status did;
    while the run is active, at most every ``ACTIVE_REFRESH_S`` (a run of thousands of
    trials takes a second or two to read)."""
    signature = (run.id, run.status, tuple((t.id, t.rev) for t in trials
                                           if t.status.is_finished()))
    cached = state.get("advice_cache")
    if cached is not None and cached[0] == signature:
        return cached[1]
    if cached is not None and cached[0][:2] == signature[:2] and \
            not run.status.is_finished() and time.monotonic() - cached[2] < ACTIVE_REFRESH_S:
        return cached[1]
    try:
        peers = peers_of(storage, run)
    except StorageError:
        peers = []
    advice = advise(run, trials, epochs, peers)
    state["advice_cache"] = (signature, advice, time.monotonic())
    return advice


def _keys(suggestions: Sequence[Suggestion]) -> list[str]:
    """Widget keys that follow a suggestion while the list around it changes."""
    seen: dict[str, int] = {}
    out = []
    for s in suggestions:
        base = re.sub(r"\W+", "_", f"{s.rule}_{'_'.join(s.fields)}")[:80]
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out


def hand_to_launch(run: Run, chosen: Sequence[Suggestion]) -> str | None:
    """Put the run's spec with ``chosen`` applied into the launch form and open it; the
    reason when they cannot be applied together."""
    try:
        patched = apply_suggestions(plain_json(run.spec), list(chosen))
    except AdviceError as exc:
        return str(exc)
    state["launch_prefill"] = patched
    state["launch_prefill_diff"] = {
        "run": run.id, "titles": [s.title for s in chosen],
        "rows": diff_rows(spec_diff(plain_json(run.spec), patched))}
    st.switch_page(LAUNCH_PAGE)
    return None


def advice_panel(storage: Storage, run: Run, trials: Sequence[Trial],
                 epochs: Sequence[Epoch]) -> None:
    """The "What to try next" panel: the note, then each suggestion with its evidence,
    confidence, chart and Apply button; ticked ones apply together."""
    st.subheader("What to try next")
    advice = cached_advice(storage, run, trials, epochs)
    if not advice.suggestions:
        st.info(advice.note)
        return
    st.caption(advice.note + " Apply opens the launch form with the changed spec; tick "
               "several to apply them together (they must change different fields).")
    keys = _keys(advice.suggestions)
    for i, (s, key) in enumerate(zip(advice.suggestions, keys), start=1):
        with st.container(border=True):
            head, pick, go = st.columns([8, 1, 1], vertical_alignment="center")
            head.markdown(f"**{i}. {s.title}**  \nconfidence **{s.confidence_label}** "
                          f"({s.confidence:.2f}): {s.confidence_reason}")
            pick.checkbox("combine", key=f"advice_pick_{key}", label_visibility="collapsed",
                          help="Tick to apply together with other ticked suggestions")
            if go.button("Apply", key=f"advice_apply_{key}"):
                problem = hand_to_launch(run, [s])
                if problem:
                    st.error(problem)
            with st.expander("Evidence and patch"):
                for line in s.evidence:
                    st.markdown(f"- {line}")
                st.dataframe([{"field": c.field, **{k: str(v) for k, v in c.to_json().items()
                                                    if k in ("old", "new")}}
                              for c in s.changes], hide_index=True, width="stretch")
                fig = suggestion_figure(s)
                if fig is not None:
                    st.plotly_chart(fig, key=f"advice_chart_{key}")
    ticked = [s for s, key in zip(advice.suggestions, keys) if state.get(f"advice_pick_{key}")]
    clash = conflicts(ticked)
    if clash:
        st.warning(f"'{clash[0][0].title}' and '{clash[0][1].title}' both change "
                   f"{clash[0][2]}: untick one of them.")
    if st.button(f"Apply the {len(ticked)} ticked together", key="advice_apply_ticked",
                 disabled=len(ticked) < 2 or bool(clash)):
        problem = hand_to_launch(run, ticked)
        if problem:
            st.error(problem)


def show_prefill_diff() -> None:
    """On the launch page: what the applied suggestions changed, old → new, field by
    field, until the user dismisses it or queues the run."""
    if "launch_prefill_diff" in state:
        state["launch_diff"] = state.pop("launch_prefill_diff")
    diff = state.get("launch_diff")
    if not diff:
        return
    with st.container(border=True):
        st.markdown(f"**Suggested changes to run {diff['run']}** (old → new, field by field): "
                    + "; ".join(diff["titles"]))
        st.dataframe(diff["rows"], hide_index=True, width="stretch", key="launch_diff_table")
        st.button("Dismiss", key="launch_diff_dismiss", on_click=state.pop,
                  args=("launch_diff", None))


@st.cache_data(show_spinner=False, max_entries=512)
def _mark(_storage: Storage, run_id: int, trials_done: int, status: str,
          best: float | None) -> str:
    try:
        run = _storage.get_run(run_id)
        advice = advise(run, *advice_inputs(_storage, run), peers_of(_storage, run))
    except StorageError:
        return ""
    count = len(advice.suggestions)
    return f"💡 {count}" if count else ""


def advice_marks(storage: Storage, runs: Sequence[Run]) -> dict[int, str]:
    """The Runs page's mark per run id: "💡 N" for a run with N suggestions (read for the
    ``RUNS_MARKED`` newest runs, cached until a run's trials or status change)."""
    return {r.id: _mark(storage, r.id, r.trials_done, r.status.value, r.best_score)
            for r in runs[:RUNS_MARKED]}
