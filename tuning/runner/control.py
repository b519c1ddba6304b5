"""Control actions shared by the CLI and the dashboard: stop, resume, cancel, delete.

They only write requests to storage; the worker process that owns a run reads them
at its next epoch boundary. That keeps the dashboard free of any handle on workers.
"""
from __future__ import annotations

import shutil

from storage import InvalidTransitionError, Run, RunStatus, Storage, Trial
from tuning.paths import run_dir

from .liveness import GONE_REASON, mark_orphans


def _settled(storage: Storage, run_id: int) -> Run:
    """The run, marked interrupted first if it is marked running but its worker is gone
    (``liveness``): every action sees what is true, with or without a dashboard."""
    run = storage.get_run(run_id)
    if run.status is RunStatus.RUNNING and mark_orphans(storage, [run]):
        run = storage.get_run(run_id)
    return run


def stop_run(storage: Storage, run_id: int) -> Run:
    """A queued run stops at once; a running one after the epoch in flight."""
    before = storage.get_run(run_id).status
    if before is RunStatus.RUNNING and _settled(storage, run_id).status is not before:
        raise InvalidTransitionError(
            f"run {run_id} has no worker any more ({GONE_REASON}): it is now marked "
            "interrupted; resume it or delete it")
    return storage.request_stop(run_id)


def resume_run(storage: Storage, run_id: int) -> Run:
    """Queue a stopped, interrupted or failed run; completed trials are not run again.

    A run still marked running whose worker is gone (killed with everything that watched
    it, or its machine restarted) is first marked interrupted, then queued. A queued run
    is returned as it is: it only waits for an engine to launch it.
    """
    run = _settled(storage, run_id)
    if run.status is RunStatus.QUEUED:
        return run
    source = run.spec.get("data", {}).get("source")
    if source == "script":
        raise InvalidTransitionError(
            f"run {run_id} was recorded from your own script (tuning.watch); run the script "
            "again to continue it")
    if source == "keras_tuner_project":
        raise InvalidTransitionError(
            f"run {run_id} was imported from a KerasTuner folder; continue the search in "
            "KerasTuner and import the folder again")
    return storage.requeue(run_id)


def cancel_trial(storage: Storage, run_id: int, trial_key: str) -> Trial:
    """End one running trial after its current epoch; the run goes on with the next."""
    return storage.request_cancel(run_id, trial_key)


def delete_run(storage: Storage, run_id: int) -> None:
    """Delete a run that is not running (or whose worker is gone), with its rows and folder."""
    _settled(storage, run_id)
    storage.delete_run(run_id)
    shutil.rmtree(run_dir(storage.path, run_id), ignore_errors=True)


def queue_run(storage: Storage, doc: dict) -> Run:
    """Validate a spec document and queue it; raises ``SpecError`` listing every problem."""
    from tuning.spec import validate_spec

    spec = validate_spec(doc)
    return storage.create_run(spec["name"], spec)


def queue_race(storage: Storage, doc: dict, strategies: list[str]) -> list[Run]:
    """Queue the same search space once per strategy, so they can be compared head to head.

    Every spec is validated before any is queued, and all are stored in one transaction:
    either all runs are queued or none, and no worker starts one before the others exist.
    """
    from tuning.spec import validate_spec

    specs = []
    for name in strategies:
        variant = dict(doc)
        variant["strategy"] = {**doc.get("strategy", {}), "name": name}
        variant["name"] = f"{doc.get('name') or 'run'} [{name}]"
        specs.append(validate_spec(variant))
    return storage.create_runs([(spec["name"], spec) for spec in specs])
