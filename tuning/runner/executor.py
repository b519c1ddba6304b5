"""Runs one run's search inside a worker process and records it as it happens.

The strategy (a KerasTuner oracle) proposes; this module builds the tuner and executes
the run, with recording hooks from ``recording`` under the run control (``run_control``:
stop and cancel requests are read from the database at each epoch boundary, so the
dashboard needs no handle on this process; ``conclude`` records how the run ended).

Imports TensorFlow (through ``models``): only worker processes import this module.
"""
from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np

from storage import Recorder, RunStatus, Storage, plain_json
from tuning import catalog, strategies
from tuning.data import DataError, load_dataset, summarize
from tuning.paths import claim_run_folder, run_dir

from .recording import recording_class
from .run_control import (
    EXIT_DONE,
    EXIT_RECYCLE,
    Heartbeat,
    Recycle,
    RunEnded,
    StopRequested,
    conclude,
    time_spent,
)
from .training import fit_callbacks


def build_tuner(spec: Mapping[str, Any], dataset: Any, directory: str) -> Any:
    """Construct the KerasTuner tuner the spec asks for (not yet recording): the
    strategy's oracle (or its own tuner class) over the model family's hypermodel."""
    import keras_tuner as kt
    from sklearn import metrics as sk_metrics
    from sklearn import model_selection

    from tuning.runner.models import SklearnHyperModel, keras_hypermodel, preset_space

    strategy = spec["strategy"]
    chosen = strategies.get(strategy["name"])
    family = spec["model"]["family"]
    seed = int(spec["seed"]) or 2**31 - 1  # KerasTuner treats seed 0 as "no seed"
    failures = strategy["max_consecutive_failed_trials"]
    if catalog.FAMILIES[family].kind == "sklearn":
        hypermodel = SklearnHyperModel(spec["search_space"], family, dataset.task, seed)
        oracle = chosen.build_oracle(kt, spec, kt.Objective("score", "max"), seed, failures)
        folds = strategy["cv_folds"]
        cv = (model_selection.StratifiedKFold(folds, shuffle=True, random_state=seed % 2**32)
              if dataset.task == "classification"
              else model_selection.KFold(folds, shuffle=True, random_state=seed % 2**32))
        cls = recording_class(kt.SklearnTuner)
        tuner = cls(oracle=oracle, hypermodel=hypermodel,
                    scoring=sk_metrics.get_scorer(spec["objective"]["metric"]), cv=cv,
                    directory=directory, project_name="kt", overwrite=False)
        tuner.oracle.verbose = 0
        return tuner
    hypermodel = keras_hypermodel(spec, dataset)
    objective = kt.Objective(spec["objective"]["metric"], spec["objective"]["direction"])
    base, arguments = chosen.tuner_for_keras(kt, spec, objective, seed, failures)
    preset = preset_space(spec)
    if preset is not None:  # the user's model: the spec's entries override the module's
        if "oracle" in arguments:
            arguments["oracle"].hyperparameters = preset
            arguments["oracle"].tune_new_entries = True
        else:
            arguments.update(hyperparameters=preset, tune_new_entries=True)
    return recording_class(base)(
        hypermodel=hypermodel, executions_per_trial=strategy["executions_per_trial"],
        directory=directory, project_name="kt", overwrite=False, **arguments)


def _save_best_model(tuner: Any, spec: Mapping[str, Any], dataset: Any, folder: str,
                     saved: str | None = None) -> str | None:
    """Keep the best model of a finished run, for download; returns the trial id it is
    from. ``saved``: the trial whose model is on disk already (nothing is redone if it is
    still the best). Failures here never fail the run."""
    try:
        best = [t for t in tuner.oracle.get_best_trials(len(tuner.oracle.trials) or 1)
                if t.status == "COMPLETED"]
        if not best:
            return None
        if best[0].trial_id == saved:
            return saved
        if is_keras(spec):
            from .kt_compat import checkpoint_path

            # What ``tuner.load_model`` does, less its clear_session and two gc.collect()
            # calls: 0.4 s at the end of every run, for nothing in a process about to exit.
            model = tuner.hypermodel.build(best[0].hyperparameters)
            model.load_weights(checkpoint_path(tuner, best[0].trial_id))
            model.save(os.path.join(folder, "best_model.keras"))
        else:
            import joblib

            model = tuner.hypermodel.build(best[0].hyperparameters)
            model.fit(dataset.x_train, dataset.y_train)
            joblib.dump(model, os.path.join(folder, "best_model.joblib"))
        return best[0].trial_id
    except Exception:
        traceback.print_exc()
        return None


def execute_run(storage: Storage, run_id: int, worker_name: str = "local",
                workers: dict[str, Any] | None = None) -> int:
    """Run (or resume) one claimed run to its end; returns the worker's exit code.

    ``workers``: a distributed run's local worker processes when they were started
    already (``distributed.start_before_import``); none is left running on return.
    """
    run = storage.get_run(run_id)
    spec = plain_json(run.spec)
    heartbeat = Heartbeat(storage, run_id)
    heartbeat.start()
    try:
        return _execute(storage, run_id, spec, worker_name, workers)
    finally:
        heartbeat.done.set()
        if workers:
            from .distributed import stop_workers

            stop_workers(workers)


def _run_tool(storage: Storage, run_id: int, spec: dict[str, Any], dataset: Any,
              folder: str, worker_name: str) -> int:
    """Run a tool (a strategy with its own ``run``) under the run control's rules."""
    from .tool_context import ToolContext

    ctx = ToolContext(storage, run_id, spec, dataset, folder, worker_name,
                      time_spent_s=time_spent(storage, run_id))
    ctx.control.start_watchdog()  # a trial stuck between two batches is ended too
    try:
        ctx.check_time_budget()  # a resumed run whose budget is spent sets nothing up
        strategies.get(spec["strategy"]["name"]).run(ctx)
    except Exception as outcome:
        return conclude(storage, run_id, outcome)
    return conclude(storage, run_id, None)


def _execute(storage: Storage, run_id: int, spec: dict[str, Any], worker_name: str,
             workers: dict[str, Any] | None = None) -> int:
    folder = str(run_dir(storage.path, run_id))
    os.makedirs(folder, exist_ok=True)
    claim_run_folder(folder, storage.get_run(run_id).created_at)
    try:
        dataset = load_dataset(spec["data"], int(spec["seed"]))
    except DataError as exc:
        storage.finish_run(run_id, RunStatus.FAILED, error=str(exc))
        return EXIT_DONE
    storage.record_data_summary(run_id, summarize(dataset))  # for the pages and reports
    if strategies.get(spec["strategy"]["name"]).is_tool:
        return _run_tool(storage, run_id, spec, dataset, folder, worker_name)
    if spec["strategy"].get("workers", 1) > 1:
        return _coordinate(storage, run_id, spec, dataset, folder, worker_name, workers)
    try:
        tuner = build_tuner(spec, dataset, folder)
    except Exception as exc:  # KerasTuner builds the model once to learn its space
        message = user_build_error(exc)
        if message is None:
            raise
        storage.finish_run(run_id, RunStatus.FAILED, error=message)
        return EXIT_DONE
    tuner.setup_recording(storage, run_id, spec, worker_name,
                          recycle_after=int(spec["strategy"].get("recycle_every", 25)),
                          time_spent_s=time_spent(storage, run_id))
    if strategies.get(spec["strategy"]["name"]).budget is not None:
        # A strategy that counts its own trials (Hyperband): keep the stored total honest.
        storage.update_max_trials(run_id, spec["strategy"]["max_trials"])

    def save_best() -> None:
        _save_best_model(tuner, spec, dataset, folder)

    try:
        _search(tuner, spec, dataset)
    except Exception as outcome:  # a RunEnded, or what broke the search
        return conclude(storage, run_id, outcome, save_best=save_best)
    return conclude(storage, run_id, None, save_best=save_best)


def user_build_error(exc: Exception) -> str | None:
    """The message of a user's model that fails to build (or to import) while the tuner
    starts; None for any other error."""
    from tuning.spec.user_code import UserCodeError

    if isinstance(exc, UserCodeError):
        return f"your model cannot be built: {exc}"
    if type(exc).__name__ == "FailedTrialError":
        return f"your model cannot be built: {exc}"
    return None


def _coordinate(storage: Storage, run_id: int, spec: dict[str, Any], dataset: Any,
                folder: str, worker_name: str, procs: dict[str, Any] | None) -> int:
    """Chief of a distributed run: serve the oracle, supervise the workers, record the end.
    ``procs``: the local workers if they were started before TensorFlow was imported."""
    from .distributed import become_chief, coordinate, start_workers, stop_workers

    if procs is None:
        become_chief(spec)
        procs = start_workers(storage, run_id, spec, folder)
    try:
        tuner = build_tuner(spec, dataset, folder)
        tuner.oracle.verbose = 0
        # The chief trains too, as tuner0: one TensorFlow process fewer on the machine.
        # It never recycles itself (it serves the oracle), so no recycle limit applies.
        tuner.setup_recording(storage, run_id, spec, f"tuner0@{worker_name}",
                              recycle_after=2**31, time_spent_s=time_spent(storage, run_id))
        tuner._reconcile_after_reload()
        saved: dict[str, str | None] = {}

        def save_while_others_train() -> None:
            # Most often the best so far stays the best: then the end of the run has
            # nothing left to save once the last worker is done.
            if not storage.control_flags(run_id)[0]:
                saved["trial"] = _save_best_model(tuner, spec, dataset, folder)

        status = coordinate(storage, run_id, spec, tuner, folder, procs,
                            local_search=lambda: _search_as_worker(tuner, spec, dataset),
                            after_local=save_while_others_train)
    except Exception as outcome:
        stop_workers(procs)
        return conclude(storage, run_id, outcome)
    return conclude(storage, run_id,
                    StopRequested("stop requested") if status is RunStatus.STOPPED else None,
                    save_best=lambda: _save_best_model(tuner, spec, dataset, folder,
                                                       saved.get("trial")))


def _search_as_worker(tuner: Any, spec: Mapping[str, Any], dataset: Any) -> None:
    """The chief's own trials: KerasTuner must see this process as a worker, or ``search``
    would only serve the oracle."""
    os.environ["KERASTUNER_TUNER_ID"] = "tuner0"
    tuner.tuner_id = "tuner0"
    try:
        _search(tuner, spec, dataset)
    except RunEnded:
        pass  # stop or time limit: the supervisor sees the workers end, the status says why


def execute_worker(storage: Recorder, run_id: int, tuner_id: str,
                   folder: str | None = None) -> int:
    """One worker of a distributed run: trials come from the chief (KERASTUNER_* env).

    ``storage`` is the database itself on the chief's machine, or a ``relay.RemoteStorage``
    on another machine (then ``folder`` is a local folder for KerasTuner's files).
    """
    import socket

    from .distributed import JoinedRecorder

    storage = JoinedRecorder(storage)
    spec = plain_json(storage.get_run(run_id).spec)
    folder = folder or str(run_dir(storage.path, run_id))
    os.makedirs(folder, exist_ok=True)
    dataset = load_dataset(spec["data"], int(spec["seed"]))
    tuner = build_tuner(spec, dataset, folder)
    tuner.setup_recording(storage, run_id, spec, f"{tuner_id}@{socket.gethostname()}:{os.getpid()}",
                          recycle_after=int(spec["strategy"].get("recycle_every", 25)),
                          time_spent_s=time_spent(storage, run_id))
    try:
        _search(tuner, spec, dataset)
    except RunEnded as reason:  # the chief records how the run ends
        return EXIT_RECYCLE if isinstance(reason, Recycle) else EXIT_DONE
    return EXIT_DONE


def is_keras(spec: Mapping[str, Any]) -> bool:
    return catalog.FAMILIES[spec["model"]["family"]].kind == "keras"


def _search(tuner: Any, spec: Mapping[str, Any], dataset: Any) -> None:
    if is_keras(spec):
        tuner.search(dataset.x_train, dataset.y_train, epochs=spec["training"]["epochs"],
                     validation_data=(dataset.x_val, dataset.y_val), verbose=0,
                     callbacks=fit_callbacks(spec))
    else:
        tuner.search(np.concatenate([dataset.x_train, dataset.x_val]),
                     np.concatenate([dataset.y_train, dataset.y_val]))
