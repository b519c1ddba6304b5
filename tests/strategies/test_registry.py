"""The strategy registry: every strategy declares itself in one module, and the validator,
the launch form and the executor take a new one with no other file touched."""
from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from storage import RunStatus, TrialStatus
from tests.pages.page_helpers import open_app
from tests.support.runs import ROOT, run_spec
from tuning import strategies
from tuning.spec import SpecError, validate_spec

THROWAWAY = "throwaway_every_other"
# A strategy written the way a user would add one: a module that registers itself.
MODULE = textwrap.dedent(f'''
    from tuning.strategies import Strategy, register


    def check(c, section, kind, space, out, family):
        trials = c.integer("strategy.max_trials", section.get("max_trials", 2), 1, 50)
        return {{"max_trials": trials, "stride": c.integer("strategy.stride",
                                                        section.get("stride", 2), 1, 10)}}


    def oracle(kt, spec, objective, seed, failures):
        return kt.oracles.RandomSearchOracle(objective=objective,
                                             max_trials=spec["strategy"]["max_trials"],
                                             seed=seed, max_consecutive_failed_trials=failures)


    STRATEGY = register(Strategy(
        "{THROWAWAY}", "Throw-away strategy (test)", "Only for the registry's test.",
        ("keras", "sklearn"), check, options=("max_trials",), fields=("stride",),
        oracle=oracle))
''')

IRIS_SVM = {"name": "throwaway", "seed": 3, "data": {"source": "sklearn", "name": "iris"},
            "model": {"family": "svm"},
            "search_space": {"C": {"type": "float", "min": 0.1, "max": 10, "sampling": "log"}},
            "strategy": {"name": THROWAWAY, "max_trials": 2, "stride": 3, "cv_folds": 2}}


@pytest.fixture
def throwaway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The module above, importable here and in every worker the test starts."""
    (tmp_path / "throwaway_strategy.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv(strategies.MODULES_ENV, "throwaway_strategy")
    importlib.import_module("throwaway_strategy")
    yield strategies.get(THROWAWAY)
    strategies.unregister(THROWAWAY)
    sys.modules.pop("throwaway_strategy", None)


def test_every_built_in_strategy_is_registered_from_its_own_module():
    for name in strategies.registry.BUILT_IN:
        strategy = strategies.get(name)
        module = importlib.import_module(f"tuning.strategies.{name}")
        assert module.STRATEGY is strategy and strategy.name == name
        assert strategy.is_tool == (strategy.oracle is None and strategy.keras_tuner is None)
    assert strategies.prunable() == ["random", "bayesian", "grid", "random_sampling"]
    assert strategies.panel_of("custom") is None  # a watched run's strategy
    with pytest.raises(KeyError, match="no strategy 'nope'; known: random, bayesian"):
        strategies.get("nope")


def test_the_validator_accepts_a_registered_strategy_and_checks_its_fields(throwaway):
    spec = validate_spec(IRIS_SVM)
    assert spec["strategy"]["name"] == THROWAWAY
    assert spec["strategy"]["stride"] == 3 and spec["strategy"]["max_trials"] == 2
    with pytest.raises(SpecError, match="strategy.stride"):
        validate_spec({**IRIS_SVM, "strategy": {**IRIS_SVM["strategy"], "stride": 0}})
    strategies.unregister(THROWAWAY)
    with pytest.raises(SpecError, match="strategy.name"):
        validate_spec(IRIS_SVM)


def test_the_launch_form_offers_a_registered_strategy(throwaway):
    at = open_app("pages/launch.py")
    at.selectbox(key="f_family").set_value("svm").run()
    box = at.selectbox(key="f_strategy")
    assert "Throw-away strategy (test)" in box.options  # shown by its label
    box.set_value(THROWAWAY).run()
    assert not at.exception
    assert any("Only for the registry's test." in c.value for c in at.caption)


@pytest.mark.slow
def test_a_run_of_a_registered_strategy_executes_in_a_worker(throwaway, tmp_path: Path):
    storage, run_id, result = run_spec(tmp_path, IRIS_SVM)
    assert result.returncode == 0, result.stderr[-3000:]
    run = storage.get_run(run_id)
    assert run.status is RunStatus.COMPLETED, run.error
    trials = storage.list_trials(run_id)
    assert len(trials) == 2 and all(t.status is TrialStatus.COMPLETED for t in trials)
    assert run.spec["strategy"]["stride"] == 3


def test_no_code_outside_the_registry_compares_strategy_names():
    """Strategy names appear as string literals only in their own modules (and in the
    stored records a watched or imported search gets, which name no built-in)."""
    built_in = set(strategies.registry.BUILT_IN)
    offenders = []
    for path in [*ROOT.glob("tuning/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]:
        if path.parent.name == "strategies":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for operand in [node.left, *node.comparators]:
                    items = operand.elts if isinstance(operand, (ast.Tuple, ast.List,
                                                                 ast.Set)) else [operand]
                    for item in items:
                        if isinstance(item, ast.Constant) and item.value in built_in:
                            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"strategy names compared outside tuning/strategies: {offenders}"


def test_a_tool_never_runs_on_several_workers_and_a_bad_extra_module_is_named():
    tool = strategies.Strategy("t", "T", "w", ("keras",), lambda *a: {}, run=lambda ctx: None)
    assert tool.is_tool and not tool.distributable
    with pytest.raises(ImportError, match="TUNING_STRATEGY_MODULES names 'no_such_module_x'.*"
                                          "PYTHONPATH"):
        strategies.load(["no_such_module_x"])
