"""Watch a KerasTuner search run from your own script or notebook, live in the dashboard.

One added line::

    tuner = tuning.watch(kt.RandomSearch(build_model, objective="val_accuracy", ...),
                         name="digits, random search")
    tuner.search(x_train, y_train, epochs=5, validation_data=(x_val, y_val))

Contract:
- ``watch`` returns the very tuner it was given, its class swapped for a subclass of
  its own class with the engine's ``Recording`` in front (``watched``): the engine's recording,
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

Imports KerasTuner (through ``watched`` and ``runner.recording``) only when ``watch`` is
called: importing ``tuning`` stays free of TensorFlow.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from storage import NotFoundError, RunStatus, Storage, StorageError
from tuning.paths import default_db_path

from .kt_project import planned_epochs, search_space, strategy_of_class, strategy_section

SCRIPT_SOURCE = "script"
CUSTOM_FAMILY = "custom"
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
    """Another live process records into this run right now (the engine's rule)."""
    from tuning.runner.liveness import holder_gone

    return (run.status is RunStatus.RUNNING and run.worker_pid != os.getpid()
            and not holder_gone(run, now))


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
    from tuning.runner.liveness import process_identity

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
        if storage.reopen_run(run_id, {**spec, "name": old.name}, pid, max_trials,
                              identity=process_identity()):
            return run_id
    # Created stopped, then taken in one step: a queued run would be launched by an engine.
    run = storage.create_run(spec["name"], spec, status=RunStatus.STOPPED)
    if not storage.reopen_run(run.id, spec, pid, max_trials, identity=process_identity()):
        raise RuntimeError(f"run {run.id} was taken by another process as it was created")
    return run.id


# -- the watched class --------------------------------------------------------------------


def _say(session: _Session, key: str, text: str) -> None:
    """One line on stderr, once per session and key: KerasTuner prints plenty already."""
    if key not in session.said:
        session.said.add(key)
        print(f"tuning.watch: {text}", file=sys.stderr, flush=True)


def _close(storage: Storage, run_id: int, outcome: BaseException | None) -> None:
    """Record how the run ended, as the engine does (``run_control.conclude``); a database
    problem here must not hide the search's own outcome (its result, or the user's error
    being raised)."""
    from tuning.runner.run_control import conclude

    try:
        conclude(storage, run_id, outcome, log=False,
                 interrupted="interrupted in the script (Ctrl-C)")
    except StorageError as exc:
        print(f"tuning.watch: could not record the end of run {run_id}: {exc}",
              file=sys.stderr, flush=True)


def _search(tuner: Any, search: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``search`` inside a run: open it, heartbeat, record, and close it as it ended."""
    from tuning.runner.run_control import Heartbeat, RunEnded

    session: _Session = tuner._watch
    storage = session.storage
    spec = describe(tuner, session.base, session.name, kwargs)
    run_id = _open_run(tuner, session, spec)
    session.run_id = run_id
    _say(session, f"run-{run_id}", f"recording into run {run_id} of {storage.path}")
    tuner.setup_recording(storage, run_id, spec, f"{socket.gethostname()}:{os.getpid()}",
                          recycle_after=None, time_spent_s=0.0)
    heartbeat = Heartbeat(storage, run_id)
    heartbeat.start()
    try:
        result = search(*args, **kwargs)
    except RunEnded as outcome:  # a stop requested from the dashboard or the CLI
        _close(storage, run_id, outcome)
        print(f"tuning.watch: run {run_id} stopped on request; search() returns",
              file=sys.stderr, flush=True)
        return None
    except BaseException as outcome:  # the user's error, or Ctrl-C: recorded, then raised
        _close(storage, run_id, outcome)
        raise
    finally:
        heartbeat.done.set()
    _close(storage, run_id, None)
    return result


def _watched_class(base: type) -> type:
    """``base`` with the watch in front of it (``watched.Watched``): one class per base."""
    if base not in _CLASSES:
        from .watched import watched_class

        _CLASSES[base] = watched_class(base)
    return _CLASSES[base]
