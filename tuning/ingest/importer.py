"""Import an existing KerasTuner project folder as a run, without TensorFlow.

A KerasTuner project is the folder ``<directory>/<project_name>`` a tuner wrote:
``oracle.json`` (the search's state) and one ``trial_*/trial.json`` per trial
(``Trial.get_state()``: hyperparameters, ``MetricsTracker`` metrics, score, status).
This module parses that JSON and nothing else, so the dashboard can import a folder.

Contract:
- ``import_project`` makes the folder a run: trials with their hyperparameters,
  scores, statuses and messages; each metric observation saved as an epoch row (the
  stock tuner saves only the best epoch of a trial); Hyperband brackets, rounds and
  parents from the ``tuner/*`` values. The run is ``completed``: nothing trains it.
- The same folder imported again updates its run and never duplicates it. A run is
  the folder's absolute path plus the search's identity (the oracle's seed and its
  first trial's values), kept in ``spec["data"]``; a folder overwritten by a
  different search becomes a new run. Trials whose files did not change are left as
  they are.
- A folder that is not a KerasTuner project, or a damaged one, raises
  ``ProjectImportError`` listing every problem, each naming its file and the fix.
  Nothing is written then.
- KerasTuner does not save the objective, the tuner class or ``max_trials``: the
  objective is the metric whose best value is each trial's score, the strategy comes
  from the oracle's own fields (GridSearch from its first trial taking every
  default), and ``max_trials`` is left unknown except for Hyperband.
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from storage import Run, RunStatus, Storage, Trial, TrialStatus
from tuning import strategies
from tuning.insights.curves import finite_number

from .kt_project import (
    best_metrics,
    epoch_rows,
    grid_size,
    infer_objective,
    planned_epochs,
    search_space,
    short_message,
    space_defaults,
    strategy_section,
    trial_status,
)

PROJECT_SOURCE = "keras_tuner_project"
CUSTOM_FAMILY = "custom"
WORKER = "import"
_DAMAGED_FIX = ("restore it from a copy, or delete the project and run the search again "
                "(KerasTuner rewrites it)")


class ProjectImportError(ValueError):
    """A folder that cannot be imported. ``problems`` lists each fault with its fix."""

    def __init__(self, directory: str, problems: Iterable[str]):
        self.directory = directory
        self.problems = tuple(problems)
        where = f"cannot import {directory}" if directory else "cannot import"
        if len(self.problems) == 1:
            text = f"{where}: {self.problems[0]}"
        else:
            text = f"{where}:\n" + "\n".join(f"- {p}" for p in self.problems)
        super().__init__(text)


@dataclass(frozen=True)
class SavedTrial:
    """One ``trial.json``, in this project's terms."""
    key: str
    number: int
    values: Mapping[str, Any]
    status: TrialStatus
    score: float | None
    metrics: Mapping[str, float | None]
    message: str | None
    epochs: tuple[tuple[int, int, Mapping[str, float]], ...]
    bracket: int | None
    round: int | None
    parent_key: str | None


@dataclass(frozen=True)
class SavedProject:
    """What a project folder holds: its spec (as a run would store it) and its trials."""
    path: str
    spec: Mapping[str, Any]
    trials: tuple[SavedTrial, ...]
    skipped: tuple[str, ...]  # trial folders without a trial.json


# -- reading ---------------------------------------------------------------------------


def _load_json(path: str, problems: list[str], fix: str = _DAMAGED_FIX) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        problems.append(f"{path} cannot be read ({exc.strerror}); check its permissions")
    except UnicodeDecodeError:
        problems.append(f"{path} is not UTF-8 text, so not KerasTuner's JSON; the file is "
                        f"damaged: {fix}")
    except json.JSONDecodeError as exc:
        problems.append(f"{path} is not valid JSON (line {exc.lineno} column {exc.colno}: "
                        f"{exc.msg}); the file is damaged: {fix}")
    return None


def _locate(directory: str) -> str:
    """The project folder's absolute path; refuses anything that is not one."""
    path = os.path.abspath(os.path.expanduser(str(directory).strip()))
    hint = ("pass the folder KerasTuner wrote, <directory>/<project_name> of your tuner "
            "(it holds oracle.json and trial_* folders)")
    if not str(directory).strip():
        raise ProjectImportError("", [f"no folder given; {hint}"])
    if not os.path.exists(path):
        raise ProjectImportError(path, [f"the folder does not exist; {hint}"])
    if not os.path.isdir(path):
        raise ProjectImportError(path, [f"this is a file, not a folder; {hint}"])
    if not os.path.isfile(os.path.join(path, "oracle.json")):
        inner = sorted(name for name in os.listdir(path)
                       if os.path.isfile(os.path.join(path, name, "oracle.json")))
        if inner:
            raise ProjectImportError(path, [
                "it holds no oracle.json, but its subfolder(s) " + ", ".join(inner)
                + " do: pass one of them (a KerasTuner project is <directory>/<project_name>)"])
        raise ProjectImportError(path, [f"not a KerasTuner project: it has no oracle.json; {hint}"])
    return path


def _check_oracle(path: str, state: Any, problems: list[str]) -> dict[str, Any]:
    if state is None:
        return {}
    if not isinstance(state, dict):
        problems.append(f"{path} must hold a JSON object; got {type(state).__name__}. "
                        f"It was not written by KerasTuner or is damaged: {_DAMAGED_FIX}")
        return {}
    hps = state.get("hyperparameters")
    if not isinstance(hps, dict) or not isinstance(hps.get("space"), list):
        problems.append(f"{path} has no hyperparameters.space list; it was not written by "
                        f"KerasTuner or is damaged: {_DAMAGED_FIX}")
    return state


def _trial_fix(path: str) -> str:
    return (f"restore it, or delete its folder {os.path.basename(os.path.dirname(path))} "
            "to leave that trial out")


def _check_trial(path: str, state: Any, problems: list[str]) -> dict[str, Any] | None:
    if state is None:
        return None
    fix = f"the file is damaged: {_trial_fix(path)}"
    if not isinstance(state, dict):
        problems.append(f"{path} must hold a JSON object; got {type(state).__name__}; {fix}")
        return None
    missing = []
    if not isinstance(state.get("trial_id"), str) or not state["trial_id"]:
        missing.append("trial_id (a string)")
    hps = state.get("hyperparameters")
    if not isinstance(hps, dict) or not isinstance(hps.get("values"), dict):
        missing.append("hyperparameters.values (an object)")
    if not isinstance(state.get("status"), str):
        missing.append("status (a string)")
    metrics = state.get("metrics", {})
    if metrics is not None and not (isinstance(metrics, dict)
                                    and isinstance(metrics.get("metrics", {}), dict)):
        missing.append("metrics.metrics (an object)")
    score = state.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        missing.append("score (a number or null)")
    if missing:
        problems.append(f"{path} lacks or garbles {', '.join(missing)}; {fix}")
        return None
    return state


def _saved_trial(state: Mapping[str, Any], position: int) -> SavedTrial:
    key = state["trial_id"]
    values = dict(state["hyperparameters"]["values"])
    metrics_config = state.get("metrics") or {}
    status = trial_status(state["status"])
    message = short_message(state.get("message"))
    if status is TrialStatus.INTERRUPTED:
        message = ("was running when the project was saved; KerasTuner trains it again "
                   "from its first epoch when the search resumes")
    bracket, round_ = values.get("tuner/bracket"), values.get("tuner/round")
    parent = values.get("tuner/trial_id")
    return SavedTrial(
        key=key, number=int(key) if key.isdigit() else position, values=values,
        status=status,
        score=finite_number(state.get("score")) if status is TrialStatus.COMPLETED else None,
        metrics=best_metrics(metrics_config), message=message,
        epochs=tuple(epoch_rows(metrics_config)),
        bracket=int(bracket) if isinstance(bracket, (int, float)) else None,
        round=int(round_) if isinstance(round_, (int, float)) else None,
        parent_key=str(parent) if parent not in (None, "") else None)


def _strategy(oracle: Mapping[str, Any], states: list[Mapping[str, Any]],
              space: Mapping[str, Any]) -> dict[str, Any]:
    for chosen in strategies.REGISTRY.values():
        if chosen.oracle_fields and set(chosen.oracle_fields) <= oracle.keys():
            return strategy_section(chosen.name, oracle, space)
    # GridSearch keeps no state of its own, but its first trial takes every default.
    if states and grid_size(space) is not None:
        defaults = space_defaults(oracle["hyperparameters"])
        first = states[0]["hyperparameters"]["values"]
        if all(first.get(k) == v for k, v in defaults.items()):
            grid = next(s for s in strategies.REGISTRY.values() if s.exhausts_space)
            return strategy_section(grid.name, oracle, space)
    return {"name": strategies.import_fallback().name, "max_trials": None}


def _identity(oracle: Mapping[str, Any], states: list[Mapping[str, Any]]) -> str:
    """Stable while a search grows; new when the folder is overwritten by another search."""
    first = states[0]["hyperparameters"]["values"] if states else None
    text = json.dumps({"seed": oracle.get("seed"), "first": first}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ordered(oracle: Mapping[str, Any], states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trials in the order the search started them (``start_order``), the rest by id."""
    order = {str(k): i for i, k in enumerate(oracle.get("start_order") or ())}
    return sorted(states, key=lambda s: (order.get(s["trial_id"], len(order)), s["trial_id"]))


def read_project(directory: str | os.PathLike[str], name: str | None = None) -> SavedProject:
    """Parse a project folder; raises ``ProjectImportError`` listing every problem."""
    path = _locate(os.fspath(directory))
    problems: list[str] = []
    oracle_path = os.path.join(path, "oracle.json")
    oracle = _check_oracle(oracle_path, _load_json(oracle_path, problems), problems)
    states, skipped = [], []
    for folder in sorted(glob.glob(os.path.join(glob.escape(path), "trial_*"))):
        if not os.path.isdir(folder):
            continue
        trial_path = os.path.join(folder, "trial.json")
        if not os.path.isfile(trial_path):
            skipped.append(os.path.basename(folder))
            continue
        state = _check_trial(trial_path, _load_json(trial_path, problems, _trial_fix(trial_path)),
                             problems)
        if state is not None:
            states.append(state)
    if problems:
        raise ProjectImportError(path, problems)
    states = _ordered(oracle, states)
    space = search_space(oracle["hyperparameters"])
    strategy = _strategy(oracle, states, space)
    sklearn = any(os.path.isfile(os.path.join(path, f"trial_{s['trial_id']}", "model.pickle"))
                  for s in states)
    seed = oracle.get("seed")
    spec = {
        "name": name or os.path.basename(path),
        "description": f"Imported from the KerasTuner project {path}.",
        "seed": int(seed) if isinstance(seed, (int, float)) and math.isfinite(seed) else 0,
        "data": {"source": PROJECT_SOURCE, "path": path, "name": os.path.basename(path),
                 "identity": _identity(oracle, states)},
        "model": {"family": CUSTOM_FAMILY, "kind": "sklearn" if sklearn else "keras"},
        "search_space": space,
        "strategy": {**strategy, "inferred": True},
        "objective": infer_objective(states),
        "training": ({"epochs": planned_epochs(strategy)}
                     if planned_epochs(strategy) is not None else {}),
        "time_limit_s": None,
    }
    trials = tuple(_saved_trial(s, i) for i, s in enumerate(states))
    return SavedProject(path=path, spec=spec, trials=trials, skipped=tuple(skipped))


# -- writing ---------------------------------------------------------------------------


def _same_run(run: Run, spec: Mapping[str, Any]) -> bool:
    data = run.spec.get("data", {})
    return (data.get("source") == PROJECT_SOURCE and data.get("path") == spec["data"]["path"]
            and data.get("identity") == spec["data"]["identity"])


def _unchanged(recorded: Trial | None, saved: SavedTrial) -> bool:
    if recorded is None or recorded.status is not saved.status:
        return False
    if (recorded.score is None) != (saved.score is None) or (
            saved.score is not None and not math.isclose(recorded.score, saved.score)):
        return False
    return dict(recorded.hyperparameters) == saved.values and \
        recorded.epochs_done == len(saved.epochs) and recorded.message == saved.message


def _write_trial(storage: Storage, run_id: int, saved: SavedTrial) -> None:
    record = storage.begin_trial(run_id, saved.key, saved.number, saved.values,
                                 bracket=saved.bracket, round=saved.round,
                                 parent_key=saved.parent_key, worker=WORKER)
    for execution, epoch, metrics in saved.epochs:
        storage.record_epoch(record.id, execution, epoch, metrics)
    storage.finish_trial(record.id, saved.status, score=saved.score, metrics=saved.metrics,
                         message=saved.message)


def check_dashboard_folder(directory: str | os.PathLike[str]) -> None:
    """Refuse a folder outside ``paths.data_roots()``, as for a CSV: a dashboard that is
    shared must not read (or say whether there is) whatever folder someone types. Raises
    ``ProjectImportError`` naming the folders allowed and the fix. Never reads the folder."""
    from tuning.paths import outside_data_roots

    text = str(directory).strip()
    if not text:
        return  # _locate says "no folder given"
    if any(ord(ch) < 32 for ch in text):
        raise ProjectImportError("", ["the folder path holds control characters such as NUL "
                                      "or newlines; type the path again"])
    roots = outside_data_roots(text)
    if roots is not None:
        raise ProjectImportError(text, [
            "the dashboard imports project folders only from inside "
            + ", ".join(str(r) for r in roots) + "; add the folder (or one above it) to "
            "TUNING_DATA_DIRS and restart the dashboard, or import it from the command "
            f"line: python -m tuning import {text}"])


def import_project(storage: Storage, directory: str | os.PathLike[str],
                   name: str | None = None, confined: bool = False) -> Run:
    """Import (or update) the run of a KerasTuner project folder; returns the run.

    ``name`` names the run (default: the project folder's name; on re-import, the name
    it has). ``confined`` (the dashboard): only folders ``check_dashboard_folder``
    accepts. Raises ``ProjectImportError`` for a folder that is not a readable project.
    """
    if confined:
        check_dashboard_folder(directory)
    project = read_project(directory, name)
    spec = dict(project.spec)
    existing = next((r for r in storage.list_runs() if _same_run(r, spec)), None)
    if existing is None:
        run_id = storage.create_run(spec["name"], spec, status=RunStatus.COMPLETED).id
        recorded: dict[str, Trial] = {}
    else:
        run_id = existing.id
        spec["name"] = name or existing.name
        storage.replace_spec(run_id, spec["name"], spec)
        recorded = {t.trial_key: t for t in storage.list_trials(run_id)}
    for saved in project.trials:
        if not _unchanged(recorded.get(saved.key), saved):
            _write_trial(storage, run_id, saved)
    total = spec["strategy"].get("max_trials") or len(project.trials)
    storage.update_max_trials(run_id, max(int(total), len(project.trials)))
    unfinished = sum(t.status is TrialStatus.INTERRUPTED for t in project.trials)
    note = (f"imported; {unfinished} trial(s) were still running when the project was saved"
            if unfinished else None)
    storage.finish_run(run_id, RunStatus.COMPLETED, error=note)
    return storage.get_run(run_id)
