"""Run specs: one JSON document describes a run. Validation without TensorFlow.

``validate_spec`` checks a whole document and reports every problem at once, each
naming the field, the rule and the value::

    search_space.lr.min must be > 0 when sampling is log; got 0

It returns the spec normalised: every optional field filled with its default, so
what is stored is exactly what runs.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from . import catalog
from .manual import candidate_values, combined_size, sequential_plan
from .training import SCHEDULES

MAX_GRID_COMBINATIONS = 10_000
MAX_TRIALS_LIMIT = 100_000
MAX_EPOCHS_LIMIT = 10_000
NAME_MAX_LENGTH = 120


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field} {self.message}"


class SpecError(ValueError):
    """A spec that cannot run. ``problems`` lists every fault found, each naming its field."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def by_field(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for p in self.problems:
            grouped.setdefault(p.field, []).append(str(p))
        return grouped


def load_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a spec file; every failure is a ``SpecError``."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise SpecError([Problem("spec", f"cannot be read from {os.fspath(path)}: {exc.strerror}")])
    except UnicodeDecodeError:
        raise SpecError([Problem("spec", f"must be UTF-8 JSON text; {os.fspath(path)} is not")])
    return validate_spec(parse_spec_text(text))


def parse_spec_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError([Problem(
            "spec", f"must be valid JSON; line {exc.lineno} column {exc.colno}: {exc.msg}")])


def _got(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


class _Checker:
    """Collects problems while reading a document; never stops at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, field: str, rule: str, value: Any = ...) -> None:
        suffix = "" if value is ... else f"; got {_got(value)}"
        self.problems.append(Problem(field, rule + suffix))

    def section(self, doc: Mapping[str, Any], key: str, required: bool = True) -> dict[str, Any]:
        value = doc.get(key)
        if value is None:
            if required:
                self.fail(key, "is required (an object)")
            return {}
        if not isinstance(value, dict):
            self.fail(key, "must be an object", value)
            return {}
        return value

    def unknown_keys(self, field: str, value: Mapping[str, Any], known: Iterable[str]) -> None:
        known = set(known)
        for key in value:
            if key not in known:
                where = f"{field}.{key}" if field else key
                self.fail(where, f"is not a known field; use one of {', '.join(sorted(known))}")

    def integer(self, field: str, value: Any, low: int, high: int | None = None) -> int | None:
        if not _is_int(value) or not math.isfinite(float(value)):
            self.fail(field, "must be an integer", value)
            return None
        value = int(value)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            self.fail(field, f"must be {bound}", value)
            return None
        return value

    def number(self, field: str, value: Any, low: float, high: float,
               low_open: bool = False, high_open: bool = False) -> float | None:
        if not _is_number(value):
            self.fail(field, "must be a number", value)
            return None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            self.fail(field, f"must be in {left}{low}, {high}{right}", value)
            return None
        return float(value)

    def choice(self, field: str, value: Any, options: Iterable[str]) -> str | None:
        options = tuple(options)
        if value not in options:
            self.fail(field, f"must be one of {', '.join(options)}", value)
            return None
        return value


TOP_LEVEL = ("name", "seed", "data", "model", "search_space", "strategy", "objective",
             "training", "time_limit_s", "trial_time_limit_s", "description")


def validate_spec(doc: Any) -> dict[str, Any]:
    """Check a spec document; return it normalised or raise ``SpecError`` listing every problem."""
    c = _Checker()
    if not isinstance(doc, dict):
        raise SpecError([Problem("spec", f"must be a JSON object; got {type(doc).__name__}")])
    c.unknown_keys("", doc, TOP_LEVEL)
    out: dict[str, Any] = {}
    out["name"] = _check_name(c, doc.get("name"))
    out["description"] = str(doc.get("description") or "")
    seed = doc.get("seed", 42)
    out["seed"] = c.integer("seed", seed, 0, 2**31 - 1)
    data, task = _check_data(c, c.section(doc, "data"))
    out["data"] = data
    model, kind = _check_model(c, c.section(doc, "model"), task)
    out["model"] = model
    out["search_space"] = _check_space(c, doc.get("search_space"), model.get("family"), kind)
    out["strategy"] = _check_strategy(c, c.section(doc, "strategy"), kind, out["search_space"],
                                      model.get("family"))
    out["objective"] = _check_objective(c, c.section(doc, "objective", required=False), kind, task)
    out["training"] = _check_training(c, c.section(doc, "training", required=False), kind,
                                      out["search_space"])
    if (out["training"].get("lr_schedule") == "cosine"
            and out["strategy"].get("name") == "lr_range_test"):
        c.fail("training.lr_schedule", "does not apply to lr_range_test, which sets the rate "
               "itself; remove it (use cosine when you train at the suggested rate)", "cosine")
    limit = doc.get("time_limit_s")
    out["time_limit_s"] = None if limit is None else c.number(
        "time_limit_s", limit, 0, 30 * 24 * 3600, low_open=True)
    limit = doc.get("trial_time_limit_s")
    out["trial_time_limit_s"] = None if limit is None else c.number(
        "trial_time_limit_s", limit, 0, 30 * 24 * 3600, low_open=True)
    if not c.problems:
        from .estimates import memory_problem

        too_big = memory_problem(out)
        if too_big:
            c.problems.append(Problem(*too_big))
    if c.problems:
        raise SpecError(c.problems)
    if out["strategy"]["name"] == "hyperband":
        out["training"]["epochs"] = out["strategy"]["max_epochs"]
    return out


def _check_name(c: _Checker, name: Any) -> str:
    if name is None:
        return "untitled run"
    if not isinstance(name, str) or not name.strip():
        c.fail("name", "must be a non-empty string", name)
        return ""
    if len(name) > NAME_MAX_LENGTH:
        c.fail("name", f"must be at most {NAME_MAX_LENGTH} characters; shorten it", len(name))
    if any(ord(ch) < 32 for ch in name):
        c.fail("name", "must not contain control characters such as newlines", name)
    return name.strip()


DATA_FIELDS = ("source", "name", "path", "target", "task", "validation_split", "max_rows")


def _check_data(c: _Checker, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    if not data:
        return {}, "classification"
    c.unknown_keys("data", data, DATA_FIELDS)
    out: dict[str, Any] = {}
    source = c.choice("data.source", data.get("source", "sklearn"), catalog.DATA_SOURCES)
    out["source"] = source
    task = data.get("task", "auto")
    if c.choice("data.task", task, catalog.TASKS) is None:
        task = "auto"
    inferred = "classification"
    if source == "sklearn":
        name = c.choice("data.name", data.get("name"), catalog.SKLEARN_DATASETS)
        out["name"] = name
        inferred = catalog.SKLEARN_DATASETS.get(name or "", "classification")
    elif source == "keras":
        name = c.choice("data.name", data.get("name"), catalog.KERAS_DATASETS)
        out["name"] = name
    elif source == "csv":
        path = data.get("path")
        if not isinstance(path, str) or not path.strip():
            c.fail("data.path", "is required for a CSV source (the CSV file's path)", path)
        else:
            out["path"] = path
            out["name"] = os.path.basename(path)
        target = data.get("target")
        if not isinstance(target, str) or not target:
            c.fail("data.target", "is required for a CSV source (the column to predict)", target)
        out["target"] = target
        readable = out.get("path") and _check_csv_location(c, out["path"])
        inferred = _inspect_csv_task(c, out["path"] if readable else None, target, task)
    if source == "keras" and task == "regression":
        c.fail("data.task", f"must be classification for Keras data set {out.get('name')}", task)
    out["task"] = inferred if task == "auto" else task
    split = data.get("validation_split", 0.2)
    out["validation_split"] = c.number("data.validation_split", split, 0.0, 0.9,
                                       low_open=True)
    max_rows = data.get("max_rows")
    out["max_rows"] = None if max_rows is None else c.integer("data.max_rows", max_rows, 10)
    effective_task = out["task"] if out["task"] != "auto" else "classification"
    return out, effective_task


def _check_csv_location(c: _Checker, path: str) -> bool:
    """A CSV is read only from the project's data folders (see ``paths.data_roots``): a
    spec must not point the dashboard at any file of the machine. Never reads the file."""
    from .paths import outside_data_roots

    if any(ord(ch) < 32 for ch in path):
        c.fail("data.path", "must be a file path without control characters such as NUL or "
               "newlines; upload the file again or fix the path", path)
        return False
    roots = outside_data_roots(path)
    if roots is None:
        return True
    c.fail("data.path", "must be a file inside " + ", ".join(str(r) for r in roots)
           + "; upload the file, copy it into one of these folders, or add its folder to "
           "TUNING_DATA_DIRS", path)
    return False


def _inspect_csv_task(c: _Checker, path: str | None, target: Any, task: str) -> str:
    """Read the CSV now, so a bad file or target is reported before anything is queued
    and "auto" becomes the task its target column implies."""
    if not path or not isinstance(target, str) or not target:
        return "classification"
    from .datasets import DataError, inspect_csv

    try:
        summary = inspect_csv(path, target, task)
    except DataError as exc:
        message = exc.message
        prefix = f"{exc.field}: "
        c.problems.append(Problem(exc.field, message[len(prefix):] if message.startswith(prefix)
                                  else message.replace(exc.field, "", 1).strip()))
        return "classification"
    return summary.task or "classification"


def _check_model(c: _Checker, model: dict[str, Any], task: str) -> tuple[dict[str, Any], str]:
    c.unknown_keys("model", model, ("family",))
    family = c.choice("model.family", model.get("family"), catalog.FAMILIES)
    if family is None:
        return {"family": None}, "keras"
    spec = catalog.FAMILIES[family]
    if task not in spec.tasks:
        c.fail("model.family", f"{family} cannot do {task}; pick one of "
               + ", ".join(f.name for f in catalog.FAMILIES.values() if task in f.tasks), family)
    return {"family": family}, spec.kind


def _check_space(c: _Checker, space: Any, family: str | None, kind: str) -> dict[str, Any]:
    if space is None or (isinstance(space, dict) and not space):
        c.fail("search_space", "must name at least one hyperparameter, e.g. "
               '{"learning_rate": {"type": "float", "min": 0.0001, "max": 0.01, "sampling": "log"}}',
               space if space is not None else ...)
        return {}
    if not isinstance(space, dict):
        c.fail("search_space", "must be an object of hyperparameter name to definition", space)
        return {}
    known = _known_hyperparameters(family)
    out: dict[str, Any] = {}
    for name, hp in space.items():
        field = f"search_space.{name}"
        if known is not None and not _is_known_hp(name, known, family):
            c.fail(field, f"is not a hyperparameter of model family {family}; use one of "
                   + ", ".join(sorted(known)))
            continue
        checked = _check_hp(c, field, hp)
        if checked is not None:
            _check_hp_domain(c, field, name, checked, family)
            out[name] = checked
    return out


def _is_known_hp(name: str, known: set[str], family: str | None) -> bool:
    if name in known:
        return True
    if family == "mlp" and name.startswith("units_"):
        index = name[len("units_"):]
        return index.isdigit() and int(index) < catalog.MLP_MAX_LAYERS
    return False


def _known_hyperparameters(family: str | None) -> set[str] | None:
    if family is None:
        return None
    if family == "mlp":
        return set(catalog.MLP_DEFAULTS)
    names: set[str] = set()
    for _, path in catalog.FAMILIES[family].estimators:
        names |= set(_estimator_params(path))
    return names


def _estimator_params(path: str) -> dict[str, Any]:
    import importlib

    module, cls = path.split(":")
    return importlib.import_module(module).__dict__[cls]().get_params()


HP_FIELDS = {
    "int": ("type", "min", "max", "step", "sampling", "default"),
    "float": ("type", "min", "max", "step", "sampling", "default"),
    "choice": ("type", "values", "default"),
    "bool": ("type", "default"),
    "fixed": ("type", "value"),
}


def _check_hp(c: _Checker, field: str, hp: Any) -> dict[str, Any] | None:
    if not isinstance(hp, dict):
        c.fail(field, 'must be an object such as {"type": "int", "min": 1, "max": 4}', hp)
        return None
    kind = hp.get("type")
    if c.choice(f"{field}.type", kind, catalog.HP_TYPES) is None:
        return None
    c.unknown_keys(field, hp, HP_FIELDS[kind])
    if kind in ("int", "float"):
        return _check_range(c, field, hp, kind)
    if kind == "choice":
        values = hp.get("values")
        if not isinstance(values, list) or not values:
            c.fail(f"{field}.values", "must be a non-empty list of values to choose from",
                   values if values is not None else ...)
            return None
        types = {type(v) for v in values}
        if not all(isinstance(v, (str, int, float, bool)) for v in values) or len(
                types - {int, float}) > 1 or (str in types and len(types) > 1) or (
                bool in types and len(types) > 1):
            c.fail(f"{field}.values", "must all be strings, all numbers or all booleans", values)
            return None
        if len(set(map(json.dumps, values))) != len(values):
            c.fail(f"{field}.values", "must not repeat a value", values)
            return None
        out = {"type": "choice", "values": values}
        if "default" in hp:
            if hp["default"] not in values:
                c.fail(f"{field}.default", "must be one of the values", hp["default"])
            out["default"] = hp["default"]
        return out
    if kind == "bool":
        out = {"type": "bool"}
        if "default" in hp:
            if not isinstance(hp["default"], bool):
                c.fail(f"{field}.default", "must be true or false", hp["default"])
            out["default"] = hp["default"]
        return out
    if "value" not in hp:
        c.fail(f"{field}.value", "is required for a fixed hyperparameter")
        return None
    value = hp["value"]
    if not isinstance(value, (str, int, float, bool)) or (
            isinstance(value, float) and not math.isfinite(value)):
        c.fail(f"{field}.value", "must be a string, a finite number or a boolean", value)
        return None
    return {"type": "fixed", "value": value}


def _check_range(c: _Checker, field: str, hp: dict[str, Any], kind: str) -> dict[str, Any] | None:
    ok = True
    bounds = {}
    for key in ("min", "max"):
        value = hp.get(key)
        check = _is_int if kind == "int" else _is_number
        if value is None:
            c.fail(f"{field}.{key}", f"is required for a {kind} hyperparameter")
            ok = False
        elif not check(value) or not _is_number(value):
            c.fail(f"{field}.{key}", f"must be {'an integer' if kind == 'int' else 'a number'}",
                   value)
            ok = False
        else:
            bounds[key] = int(value) if kind == "int" else float(value)
    sampling = hp.get("sampling", "linear")
    if c.choice(f"{field}.sampling", sampling, catalog.SAMPLINGS) is None:
        ok = False
    step = hp.get("step")
    if step is not None:
        if not _is_number(step) or step <= 0 or (kind == "int" and not _is_int(step)):
            c.fail(f"{field}.step", f"must be a positive {'integer' if kind == 'int' else 'number'}",
                   step)
            ok = False
    if not ok:
        return None
    low, high = bounds["min"], bounds["max"]
    # Messages quote the bounds as written: "got 0", not the normalised "got 0.0".
    if low > high:
        c.fail(f"{field}.min", f"must be <= max ({_got(hp['max'])}); swap them", hp["min"])
        return None
    if sampling == "log" and low <= 0:
        c.fail(f"{field}.min", "must be > 0 when sampling is log", hp["min"])
        return None
    if step is not None and sampling == "log":
        c.fail(f"{field}.step", "cannot be combined with log sampling; drop one of them", step)
        return None
    if step is not None and step > (high - low) and high > low:
        c.fail(f"{field}.step", f"must be <= max - min ({_got(high - low)})", step)
        return None
    out: dict[str, Any] = {"type": kind, "min": low, "max": high, "sampling": sampling}
    if step is not None:
        out["step"] = int(step) if kind == "int" else float(step)
    if "default" in hp:
        default = hp["default"]
        if not _is_number(default) or not low <= default <= high:
            c.fail(f"{field}.default", "must be a number between min and max", default)
        else:
            out["default"] = int(default) if kind == "int" else float(default)
    return out


def _check_hp_domain(c: _Checker, field: str, name: str, hp: dict[str, Any],
                     family: str | None) -> None:
    """Rules that depend on what the hyperparameter means to the MLP builder."""
    if family != "mlp":
        return
    values = _possible_values(hp)
    if name == "activation":
        bad = [v for v in values if v not in catalog.MLP_ACTIVATIONS]
        if bad:
            c.fail(field, "values must be activations among " + ", ".join(catalog.MLP_ACTIVATIONS),
                   bad)
    elif name == "shape":
        bad = [v for v in values if v not in ("funnel", "constant", "custom")]
        if bad:
            c.fail(field, "values must be layer shapes among funnel, constant, custom", bad)
    elif name == "optimizer":
        bad = [v for v in values if v not in catalog.MLP_OPTIMIZERS]
        if bad:
            c.fail(field, "values must be optimizers among " + ", ".join(catalog.MLP_OPTIMIZERS),
                   bad)
    elif name == "num_layers":
        if any(not _is_int(v) or not 1 <= v <= catalog.MLP_MAX_LAYERS for v in values):
            c.fail(field, f"must stay between 1 and {catalog.MLP_MAX_LAYERS} layers",
                   _range_repr(hp))
    elif name in ("units", "batch_size") or name.startswith("units_"):
        if any(not _is_int(v) or v < 1 for v in values):
            c.fail(field, "must be positive integers", _range_repr(hp))
    elif name == "dropout":
        if any(not _is_number(v) or not 0 <= v < 1 for v in values):
            c.fail(field, "must stay in [0, 1)", _range_repr(hp))
    elif name in ("learning_rate", "l2"):
        low = 0 if name == "l2" else 1e-12
        if any(not _is_number(v) or v < low or v > 10 for v in values):
            c.fail(field, "must stay between 0 and 10" if name == "l2"
                   else "must be > 0 and at most 10", _range_repr(hp))


def _possible_values(hp: dict[str, Any]) -> list[Any]:
    kind = hp["type"]
    if kind in ("int", "float"):
        return [hp["min"], hp["max"]]
    if kind == "choice":
        return list(hp["values"])
    if kind == "bool":
        return [True, False]
    return [hp["value"]]


def _range_repr(hp: dict[str, Any]) -> Any:
    if hp["type"] in ("int", "float"):
        return {"min": hp["min"], "max": hp["max"]}
    return _possible_values(hp)


STRATEGY_FIELDS = ("name", "max_trials", "executions_per_trial", "max_epochs", "factor",
                   "hyperband_iterations", "num_initial_points", "alpha", "beta", "cv_folds",
                   "max_consecutive_failed_trials", "recycle_every", "order", "samples",
                   "combine", "pruning", "workers", "chief_host", "chief_port", "relay_port")
PRUNING_FIELDS = ("warmup_epochs", "min_trials")
PRUNABLE = ("random", "bayesian", "grid", "random_sampling")


def _check_strategy(c: _Checker, strategy: dict[str, Any], kind: str,
                    space: dict[str, Any], family: str | None) -> dict[str, Any]:
    from .tools import TOOLS

    tool = TOOLS.get(strategy.get("name", ""))
    c.unknown_keys("strategy", strategy, STRATEGY_FIELDS + (tool.fields if tool else ()))
    name = c.choice("strategy.name", strategy.get("name"), catalog.STRATEGIES)
    out: dict[str, Any] = {"name": name}
    if name is None:
        return out
    if kind not in catalog.STRATEGIES[name].kinds:
        c.fail("strategy.name", f"{name} cannot tune {kind} models; use one of "
               + ", ".join(s for s, d in catalog.STRATEGIES.items() if kind in d.kinds), name)
    get = strategy.get
    out["executions_per_trial"] = c.integer("strategy.executions_per_trial",
                                            get("executions_per_trial", 1), 1, 20)
    out["max_consecutive_failed_trials"] = c.integer(
        "strategy.max_consecutive_failed_trials", get("max_consecutive_failed_trials", 3), 1, 1000)
    out["recycle_every"] = c.integer("strategy.recycle_every", get("recycle_every", 25), 1, 10_000)
    if kind == "sklearn":
        out["cv_folds"] = c.integer("strategy.cv_folds", get("cv_folds", 3), 2, 20)
    from .tools import TOOLS

    if name in TOOLS:
        from .tools._common import refuse_engine_fields

        out.update(TOOLS[name].check()(c, strategy, kind, space, out))
        refuse_engine_fields(c, strategy, name)  # workers, chief/relay ports, pruning
        return out
    out["pruning"] = _check_pruning(c, get("pruning"), name, kind)
    out.update(_check_workers(c, strategy))
    if name == "sequential":
        out["order"], out["max_trials"] = _check_sequential(c, get("order"), space, family)
        return out
    if name == "random_sampling":
        out["samples"] = c.integer("strategy.samples", get("samples", 10), 1, MAX_TRIALS_LIMIT)
        combine = get("combine", False)
        if not isinstance(combine, bool):
            c.fail("strategy.combine", "must be true or false", combine)
            combine = False
        out["combine"] = combine
        if out["samples"] is not None:
            total = combined_size(space, out["samples"]) if combine else out["samples"]
            if total > MAX_GRID_COMBINATIONS:
                c.fail("strategy.samples", f"with combine makes {total} combinations, more than "
                       f"the {MAX_GRID_COMBINATIONS} allowed; draw fewer samples per "
                       "hyperparameter or set combine to false", out["samples"])
            out["max_trials"] = total
        return out
    if name == "hyperband":
        out["max_epochs"] = c.integer("strategy.max_epochs", get("max_epochs", 20), 2,
                                      MAX_EPOCHS_LIMIT)
        out["factor"] = c.integer("strategy.factor", get("factor", 3), 2, 100)
        out["hyperband_iterations"] = c.integer("strategy.hyperband_iterations",
                                                get("hyperband_iterations", 1), 1, 100)
        out["max_trials"] = _hyperband_trials(out)
        return out
    if name == "grid":
        combos = _grid_size(c, space)
        requested = get("max_trials")
        out["max_trials"] = combos if requested is None else c.integer(
            "strategy.max_trials", requested, 1, MAX_TRIALS_LIMIT)
        return out
    out["max_trials"] = c.integer("strategy.max_trials", get("max_trials", 10), 1,
                                  MAX_TRIALS_LIMIT)
    if name == "bayesian":
        if get("num_initial_points") is not None:
            out["num_initial_points"] = c.integer("strategy.num_initial_points",
                                                  get("num_initial_points"), 1, MAX_TRIALS_LIMIT)
        out["alpha"] = c.number("strategy.alpha", get("alpha", 1e-4), 0, 1, low_open=True)
        out["beta"] = c.number("strategy.beta", get("beta", 2.6), 0, 100, low_open=True)
    return out


def _check_workers(c: _Checker, strategy: dict[str, Any]) -> dict[str, Any]:
    """Parallel trials on KerasTuner's chief/worker engine (see ``distributed``)."""
    out: dict[str, Any] = {"workers": c.integer("strategy.workers", strategy.get("workers", 1),
                                                1, 64)}
    host = strategy.get("chief_host", "127.0.0.1")
    if not isinstance(host, str) or not host or any(ch.isspace() for ch in host):
        c.fail("strategy.chief_host", "must be a host name or IP address to serve the oracle on "
               "(127.0.0.1 keeps it on this machine)", host)
    out["chief_host"] = host
    port = strategy.get("chief_port")
    out["chief_port"] = None if port is None else c.integer("strategy.chief_port", port, 1024,
                                                            65535)
    port = strategy.get("relay_port")
    out["relay_port"] = None if port is None else c.integer("strategy.relay_port", port, 1024,
                                                            65535)
    return out


def _check_pruning(c: _Checker, pruning: Any, name: str, kind: str) -> dict[str, Any] | None:
    if pruning is None or pruning is False:
        return None
    if pruning is True:
        pruning = {}
    if not isinstance(pruning, dict):
        c.fail("strategy.pruning", 'must be an object such as {"warmup_epochs": 2, "min_trials": 3}',
               pruning)
        return None
    c.unknown_keys("strategy.pruning", pruning, PRUNING_FIELDS)
    if kind != "keras" or name not in PRUNABLE:
        c.fail("strategy.pruning", "applies to Keras models tuned by " + ", ".join(PRUNABLE)
               + "; remove it", name)
        return None
    return {
        "warmup_epochs": c.integer("strategy.pruning.warmup_epochs",
                                   pruning.get("warmup_epochs", 2), 0, MAX_EPOCHS_LIMIT),
        "min_trials": c.integer("strategy.pruning.min_trials", pruning.get("min_trials", 3), 1,
                                MAX_TRIALS_LIMIT),
    }


def _check_sequential(c: _Checker, order: Any, space: dict[str, Any],
                      family: str | None) -> tuple[list[str], int | None]:
    if not isinstance(order, list) or not order or not all(isinstance(n, str) for n in order):
        c.fail("strategy.order", "must list the hyperparameters to tune, one stage each, e.g. "
               '["learning_rate", "units"]', order if order is not None else ...)
        return [], None
    if len(set(order)) != len(order):
        c.fail("strategy.order", "must not name a hyperparameter twice", order)
        return [], None
    total = 0
    for name in order:
        if name not in space:
            c.fail("strategy.order", f"names {name!r}, which is not in search_space; add it there "
                   "or remove it from the order", order)
            continue
        values = candidate_values(space[name])
        if values is None:
            c.fail(f"search_space.{name}.step", "is required to tune a float range in a "
                   "sequential stage; add a step or list candidates with type choice")
            continue
        total += len(values)
    if total > MAX_GRID_COMBINATIONS:
        c.fail("strategy.order", f"makes {total} trials, more than the {MAX_GRID_COMBINATIONS} "
               "allowed; list fewer candidates")
    if c.problems:
        return list(order), total
    return list(order), len(sequential_plan(space, order, family))


def _hyperband_trials(strategy: dict[str, Any]) -> int | None:
    """How many trials KerasTuner's Hyperband runs at most (its own bracket arithmetic,
    from ``HyperbandOracle._get_size``; fewer when a small space runs out of new points)."""
    max_epochs, factor, iterations = (strategy.get("max_epochs"), strategy.get("factor"),
                                      strategy.get("hyperband_iterations"))
    if not (max_epochs and factor and iterations):
        return None
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    end_size0 = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(brackets):
        for round_ in range(bracket + 1):
            total += math.ceil(end_size0 / (bracket + 1) * factor ** (bracket - round_))
    return total * iterations


def _grid_size(c: _Checker, space: dict[str, Any]) -> int | None:
    total = 1
    for name, hp in space.items():
        values = candidate_values(hp)
        if values is None:
            c.fail(f"search_space.{name}.step",
                   "is required for grid search over a float range; add a step or list values "
                   "with type choice")
            return None
        total *= len(values)
    if total > MAX_GRID_COMBINATIONS:
        c.fail("search_space", f"makes a grid of {total} combinations, more than the "
               f"{MAX_GRID_COMBINATIONS} allowed; use larger steps, fewer values, or random search")
        return None
    return total


TRAINING_FIELDS = ("epochs", "batch_size", "early_stopping", "lr_schedule")
EARLY_STOPPING_FIELDS = ("monitor", "patience", "min_delta", "restore_best_weights")


def _check_training(c: _Checker, training: dict[str, Any], kind: str,
                    space: dict[str, Any]) -> dict[str, Any]:
    c.unknown_keys("training", training, TRAINING_FIELDS)
    if kind == "sklearn":
        for key in training:
            if key in TRAINING_FIELDS:
                c.fail(f"training.{key}", "applies to Keras models only; remove it for a "
                       "scikit-learn model", training[key])
        return {}
    return {
        "epochs": c.integer("training.epochs", training.get("epochs", 5), 1, MAX_EPOCHS_LIMIT),
        "batch_size": c.integer("training.batch_size", training.get("batch_size", 32), 1, 65536),
        "early_stopping": _check_early_stopping(c, training.get("early_stopping")),
        "lr_schedule": c.choice("training.lr_schedule", training.get("lr_schedule", "constant"),
                                SCHEDULES),
    }


def _check_early_stopping(c: _Checker, early: Any) -> dict[str, Any] | None:
    if early is None or early is False:
        return None
    if early is True:
        early = {}
    if not isinstance(early, dict):
        c.fail("training.early_stopping", 'must be an object such as {"monitor": "val_loss", '
               '"patience": 3}', early)
        return None
    c.unknown_keys("training.early_stopping", early, EARLY_STOPPING_FIELDS)
    monitor = c.choice("training.early_stopping.monitor", early.get("monitor", "val_loss"),
                       sorted({m for ms in catalog.KERAS_METRICS.values() for m in ms}))
    restore = early.get("restore_best_weights", True)
    if not isinstance(restore, bool):
        c.fail("training.early_stopping.restore_best_weights", "must be true or false", restore)
    return {
        "monitor": monitor,
        "patience": c.integer("training.early_stopping.patience", early.get("patience", 3), 0,
                              MAX_EPOCHS_LIMIT),
        "min_delta": c.number("training.early_stopping.min_delta", early.get("min_delta", 0.0),
                              0, 1e6),
        "restore_best_weights": bool(restore),
    }


OBJECTIVE_FIELDS = ("metric", "direction")


def _check_objective(c: _Checker, objective: dict[str, Any], kind: str,
                     task: str) -> dict[str, Any]:
    c.unknown_keys("objective", objective, OBJECTIVE_FIELDS)
    metrics = (catalog.SKLEARN_SCORINGS if kind == "sklearn" else catalog.KERAS_METRICS)[task]
    metric = c.choice("objective.metric", objective.get("metric", catalog.default_metric(kind, task)),
                      metrics)
    if metric is None:
        return {"metric": None, "direction": "max"}
    expected = catalog.default_direction(metric)
    direction = objective.get("direction", expected)
    if c.choice("objective.direction", direction, ("min", "max")) is not None \
            and direction != expected:
        c.fail("objective.direction", f"must be {expected} for {metric}", direction)
    return {"metric": metric, "direction": expected}
