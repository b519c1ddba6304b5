"""The "What to try next" panel (live page), the Runs page's mark, and the launch form's
old → new table for a spec an Apply button handed over. The advice itself is computed in
``tuning.insights.advice``; here it is only drawn, cached and handed to the launch page.

Hand-over: Apply puts the patched spec in ``st.session_state["launch_prefill"]`` (the
launch page fills its form from it, as for the range test's buttons) and the difference
in ``st.session_state["launch_prefill_diff"]``; ``show_prefill_diff`` draws it there.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import streamlit as st

from pages._common import drawn_when_open
from storage import Epoch, Run, Storage, StorageError, Trial, TrialCounts, plain_json
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
from tuning.insights.escaping import markdown_text

LAUNCH_PAGE = "pages/launch.py"
ACTIVE_REFRESH_S = 10.0
RUNS_MARKED = 25   # the Runs page reads advice for this many of the newest runs
ADVICE_TRIALS = 1000   # a larger run is advised on its best half and an even sample
INLINE_TRIALS = 300    # a run of at most this many is advised while the page draws
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


def _signature(run: Run, counts: TrialCounts) -> tuple:
    """What the advice depends on, from the run's counts: it changes when a trial starts
    or finishes, or the run's status does."""
    return (run.status, tuple(sorted(counts.by_status.items())))


def _compute(storage: Storage, run: Run) -> Advice:
    try:
        peers = peers_of(storage, run)
    except StorageError:
        peers = []
    return advise(run, *advice_inputs(storage, run), peers)


@dataclass
class _Latest:
    signature: tuple
    job: Future
    submitted: float
    shown: Advice | None  # the last answer that came, drawn while the next one is read


class AdviceJobs:
    """The advice of every run shown, shared by the dashboard's sessions and computed off
    the page's path: a run of more than ``INLINE_TRIALS`` trials is read and advised on
    one background thread (a run of 20,000 trials takes a second or two), and the pages
    draw the last answer meanwhile. Advised again when the signature changes: at once
    for a finished run, at most every ``ACTIVE_REFRESH_S`` for an active one. The thread
    reads storage only and never touches ``st``."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="advice")
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, int], _Latest] = {}

    def latest(self, storage: Storage, run: Run,
               counts: TrialCounts | None = None) -> tuple[Advice | None, bool]:
        """(the advice to draw, None before the first answer; whether a newer one is
        being read). ``counts``: the run's, when the caller has read them (else one
        indexed query)."""
        counts = storage.trial_counts(run.id) if counts is None else counts
        signature = _signature(run, counts)
        key = (storage.path, run.id)
        with self._lock:
            entry = self._latest.get(key)
            if entry is None or self._stale(entry, signature, run):
                if entry is not None and not entry.job.done():
                    return entry.shown, True  # one job per run at a time
                shown = None if entry is None else entry.shown
                if entry is not None and entry.job.exception() is None:
                    shown = entry.job.result()  # done: it was checked above
                if counts.total <= INLINE_TRIALS:
                    job: Future = Future()
                    try:
                        job.set_result(_compute(storage, run))
                    except Exception as exc:  # kept: the same signature is not advised again
                        job.set_exception(exc)
                else:
                    job = self._pool.submit(_compute, storage, run)
                entry = self._latest[key] = _Latest(signature, job, time.monotonic(), shown)
        if entry.job.done():
            return entry.job.result(), False  # a failed job raises here: the page shows it
        return entry.shown, True

    @staticmethod
    def _stale(entry: _Latest, signature: tuple, run: Run) -> bool:
        if entry.signature == signature:
            return False
        if run.status.is_finished() or entry.signature[0] != signature[0]:
            return True
        return time.monotonic() - entry.submitted >= ACTIVE_REFRESH_S


@st.cache_resource
def advice_jobs() -> AdviceJobs:
    return AdviceJobs()


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


def evidence(s: Suggestion, key: str) -> None:
    """A suggestion's evidence, its field-by-field patch and its chart."""
    for line in s.evidence:
        st.markdown(f"- {line}")
    st.dataframe([{"field": c.field, **{k: str(v) for k, v in c.to_json().items()
                                        if k in ("old", "new")}}
                  for c in s.changes], hide_index=True, width="stretch")
    fig = suggestion_figure(s)
    if fig is not None:
        st.plotly_chart(fig, key=f"advice_chart_{key}")


def advice_panel(storage: Storage, run: Run, counts: TrialCounts | None = None,
                 jobs: AdviceJobs | None = None) -> bool:
    """The "What to try next" panel: the note, then each suggestion with its evidence,
    confidence, chart and Apply button; ticked ones apply together. Returns whether a
    newer answer is being read (the caller draws the panel again until it came)."""
    st.subheader("What to try next")
    try:
        advice, pending = (jobs or advice_jobs()).latest(storage, run, counts)
    except Exception as exc:  # a rule that breaks on a run must not take the page with it
        st.error(f"The advice for run {run.id} could not be read: "
                 f"{markdown_text(f'{type(exc).__name__}: {exc}')}")
        return False
    if pending:
        st.caption(f"Reading the trials of run {run.id} for advice…" if advice is None else
                   "Reading the newest trials; this advice is from a moment ago.")
    if advice is None:
        return pending
    if not advice.suggestions:
        st.info(advice.note)
        return pending
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
            with drawn_when_open("Evidence and patch", key=f"advice_evidence_{key}") as shown:
                if shown:
                    evidence(s, key)
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
    return pending


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


def advice_marks(storage: Storage, runs: Sequence[Run]) -> dict[int, str]:
    """The Runs page's mark per run id: "💡 N" for a run with N suggestions (for the
    ``RUNS_MARKED`` newest runs; the shared ``AdviceJobs`` answer, nothing while a large
    run's first answer is being read)."""
    jobs, marks = advice_jobs(), {}
    for run in runs[:RUNS_MARKED]:
        try:
            advice, _ = jobs.latest(storage, run)
        except StorageError:
            advice = None
        count = len(advice.suggestions) if advice is not None else 0
        marks[run.id] = f"💡 {count}" if count else ""
    return marks
