"""Watch a KerasTuner search run from your own script or notebook, live in the dashboard.

One added line::

    tuner = tuning.watch(kt.RandomSearch(build_model, objective="val_accuracy", ...),
                         name="digits, random search")
    tuner.search(x_train, y_train, epochs=5, validation_data=(x_val, y_val))

Contract:
- ``watch`` returns the very tuner it was given, its class swapped for a subclass of
  its own class built by ``recording.recording_tuner_class``: the engine's recording,
  stop and cancel machinery, unchanged. The search itself is the user's: no seeds are
  set, no callbacks replaced, nothing about training changes (except that a trial no
  longer fails for want of ``tensorboard``, see ``runner.kt_compat``).
- Each ``search`` call records into one run of the database (``db``, else
  ``TUNING_DB``, else the dashboard's default): every trial, and every epoch of every
  execution (a SklearnTuner: every cross-validation fold), committed as it happens.
  The run belongs to this process while ``search`` runs (its pid, and a heartbeat so an
  engine can tell when the script died). Nothing needs the dashboard to be running.
- A later ``search`` on the same tuner goes on with the same run; so does a new
  process whose tuner reloaded the same KerasTuner project (``overwrite=False``).
- A stop requested from the dashboard (or ``python -m tuning stop``) ends the trial in
  flight after its epoch and ``search`` returns ``None`` normally; the next ``search``
  trains that trial again from its first epoch, as KerasTuner does on resume.
- Any other error is recorded (run failed) and raised unchanged; Ctrl-C marks the run
  stopped and is raised.

The spec stored for such a run describes what is known (strategy, objective, budget,
search space; ``data.source == "script"``, ``model.family == "custom"``). It is not a
launch spec: it is never validated, and the dashboard cannot resume such a run (run
the script again instead).

Imports KerasTuner (through ``executor``) only when ``watch`` is called: importing
``tuning`` stays free of TensorFlow.
"""
from __future__ import annotations

import functools
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from storage import NotFoundError, RunStatus, Storage, StorageError, TrialStatus

from .kt_project import planned_epochs, search_space, strategy_of_class, strategy_section
from tuning.paths import default_db_path

SCRIPT_SOURCE = "script"
CUSTOM_FAMILY = "custom"
# A watched process never retires itself to keep memory flat: it is the user's process.
_NEVER = 2**62
# The engine calls a worker dead after this long without a heartbeat (engine.STALE_HEARTBEAT_S).
_STALE_S = 15.0
_CLASSES: dict[type, type] = {}


def watch(tuner: Any, name: str | None = None, db: str | os.PathLike[str] | None = None) -> Any:
    """Make ``tuner.search`` record into the dashboard's database; returns ``tuner`` itself.

    ``tuner`` is any KerasTuner tuner (RandomSearch, BayesianOptimization, Hyperband,
    GridSearch, SklearnTuner or a subclass). ``name`` names the run (default: the
    project's name and the tuner's class; a run that goes on keeps its name). ``db`` is
    the database file. Watching a watched tuner again only changes those two.
    """
    import keras_tuner as kt

    if not isinstance(tuner, kt.engine.base_tuner.BaseTuner):
        raise TypeError("tuning.watch expects a KerasTuner tuner such as "
                        f"kt.RandomSearch(...); got {type(tuner).__name__}")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"name must be a non-empty string; got {name!r}")
    storage = Storage(os.path.abspath(db if db is not None else default_db_path()))
    session = getattr(tuner, "_watch", None)
    if isinstance(session, _Session):
        if storage.path != session.storage.path:
            session.run_id = None  # run ids belong to their database
        session.storage, session.name = storage, name or session.name
        return tuner
    base = type(tuner)
    tuner.__class__ = _watched_class(base)
    tuner._watch = _Session(storage=storage, name=name, base=base)
    return tuner


@dataclass
class _Session:
    """What a watched tuner knows of its run between ``search`` calls."""
    storage: Storage
    name: str | None
    base: type
    run_id: int | None = None
    said: set = field(default_factory=set)


# -- the spec of a watched search -------------------------------------------------------


def _script_name() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or "ipykernel" in os.path.basename(path):
        return "notebook"
    return os.path.basename(path)


def _builder_name(tuner: Any) -> str | None:
    hypermodel = getattr(tuner, "hypermodel", None)
    if hypermodel is None:
        return None
    build = getattr(hypermodel, "build", None)
    func = getattr(build, "__func__", None) or build
    if type(hypermodel).__name__ == "DefaultHyperModel" and func is not None:
        return getattr(func, "__qualname__", None)  # the user's build_model function
    return type(hypermodel).__qualname__


def describe(tuner: Any, base: type, name: str | None = None,
             fit_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec recorded for a watched tuner: what its objects say about the search."""
    import keras_tuner as kt

    oracle = tuner.oracle
    project = os.path.abspath(str(tuner.project_dir))
    sklearn = issubclass(base, kt.SklearnTuner)
    space = search_space(oracle.hyperparameters.get_config())
    strategy = strategy_section(strategy_of_class(type(oracle)), oracle, space,
                                getattr(oracle, "max_trials", None))
    strategy.update(tuner=base.__name__, oracle=type(oracle).__name__,
                    executions_per_trial=int(getattr(tuner, "executions_per_trial", 1) or 1),
                    max_consecutive_failed_trials=getattr(oracle, "max_consecutive_failed_trials",
                                                          None))
    if sklearn:
        strategy["cv"] = type(getattr(tuner, "cv", None)).__name__
    training: dict[str, Any] = {}
    for key in ("epochs", "batch_size"):
        value = (fit_kwargs or {}).get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            training[key] = value
    if planned_epochs(strategy) is not None:
        training["epochs"] = planned_epochs(strategy)
    objective = oracle.objective
    script = _script_name()
    return {
        "name": name or f"{tuner.project_name} ({base.__name__})",
        "description": f"Recorded by tuning.watch from {script}; KerasTuner project {project}.",
        "seed": int(oracle.seed or 0),
        "data": {"source": SCRIPT_SOURCE, "name": script, "project": project},
        "model": {"family": CUSTOM_FAMILY, "kind": "sklearn" if sklearn else "keras",
                  "builder": _builder_name(tuner)},
        "search_space": space,
        "strategy": strategy,
        "objective": {"metric": str(objective.name), "direction": str(objective.direction)},
        "training": training,
        "time_limit_s": None,
    }


# -- finding and owning the run ---------------------------------------------------------


def _is_held(run: Any, now: float) -> bool:
    """Another live process records into this run right now."""
    return (run.status is RunStatus.RUNNING and run.worker_pid != os.getpid()
            and run.heartbeat_at is not None and now - run.heartbeat_at <= _STALE_S)


def _earlier_run(storage: Storage, project: str, now: float) -> int | None:
    """The newest watched run of the same KerasTuner project that nobody holds."""
    for run in storage.list_runs():
        data = run.spec.get("data", {})
        if data.get("source") == SCRIPT_SOURCE and data.get("project") == project \
                and not _is_held(run, now):
            return run.id
    return None


def _open_run(tuner: Any, session: _Session, spec: dict[str, Any]) -> int:
    """The run this ``search`` records into, now running for this process."""
    storage, pid = session.storage, os.getpid()
    max_trials = spec["strategy"].get("max_trials")
    candidates = []
    if session.run_id is not None:
        candidates.append(session.run_id)
    elif tuner.oracle.trials:  # the tuner reloaded a project: go on with its run, if any
        earlier = _earlier_run(storage, spec["data"]["project"], time.time())
        if earlier is not None:
            candidates.append(earlier)
    for run_id in candidates:
        try:
            old = storage.get_run(run_id)
        except NotFoundError:  # deleted from the dashboard meanwhile: start a new one
            continue
        if storage.reopen_run(run_id, {**spec, "name": old.name}, pid, max_trials):
            return run_id
    # Created stopped, then taken in one step: a queued run would be launched by an engine.
    run = storage.create_run(spec["name"], spec, status=RunStatus.STOPPED)
    if not storage.reopen_run(run.id, spec, pid, max_trials):
        raise RuntimeError(f"run {run.id} was taken by another process as it was created")
    return run.id


# -- the watched class --------------------------------------------------------------------


def _say(session: _Session, key: str, text: str) -> None:
    """One line on stderr, once per session and key: KerasTuner prints plenty already."""
    if key not in session.said:
        session.said.add(key)
        print(f"tuning.watch: {text}", file=sys.stderr, flush=True)


def _finish_completed(storage: Storage, run_id: int) -> None:
    trials = storage.list_trials(run_id)
    if trials and not any(t.status is TrialStatus.COMPLETED for t in trials):
        last = trials[-1].message or "see the trials' messages"
        storage.finish_run(run_id, RunStatus.FAILED,
                           error=f"no trial completed; last error: {last}")
    else:
        storage.finish_run(run_id, RunStatus.COMPLETED)


def _close(storage: Storage, run_id: int, status: RunStatus, error: str | None = None) -> None:
    """Record how the run ended; a database problem here must not hide the search's own
    outcome (its result, or the user's error being raised)."""
    try:
        if status is RunStatus.COMPLETED:
            _finish_completed(storage, run_id)
        else:
            storage.finish_run(run_id, status, error=error)
    except StorageError as exc:
        print(f"tuning.watch: could not record the end of run {run_id}: {exc}",
              file=sys.stderr, flush=True)


def _search(tuner: Any, search: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``search`` inside a run: open it, heartbeat, record, and close it as it ended."""
    from tuning.runner.recording import _failure_summary, _Heartbeat

    session: _Session = tuner._watch
    storage = session.storage
    spec = describe(tuner, session.base, session.name, kwargs)
    run_id = _open_run(tuner, session, spec)
    session.run_id = run_id
    _say(session, f"run-{run_id}", f"recording into run {run_id} of {storage.path}")
    tuner.setup_recording(storage, run_id, spec, f"{socket.gethostname()}:{os.getpid()}",
                          recycle_after=_NEVER, time_spent_s=0.0)
    heartbeat = _Heartbeat(storage, run_id)
    heartbeat.start()
    try:
        result = search(*args, **kwargs)
    except tuner.stop_types:
        _close(storage, run_id, RunStatus.STOPPED)
        print(f"tuning.watch: run {run_id} stopped on request; search() returns",
              file=sys.stderr, flush=True)
        return None
    except KeyboardInterrupt:
        _close(storage, run_id, RunStatus.STOPPED, error="interrupted in the script (Ctrl-C)")
        raise
    except BaseException as exc:
        _close(storage, run_id, RunStatus.FAILED, error=_failure_summary(exc))
        raise
    finally:
        heartbeat.done.set()
    _close(storage, run_id, RunStatus.COMPLETED)
    return result


class _Folds:
    """Records a SklearnTuner trial fold by fold, by wrapping its scoring and metrics.

    SklearnTuner scores each fold, then computes each extra metric; a fold's row is
    written at its score and rewritten as each metric arrives.
    """

    def __init__(self, tuner: Any):
        self.tuner = tuner
        self.fold = -1
        self.row: dict[str, Any] = {}

    def _write(self) -> None:
        self.tuner._storage.record_epoch(self.tuner._db_trial_id, 0, self.fold, self.row)

    def scoring(self, scoring: Any) -> Callable[..., Any]:
        def score(model, X, y, sample_weight=None):
            value = (model.score(X, y, sample_weight=sample_weight) if scoring is None
                     else scoring(model, X, y, sample_weight=sample_weight))
            self.fold += 1
            self.row = {"score": value}
            self._write()
            self.tuner.obey_controls(f"fold {self.fold + 1}")
            return value
        return score

    def metric(self, metric: Any) -> Any:
        if not hasattr(metric, "__name__"):
            return metric  # SklearnTuner itself fails on it, with its own message

        @functools.wraps(metric)
        def measured(y_true, y_pred, sample_weight=None):
            value = metric(y_true, y_pred, sample_weight=sample_weight)
            self.row[metric.__name__] = value
            self._write()
            return value
        return measured


def _watched_class(base: type) -> type:
    """``recording_tuner_class(base)`` plus the watch: one class per base, reused."""
    if base in _CLASSES:
        return _CLASSES[base]
    import keras_tuner as kt

    from tuning.runner.recording import recording_tuner_class

    recording = recording_tuner_class(base)

    class Watched(recording):  # type: ignore[misc, valid-type]
        def search(self, *args, **kwargs):
            return _search(self, super().search, args, kwargs)

        def fit_execution(self, trial, fit):
            # Count executions like the engine, but skip its per-execution seeding:
            # a watched script keeps the randomness its author chose.
            self._execution += 1
            return fit()

    if issubclass(base, kt.SklearnTuner):
        class WatchedSklearn(Watched):
            def run_trial(self, trial, *args, **kwargs):
                scoring, metrics = self.scoring, self.metrics
                folds = _Folds(self)
                self.scoring = folds.scoring(scoring)
                self.metrics = [folds.metric(m) for m in metrics]
                try:
                    return super().run_trial(trial, *args, **kwargs)
                finally:
                    self.scoring, self.metrics = scoring, metrics

        Watched = WatchedSklearn  # noqa: N806
    Watched.__name__ = Watched.__qualname__ = f"Watched{base.__name__}"
    _CLASSES[base] = Watched
    return Watched
