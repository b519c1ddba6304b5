"""Recording KerasTuner searches: every trial start, epoch and end committed as it happens.

``Recording`` is a mixin over any KerasTuner tuner class (``recording_class(base)`` puts it
in front of ``base``): its hooks write to storage, obey the run control
(``run_control.RunControl``: stop, cancel, the run's and the trial's time limits,
recycling, the watchdog) at each trial and epoch boundary, prune by the median rule, flag
curves, and reconcile KerasTuner's files with the database after a resume. The executor,
distributed workers and ``tuning.watch`` all use it.

Imports KerasTuner (through ``kt_compat``, where every use of its private API lives):
worker processes and watched scripts only.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from storage import Recorder, TrialStatus, plain_json
from tuning.insights.curves import diagnose, finite_number, median_rule

from .kt_compat import (
    ExecutionHook,
    LeanBuild,
    NoTensorBoardByDefault,
    drop_from_retry_queue,
    retry_queue,
)
from .run_control import RunControl, RunEnded, TrialCancelled, TrialEnded
from .trial_output import LogMark

IDLE_WAIT_S = 0.2
_FATAL: dict[type, type] = {}
_CLASSES: dict[type, type] = {}


def in_trial_error(exc: Exception) -> Exception:
    """A run-control exception raised inside a trial, as KerasTuner must see it there.

    KerasTuner catches everything a trial raises: it re-raises only a ``FatalError`` (so a
    ``RunEnded`` becomes a ``FatalError`` subclass of its own type, which ``except
    StopRequested`` still catches), and fails a trial without retrying it on a
    ``FailedTrialError`` (what a ``TrialEnded`` becomes, its reason the whole message).
    """
    if isinstance(exc, RunEnded):
        cls = type(exc)
        if cls not in _FATAL:
            _FATAL[cls] = type(cls.__name__, (cls, kt.errors.FatalError), {})
        return _FATAL[cls](*exc.args)
    if isinstance(exc, TrialEnded):
        return kt.errors.FailedTrialError(str(exc))
    return exc


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


@dataclass
class TrialInFlight:
    """What the recording knows of the trial KerasTuner is running now."""
    db_id: int
    execution: int = -1
    cancelled: bool = False
    pruned: str | None = None  # the reason, once the median rule pruned it
    curves: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # execution -> logs
    last_result: Any = None
    param_count: int | None = None
    log: LogMark | None = None  # where the worker's log stood when the trial began


class Recording(NoTensorBoardByDefault, LeanBuild, ExecutionHook):
    """Mixin over a KerasTuner tuner: records into storage under the run control.

    Call ``setup_recording`` once the tuner exists (``tuning.watch`` swaps the class of a
    tuner the user built), before ``search``. ``seed_executions``: seed each execution
    from the spec's seed (the engine's runs); a watched script keeps its own randomness.
    """
    seed_executions = True

    def setup_recording(self, storage: Recorder, run_id: int, spec: Mapping[str, Any],
                        worker_name: str, recycle_after: int | None,
                        time_spent_s: float) -> None:
        self._storage = storage
        self._run_id = run_id
        self._spec = spec
        self._worker_name = worker_name
        self.control = RunControl(storage, run_id, spec, time_spent_s=time_spent_s,
                                  recycle_after=recycle_after)
        self._trial: TrialInFlight | None = None
        self._asked_for_trial = False
        self._pruning = spec["strategy"].get("pruning")
        self._objective = spec["objective"]
        # epoch -> objective values that finished trials reached there (first execution)
        self._reference: dict[int, list[float]] = {}
        self.control.start_watchdog()

    @property
    def _db_trial_id(self) -> int | None:
        return self._trial.db_id if self._trial else None

    # -- KerasTuner hooks --------------------------------------------------------------
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
        if self._asked_for_trial:
            # The oracle said "wait" (a Hyperband round or a sequential stage is finishing
            # on another worker): KerasTuner asks again at once, so pause between asks.
            time.sleep(IDLE_WAIT_S)
        self._asked_for_trial = True
        try:
            remaining = self.oracle.remaining_trials()
        except AttributeError:  # a distributed worker's oracle client cannot tell
            remaining = None
        self.control.before_trial(remaining)  # outside a trial: raised as it is

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._asked_for_trial = False
        values = dict(trial.hyperparameters.values)
        record = self._storage.begin_trial(
            self._run_id, trial.trial_id, int(trial.trial_id), values,
            bracket=values.get("tuner/bracket"), round=values.get("tuner/round"),
            parent_key=values.get("tuner/trial_id"), worker=self._worker_name)
        self._trial = TrialInFlight(record.id, log=LogMark())
        self.control.trial_began(record.id)

    def fit_execution(self, trial, fit):
        state = self._trial
        if state.pruned and state.last_result is not None:
            return state.last_result  # a pruned trial skips its remaining executions
        state.execution += 1
        if self.seed_executions:
            keras.utils.set_random_seed(
                int(self._spec["seed"]) + 1000 * int(trial.trial_id) + state.execution)
        state.last_result = fit()
        return state.last_result

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs)
        logs = dict(logs or {})
        state = self._trial
        if state.param_count is None:  # for charts of score against model size
            state.param_count = int(model.count_params())
        execution = max(state.execution, 0)
        self._storage.record_epoch(state.db_id, execution, epoch, logs)
        state.curves.setdefault(execution, []).append(logs)
        if self._pruning and execution == 0:
            self._maybe_prune(model, epoch, logs)
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise kt.errors.FailedTrialError(
                f"loss became {float(loss)} at epoch {epoch + 1}; lower the learning rate")
        self.obey_controls(f"epoch {epoch + 1}", model)

    def obey_controls(self, done: str, model: Any = None) -> None:
        """At a boundary of the trial in flight (``done``: "epoch 3", "fold 2"), what the
        run control says, in KerasTuner's terms: the search ends on a stop (the model
        stops training at once), the trial fails when cancelled or past its time limit."""
        try:
            self.control.at_boundary(done, check_time=False)
        except TrialCancelled as exc:
            self._trial.cancelled = True
            raise in_trial_error(exc) from None
        except RunEnded as exc:
            if model is not None:
                model.stop_training = True
            raise in_trial_error(exc) from None
        except TrialEnded as exc:
            raise in_trial_error(exc) from None

    def on_batch_end(self, trial, model, batch, logs=None):
        super().on_batch_end(trial, model, batch, logs)
        self.check_trial_time()

    def check_trial_time(self) -> None:
        try:
            self.control.check_trial_time()
        except TrialEnded as exc:
            raise in_trial_error(exc) from None

    def on_trial_end(self, trial):
        state = self._trial
        self.control.trial_ended()
        try:
            # Raises when this trial is one failure too many in a row
            # (max_consecutive_failed_trials): record it as failed all the same.
            super().on_trial_end(trial)
        finally:
            self._record_end(self.oracle.get_trial(trial.trial_id), state.db_id, state)

    # -- pruning -----------------------------------------------------------------------
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
        self._trial.pruned = (f"pruned at epoch {epoch + 1}: {metric} {value:.4g} worse than "
                              f"the median {median:.4g} of {len(earlier)} earlier trials")
        model.stop_training = True

    def _remember_curve(self, curves: Mapping[int, list[dict[str, Any]]],
                        first_epoch: int) -> None:
        metric = self._objective["metric"]
        for epoch, logs in enumerate(curves.get(0, [])):
            value = finite_number(logs.get(metric))
            if value is not None:
                self._reference.setdefault(first_epoch + epoch, []).append(value)

    # -- recording helpers -------------------------------------------------------------
    def _record_end(self, kt_trial, db_trial_id: int,
                    state: TrialInFlight | None = None) -> None:
        """Record how a KerasTuner trial ended; ``state`` is what this process saw of it
        (None for a trial reconciled from KerasTuner's files after a resume)."""
        state = state or TrialInFlight(db_trial_id)
        status = _status_of(kt_trial.status)
        if state.cancelled and status is TrialStatus.FAILED:
            status = TrialStatus.CANCELLED
        message = _short_message(kt_trial.message)
        if state.pruned and status is TrialStatus.COMPLETED:
            status, message = TrialStatus.PRUNED, state.pruned
        metrics = {}
        for name, history in kt_trial.metrics.metrics.items():
            metrics[name] = finite_number(history.get_best_value())
        curves = state.curves
        flags = sorted({flag for curve in curves.values() for flag in diagnose(curve)})
        early = self._early_stop_flag(kt_trial, state)
        if early:
            flags.append(early)
        if curves:
            metrics["epochs_trained"] = sum(len(c) for c in curves.values())
        if state.param_count is not None:
            metrics["param_count"] = state.param_count
        if self._pruning and status in (TrialStatus.COMPLETED, TrialStatus.PRUNED):
            first_epoch = int(kt_trial.hyperparameters.values.get("tuner/initial_epoch", 0))
            self._remember_curve(curves, first_epoch)
        scored = status in (TrialStatus.COMPLETED, TrialStatus.PRUNED)
        score = finite_number(kt_trial.score) if scored else None
        # Entries the builder registered while it built (define-by-run) join the record.
        values = plain_json(dict(kt_trial.hyperparameters.values))
        self._storage.finish_trial(db_trial_id, status, score=score, metrics=metrics,
                                   message=message, flags=flags, hyperparameters=values)
        # The whole traceback (KerasTuner's message) and this trial's lines of the log.
        full = kt_trial.message if kt_trial.message and kt_trial.message != message else None
        log = state.log.read() if state.log is not None else None
        if full or log:
            self._storage.record_trial_output(db_trial_id, traceback=full, log=log)

    def _early_stop_flag(self, kt_trial, state: TrialInFlight) -> str | None:
        early = self._spec.get("training", {}).get("early_stopping")
        if not early or not state.curves or state.pruned:
            return None
        values = kt_trial.hyperparameters.values
        planned = int(values.get("tuner/epochs", self._spec["training"]["epochs"])) - \
            int(values.get("tuner/initial_epoch", 0))
        trained = max(len(c) for c in state.curves.values())
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


class RecordingFolds(Recording):
    """Mixin over ``SklearnTuner``: each cross-validation fold is recorded as it finishes
    (as "epoch" ``fold`` of execution 0), and the run control is obeyed between folds."""

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


def recording_class(base: type) -> type:
    """``base`` (a KerasTuner tuner class) with ``Recording`` in front of it, one class per
    base; a ``SklearnTuner`` gets ``RecordingFolds``."""
    if base not in _CLASSES:
        mixin = RecordingFolds if issubclass(base, kt.SklearnTuner) else Recording
        _CLASSES[base] = type(f"Recording{base.__name__}", (mixin, base), {})
    return _CLASSES[base]
