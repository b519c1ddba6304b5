"""The live page's explicit cache of one run, bounded by what the page draws.

A run of 20,000 trials x 50 epochs holds a million epoch rows; the live page draws the
best ``max_curves`` trials and the running ones as lines, the others as a band, one page
of the leaderboard and a best-so-far chart. ``RunView`` holds exactly that:

- the run, the cursor, and the full records of the trials it draws (the best ones, the
  running ones and any the user asked for) with every epoch of theirs;
- the trials' counts (``Storage.trial_counts``), kept up to date from the changed trials
  while only the drawn ones change, read again in SQL when another one does;
- the band of the other trials (``Storage.curve_band``) and the best-so-far points, each
  read again only when the set of finished trials moved on.

``refresh`` reads only what was written after the cursor (``Storage.changes_since``):
a refresh after one new epoch reads that epoch and the trial it belongs to. Epochs of
trials it does not draw are handed back in the update and not kept. Not thread-safe:
keep one per page session. Asking for another run starts over.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from types import MappingProxyType

import pandas as pd

from storage import BestPoint, CurveBand, Epoch, Run, Storage, Trial, TrialCounts, TrialStatus
from tuning.formatting import fmt_number, rounded

from .analysis import curves_frame, trials_frame

MAX_CURVES = 20
# A band is read again once this share of the run's trials finished since it was read.
BAND_STALE_SHARE = 0.02


@dataclass(frozen=True)
class ViewUpdate:
    """What one ``RunView.refresh`` read: the run, the trials changed, the epochs added,
    and the ids of trials that restarted (their cached epochs were dropped)."""
    run: Run
    trials: tuple[Trial, ...]
    epochs: tuple[Epoch, ...]
    restarted: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return bool(self.trials or self.epochs)


class RunView:
    """See the module docstring."""

    def __init__(self, max_curves: int = MAX_CURVES) -> None:
        self.max_curves = max_curves
        self.run_id: int | None = None
        self.run: Run | None = None
        self.cursor = None
        self.counts: TrialCounts | None = None
        self.trials: dict[int, Trial] = {}      # the drawn trials, by id
        self.top_ids: list[int] = []            # the best ``max_curves``, best first
        self.wanted_keys: tuple[str, ...] = ()  # trials the user asked to see drawn
        self._epochs: dict[int, dict[tuple[int, int], Epoch]] = {}
        self._frame: pd.DataFrame | None = None
        self._bands: dict[tuple[str, ...], tuple[int, tuple[int, ...], CurveBand]] = {}
        self._best: tuple[int, tuple[BestPoint, ...]] | None = None
        self._records: tuple[tuple, list[Trial]] | None = None

    # -- reading -------------------------------------------------------------------

    def refresh(self, storage: Storage, run_id: int) -> ViewUpdate:
        if run_id != self.run_id:
            self.__init__(self.max_curves)
            self.run_id = run_id
            return self._first(storage, run_id)
        changes = storage.changes_since(run_id, self.cursor)
        restarted, finished_moved = [], False
        for trial in changes.trials:
            old = self.trials.get(trial.id)
            if old is None or old.status is not trial.status:
                finished_moved = True
            if old is not None and (trial.epochs_done < old.epochs_done
                                    or trial.started_at != old.started_at):
                restarted.append(trial.id)
                self._epochs.pop(trial.id, None)
        if finished_moved or restarted:
            self.counts = storage.trial_counts(run_id)
        else:
            self.counts = self._counted(changes.trials)
        for trial in changes.trials:
            if trial.id in self.trials:
                self.trials[trial.id] = trial
        if finished_moved:
            self._choose(storage, run_id, changes.trials, changes.cursor.epoch_id)
        for epoch in changes.epochs:
            if epoch.trial_id in self.trials:
                self._epochs.setdefault(epoch.trial_id, {})[(epoch.execution, epoch.epoch)] = epoch
                self._frame = None
        self.run, self.cursor = changes.run, changes.cursor
        return ViewUpdate(run=changes.run, trials=changes.trials, epochs=changes.epochs,
                          restarted=tuple(restarted))

    def _first(self, storage: Storage, run_id: int) -> ViewUpdate:
        self.cursor = storage.run_cursor(run_id)
        self.counts = storage.trial_counts(run_id)
        self.run = storage.get_run(run_id)
        self._choose(storage, run_id, (), self.cursor.epoch_id)
        epochs = tuple(sorted(self.epochs, key=lambda e: e.id))
        return ViewUpdate(run=self.run, trials=tuple(self.trials.values()), epochs=epochs,
                          restarted=())

    def _counted(self, changed: Iterable[Trial]) -> TrialCounts:
        """The counts moved on by changes to trials already held (only epochs moved)."""
        epochs, rev = dict(self.counts.epochs_by_status), self.counts.rev
        for trial in changed:
            status = trial.status.value
            epochs[status] = epochs.get(status, 0) + trial.epochs_done \
                - self.trials[trial.id].epochs_done
            rev = max(rev, trial.rev)
        return replace(self.counts, epochs_by_status=MappingProxyType(epochs), rev=rev)

    def _choose(self, storage: Storage, run_id: int, changed: Iterable[Trial],
                upto: int | None = None) -> None:
        """Draw the best trials, the running ones and the wanted ones; read the epochs of
        any newly drawn, up to epoch id ``upto`` (later ones come with the next refresh,
        so none is handed out twice)."""
        # The leaderboard's first rows: the best completed trials, or every trial of a run
        # that has no more than ``max_curves``.
        first = storage.trial_page(run_id, self.run.direction, 0, self.max_curves)
        top = [t for t in first if t.status is TrialStatus.COMPLETED and t.score is not None]
        drawn = {t.id: t for t in first}
        drawn.update((t.id, t) for t in storage.running_trials(run_id))
        for key in self.wanted_keys:
            try:
                trial = storage.get_trial_by_key(run_id, key)
            except LookupError:
                continue
            drawn[trial.id] = trial
        for trial in changed:
            if trial.id in drawn:
                drawn[trial.id] = trial
        fresh = [i for i in drawn if i not in self._epochs]
        self._epochs = {i: e for i, e in self._epochs.items() if i in drawn}
        for epoch in storage.epochs_of(fresh):
            if upto is not None and epoch.id > upto:
                continue
            self._epochs.setdefault(epoch.trial_id, {})[(epoch.execution, epoch.epoch)] = epoch
        self.trials, self.top_ids = drawn, [t.id for t in top]
        self._frame = None

    def want(self, storage: Storage, keys: Iterable[str]) -> None:
        """Draw these trials too (any trial's full curve, on demand)."""
        keys = tuple(dict.fromkeys(keys))
        if keys != self.wanted_keys and self.run_id is not None:
            self.wanted_keys = keys
            self._choose(storage, self.run_id, (), self.cursor.epoch_id)

    # -- what the page draws ----------------------------------------------------------

    @property
    def epochs(self) -> list[Epoch]:
        """Every epoch of the drawn trials."""
        return [e for by_key in self._epochs.values() for e in by_key.values()]

    def trial_list(self) -> list[Trial]:
        """The drawn trials in trial-number order."""
        return sorted(self.trials.values(), key=lambda t: (t.number, t.id))

    def running(self) -> list[Trial]:
        return [t for t in self.trial_list() if t.status is TrialStatus.RUNNING]

    def top_keys(self) -> list[str]:
        return [self.trials[i].trial_key for i in self.top_ids if i in self.trials]

    def others(self) -> int:
        """How many trials with epochs are not drawn one by one."""
        return max(0, self.counts.total - len(self.trials)) if self.counts else 0

    def curves(self) -> pd.DataFrame:
        """``curves_frame`` of the drawn trials' epochs."""
        if self._frame is None:
            self._frame = curves_frame(self.epochs, self.trials.values())
        return self._frame

    def _finished(self) -> int:
        return self.counts.total - self.counts.count(TrialStatus.RUNNING)

    def band(self, storage: Storage, names: Iterable[str]) -> CurveBand | None:
        """The median and 10-90 % band of the trials not drawn, None when all are drawn."""
        if not self.others():
            return None
        names = tuple(names)
        finished, drawn = self._finished(), tuple(sorted(self.trials))
        cached = self._bands.get(names)
        if cached is None or cached[1] != tuple(self.top_ids) or \
                abs(finished - cached[0]) > max(1, BAND_STALE_SHARE * finished):
            band = storage.curve_band(self.run_id, names, exclude=drawn)
            self._bands[names] = cached = (finished, tuple(self.top_ids), band)
        return cached[2]

    def best_points(self, storage: Storage) -> tuple[BestPoint, ...]:
        """``Storage.best_so_far`` of the run, read again when a trial finished."""
        finished = self._finished()
        if self._best is None or self._best[0] != finished:
            self._best = (finished, storage.best_so_far(self.run_id, self.run.direction))
        return self._best[1]

    def records(self, storage: Storage, limit: int) -> list[Trial]:
        """Every trial's record (the best ``limit`` of a larger run), for panels that need
        them all (stages, brackets, the tools' charts); read again when a trial started or
        finished."""
        key = (tuple(self.counts.by_status.items()), tuple(sorted(self.trials)))
        if self._records is None or self._records[0] != key:
            if self.counts.total <= limit:
                found = storage.list_trials(self.run_id)
            else:
                found = storage.trial_page(self.run_id, self.run.direction, 0, limit)
            self._records = (key, found)
        return self._records[1]


def leaderboard_page_frame(storage: Storage, run: Run, page: int, rows: int,
                           link: Callable[[int, str], str] | None = None) -> pd.DataFrame:
    """Page ``page`` (from 0) of the leaderboard: ``analysis.leaderboard``'s columns, ranked
    as in the whole run, floats of hyperparameters rounded for reading, and an ``open``
    column of ``link(run_id, trial_key)`` when given."""
    offset = page * rows
    trials = storage.trial_page(run.id, run.direction, offset, rows)
    frame = trials_frame(trials)
    ranked = [t.status is TrialStatus.COMPLETED and t.score is not None for t in trials]
    frame.insert(0, "rank", pd.array([offset + i + 1 if r else None
                                      for i, r in enumerate(ranked)], dtype="Int64"))
    if link is not None:
        frame.insert(1, "open", [link(run.id, t.trial_key) for t in trials])
    for column in frame.columns:
        if not column.startswith("hp:"):
            continue
        if frame[column].dtype.kind == "f":
            frame[column] = frame[column].map(rounded)
        elif frame[column].dtype == object:
            frame[column] = frame[column].map(
                lambda v: fmt_number(v) if isinstance(v, float) else v)
    return frame
