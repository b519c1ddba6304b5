"""Reads whose cost follows what a page draws, not the size of the run.

A run of 20,000 trials x 50 epochs holds a million epoch rows; a page draws a few dozen
curves, a band and one page of a leaderboard. These reads serve exactly that:

- ``last_epoch_id``: where a live reader's epoch cursor starts, without reading the rows;
- ``epochs_of``: every epoch of the trials named (the drawn ones, or one trial's full curve);
- ``metric_names``: the metrics a run records, from its newest epoch rows;
- ``curve_band``: median and 10-90 % band per epoch of the trials not drawn one by one,
  from at most ``BAND_SAMPLE`` of them chosen evenly through the trial numbers (every
  trial when there are fewer), each quantile interpolated as ``pandas.quantile`` does;
- ``scored_sample``: the best completed trials and an even spread of the others, for
  charts over every trial's hyperparameters;
- ``trial_page``: one page of a run's trials in leaderboard order (SQL sorts and slices);
- ``trial_summaries``: the run and every trial's few scalar columns (no JSON), with the
  cursor a live reader continues from, in one snapshot.

Mixed into ``Storage``: ``self._conn()`` and ``self._read()`` come from there.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import orjson

from ._models import Cursor, Epoch, Trial, TrialStatus
from ._schema import RANK_GROUP, RANK_MAX, RANK_MIN

BAND_SAMPLE = 200
BAND_QUANTILES = (0.1, 0.5, 0.9)
_CHUNK = 900  # ids per IN (...): well under SQLite's limit on bound parameters
_EPOCH_COLUMNS = "id, run_id, trial_id, execution, epoch, metrics, created_at"
_DONE = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.CANCELLED, TrialStatus.PRUNED)


@dataclass(frozen=True)
class BandPoint:
    metric: str
    epoch: int
    low: float
    median: float
    high: float
    count: int


@dataclass(frozen=True)
class CurveBand:
    """Quantiles per (metric, epoch) over ``trials`` trials, measured on ``sampled`` of them."""
    trials: int
    sampled: int
    points: tuple[BandPoint, ...]


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's and pandas' default)."""
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def evenly(ids: Sequence[int], limit: int) -> list[int]:
    """At most ``limit`` of ``ids``, spread evenly (all of them when there are few)."""
    if len(ids) <= limit:
        return list(ids)
    step = len(ids) / limit
    return [ids[int(i * step)] for i in range(limit)]


@dataclass(frozen=True)
class TrialCounts:
    """A run's trials counted in SQL: by status, epochs trained, and the mean duration of
    the trials that will not train again (completed, failed, cancelled, pruned)."""
    by_status: Mapping[str, int]
    epochs_by_status: Mapping[str, int]
    mean_done_s: float | None
    rev: int

    @property
    def epochs_done(self) -> int:
        return sum(self.epochs_by_status.values())

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def count(self, *statuses: TrialStatus) -> int:
        return sum(self.by_status.get(TrialStatus(s).value, 0) for s in statuses)


@dataclass(frozen=True)
class BestPoint:
    """A finished trial on the best-so-far chart (see ``best_so_far``)."""
    number: int
    trial_key: str
    finished_at: float
    epochs_cum: int
    score: float
    best: float


class PageReads:
    """Reads for pages of large runs; see the module docstring."""

    def run_cursor(self, run_id: int) -> Cursor:
        """Where a reader that has seen everything up to now continues from."""
        conn = self._conn()
        rev = conn.execute("SELECT COALESCE(MAX(rev), 0) FROM trials WHERE run_id = ?",
                           (run_id,)).fetchone()[0]
        return Cursor(epoch_id=self.last_epoch_id(run_id), trial_rev=int(rev))

    def trial_counts(self, run_id: int) -> TrialCounts:
        done = ", ".join(f"'{s.value}'" for s in _DONE)
        row_sql = (f"SELECT status, COUNT(*), SUM(epochs_done), MAX(rev), "
                   f"SUM(CASE WHEN status IN ({done}) AND finished_at IS NOT NULL "
                   "AND started_at IS NOT NULL THEN finished_at - started_at END), "
                   f"SUM(CASE WHEN status IN ({done}) AND finished_at IS NOT NULL "
                   "AND started_at IS NOT NULL THEN 1 ELSE 0 END) "
                   "FROM trials WHERE run_id = ? GROUP BY status")
        by_status, epochs, rev, spent, timed = {}, {}, 0, 0.0, 0
        for status, count, trained, top, seconds, n in self._conn().execute(row_sql,
                                                                            (run_id,)):
            by_status[status] = int(count)
            epochs[status] = int(trained or 0)
            rev = max(rev, int(top or 0))
            spent += float(seconds or 0.0)
            timed += int(n or 0)
        return TrialCounts(MappingProxyType(by_status), MappingProxyType(epochs),
                           spent / timed if timed else None, rev)

    def best_so_far(self, run_id: int, direction: str, markers: int = 1000
                    ) -> tuple[BestPoint, ...]:
        """Completed trials in the order they finished with the running best: every trial
        that improved the best, plus up to ``markers`` others spread evenly."""
        pick = "MIN" if direction == "min" else "MAX"
        rows = self._conn().execute(
            "SELECT number, trial_key, finished_at, epochs_cum, score, best FROM ("
            "  SELECT number, trial_key, finished_at, status, score,"
            "    SUM(epochs_done) OVER w AS epochs_cum,"
            f"   {pick}(CASE WHEN status = 'completed' THEN score END) OVER w AS best,"
            "    ROW_NUMBER() OVER w AS position"
            "  FROM trials WHERE run_id = ? AND finished_at IS NOT NULL"
            "  WINDOW w AS (ORDER BY finished_at, number ROWS UNBOUNDED PRECEDING))"
            " WHERE status = 'completed' AND score IS NOT NULL", (run_id,)).fetchall()
        step = max(1, math.ceil(len(rows) / markers)) if markers else len(rows) + 1
        kept, best = [], None
        for i, r in enumerate(rows):
            if r[5] != best or i % step == 0 or i == len(rows) - 1:
                kept.append(BestPoint(int(r[0]), r[1], float(r[2]), int(r[3]), float(r[4]),
                                      float(r[5])))
            best = r[5]
        return tuple(kept)

    def running_trials(self, run_id: int) -> list[Trial]:
        from ._sqlite import _TRIAL_COLUMNS  # _sqlite imports this module: import late

        rows = self._conn().execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? AND status = 'running' "
            "ORDER BY number, id", (run_id,)).fetchall()
        return [self._trial(r) for r in rows]

    def last_epoch_id(self, run_id: int) -> int:
        row = self._conn().execute("SELECT COALESCE(MAX(id), 0) FROM epochs WHERE run_id = ?",
                                   (run_id,)).fetchone()
        return int(row[0])

    def epochs_of(self, trial_ids: Iterable[int]) -> list[Epoch]:
        """Every epoch of these trials, by trial, execution and epoch."""
        ids = sorted({int(i) for i in trial_ids})
        out: list[Epoch] = []
        conn = self._conn()
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            out.extend(self._epoch(r) for r in conn.execute(
                f"SELECT {_EPOCH_COLUMNS} FROM epochs WHERE trial_id IN ({marks}) "
                "ORDER BY trial_id, execution, epoch", list(chunk)))
        return out

    def metric_names(self, run_id: int, newest: int = 200) -> tuple[str, ...]:
        """The metric names in the run's ``newest`` epoch rows, sorted."""
        names: set[str] = set()
        for (text,) in self._conn().execute(
                "SELECT metrics FROM epochs WHERE run_id = ? ORDER BY id DESC LIMIT ?",
                (run_id, newest)):
            names.update(_keys(text))
        return tuple(sorted(names))

    def curve_band(self, run_id: int, metrics: Sequence[str], exclude: Iterable[int] = (),
                   sample: int = BAND_SAMPLE) -> CurveBand:
        """Quantiles (``BAND_QUANTILES``) per metric and epoch over the run's trials outside
        ``exclude``; see the module docstring for the sample."""
        skip = {int(i) for i in exclude}
        with self._read() as conn:
            ids = [int(r[0]) for r in conn.execute(
                "SELECT id FROM trials WHERE run_id = ? AND epochs_done > 0 ORDER BY number, id",
                (run_id,)) if int(r[0]) not in skip]
            chosen = evenly(ids, sample)
            values: dict[tuple[str, int], list[float]] = {}
            for chunk in _chunks(chosen):
                marks = ",".join("?" * len(chunk))
                for epoch, text in conn.execute(
                        f"SELECT epoch, metrics FROM epochs WHERE trial_id IN ({marks})", chunk):
                    found = orjson.loads(text)
                    for name in metrics:
                        value = found.get(name)
                        if value is not None:
                            values.setdefault((name, int(epoch)), []).append(float(value))
        points = []
        for (name, epoch), found in sorted(values.items()):
            found.sort()
            low, median, high = (_quantile(found, q) for q in BAND_QUANTILES)
            points.append(BandPoint(name, epoch, low, median, high, len(found)))
        return CurveBand(trials=len(ids), sampled=len(chosen), points=tuple(points))

    def scored_sample(self, run_id: int, direction: str, limit: int = 2000) -> list[Trial]:
        """At most ``limit`` completed trials with a score: the best half of ``limit``, then
        the others spread evenly through the leaderboard (all of them when there are
        fewer), best first. For charts of every trial's hyperparameters."""
        from ._sqlite import _TRIAL_COLUMNS  # _sqlite imports this module: import late

        key = RANK_MIN if direction == "min" else RANK_MAX
        conn = self._conn()
        ids = [int(r[0]) for r in conn.execute(
            f"SELECT id FROM trials WHERE run_id = ? AND ({RANK_GROUP}) = 0 "
            f"ORDER BY ({RANK_GROUP}), ({key}), number, id", (run_id,))]
        if len(ids) > limit:
            ids = ids[:limit // 2] + evenly(ids[limit // 2:], limit - limit // 2)
        position = {trial_id: i for i, trial_id in enumerate(ids)}
        found: list[Trial] = []
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            found.extend(self._trial(r) for r in conn.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE id IN ({marks})", list(chunk)))
        return sorted(found, key=lambda t: position[t.id])

    def trial_children(self, run_id: int, trial_key: str) -> list[Trial]:
        """The trials that name ``trial_key`` as their parent (Hyperband's promotions)."""
        from ._sqlite import _TRIAL_COLUMNS  # _sqlite imports this module: import late

        rows = self._conn().execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? AND parent_key = ? "
            "ORDER BY number, id", (run_id, str(trial_key))).fetchall()
        return [self._trial(r) for r in rows]

    def trial_page(self, run_id: int, direction: str, offset: int = 0,
                   limit: int = 50) -> list[Trial]:
        """Trials ``offset`` to ``offset + limit`` of the run in leaderboard order."""
        from ._sqlite import _TRIAL_COLUMNS  # _sqlite imports this module: import late

        key = RANK_MIN if direction == "min" else RANK_MAX
        rows = self._conn().execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? "
            f"ORDER BY ({RANK_GROUP}), ({key}), number, id LIMIT ? OFFSET ?",
            (run_id, int(limit), int(offset))).fetchall()
        return [self._trial(r) for r in rows]


def _keys(text: str) -> list[str]:
    return list(orjson.loads(text))
