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
  ``ProjectImportError`` listing every problem, each naming its file, the field and the
  fix. Every field read is checked first (``project_checks``), and every read is bounded
  (``project_files``: trial folders, bytes per file and in all); nothing else is raised
  for what a file says. Nothing is written then.
- The import is one storage transaction: the run and all its trials land, or (a failure
  half-way) nothing does.
- KerasTuner does not save the objective, the tuner class or ``max_trials``: the
  objective is the metric whose best value is each trial's score, the strategy comes
  from the oracle's own fields (GridSearch from its first trial taking every
  default), and ``max_trials`` is left unknown except for Hyperband.
"""
from __future__ import annotations

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
    GRID_LIMIT,
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
from .project_checks import (
    MAX_MESSAGE_LENGTH,
    Fields,
    check_oracle,
    check_settings,
    check_trial,
    storable_text,
    text_problem,
)
from .project_files import DAMAGED_FIX, Budget, read_json, trial_folders

PROJECT_SOURCE = "keras_tuner_project"
CUSTOM_FAMILY = "custom"
WORKER = "import"
#: The most epoch rows one import writes (one per execution and step a trial observed):
#: the import is one transaction, and other writers wait for it.
MAX_EPOCH_ROWS = 100_000
#: Problems listed in one error; a folder of thousands of damaged trials says so in one line.
LISTED_PROBLEMS = 30


class ProjectImportError(ValueError):
    """A folder that cannot be imported. ``problems`` lists each fault with its fix."""

    def __init__(self, directory: str, problems: Iterable[str]):
        # A path or a value may hold what UTF-8 cannot (a file name's undecodable bytes):
        # the message is shown by pages and printed, so it must be plain text.
        self.directory = _printable(directory)
        self.problems = tuple(_printable(p) for p in problems)
        where = f"cannot import {self.directory}" if directory else "cannot import"
        listed = self.problems[:LISTED_PROBLEMS]
        if len(self.problems) > LISTED_PROBLEMS:
            listed += (f"... and {len(self.problems) - LISTED_PROBLEMS} more problems",)
        if len(listed) == 1:
            text = f"{where}: {listed[0]}"
        else:
            text = f"{where}:\n" + "\n".join(f"- {p}" for p in listed)
        super().__init__(text)


def _printable(text: str) -> str:
    """``text`` with control characters escaped (a terminal would act on them) and what
    UTF-8 cannot hold written as backslash escapes."""
    text = "".join(f"\\x{ord(ch):02x}" if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch
                   for ch in str(text))
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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


def _locate(directory: str) -> str:
    """The project folder's absolute path; refuses anything that is not one."""
    path = os.path.abspath(os.path.expanduser(str(directory).strip()))
    hint = ("pass the folder KerasTuner wrote, <directory>/<project_name> of your tuner "
            "(it holds oracle.json and trial_* folders)")
    if not str(directory).strip():
        raise ProjectImportError("", [f"no folder given; {hint}"])
    problem = text_problem(path, limit=4096)
    if problem is not None:
        raise ProjectImportError(path, [f"the folder's path {problem}; rename the folder or "
                                        "move it where its path is plain text"])
    if not os.path.exists(path):
        raise ProjectImportError(path, [f"the folder does not exist; {hint}"])
    if not os.path.isdir(path):
        raise ProjectImportError(path, [f"this is a file, not a folder; {hint}"])
    if not os.path.isfile(os.path.join(path, "oracle.json")):
        inner = sorted(entry.name for _, entry in zip(range(1000), os.scandir(path))
                       if os.path.isfile(os.path.join(entry.path, "oracle.json")))
        if inner:
            raise ProjectImportError(path, [
                "it holds no oracle.json, but its subfolder(s) " + ", ".join(inner[:10])
                + " do: pass one of them (a KerasTuner project is <directory>/<project_name>)"])
        raise ProjectImportError(path, [f"not a KerasTuner project: it has no oracle.json; {hint}"])
    return path


def _trial_fix(folder: str) -> str:
    return f"restore it, or delete its folder {os.path.basename(folder)} to leave that trial out"


def _read_trials(path: str, problems: list[str], budget: Budget
                 ) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """The checked ``trial.json`` of each trial folder, with its folder; and the folders
    without one."""
    states, skipped, seen = [], [], {}
    for folder in trial_folders(path, problems):
        trial_path = os.path.join(folder, "trial.json")
        if not os.path.isfile(trial_path):
            skipped.append(os.path.basename(folder))
            continue
        fix = _trial_fix(folder)
        fields = Fields(trial_path, problems, f"the file is damaged: {fix}")
        state = check_trial(fields, read_json(trial_path, problems, budget, fix))
        if state is None:
            continue
        if state["trial_id"] in seen:
            fields.fail("trial_id", f"is also the id of {seen[state['trial_id']]}; each trial "
                        "has its own", state["trial_id"])
            continue
        seen[state["trial_id"]] = f"{os.path.basename(folder)}/trial.json"
        states.append((state, folder))
    return states, skipped


def _saved_trial(state: Mapping[str, Any], position: int) -> SavedTrial:
    """A checked ``trial.json`` (``check_trial``) in this project's terms."""
    key = state["trial_id"]
    values = dict(state["hyperparameters"]["values"])
    metrics_config = state["metrics"]
    status = trial_status(state["status"])
    message = short_message(state["message"])
    if status is TrialStatus.INTERRUPTED:
        message = ("was running when the project was saved; KerasTuner trains it again "
                   "from its first epoch when the search resumes")
    parent = values.get("tuner/trial_id")
    return SavedTrial(
        key=key, number=int(key), values=values, status=status,
        score=finite_number(state["score"]) if status is TrialStatus.COMPLETED else None,
        metrics=best_metrics(metrics_config),
        message=None if message is None else storable_text(message, MAX_MESSAGE_LENGTH),
        epochs=tuple(epoch_rows(metrics_config)),
        bracket=values.get("tuner/bracket"), round=values.get("tuner/round"),
        parent_key=parent if parent not in (None, "") else None)


def _strategy(oracle: Mapping[str, Any], states: list[Mapping[str, Any]],
              space: Mapping[str, Any], fields: Fields) -> dict[str, Any]:
    """The strategy's section; its settings in ``oracle.json`` are checked on ``fields``."""
    for chosen in strategies.REGISTRY.values():
        if chosen.oracle_fields and set(chosen.oracle_fields) <= oracle.keys():
            check_settings(fields, oracle, chosen.oracle_fields, chosen.epochs_field)
            if fields.failed:
                return {}
            section = strategy_section(chosen.name, oracle, space)
            if chosen.budget is not None and section["max_trials"] is None:
                # e.g. a Hyperband factor of 1, whose brackets would never shrink
                fields.fail(", ".join(chosen.oracle_fields), f"are settings no {chosen.label} "
                            "search runs with", {k: oracle[k] for k in chosen.oracle_fields})
            return section
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


def _ordered(oracle: Mapping[str, Any], states: list[tuple[dict[str, Any], str]]
             ) -> list[tuple[dict[str, Any], str]]:
    """Trials in the order the search started them (``start_order``), the rest by id."""
    order = {k: i for i, k in enumerate(oracle["start_order"])}
    return sorted(states, key=lambda s: (order.get(s[0]["trial_id"], len(order)),
                                         s[0]["trial_id"]))


def _run_name(name: str | None, path: str, problems: list[str]) -> str:
    chosen = name if name is not None else os.path.basename(path)
    problem = text_problem(chosen)
    if problem:
        where = ("the run name" if name is not None
                 else "the folder's name, which names the run unless you give a name,")
        problems.append(f"{where} {problem}; got {chosen[:80]!r}: give the run a name (the "
                        "Run name field, or --name) of at most "
                        "120 characters without control characters")
    return chosen.strip()


def read_project(directory: str | os.PathLike[str], name: str | None = None) -> SavedProject:
    """Parse a project folder; raises ``ProjectImportError`` listing every problem."""
    path = _locate(os.fspath(directory))
    problems: list[str] = []
    budget = Budget()
    oracle_path = os.path.join(path, "oracle.json")
    oracle_fields = Fields(oracle_path, problems, f"it was not written by KerasTuner or is "
                           f"damaged: {DAMAGED_FIX}")
    oracle = check_oracle(oracle_fields, read_json(oracle_path, problems, budget))
    states, skipped = _read_trials(path, problems, budget)
    run_name = _run_name(name, path, problems)
    if oracle is None or problems:
        raise ProjectImportError(path, problems)
    states = _ordered(oracle, states)
    space = search_space(oracle["hyperparameters"])
    strategy = _strategy(oracle, [s for s, _ in states], space, oracle_fields)
    if problems:
        raise ProjectImportError(path, problems)
    sklearn = any(os.path.isfile(os.path.join(folder, "model.pickle")) for _, folder in states)
    spec = {
        "name": run_name,
        "description": f"Imported from the KerasTuner project {path}.",
        "seed": oracle["seed"] or 0,
        "data": {"source": PROJECT_SOURCE, "path": path, "name": os.path.basename(path),
                 "identity": _identity(oracle, [s for s, _ in states])},
        "model": {"family": CUSTOM_FAMILY, "kind": "sklearn" if sklearn else "keras"},
        "search_space": space,
        "strategy": {**strategy, "inferred": True},
        "objective": infer_objective([s for s, _ in states]),
        "training": ({"epochs": planned_epochs(strategy)}
                     if planned_epochs(strategy) is not None else {}),
        "time_limit_s": None,
    }
    trials = tuple(_saved_trial(s, i) for i, (s, _) in enumerate(states))
    rows = sum(len(t.epochs) for t in trials)
    if rows > MAX_EPOCH_ROWS:
        raise ProjectImportError(path, [
            f"the trials hold {rows} epochs of metrics, more than the {MAX_EPOCH_ROWS} one "
            "import records (each is a row written while the database waits for the import); "
            "import a smaller project"])
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
    if saved.epochs:
        storage.record_epochs(record.id, saved.epochs)
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
    with storage.transaction():
        run_id = _write_project(storage, project, name)
    return storage.get_run(run_id)


def _write_project(storage: Storage, project: SavedProject, name: str | None) -> int:
    """The run of ``project``, created or updated; inside the caller's transaction."""
    spec = dict(project.spec)
    existing = next((r for r in storage.list_runs() if _same_run(r, spec)), None)
    if existing is None:
        run_id = storage.create_run(spec["name"], spec, status=RunStatus.COMPLETED).id
        recorded: dict[str, Trial] = {}
    else:
        run_id = existing.id
        spec["name"] = spec["name"] if name is not None else existing.name
        storage.replace_spec(run_id, spec["name"], spec)
        recorded = {t.trial_key: t for t in storage.list_trials(run_id)}
    for saved in project.trials:
        if not _unchanged(recorded.get(saved.key), saved):
            _write_trial(storage, run_id, saved)
    total = spec["strategy"].get("max_trials") or len(project.trials)
    storage.update_max_trials(run_id, min(max(int(total), len(project.trials)), GRID_LIMIT))
    unfinished = sum(t.status is TrialStatus.INTERRUPTED for t in project.trials)
    note = (f"imported; {unfinished} trial(s) were still running when the project was saved"
            if unfinished else None)
    storage.finish_run(run_id, RunStatus.COMPLETED, error=note)
    return run_id
