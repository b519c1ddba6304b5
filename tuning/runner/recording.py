"""Recording KerasTuner searches: every trial start, epoch and end committed as it happens.

``recording_tuner_class(base)`` subclasses any KerasTuner tuner class with hooks that write
to storage, read stop and cancel requests at each epoch boundary, prune by the median
rule, flag curves, enforce per-trial time limits, and reconcile KerasTuner's files with
the database after a resume. The executor and ``tuning.watch`` both use it.

Imports KerasTuner lazily, inside the factory: importing this module costs nothing.
KerasTuner's private API is reached only through ``kt_compat``.
"""
from __future__ import annotations

import math
import os
import threading
import time
from typing import Any, Callable, Mapping

import numpy as np

from storage import Storage, Store, TrialStatus

from tuning.insights.curves import diagnose, finite_number, median_rule

# Exit codes of a worker process, read by the engine.
EXIT_DONE = 0
EXIT_RECYCLE = 75  # the worker retired itself to keep memory flat; start another

HEARTBEAT_S = 2.0
IDLE_WAIT_S = 0.2


class _Heartbeat(threading.Thread):
    """Beats every few seconds so the engine can tell a live worker from a dead one."""

    def __init__(self, storage: Storage, run_id: int):
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.storage = storage
        self.run_id = run_id
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_S):
            try:
                self.storage.heartbeat(self.run_id)
            except Exception:  # a busy database must not kill the worker; the next beat retries
                pass


def _make_reasons():
    """Exception types that end a search; KerasTuner re-raises only FatalError subclasses."""
    import keras_tuner as kt

    fatal = kt.errors.FatalError

    class StopRequested(fatal):
        pass

    class TimeLimitReached(fatal):
        pass

    class Recycle(fatal):
        pass

    return StopRequested, TimeLimitReached, Recycle


def _status_of(kt_status: str) -> TrialStatus:
    return {"COMPLETED": TrialStatus.COMPLETED, "FAILED": TrialStatus.FAILED,
            "INVALID": TrialStatus.FAILED, "STOPPED": TrialStatus.STOPPED,
            "RUNNING": TrialStatus.RUNNING}.get(kt_status, TrialStatus.FAILED)


def _short_message(message: str | None) -> str | None:
    """KerasTuner stores whole tracebacks; people need the last line first."""
    if not message:
        return None
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1].strip()
    # "keras_tuner.src.errors.FailedTrialError: why" -> "why"; "a.b.ValueError: why" ->
    # "ValueError: why".
    head, sep, rest = last.partition(": ")
    if sep and " " not in head and "." in head:
        name = head.rsplit(".", 1)[1]
        return rest if name == "FailedTrialError" else f"{name}: {rest}"
    return last


def _failure_summary(exc: BaseException) -> str:
    """First line of the error, plus the last line of the trial message KerasTuner appends."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) == 1:
        return f"{type(exc).__name__}: {lines[0]}"
    return f"{lines[0]} Last error: {lines[-1]}"


def recording_tuner_class(base: type) -> type:
    """A subclass of a KerasTuner tuner class that records everything into ``storage``."""
    import keras
    import keras_tuner as kt

    from .kt_compat import (ExecutionHook, LeanBuild, NoTensorBoardByDefault,
                            drop_from_retry_queue, retry_queue)

    StopRequested, TimeLimitReached, Recycle = _make_reasons()

    class Recording(NoTensorBoardByDefault, LeanBuild, ExecutionHook,  # type: ignore[misc, valid-type]
                    base):
        stop_types = (StopRequested, TimeLimitReached, Recycle)

        def setup_recording(self, storage: Storage, run_id: int, spec: Mapping[str, Any],
                            worker_name: str, recycle_after: int, time_spent_s: float) -> None:
            self._storage = storage
            self._run_id = run_id
            self._spec = spec
            self._worker_name = worker_name
            self._recycle_after = recycle_after
            self._trials_here = 0
            self._time_budget = spec.get("time_limit_s")
            self._time_spent = time_spent_s
            self._session_start = time.monotonic()
            self._db_trial_id: int | None = None
            self._execution = -1
            self._cancelled = False
            self._pruning = spec["strategy"].get("pruning")
            self._objective = spec["objective"]
            # epoch -> objective values that finished trials reached there (first execution)
            self._reference: dict[int, list[float]] = {}
            self._trial_limit = spec.get("trial_time_limit_s")
            self._trial_started: float | None = None
            if self._trial_limit:
                Watchdog(storage, run_id, self._trial_limit,
                         lambda: (self._trial_started, self._db_trial_id)).start()

        # -- KerasTuner hooks ------------------------------------------------------
        def on_search_begin(self):
            super().on_search_begin()
            # KerasTuner reloads a project only once its tuner file exists, which it first
            # writes when a trial ends: save now, so a worker that dies in its very first
            # trial is resumed (not restarted from scratch) by the next one.
            self.save()
            self._reconcile_after_reload()
            if self._pruning:
                self._load_reference()

        def pre_create_trial(self):
            super().pre_create_trial()
            if getattr(self, "_asked_for_trial", False):
                # The oracle said "wait" (a Hyperband round or a sequential stage is finishing
                # on another worker): KerasTuner asks again at once, so pause between asks.
                time.sleep(IDLE_WAIT_S)
            self._asked_for_trial = True
            stop, _ = self._storage.control_flags(self._run_id)
            if stop:
                raise StopRequested("stop requested")
            spent = self._time_spent + (time.monotonic() - self._session_start)
            if self._time_budget and spent >= self._time_budget:
                raise TimeLimitReached(
                    f"time limit of {self._time_budget:g} s reached after {spent:.0f} s")
            try:
                remaining = self.oracle.remaining_trials()
            except AttributeError:  # a distributed worker's oracle client cannot tell
                remaining = None
            if self._trials_here >= self._recycle_after and (remaining is None or remaining > 0):
                raise Recycle("worker recycled")

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            self._asked_for_trial = False
            values = dict(trial.hyperparameters.values)
            record = self._storage.begin_trial(
                self._run_id, trial.trial_id, int(trial.trial_id), values,
                bracket=values.get("tuner/bracket"), round=values.get("tuner/round"),
                parent_key=values.get("tuner/trial_id"), worker=self._worker_name)
            self._db_trial_id = record.id
            self._execution = -1
            self._cancelled = False
            self._pruned: str | None = None
            self._curves: dict[int, list[dict[str, Any]]] = {}
            self._last_result = None
            self._param_count: int | None = None
            self._trial_started = time.monotonic()

        def fit_execution(self, trial, fit):
            if self._pruned and self._last_result is not None:
                return self._last_result  # a pruned trial skips its remaining executions
            self._execution += 1
            seed = int(self._spec["seed"]) + 1000 * int(trial.trial_id) + self._execution
            keras.utils.set_random_seed(seed)
            self._last_result = fit()
            return self._last_result

        def on_epoch_end(self, trial, model, epoch, logs=None):
            super().on_epoch_end(trial, model, epoch, logs)
            logs = dict(logs or {})
            if self._param_count is None:  # for charts of score against model size
                self._param_count = int(model.count_params())
            execution = max(self._execution, 0)
            self._storage.record_epoch(self._db_trial_id, execution, epoch, logs)
            self._curves.setdefault(execution, []).append(logs)
            if self._pruning and execution == 0:
                self._maybe_prune(model, epoch, logs)
            loss = logs.get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                raise kt.errors.FailedTrialError(
                    f"loss became {float(loss)} at epoch {epoch + 1}; lower the learning rate")
            self.obey_controls(f"epoch {epoch + 1}", model)

        def obey_controls(self, done: str, model: Any = None) -> None:
            """At a boundary of the trial in flight (``done``: "epoch 3", "fold 2"): raise
            ``StopRequested`` when the run was asked to stop, or fail the trial as
            cancelled when it was."""
            stop, cancel = self._storage.control_flags(self._run_id, self._db_trial_id)
            if stop:
                if model is not None:
                    model.stop_training = True
                raise StopRequested("stop requested")
            if cancel:
                self._cancelled = True
                raise kt.errors.FailedTrialError(f"cancelled after {done}")

        def on_batch_end(self, trial, model, batch, logs=None):
            super().on_batch_end(trial, model, batch, logs)
            self.check_trial_time()

        def check_trial_time(self) -> None:
            """Fail the trial in flight once it has run past the per-trial time limit."""
            if self._trial_limit and self._trial_started is not None:
                spent = time.monotonic() - self._trial_started
                if spent > self._trial_limit:
                    raise kt.errors.FailedTrialError(
                        f"ran past the per-trial time limit of {self._trial_limit:g} s "
                        f"({spent:.0f} s); raise trial_time_limit_s or shrink the model")

        def on_trial_end(self, trial):
            self._trial_started = None
            try:
                # Raises when this trial is one failure too many in a row
                # (max_consecutive_failed_trials): record it as failed all the same.
                super().on_trial_end(trial)
            finally:
                self._trials_here += 1
                self._record_end(self.oracle.get_trial(trial.trial_id), self._db_trial_id,
                                 cancelled=self._cancelled)

        # -- pruning -----------------------------------------------------------------
        def _load_reference(self) -> None:
            """Rebuild the pruning reference from finished trials (after a resume or recycle)."""
            metric = self._objective["metric"]
            finished = {t.id for t in self._storage.list_trials(self._run_id)
                        if t.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED)}
            for e in self._storage.list_epochs(self._run_id):
                value = e.metrics.get(metric)
                if e.trial_id in finished and e.execution == 0 and value is not None:
                    self._reference.setdefault(e.epoch, []).append(float(value))

        def _maybe_prune(self, model, epoch: int, logs: Mapping[str, Any]) -> None:
            if epoch + 1 <= self._pruning["warmup_epochs"]:
                return
            metric = self._objective["metric"]
            value = finite_number(logs.get(metric))
            earlier = self._reference.get(epoch, [])
            median = median_rule(value, earlier, self._objective["direction"],
                                 self._pruning["min_trials"])
            if median is None:
                return
            self._pruned = (f"pruned at epoch {epoch + 1}: {metric} {value:.4g} worse than the "
                            f"median {median:.4g} of {len(earlier)} earlier trials")
            model.stop_training = True

        def _remember_curve(self) -> None:
            metric = self._objective["metric"]
            for epoch, logs in enumerate(self._curves.get(0, [])):
                value = finite_number(logs.get(metric))
                if value is not None:
                    self._reference.setdefault(self._first_epoch + epoch, []).append(value)

        # -- recording helpers -----------------------------------------------------
        def _record_end(self, kt_trial, db_trial_id: int, cancelled: bool = False) -> None:
            status = _status_of(kt_trial.status)
            if cancelled and status is TrialStatus.FAILED:
                status = TrialStatus.CANCELLED
            message = _short_message(kt_trial.message)
            pruned = getattr(self, "_pruned", None)
            if pruned and status is TrialStatus.COMPLETED:
                status, message = TrialStatus.PRUNED, pruned
            metrics = {}
            for name, history in kt_trial.metrics.metrics.items():
                best = history.get_best_value()
                metrics[name] = finite_number(best)
            curves = getattr(self, "_curves", {})
            flags = sorted({flag for curve in curves.values() for flag in diagnose(curve)})
            early = self._early_stop_flag(kt_trial, curves)
            if early:
                flags.append(early)
            if curves:
                metrics["epochs_trained"] = sum(len(c) for c in curves.values())
            if getattr(self, "_param_count", None) is not None:
                metrics["param_count"] = self._param_count
            if self._pruning and status in (TrialStatus.COMPLETED, TrialStatus.PRUNED):
                self._first_epoch = int(kt_trial.hyperparameters.values.get("tuner/initial_epoch", 0))
                self._remember_curve()
            scored = status in (TrialStatus.COMPLETED, TrialStatus.PRUNED)
            score = finite_number(kt_trial.score) if scored else None
            self._storage.finish_trial(db_trial_id, status, score=score, metrics=metrics,
                                       message=message, flags=flags)

        def _early_stop_flag(self, kt_trial, curves) -> str | None:
            early = self._spec.get("training", {}).get("early_stopping")
            if not early or not curves or getattr(self, "_pruned", None):
                return None
            values = kt_trial.hyperparameters.values
            planned = int(values.get("tuner/epochs", self._spec["training"]["epochs"])) - \
                int(values.get("tuner/initial_epoch", 0))
            trained = max(len(c) for c in curves.values())
            if trained >= planned:
                return None
            return (f"early stopped: trained {trained} of {planned} epochs ({early['monitor']} "
                    f"did not improve for {early['patience']} epochs)")

        def _reconcile_after_reload(self) -> None:
            """Make the database agree with KerasTuner's files after a resume.

            A worker killed between KerasTuner saving a finished trial and our write
            leaves the database behind; one killed between KerasTuner's two saves
            leaves a finished trial queued for retry. Both are repaired here, so no
            finished trial runs twice and none is missing.
            """
            oracle = self.oracle
            if not hasattr(oracle, "trials"):
                return  # a distributed worker: the chief reconciles
            self._close_timed_out_trials()
            finished = {tid for tid, t in oracle.trials.items()
                        if t.status in ("COMPLETED", "FAILED")}
            drop_from_retry_queue(oracle, finished)
            for tid in finished:
                kt_trial = oracle.trials[tid]
                try:
                    record = self._storage.get_trial_by_key(self._run_id, tid)
                except Exception:
                    values = dict(kt_trial.hyperparameters.values)
                    record = self._storage.begin_trial(
                        self._run_id, tid, int(tid), values,
                        bracket=values.get("tuner/bracket"), round=values.get("tuner/round"),
                        parent_key=values.get("tuner/trial_id"), worker=self._worker_name)
                if not record.status.is_finished() or record.status in (
                        TrialStatus.INTERRUPTED, TrialStatus.STOPPED):
                    self._record_end(kt_trial, record.id)

        def _close_timed_out_trials(self) -> None:
            """A trial the watchdog failed (it hung) is not retried: KerasTuner is told so."""
            oracle = self.oracle
            for tid in retry_queue(oracle):
                try:
                    record = self._storage.get_trial_by_key(self._run_id, tid)
                except Exception:
                    continue
                if record.status is not TrialStatus.FAILED:
                    continue
                kt_trial = oracle.trials[tid]
                kt_trial.status = "FAILED"
                kt_trial.message = record.message
                drop_from_retry_queue(oracle, [tid])
                # end_trial with the Trial itself (not an id and a status, which would reset
                # its values) lets each oracle do its own bookkeeping, e.g. the grid's next point.
                oracle.end_trial(kt_trial)

    Recording.__name__ = f"Recording{base.__name__}"
    return Recording


class Watchdog(threading.Thread):
    """Ends a worker whose trial hangs past its time limit (no epoch or batch to fail it at).

    ``current()`` returns the trial in flight as (``time.monotonic()`` when it began, its
    database id), or (None, None) between trials. Once a trial has run ``limit`` plus a
    grace (a quarter of the limit, at least 5 s), it is recorded as failed, the run handed
    back to the queue, and the process exits through ``exit``; the engine starts a fresh
    worker, which resumes without that trial. Used by KerasTuner searches and tool runs.
    """

    def __init__(self, storage: Store, run_id: int, limit: float,
                 current: Callable[[], tuple[float | None, int | None]],
                 exit: Callable[[int], Any] = os._exit, poll_s: float = 0.5):
        super().__init__(daemon=True, name="trial-watchdog")
        self.storage, self.run_id, self.limit = storage, run_id, float(limit)
        self.current, self.exit, self.poll_s = current, exit, poll_s
        self.deadline = self.limit + max(5.0, 0.25 * self.limit)

    def run(self) -> None:
        while True:
            time.sleep(self.poll_s)
            started, trial_id = self.current()
            if started is None or trial_id is None or \
                    time.monotonic() - started < self.deadline:
                continue
            try:
                self.storage.finish_trial(trial_id, TrialStatus.FAILED, message=(
                    f"hung: no progress for {time.monotonic() - started:.0f} s, past the "
                    f"per-trial time limit of {self.limit:g} s; the worker was "
                    "restarted and the run went on"))
                self.storage.requeue_for_recycle(self.run_id)
            finally:
                self.exit(EXIT_RECYCLE)
            return


def recording_sklearn_class(base: type) -> type:
    """SklearnTuner that also records each cross-validation fold as it finishes."""
    recording = recording_tuner_class(base)

    class RecordingSklearn(recording):  # type: ignore[misc, valid-type]
        def run_trial(self, trial, X, y, sample_weight=None, groups=None):
            scores = []
            for fold, (train_idx, test_idx) in enumerate(self.cv.split(X, y)):
                model = self.hypermodel.build(trial.hyperparameters)
                model.fit(X[train_idx], y[train_idx])
                score = float(self.scoring(model, X[test_idx], y[test_idx]))
                scores.append(score)
                self._storage.record_epoch(self._db_trial_id, 0, fold, {"score": score})
                self.check_trial_time()
                self.obey_controls(f"fold {fold + 1}")
            return {"score": float(np.mean(scores)), "score_std": float(np.std(scores))}

    RecordingSklearn.__name__ = f"Recording{base.__name__}"
    return RecordingSklearn


