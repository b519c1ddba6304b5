"""Tables and statistics over a run's trials and epochs, for the pages and the reports.

Pure functions over the frozen records of ``storage`` (plus one explicit cache,
``RunView``). No Streamlit and no TensorFlow: this runs in the dashboard process.

Conventions:
- Hyperparameter columns are named ``hp:<name>``; KerasTuner's bookkeeping keys
  (``tuner/epochs``, ``tuner/bracket``, ...) are never hyperparameters.
- "Best" always follows the run's objective direction (``"min"`` or ``"max"``);
  ties go to the trial with the lower number.
- Epoch numbers are kept as stored (Keras counts from 0); charts add 1.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from storage import BestPoint, Epoch, Run, Trial, TrialCounts, TrialStatus

HP_PREFIX = "hp:"
TUNER_PREFIX = "tuner/"
# Trials that will not be trained again: they count as done for progress.
_DONE = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.CANCELLED, TrialStatus.PRUNED)
# Optuna's mean-decrease-impurity evaluator uses the same forest; each tree sees at most
# _FOREST_SAMPLES trials, which keeps a fit of thousands of trials near 0.2 s.
_FOREST = {"n_estimators": 64, "max_depth": 64, "min_samples_leaf": 1}
_FOREST_SAMPLES = 1000
MIN_TRIALS_FOR_IMPORTANCE = 4

TRIAL_COLUMNS = ("trial_id", "trial_key", "number", "status", "score", "epochs_done",
                 "started_at", "finished_at", "duration_s", "bracket", "round", "parent_key",
                 "message", "worker", "flags")
CURVE_COLUMNS = ("trial_id", "trial_key", "execution", "epoch", "metric", "value")


def is_hyperparameter(key: str) -> bool:
    return not str(key).startswith(TUNER_PREFIX)


def hyperparameters(trial: Trial) -> dict[str, Any]:
    """The trial's own values, without KerasTuner's ``tuner/`` bookkeeping keys."""
    return {k: v for k, v in trial.hyperparameters.items() if is_hyperparameter(k)}


def _sign(direction: str) -> float:
    return -1.0 if direction == "min" else 1.0


def _scored(trials: Iterable[Trial]) -> list[Trial]:
    return [t for t in trials if t.status is TrialStatus.COMPLETED and t.score is not None
            and math.isfinite(t.score)]


# -- trial tables -------------------------------------------------------------------


def trials_frame(trials: Iterable[Trial]) -> pd.DataFrame:
    """One row per trial (see ``TRIAL_COLUMNS``) plus one ``hp:<name>`` column per hyperparameter.

    Hyperparameter columns appear in the order they are first met; a trial that lacks
    one (a conditional hyperparameter) holds NaN/None there.
    """
    trials = list(trials)
    frame = pd.DataFrame({
        "trial_id": pd.array([t.id for t in trials], dtype="int64"),
        "trial_key": pd.array([t.trial_key for t in trials], dtype=object),
        "number": pd.array([t.number for t in trials], dtype="int64"),
        "status": pd.array([t.status.value for t in trials], dtype=object),
        "score": _floats(t.score for t in trials),
        "epochs_done": pd.array([t.epochs_done for t in trials], dtype="int64"),
        "started_at": _floats(t.started_at for t in trials),
        "finished_at": _floats(t.finished_at for t in trials),
        "duration_s": None,
        "bracket": pd.array([t.bracket for t in trials], dtype="Int64"),
        "round": pd.array([t.round for t in trials], dtype="Int64"),
        "parent_key": pd.array([t.parent_key for t in trials], dtype=object),
        "message": pd.array([t.message for t in trials], dtype=object),
        "worker": pd.array([t.worker for t in trials], dtype=object),
        "flags": pd.array(["; ".join(t.flags) for t in trials], dtype=object),
    }, columns=list(TRIAL_COLUMNS))
    frame["duration_s"] = frame["finished_at"] - frame["started_at"]
    hps = pd.DataFrame([dict(t.hyperparameters) for t in trials], index=frame.index, dtype=object)
    for name in hps.columns:
        if not str(name).startswith(TUNER_PREFIX):
            frame[HP_PREFIX + str(name)] = _natural(hps[name])
    return frame


def _floats(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _natural(column: pd.Series) -> pd.Series:
    """A hyperparameter column with the dtype its values share: numbers stay numbers,
    anything mixed (strings, booleans, missing values among them) stays objects."""
    present = column.dropna()
    if len(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                            for v in present):
        return pd.to_numeric(column, errors="coerce")
    return column.astype(object)


def leaderboard(run: Run, trials: Iterable[Trial]) -> pd.DataFrame:
    """``trials_frame`` ordered for display, with a ``rank`` column first.

    Completed trials come first, best first by ``run.direction`` (rank 1 is the best);
    then running trials; then every other status (failed, cancelled, pruned, stopped,
    interrupted), each with its message. Unranked rows hold ``<NA>`` in ``rank``.
    """
    frame = trials_frame(trials)
    completed = (frame["status"] == TrialStatus.COMPLETED.value) & frame["score"].notna()
    running = frame["status"] == TrialStatus.RUNNING.value
    group = np.where(completed, 0, np.where(running, 1, 2))
    key = np.where(completed, _sign(run.direction) * -frame["score"].to_numpy(), 0.0)
    order = np.lexsort((frame["number"].to_numpy(), key, group))
    frame = frame.iloc[order].reset_index(drop=True)
    n_ranked = int(completed.sum())
    rank = pd.array([i + 1 if i < n_ranked else None for i in range(len(frame))], dtype="Int64")
    frame.insert(0, "rank", rank)
    return frame


def best_trial(run: Run, trials: Iterable[Trial]) -> Trial | None:
    """The completed trial with the best score (lower number on ties); None if none completed."""
    scored = _scored(trials)
    if not scored:
        return None
    sign = _sign(run.direction)
    return min(scored, key=lambda t: (-sign * t.score, t.number))


def best_so_far(run: Run, trials: Iterable[Trial]) -> pd.DataFrame:
    """The running best, one row per completed trial in the order trials finished.

    Columns: number, trial_key, finished_at, elapsed_s (since ``run.started_at``, or the
    first trial's start when the run has none), epochs_cum (epochs trained by every
    trial finished so far, completed or not: the budget spent), score, best.
    """
    trials = list(trials)
    finished = sorted((t for t in trials if t.finished_at is not None),
                      key=lambda t: (t.finished_at, t.number))
    starts = [t.started_at for t in trials if t.started_at is not None]
    origin = run.started_at if run.started_at is not None else (min(starts) if starts else 0.0)
    rows, spent = [], 0
    for t in finished:
        spent += t.epochs_done
        if t.status is TrialStatus.COMPLETED and t.score is not None and math.isfinite(t.score):
            rows.append((t.number, t.trial_key, t.finished_at, t.finished_at - origin, spent,
                         float(t.score)))
    frame = pd.DataFrame(rows, columns=["number", "trial_key", "finished_at", "elapsed_s",
                                        "epochs_cum", "score"])
    scores = frame["score"].astype(float)
    frame["best"] = scores.cummin() if run.direction == "min" else scores.cummax()
    return frame


@dataclass(frozen=True)
class Progress:
    """Where a run stands. ``done`` counts trials that will not train again (completed,
    failed, cancelled, pruned); ``total`` is ``run.max_trials`` (None when unbounded)."""
    done: int
    total: int | None
    running: int
    failed: int
    epochs_done: int
    elapsed_s: float | None
    eta_s: float | None
    fraction: float | None


def progress(run: Run, trials: Iterable[Trial], now: float) -> Progress:
    """Counts, elapsed time and a naive ETA: mean finished-trial duration x trials remaining.

    The ETA is None while no trial has finished or when the total is unknown, and 0
    once the run itself has finished.
    """
    trials = list(trials)
    done = sum(t.status in _DONE for t in trials)
    running = sum(t.status is TrialStatus.RUNNING for t in trials)
    failed = sum(t.status is TrialStatus.FAILED for t in trials)
    total = run.max_trials
    durations = [t.finished_at - t.started_at for t in trials
                 if t.status in _DONE and t.finished_at is not None and t.started_at is not None]
    fraction = None if not total else min(1.0, done / total)
    if run.status.is_finished():
        eta = 0.0
    elif total is None or not durations:
        eta = None
    else:
        eta = float(np.mean(durations)) * max(0, total - done)
    return Progress(done=done, total=total, running=running, failed=failed,
                    epochs_done=sum(t.epochs_done for t in trials),
                    elapsed_s=run.elapsed_s(now), eta_s=eta, fraction=fraction)


def progress_of(run: Run, counts: TrialCounts, now: float) -> Progress:
    """``progress`` from counts made in SQL (``Storage.trial_counts``): same rules."""
    done = counts.count(*_DONE)
    total = run.max_trials
    if run.status.is_finished():
        eta = 0.0
    elif total is None or counts.mean_done_s is None:
        eta = None
    else:
        eta = counts.mean_done_s * max(0, total - done)
    return Progress(done=done, total=total, running=counts.count(TrialStatus.RUNNING),
                    failed=counts.count(TrialStatus.FAILED), epochs_done=counts.epochs_done,
                    elapsed_s=run.elapsed_s(now), eta_s=eta,
                    fraction=None if not total else min(1.0, done / total))


def best_so_far_points(run: Run, points: Sequence[BestPoint]) -> pd.DataFrame:
    """``best_so_far``'s frame from ``Storage.best_so_far`` points (elapsed time from the
    run's start, or the first point when the run has none)."""
    origin = run.started_at if run.started_at is not None else (
        points[0].finished_at if points else 0.0)
    frame = pd.DataFrame([(p.number, p.trial_key, p.finished_at, p.finished_at - origin,
                           p.epochs_cum, p.score, p.best) for p in points],
                         columns=["number", "trial_key", "finished_at", "elapsed_s",
                                  "epochs_cum", "score", "best"])
    frame["score"] = frame["score"].astype(float)
    frame["best"] = frame["best"].astype(float)
    return frame


# -- curves -------------------------------------------------------------------------


def curves_frame(epochs: Iterable[Epoch], trials: Iterable[Trial]) -> pd.DataFrame:
    """Long format, one row per (epoch row, metric): see ``CURVE_COLUMNS``.

    ``trial_key`` and ``metric`` are categoricals (a run's 10^5 epoch rows repeat a few
    thousand keys and a handful of names). Metrics recorded as None (non-finite
    values) are left out. An epoch whose trial is not in ``trials`` gets its trial id
    as key. Rows keep the epochs' order.
    """
    epochs = list(epochs)
    n = len(epochs)
    ids = np.fromiter((e.trial_id for e in epochs), np.int64, n)
    # Epochs of one run nearly always share one set of metric names: group the rows by
    # that set and melt each group with numpy instead of looping per value.
    by_names: dict[tuple[str, ...], list[int]] = {}
    values: list[tuple[Any, ...]] = []
    for i, e in enumerate(epochs):
        by_names.setdefault(tuple(e.metrics), []).append(i)
        values.append(tuple(e.metrics.values()))
    metric_codes: dict[str, int] = {}
    rows, codes, numbers = [], [], []
    for names, members in by_names.items():
        index = np.asarray(members, dtype=np.int64)
        block = np.array(values if len(members) == n else [values[i] for i in members],
                         dtype=float).reshape(len(members), -1)
        own = np.array([metric_codes.setdefault(m, len(metric_codes)) for m in names],
                       dtype=np.int64)
        rows.append(np.repeat(index, len(names)))
        codes.append(np.tile(own, len(members)))
        numbers.append(block.ravel())
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    code = np.concatenate(codes) if codes else np.zeros(0, np.int64)
    value = np.concatenate(numbers) if numbers else np.zeros(0, float)
    order = np.argsort(row, kind="stable") if len(by_names) > 1 else slice(None)
    keep = ~np.isnan(value[order])
    row, code, value = row[order][keep], code[order][keep], value[order][keep]
    keys = {t.id: t.trial_key for t in trials}
    present = np.unique(ids)
    labels = [keys.get(int(i)) or str(int(i)) for i in present]
    categories = list(dict.fromkeys(labels))
    position = {k: j for j, k in enumerate(categories)}
    key_code = np.array([position[k] for k in labels], dtype=np.int64)
    tid = ids[row]
    return pd.DataFrame({
        "trial_id": tid,
        "trial_key": pd.Categorical.from_codes(key_code[np.searchsorted(present, tid)],
                                               categories=categories),
        "execution": np.fromiter((e.execution for e in epochs), np.int64, n)[row],
        "epoch": np.fromiter((e.epoch for e in epochs), np.int64, n)[row],
        "metric": pd.Categorical.from_codes(code, categories=list(metric_codes)),
        "value": value})


def concat_curves(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` of ``curves_frame`` results that keeps the categorical columns."""
    frames = [f for f in frames if len(f)] or list(frames[:1])
    if len(frames) == 1:
        return frames[0]
    from pandas.api.types import union_categoricals

    out = pd.concat(frames, ignore_index=True)
    for col in ("trial_key", "metric"):
        out[col] = union_categoricals([f[col] for f in frames])
    return out


def metric_names(epochs: Iterable[Epoch] | pd.DataFrame) -> list[str]:
    """Base metric names, sorted: ``accuracy`` stands for both ``accuracy`` and ``val_accuracy``.

    Accepts epoch records or a ``curves_frame``.
    """
    if isinstance(epochs, pd.DataFrame):
        names: set[str] = set(epochs["metric"].unique().tolist()) if "metric" in epochs else set()
    else:
        names = set()
        for e in epochs:
            names.update(e.metrics)
    return sorted({n[len("val_"):] if n.startswith("val_") else n for n in names})


# -- importance ---------------------------------------------------------------------


def encode_hyperparameters(frame: pd.DataFrame, space: Mapping[str, Mapping[str, Any]]
                           ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Numeric features for the hyperparameters of ``space`` found in a ``trials_frame``.

    int/float: the value (log10 of it when sampled on a log scale); bool: 0/1; a choice
    among numbers: the number (ordinal); a choice among strings: one 0/1 column per value.
    Fixed hyperparameters are left out. Returns the features (NaN filled with the
    column's median) and a map from feature column to hyperparameter name.
    """
    features: dict[str, pd.Series] = {}
    owner: dict[str, str] = {}
    for name, hp in space.items():
        column = HP_PREFIX + name
        kind = hp.get("type")
        if kind == "fixed" or column not in frame:
            continue
        raw = frame[column]
        if kind == "choice" and any(isinstance(v, str) for v in hp.get("values", ())):
            for value in hp["values"]:
                col = f"{name}={value}"
                features[col] = (raw == value).astype(float)
                owner[col] = name
            continue
        values = pd.to_numeric(raw.map(lambda v: float(v) if isinstance(v, (bool, int, float))
                                       else np.nan), errors="coerce").astype(float)
        if hp.get("sampling") == "log":
            values = np.log10(values.where(values > 0))
        features[name] = values
        owner[name] = name
    encoded = pd.DataFrame(features, index=frame.index)
    encoded = encoded.loc[:, encoded.notna().any()]
    encoded = encoded.fillna(encoded.median())
    return encoded, {c: owner[c] for c in encoded.columns}


def hp_importance(trials: Iterable[Trial], space: Mapping[str, Mapping[str, Any]],
                  direction: str, seed: int = 0, *, trees: int = _FOREST["n_estimators"],
                  samples: int = _FOREST_SAMPLES) -> pd.Series:
    """How much each hyperparameter of ``space`` drives the score, summing to 1, largest first.

    Method (Optuna's mean-decrease-impurity evaluator): fit a seeded
    ``RandomForestRegressor`` (64 trees, each bootstrapped from at most 1,000 trials)
    on the completed trials, features from
    ``encode_hyperparameters`` (log10 for log-sampled values, one-hot for string
    choices), target the score oriented so that larger is better (``direction``).
    A hyperparameter's importance is the impurity decrease of its feature columns,
    summed over its one-hot columns and normalised to 1 (``trees`` and ``samples`` make
    the forest lighter for a page that must answer fast). It measures association in
    the trials seen, not causation, and is noisy with few trials.

    Empty when fewer than 4 trials completed or no hyperparameter varies in type
    (only fixed ones). All zeros when the score never varies.
    """
    scored = _scored(trials)
    if len(scored) < MIN_TRIALS_FOR_IMPORTANCE:
        return pd.Series(dtype=float, name="importance")
    frame = trials_frame(scored)
    features, owner = encode_hyperparameters(frame, space)
    if features.shape[1] == 0:
        return pd.Series(dtype=float, name="importance")
    target = _sign(direction) * frame["score"].to_numpy(dtype=float)
    names = list(dict.fromkeys(owner.values()))
    if np.ptp(target) == 0:
        return pd.Series(0.0, index=names, name="importance")
    from sklearn.ensemble import RandomForestRegressor  # heavy; only pages that show it pay

    forest = RandomForestRegressor(random_state=seed, n_jobs=1,
                                   max_samples=min(len(target), samples),
                                   **{**_FOREST, "n_estimators": trees})
    forest.fit(features.to_numpy(), target)
    per_column = pd.Series(forest.feature_importances_, index=features.columns)
    per_hp = per_column.groupby(pd.Series(owner)).sum().reindex(names, fill_value=0.0)
    total = per_hp.sum()
    if total > 0:
        per_hp = per_hp / total
    return per_hp.sort_values(ascending=False, kind="stable").rename("importance")


# -- hyperband ----------------------------------------------------------------------


def _bracket(t: Trial) -> int | None:
    value = t.bracket if t.bracket is not None else t.hyperparameters.get("tuner/bracket")
    return None if value is None else int(value)


def _round(t: Trial) -> int:
    value = t.round if t.round is not None else t.hyperparameters.get("tuner/round")
    return 0 if value is None else int(value)


def _parent(t: Trial) -> str | None:
    value = t.parent_key if t.parent_key is not None else t.hyperparameters.get("tuner/trial_id")
    return None if value in (None, "") else str(value)


def hyperband_table(trials: Iterable[Trial]) -> pd.DataFrame:
    """Hyperband's brackets: bracket, round, trial_key, parent_key, score, status, promoted.

    Brackets come from each trial (its columns, else its ``tuner/`` keys), never from
    the oracle's file, which forgets finished brackets. ``promoted`` is True when a
    trial of the next round names this one as its parent. Trials without a bracket
    are left out. Ordered by bracket (largest first), round, number.
    """
    trials = [t for t in trials if _bracket(t) is not None]
    parents = {_parent(t) for t in trials} - {None}
    rows = [(_bracket(t), _round(t), t.trial_key, _parent(t), t.score, t.status.value,
             t.trial_key in parents, t.number) for t in trials]
    frame = pd.DataFrame(rows, columns=["bracket", "round", "trial_key", "parent_key", "score",
                                        "status", "promoted", "number"])
    frame["score"] = frame["score"].astype(float)
    frame = frame.sort_values(["bracket", "round", "number"], ascending=[False, True, True],
                              kind="stable")
    return frame.drop(columns="number").reset_index(drop=True)


def top_trial_keys(run: Run, trials: Sequence[Trial], n: int) -> list[str]:
    """The keys of the ``n`` best completed trials, best first."""
    frame = leaderboard(run, trials)
    return frame.loc[frame["rank"].notna(), "trial_key"].head(n).tolist()
