"""The strategy registry: every strategy declares, in one module, what the product asks of it.

A strategy is a ``Strategy`` value registered under its name. The validator, the launch
form, the executor, the live page, the reports, ``tuning.watch`` and the importer ask the
registry (``get(name).prunable``, ``get(name).panel``) and never compare names.

Two kinds of strategy exist:
- a **search**: KerasTuner runs the trials; the strategy builds the oracle that proposes
  them (``oracle``), and, where KerasTuner's own tuner class must run them, that class
  (``keras_tuner``). The executor records every trial and epoch, prunes, stops and limits.
- a **tool** (``run`` is set): the strategy runs its own trials inside the worker with a
  ``tuning.runner.tool_context.ToolContext`` (recording, stop, cancel, time limits).

Built-in strategies are the modules named in ``BUILT_IN``; more are loaded from the
modules named in the ``TUNING_STRATEGY_MODULES`` environment setting (comma-separated
import paths), in the dashboard and in every worker alike. Such a module calls
``register(Strategy(...))`` when imported.

Nothing here imports TensorFlow or KerasTuner: ``oracle``, ``keras_tuner`` and ``run``
receive what they need when a worker calls them.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

BUILT_IN = ("random", "bayesian", "hyperband", "grid", "sequential", "random_sampling",
            "lr_range_test", "batch_size_study", "transfer_learning", "lora")
MODULES_ENV = "TUNING_STRATEGY_MODULES"

# check(c, section, kind, space, out, family) -> the strategy's own normalised fields.
# ``c`` is the spec checker (``fail``, ``integer``, ``number``, ``choice``); ``section`` the
# spec's strategy section as written; ``out`` what the validator normalised so far.
Check = Callable[[Any, Mapping[str, Any], str, Mapping[str, Any], Mapping[str, Any],
                  "str | None"], dict[str, Any]]
# oracle(kt, spec, objective, seed, max_consecutive_failed_trials) -> a KerasTuner Oracle.
OracleFactory = Callable[[Any, Mapping[str, Any], Any, int, int], Any]
# keras_tuner(kt, spec, objective, seed, max_consecutive_failed_trials)
#   -> (KerasTuner tuner class, its strategy-specific constructor arguments).
TunerFactory = Callable[[Any, Mapping[str, Any], Any, int, int], "tuple[type, dict[str, Any]]"]


@dataclass(frozen=True)
class Strategy:
    """What the rest of the product asks of one strategy. Immutable once registered.

    ``options``: the common strategy options the launch form draws a widget for
    (``max_trials``, ``executions_per_trial``, ...); ``fields``: the strategy section's
    keys this strategy reads beyond the common ones, with defaults in ``check``.
    ``prunable``: median pruning (``strategy.pruning``) applies to its Keras searches;
    ``distributable``: it runs on several KerasTuner workers (``strategy.workers``; a
    tool never does);
    ``panel``: the extra view the live page and the reports draw for its runs (None:
    none); ``epochs_field``: the strategy field that fixes each trial's epochs (Hyperband's
    ``max_epochs``), else the spec's ``training.epochs`` is used;
    ``budget``: the trial count a strategy section plans, when the strategy counts its
    own trials (Hyperband's bracket arithmetic; watch and the importer ask it too);
    ``exhausts_space``: its trial count is the size of its (finite) space (grid);
    ``oracle_classes``: the KerasTuner oracle classes it stands for, by name (``watch`` and
    the importer name a user's run after it); ``oracle_fields``: the oracle attributes
    (the same keys in ``oracle.json``) that describe its settings;
    ``import_fallback``: the strategy an imported project is taken for when nothing
    else matches; ``sets_learning_rate``: it drives the learning rate itself, so no
    ``training.lr_schedule`` applies (the range test); ``early_stopping``: the launch
    form offers ``training.early_stopping`` for it; ``any_keras_model``: a tool that
    trains any Keras family's model, the CNN's and the user's own included (other tools
    train only the families whose ``catalog.Family.tools`` is set).
    """
    name: str
    label: str
    when: str
    kinds: tuple[str, ...]
    check: Check
    options: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    oracle: OracleFactory | None = None
    keras_tuner: TunerFactory | None = None
    run: Callable[[Any], None] | None = None
    prunable: bool = False
    distributable: bool = True
    panel: str | None = None
    epochs_field: str | None = None
    budget: Callable[[Mapping[str, Any]], int | None] | None = None
    exhausts_space: bool = False
    oracle_classes: tuple[str, ...] = ()
    oracle_fields: tuple[str, ...] = ()
    import_fallback: bool = False
    sets_learning_rate: bool = False
    early_stopping: bool = True
    any_keras_model: bool = False

    def __post_init__(self) -> None:
        if self.run is not None:  # a tool runs its own trial loop in one process
            object.__setattr__(self, "distributable", False)

    @property
    def is_tool(self) -> bool:
        """It runs its own trials (``run``) instead of a KerasTuner search."""
        return self.run is not None

    def tuner_for_keras(self, kt: Any, spec: Mapping[str, Any], objective: Any, seed: int,
                        failures: int) -> tuple[type, dict[str, Any]]:
        """The KerasTuner tuner class and its strategy arguments for a Keras search:
        ``keras_tuner`` when declared, else ``kt.Tuner`` driven by ``oracle``."""
        if self.keras_tuner is not None:
            return self.keras_tuner(kt, spec, objective, seed, failures)
        return kt.Tuner, {"oracle": self.build_oracle(kt, spec, objective, seed, failures)}

    def build_oracle(self, kt: Any, spec: Mapping[str, Any], objective: Any, seed: int,
                     failures: int) -> Any:
        if self.oracle is None:
            raise TypeError(f"strategy {self.name!r} builds no KerasTuner oracle")
        return self.oracle(kt, spec, objective, seed, failures)


REGISTRY: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Add (or replace) a strategy; returns it, so a module can write
    ``STRATEGY = register(Strategy(...))``."""
    REGISTRY[strategy.name] = strategy
    return strategy


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def get(name: str) -> Strategy:
    """The strategy registered as ``name``; ``KeyError`` naming the known ones if none is."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no strategy {name!r}; known: {', '.join(REGISTRY)}") from None


def find(name: Any) -> Strategy | None:
    return REGISTRY.get(name) if isinstance(name, str) else None


def names(kind: str | None = None) -> list[str]:
    """Registered names in registration order; with ``kind``, those that tune that kind."""
    return [s.name for s in REGISTRY.values() if kind is None or kind in s.kinds]


def panel_of(name: Any) -> str | None:
    """The extra view a run of strategy ``name`` gets (None for an unknown strategy, such
    as a watched run's ``custom``)."""
    strategy = find(name)
    return strategy.panel if strategy else None


def prunable() -> list[str]:
    return [s.name for s in REGISTRY.values() if s.prunable]


def of_oracle_class(cls: type) -> Strategy | None:
    """The strategy a KerasTuner oracle class stands for, matched by name along its MRO
    (a user's subclass of a stock oracle counts as that strategy)."""
    for klass in cls.__mro__:
        for strategy in REGISTRY.values():
            if klass.__name__ in strategy.oracle_classes:
                return strategy
    return None


def describe_oracle(strategy: Strategy, settings: Mapping[str, Any] | Any) -> dict[str, Any]:
    """The strategy's settings read off a KerasTuner oracle (an object, or ``oracle.json``
    as a mapping): ``oracle_fields`` only, and what is present."""
    read = (settings.get if isinstance(settings, Mapping)
            else lambda key: getattr(settings, key, None))
    return {key: read(key) for key in strategy.oracle_fields}


def import_fallback() -> Strategy:
    return next(s for s in REGISTRY.values() if s.import_fallback)


def load(modules: tuple[str, ...] | list[str] | None = None) -> None:
    """Import the built-in strategy modules and those ``TUNING_STRATEGY_MODULES`` names."""
    for name in BUILT_IN:
        importlib.import_module(f"tuning.strategies.{name}")
    extra = modules if modules is not None else [
        m.strip() for m in os.environ.get(MODULES_ENV, "").split(",") if m.strip()]
    for module in extra:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ImportError(f"{MODULES_ENV} names {module!r}, which cannot be imported "
                              f"({exc}); fix the name or put its folder on PYTHONPATH") from exc
