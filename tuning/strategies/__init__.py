"""How trials are chosen: one module per strategy, each registered in ``registry`` with
what the validator, the form, the executor, the pages and the reports ask of it.

Searches (KerasTuner proposes, the executor runs): ``random``, ``bayesian``,
``hyperband``, ``grid``, ``sequential``, ``random_sampling``. Tools (the strategy runs its
own trials): ``lr_range_test``, ``batch_size_study``, ``transfer_learning``, ``lora``.
Shared arithmetic: ``manual`` (candidate values, sequential plans, random points),
``oracles`` (the custom KerasTuner oracles; imports KerasTuner), ``lr_finder`` (the range
test's reading) and ``_tools`` (what the tools share).

Importing this package loads the registry without TensorFlow or KerasTuner.
"""
from __future__ import annotations

from .registry import (
    MODULES_ENV,
    REGISTRY,
    Strategy,
    describe_oracle,
    find,
    get,
    import_fallback,
    load,
    names,
    of_oracle_class,
    panel_of,
    prunable,
    register,
    unregister,
)

__all__ = ["MODULES_ENV", "REGISTRY", "Strategy", "describe_oracle", "find", "get",
           "import_fallback", "load", "names", "of_oracle_class", "panel_of",
           "prunable", "register", "unregister"]

load()
