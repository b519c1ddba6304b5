"""The search space a user's own model declares, found by running it in a process of its own.

``discover(module, build)`` hands the question to ``python -m tuning.spec.discovery``,
a process of its own that serves one discovery (``discovery_process``: the launch form
has one started ahead, its imports done, so that choosing a module answers in seconds).
That process imports the user's module (and TensorFlow), calls the builder on an empty
``keras_tuner.HyperParameters`` (a ``HyperModel`` subclass is instantiated without
arguments and its ``build`` called), then, as KerasTuner does when a tuner starts,
builds again with each conditional scope switched on until every scope has been
active once, so conditional entries are found too. It checks that a compiled
``keras.Model`` came back and, given the run's data section, loads the data and checks
the model takes its samples. It prints one JSON line; the dashboard and the CLI read it.
The calling process never imports the user's module nor TensorFlow.

Every error in the user's code comes back as theirs (``UserCodeError``: field, their
file and line, the exception), never as our traceback; ``problems`` turns it into the
spec problems ``validate`` prints and the launch form shows next to the model field.

Entries whose sampling our spec format has no word for (``reverse_log``) or that hold
only under a condition are reported but left out of ``Discovery.space``: the module
keeps deciding them. Entries met only on later trials (a loop over ``hp.Int("blocks")``
past its default) are added by KerasTuner as trials meet them (``tune_new_entries``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .checker import Problem
from .user_code import UserCodeError

DISCOVERY_TIMEOUT_S = 120.0
MARKER = "TUNING-DISCOVERY "
MAX_BUILDS = 32  # conditional-scope exploration stops here, as a safety net


@dataclass(frozen=True)
class Discovery:
    """What the builder declares. ``entries``: every hyperparameter, in the order it was
    declared, as {"name", "type", "min", "max", "step", "sampling", "values", "value",
    "default", "conditions": [{"name", "values"}]} (keys present as they apply);
    ``space``: the entries the launch form can edit, in the spec's search-space format;
    ``builder``: "function" or "hypermodel"; ``error``: the user's error, if any (then
    entries may be partial); ``data``: what loading the data found (shape, task)."""
    entries: tuple[dict[str, Any], ...] = ()
    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    builder: str | None = None
    error: UserCodeError | None = None
    data: dict[str, Any] | None = None
    params: int | None = None
    seconds: float = 0.0
    # The compiled optimizer (class name) and its learning rate when a number sets it
    # (None for a schedule or a function): the range test needs one it can set.
    optimizer: str | None = None
    learning_rate: float | None = None
    # Served by a spare whose imports were done ahead of the request (``prewarm``).
    warm: bool = False

    def to_answer(self) -> dict[str, Any]:
        """Plain data (what the discovery process prints): ``from_answer`` reads it back."""
        err = self.error
        return {"entries": list(self.entries), "builder": self.builder, "data": self.data,
                "params": self.params, "optimizer": self.optimizer,
                "learning_rate": self.learning_rate, "error": None if err is None else
                {"field": err.field, "where": err.where, "text": err.text}}

    @property
    def conditional(self) -> tuple[dict[str, Any], ...]:
        """Entries the module keeps deciding (conditional, or an unsupported sampling)."""
        return tuple(e for e in self.entries if e["name"] not in self.space)


def discover(module: str, build: str, data: Mapping[str, Any] | None = None, seed: int = 42,
             timeout_s: float = DISCOVERY_TIMEOUT_S) -> Discovery:
    """Run the builder in a process of its own (the spare ``prewarm`` started, when one
    is alive: ``discovery_process``); never raises for the user's errors."""
    from . import discovery_process

    request = {"module": module, "build": build, "data": dict(data) if data else None,
               "seed": int(seed)}
    started = time.monotonic()
    process, warm = discovery_process.take()
    try:
        code, stdout, stderr = process.ask(request, timeout_s)
    except subprocess.TimeoutExpired:
        return Discovery(error=UserCodeError("model.build", module, f"did not return within "
                         f"{timeout_s:.0f} s; a build function should only build the model"),
                         seconds=time.monotonic() - started, warm=warm)
    seconds = time.monotonic() - started
    lines = [ln for ln in stdout.splitlines() if ln.startswith(MARKER)]
    if not lines:
        tail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
        return Discovery(error=UserCodeError("model.module", module, "the discovery process "
                         f"ended without an answer (exit {code}): {tail[0]}"),
                         seconds=seconds, warm=warm)
    return from_answer(json.loads(lines[-1][len(MARKER):]), seconds, warm)


def from_answer(answer: Mapping[str, Any], seconds: float = 0.0,
                warm: bool = False) -> Discovery:
    error = answer.get("error")
    entries = tuple(answer.get("entries") or ())
    return Discovery(entries=entries, space=editable_space(entries),
                     builder=answer.get("builder"), data=answer.get("data"),
                     params=answer.get("params"), optimizer=answer.get("optimizer"),
                     learning_rate=answer.get("learning_rate"),
                     error=UserCodeError(error["field"], error["where"], error["text"])
                     if error else None, seconds=seconds, warm=warm)


def problems(discovery: Discovery) -> list[Problem]:
    """The discovery's error as the problems a spec reports (none when all went well)."""
    if discovery.error is None:
        return []
    err = discovery.error
    return [Problem(err.field, f"{err.where}: {err.text}" if err.where else err.text)]


def check_user_model(spec: Mapping[str, Any]) -> tuple[Discovery, list[str]]:
    """Run a validated custom-model spec's builder (and its data) in the discovery
    process: the discovery, and notes on the spec's search space (entries the module
    does not declare on the paths discovery explores). Raises ``SpecError`` with the
    user's own error."""
    from .checker import SpecError

    model = spec["model"]
    found = discover(model["module"], model["build"], data=spec["data"], seed=spec["seed"])
    if found.error is not None:
        raise SpecError(problems(found))
    refusal = rate_problem(spec, found)
    if refusal:
        raise SpecError([refusal])
    declared = {e["name"] for e in found.entries}
    notes = [f"search_space.{name} is not declared by {model['build']} on its default path; "
             "it applies if a trial declares it (a loop past its default, or fit)"
             for name in spec["search_space"] if name not in declared]
    return found, notes


def rate_problem(spec: Mapping[str, Any], found: Discovery) -> Problem | None:
    """The run must set the compiled optimizer's learning rate (the range test does;
    a ``search_space.learning_rate`` is set on it) and the module's optimizer has none a
    number sets: the problem to report, else None."""
    from tuning import strategies

    chosen = strategies.find(spec["strategy"]["name"])
    if found.optimizer is None or found.learning_rate is not None:
        return None
    if chosen is not None and chosen.sets_learning_rate:
        who = f"{chosen.name} sets the learning rate itself"
    elif "learning_rate" in spec["search_space"]:
        who = "search_space.learning_rate is set on the compiled optimizer"
    else:
        return None
    return Problem("model.build", f"{who}, but the optimizer {found.optimizer} that "
                   f"{spec['model']['build']} compiles has no settable learning rate (a "
                   "schedule or a function sets it); compile it with a number, e.g. "
                   "keras.optimizers.Adam(learning_rate=1e-3)")


def editable_space(entries: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """The entries in the spec's search-space format, unconditional ones only."""
    space: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.get("conditions") or e.get("sampling") not in (None, "linear", "log"):
            continue
        hp = {k: e[k] for k in ("type", "min", "max", "step", "sampling", "values", "value")
              if e.get(k) is not None}
        if hp["type"] == "int" and hp.get("step") == 1:
            hp.pop("step")  # KerasTuner's default: the form shows no step
        if e.get("default") is not None and hp["type"] != "fixed":
            hp["default"] = e["default"]
        space[e["name"]] = hp
    return space


# -- the discovery process ----------------------------------------------------------


def entry_of(hp: Any) -> dict[str, Any]:
    """One KerasTuner hyperparameter as a plain entry (see ``Discovery.entries``)."""
    config = hp.get_config()
    kind = {"Int": "int", "Float": "float", "Choice": "choice", "Boolean": "bool",
            "Fixed": "fixed"}.get(type(hp).__name__, type(hp).__name__.lower())
    entry: dict[str, Any] = {"name": config["name"], "type": kind}
    for ours, theirs in (("min", "min_value"), ("max", "max_value"), ("step", "step"),
                         ("sampling", "sampling"), ("values", "values"), ("value", "value"),
                         ("default", "default")):
        if config.get(theirs) is not None:
            entry[ours] = config[theirs]
    entry["conditions"] = [{"name": c["config"]["name"], "values": list(c["config"]["values"])}
                           for c in config.get("conditions", [])]
    return entry


def explore(build: Any) -> tuple[Any, Any]:
    """Build on an empty space, then once per conditional scope not yet active (what
    KerasTuner's ``BaseTuner._activate_all_conditions`` does); returns the merged space
    and the first model built (on the defaults)."""
    import copy

    import keras_tuner as kt

    space = kt.HyperParameters()
    first, once_active, never_active = None, [], []
    hp = space.copy()
    for _ in range(MAX_BUILDS):
        model = build(hp)
        first = model if first is None else first
        space.merge(hp.space, overwrite=False)
        for conditions in hp.active_scopes:
            if conditions not in once_active:
                once_active.append(copy.deepcopy(conditions))
            if conditions in never_active:
                never_active.remove(conditions)
        for conditions in hp.inactive_scopes:
            if conditions not in once_active and conditions not in never_active:
                never_active.append(copy.deepcopy(conditions))
        if not never_active:
            break
        hp = space.copy()
        for condition in never_active.pop(0):
            hp.values[condition.name] = condition.values[0]
        hp.ensure_active_values()
    return space, first


def _answer(request: Mapping[str, Any]) -> dict[str, Any]:
    from tuning.spec.user_code import as_user_error

    module, build = request["module"], request["build"]
    out: dict[str, Any] = {"entries": []}
    try:
        from tuning.runner.custom_model import check_input_shape, load_builder

        builder = load_builder(module, build)
        out["builder"] = builder.kind
        space, model = explore(builder.build)
        out["entries"] = [entry_of(hp) for hp in space.space]
        out["params"] = int(model.count_params()) if model.built else None
        from tuning.runner.tool_model import compiled_rate

        out["optimizer"] = type(model.optimizer).__name__
        out["learning_rate"] = compiled_rate(model)
        if request.get("data"):
            from tuning.data import DataError, load_dataset

            try:
                dataset = load_dataset(dict(request["data"]), int(request.get("seed", 42)))
            except DataError as exc:
                raise UserCodeError(exc.field, "", exc.message) from None
            out["data"] = {"shape": list(dataset.x_train.shape[1:]), "task": dataset.task,
                           "rows": len(dataset.x_train) + len(dataset.x_val),
                           "classes": dataset.n_classes}
            check_input_shape(model, dataset.x_train.shape[1:], module, build)
    except Exception as exc:  # the user's code may raise anything: tell it as theirs
        err = as_user_error(exc, "model.build", module)
        out["error"] = {"field": err.field, "where": err.where, "text": err.text}
    return out


def serve(idle_s: float) -> int:
    """A discovery process: import what every discovery needs, then answer the one
    request that comes on standard input (``discovery_process``); exit after ``idle_s``
    seconds without one, or when standard input closes."""
    import select

    import keras  # noqa: F401  (the heavy imports are the point of starting early)
    import keras_tuner  # noqa: F401

    import tuning.data  # noqa: F401
    import tuning.runner.custom_model  # noqa: F401
    import tuning.runner.tool_model  # noqa: F401

    from .discovery_process import PROCESS_ENV, READY

    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    ready, _, _ = select.select([sys.stdin], [], [], idle_s)
    line = sys.stdin.readline() if ready else ""
    if not line.strip():
        return 0
    request = json.loads(line)
    os.environ.clear()
    os.environ.update({**request.pop("env"), **PROCESS_ENV})
    try:
        os.chdir(request.pop("cwd"))
    except OSError:  # the caller's folder is gone: relative paths are the project's anyway
        pass
    if os.getcwd() not in sys.path:  # as ``python -m`` run from the caller's folder has it
        sys.path.insert(0, os.getcwd())
    return main(["discovery", json.dumps(request)])


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--serve"]:
        return serve(float(argv[2]) if len(argv) > 2 else 600.0)
    answer = _answer(json.loads(argv[1]))
    sys.stdout.write("\n" + MARKER + json.dumps(answer, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
