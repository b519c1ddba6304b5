"""The deep-learning tools as pure functions: the range test's reading, architecture
widths and warnings, the tools' spec fields, and their charts. No TensorFlow here."""
from __future__ import annotations

import copy
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from storage import RunStatus, TrialStatus
from tuning import catalog, strategies
from tuning.insights import tool_charts
from tuning.spec import SpecError, validate_spec
from tuning.spec.architecture import (
    architecture_warnings,
    count_parameters,
    layer_widths,
    template_space,
)
from tuning.strategies.lr_finder import (
    LossSmoother,
    find_divergence,
    follow_up_spec,
    loss_minimum,
    lr_schedule,
    smooth,
    suggested_space,
)

# -- the learning-rate range test -----------------------------------------------------


def crafted_curve(diverge_at: float = 0.05, steps: int = 120, noise: float = 0.03,
                  seed: int = 0) -> tuple[list[float], list[float]]:
    """Flat at 2.3, falling from lr 1e-4 to a floor of 0.2 at 1e-2, flat to ``diverge_at``,
    then climbing as the cube of the rate, with seeded multiplicative noise."""
    lrs = lr_schedule(1e-6, 1.0, steps)
    rng = np.random.default_rng(seed)
    losses = []
    for lr in lrs:
        if lr < 1e-4:
            loss = 2.3
        elif lr < 1e-2:
            loss = 2.3 - 2.1 * math.log10(lr / 1e-4) / 2
        elif lr < diverge_at:
            loss = 0.2
        else:
            loss = 0.2 * (lr / diverge_at) ** 3
        losses.append(loss * (1 + noise * rng.standard_normal()))
    return lrs, losses


def test_schedule_rises_exponentially_between_the_bounds():
    lrs = lr_schedule(1e-6, 1.0, 7)
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0)
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert ratios == pytest.approx([10.0] * 6)
    with pytest.raises(ValueError):
        lr_schedule(1.0, 1e-6, 10)


def test_smoothing_is_bias_corrected_and_flags_a_fourfold_rise():
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0
    smoother = LossSmoother()
    for _ in range(20):
        smoother.update(1.0)
    assert not smoother.diverged
    while not smoother.diverged:
        value = smoother.update(100.0)
    assert value > 4.0
    nan = LossSmoother()
    nan.update(float("nan"))
    assert nan.diverged


@pytest.mark.parametrize("diverge_at", [0.02, 0.05, 0.2])
def test_finds_where_a_crafted_curve_starts_to_diverge(diverge_at):
    lrs, losses = crafted_curve(diverge_at)
    diverge, suggested, reasoning = find_divergence(lrs, losses)
    # the loss has climbed back 10 % of its 2.1 fall at about 1.45 x the turning point
    assert diverge_at <= diverge <= 2 * diverge_at
    assert suggested == pytest.approx(diverge / 2)
    assert f"{diverge:.3g}" in reasoning and f"{suggested:.3g}" in reasoning
    low_lr, low = loss_minimum(lrs, losses)
    assert 1e-2 * 0.7 <= low_lr <= diverge_at * 1.5 and low == pytest.approx(0.2, rel=0.15)


def test_a_single_wild_batch_is_not_the_divergence_point():
    lrs, losses = crafted_curve(0.1, noise=0.0)
    spike = next(i for i, lr in enumerate(lrs) if lr > 0.02)
    losses[spike] = 50.0
    diverge, _, _ = find_divergence(lrs, losses)
    assert diverge >= 0.1


def test_a_loss_that_blows_up_to_nan_diverges_there():
    lrs, losses = crafted_curve(0.5, noise=0.0)
    cut = next(i for i, lr in enumerate(lrs) if lr > 0.05)
    losses = losses[:cut] + [float("nan")] * 3
    diverge, suggested, reasoning = find_divergence(lrs[:cut + 3], losses)
    assert diverge == pytest.approx(lrs[cut - 1])
    assert suggested == pytest.approx(diverge / 2)
    assert "infinite or NaN" in reasoning


def test_a_loss_that_never_climbs_suggests_half_its_lowest_point():
    lrs, losses = crafted_curve(0.05, noise=0.0)
    cut = next(i for i, lr in enumerate(lrs) if lr > 0.03)
    diverge, suggested, reasoning = find_divergence(lrs[:cut], losses[:cut])
    assert diverge is None
    low_lr, _ = loss_minimum(lrs[:cut], losses[:cut])
    assert suggested == pytest.approx(low_lr / 2)
    assert "raise max_lr" in reasoning.lower()


def test_a_loss_that_never_falls_gives_no_suggestion():
    lrs = lr_schedule(1e-6, 1.0, 50)
    diverge, suggested, reasoning = find_divergence(lrs, [2.3 + 0.001 * i for i in range(50)])
    assert diverge is None and suggested is None
    assert "did not fall" in reasoning
    assert find_divergence(lrs[:3], [1.0, 0.5, 0.2])[:2] == (None, None)
    with pytest.raises(ValueError):
        find_divergence(lrs, [1.0])


def test_suggested_space_spans_a_tenth_to_three_times_and_is_capped():
    assert suggested_space(0.01) == {"type": "float", "min": 0.001, "max": 0.03,
                                     "sampling": "log"}
    capped = suggested_space(0.5)
    assert capped["max"] == 1.0 and capped["min"] == 0.05
    with pytest.raises(ValueError):
        suggested_space(0.0)


def test_a_follow_up_spec_carries_the_suggestion_into_a_valid_random_search():
    spec = validate_spec(example("digits_lr_range_test.json"))
    follow = validate_spec(follow_up_spec(spec, 0.02))
    assert follow["strategy"]["name"] == "random"
    assert follow["search_space"]["learning_rate"] == {"type": "float", "min": 0.002,
                                                       "max": 0.06, "sampling": "log"}
    assert follow["search_space"]["units"] == spec["search_space"]["units"]
    assert follow["data"] == spec["data"]


# -- depth and width ------------------------------------------------------------------


def test_layer_widths_by_shape():
    assert layer_widths({"num_layers": 3, "units": 256, "shape": "funnel"}) == [256, 128, 64]
    assert layer_widths({"num_layers": 3, "units": 64, "shape": "constant",
                         "units_1": 8}) == [64, 64, 64]
    assert layer_widths({"num_layers": 3, "units": 64, "shape": "custom",
                         "units_1": 8}) == [64, 8, 64]
    # without a shape, a spec means what it always meant: units_i where given, else units
    assert layer_widths({"num_layers": 2, "units_0": 100}) == [100, 64]
    assert layer_widths({"num_layers": 4, "units": 3, "shape": "funnel"}) == [3, 2, 1, 1]
    with pytest.raises(ValueError, match="shape"):
        layer_widths({"shape": "pyramid"})


def test_parameter_count_of_a_dense_network():
    # 64 -> 32 -> 16 -> 10: (64*32 + 32) + (32*16 + 16) + (16*10 + 10)
    assert count_parameters([32, 16], 64, 10) == 2080 + 528 + 170
    assert count_parameters([], 4, 1) == 5


DIGITS = dict(n_features=64, n_outputs=10, n_rows=1437)


def mlp_spec(space: dict[str, Any]) -> dict[str, Any]:
    return {"model": {"family": "mlp"}, "search_space": space}


def test_bottleneck_warning_fires_on_a_layer_narrower_than_the_output():
    space = {"num_layers": {"type": "fixed", "value": 2},
             "units_0": {"type": "fixed", "value": 64}, "units_1": {"type": "fixed", "value": 4}}
    warnings = architecture_warnings(mlp_spec(space), **DIGITS)
    assert len(warnings) == 2  # narrower than the output, and a 16x narrowing
    assert any("hidden layer 2 has 4 units, fewer than the 10 outputs" in w for w in warnings)
    assert any("16x narrower" in w for w in warnings)


def test_bottleneck_warning_fires_on_a_sharp_narrowing_inside_a_range():
    space = {"num_layers": {"type": "fixed", "value": 2},
             "units_0": {"type": "int", "min": 32, "max": 128, "step": 32},
             "units_1": {"type": "int", "min": 16, "max": 32, "step": 16}}
    (warning,) = architecture_warnings(mlp_spec(space), **DIGITS)
    assert "units_0=128" in warning and "units_1=16" in warning and "8x narrower" in warning


def test_no_bottleneck_warning_on_a_funnel():
    # 96 -> 48 -> 24 at most (12,322 parameters), 48 -> 24 -> 12 at least: each layer
    # half the one before and wider than the 10 outputs
    space = {"num_layers": {"type": "int", "min": 1, "max": 3, "step": 1},
             "units": {"type": "int", "min": 48, "max": 96, "step": 16},
             "shape": {"type": "fixed", "value": "funnel"}}
    assert architecture_warnings(mlp_spec(space), **DIGITS) == []
    # the same funnel ending below the outputs is a bottleneck
    space["units"]["min"] = 16
    (warning,) = architecture_warnings(mlp_spec(space), **DIGITS)
    assert "hidden layer 3 has 4 units, fewer than the 10 outputs" in warning


def test_too_large_for_the_data():
    space = {"num_layers": {"type": "int", "min": 1, "max": 4, "step": 1},
             "units": {"type": "choice", "values": [128, 1024]},
             "shape": {"type": "fixed", "value": "constant"}}
    (warning,) = architecture_warnings(mlp_spec(space), **DIGITS)
    largest = count_parameters([1024] * 4, 64, 10)
    assert warning.startswith("too large for the data") and f"{largest:,}" in warning
    assert "num_layers=4" in warning and "1,437 training rows" in warning


def test_no_architecture_warning_for_other_families():
    assert architecture_warnings({"model": {"family": "svm"}, "search_space": {}},
                                 **DIGITS) == []


def test_shape_is_an_mlp_hyperparameter_and_templates_validate():
    assert catalog.MLP_DEFAULTS["shape"] == "custom"
    for shape in ("funnel", "constant", "custom"):
        spec = validate_spec({**example("digits_mlp_random.json"),
                              "search_space": template_space(shape)})
        assert "num_layers" in spec["search_space"]


# -- the tools as strategies ------------------------------------------------------------


def example(name: str) -> dict[str, Any]:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).resolve().parents[2] / "examples" / name).read_text())


TOOL_EXAMPLES = {"lr_range_test": "digits_lr_range_test.json",
                 "batch_size_study": "digits_batch_size_study.json",
                 "transfer_learning": "digits_transfer_learning.json",
                 "lora": "tiny_gemma_lora.json"}


def test_every_tool_is_a_strategy_for_keras_models_with_an_example():
    assert set(TOOL_EXAMPLES) == {s.name for s in strategies.REGISTRY.values() if s.is_tool}
    for name, file in TOOL_EXAMPLES.items():
        assert strategies.get(name).kinds == ("keras",)
        spec = validate_spec(example(file))
        assert spec["strategy"]["name"] == name and spec["strategy"]["max_trials"] >= 1


def test_tool_defaults_and_trial_counts():
    lr = validate_spec(example("digits_lr_range_test.json"))["strategy"]
    assert (lr["min_lr"], lr["max_lr"], lr["steps"], lr["max_trials"]) == (1e-6, 1.0, 100, 1)
    bs = validate_spec(example("digits_batch_size_study.json"))["strategy"]
    assert bs["batch_sizes"] == [16, 32, 64, 128, 256] and bs["max_trials"] == 5
    tl = validate_spec(example("digits_transfer_learning.json"))["strategy"]
    assert tl["source"] == {"classes": [0, 1, 2, 3, 4]}
    assert tl["max_trials"] == 3 * 2 + 1  # frozen 0/1/2 x two rates, plus the baseline
    lora = validate_spec(example("tiny_gemma_lora.json"))["strategy"]
    assert lora["ranks"] == [2, 4] and lora["max_trials"] == 4


def test_batch_size_study_scales_the_learning_rate_when_asked():
    from tuning.strategies.batch_size_study import trial_plan

    doc = example("digits_batch_size_study.json")
    doc["strategy"] = {"name": "batch_size_study", "batch_sizes": [32, 128],
                       "scale_learning_rate": True, "base_batch_size": 32}
    plan = trial_plan(validate_spec(doc))
    assert [(k, v["batch_size"], v["learning_rate"]) for k, v in plan] == [
        ("bs-32", 32, pytest.approx(0.001)), ("bs-128", 128, pytest.approx(0.004))]


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as err:
        validate_spec(doc)
    return [str(p) for p in err.value.problems]


def with_strategy(file: str, **strategy: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example(file))
    doc["strategy"].update(strategy)
    return doc


def test_bad_tool_fields_name_the_field_the_rule_and_the_value():
    assert problems(with_strategy("digits_lr_range_test.json", min_lr=0.1, max_lr=0.01)) == [
        "strategy.max_lr must be > min_lr (0.1); raise it; got 0.01"]
    assert problems(with_strategy("digits_batch_size_study.json", batch_sizes=[16, 0])) == [
        "strategy.batch_sizes[1] must be between 1 and 65536; got 0"]
    assert problems(with_strategy("digits_batch_size_study.json", batch_sizes=[16, 16])) == [
        "strategy.batch_sizes must not repeat a value; got [16, 16]"]
    assert problems(with_strategy("digits_transfer_learning.json", frozen_layers=[3])) == [
        "strategy.frozen_layers must not exceed num_layers (2), the hidden layers of the "
        "source model; got [3]"]
    assert problems(with_strategy("digits_transfer_learning.json",
                                  source={"path": "data/missing.keras"})) == [
        "strategy.source.path must be an existing file; got 'data/missing.keras'"]
    assert problems(with_strategy("tiny_gemma_lora.json", corpus="examples/nowhere.txt")) == [
        "strategy.corpus must be an existing text file; got 'examples/nowhere.txt'"]
    (unknown,) = problems(with_strategy("tiny_gemma_lora.json", rank=2))
    assert unknown.startswith("strategy.rank is not a known field; use one of ")
    assert "ranks" in unknown and "preset_path" in unknown


def test_lora_reads_only_the_learning_rate_from_the_search_space():
    doc = example("tiny_gemma_lora.json")
    doc["search_space"]["units"] = {"type": "fixed", "value": 8}
    assert problems(doc) == ["search_space.units is not used by lora, which tunes the LoRA "
                             "rank (strategy.ranks) and learning_rate only; remove it"]
    doc = example("tiny_gemma_lora.json")
    doc["search_space"]["learning_rate"] = {"type": "float", "min": 1e-4, "max": 1e-2,
                                            "sampling": "log"}
    assert any(p.startswith("search_space.learning_rate must list the rates lora tries")
               for p in problems(doc))


def test_tools_that_train_once_refuse_several_executions():
    assert problems(with_strategy("digits_lr_range_test.json", executions_per_trial=3)) == [
        "strategy.executions_per_trial must be 1: lr_range_test makes one sweep; remove "
        "strategy.executions_per_trial or set it to 1; got 3"]
    (lora,) = problems(with_strategy("tiny_gemma_lora.json", executions_per_trial=2))
    assert lora.startswith("strategy.executions_per_trial must be 1: lora trains each "
                           "adapter once") and lora.endswith("or set it to 1; got 2")
    # an invalid value is reported once, by the common rule
    assert problems(with_strategy("digits_lr_range_test.json", executions_per_trial=0)) == [
        "strategy.executions_per_trial must be between 1 and 20; got 0"]
    for file in ("digits_batch_size_study.json", "digits_transfer_learning.json"):
        spec = validate_spec(with_strategy(file, executions_per_trial=2))
        assert spec["strategy"]["executions_per_trial"] == 2


@pytest.mark.parametrize("file", sorted(TOOL_EXAMPLES.values()))
def test_tools_refuse_the_engines_distribution_and_pruning_fields(file):
    tool = example(file)["strategy"]["name"]
    assert problems(with_strategy(file, workers=2)) == [
        f"strategy.workers must be 1 for {tool}: tools run in one worker process; remove "
        "strategy.workers; got 2"]
    for field, value in (("chief_host", "10.0.0.1"), ("chief_port", 7000),
                         ("relay_port", 7001)):
        assert problems(with_strategy(file, **{field: value})) == [
            f"strategy.{field} serves parallel workers, which {tool} does not use (tools run "
            f"in one worker process); remove strategy.{field}; got {value!r}"]
    assert problems(with_strategy(file, pruning={"warmup_epochs": 1})) == [
        f"strategy.pruning does not apply to {tool}, which trains every trial it plans; "
        'remove strategy.pruning; got {"warmup_epochs": 1}']
    assert validate_spec(with_strategy(file, workers=1, pruning=False))["strategy"]["name"] \
        == tool


def test_transfer_accepts_digits_classes_as_the_source_and_needs_one_architecture():
    doc = with_strategy("digits_transfer_learning.json", source={"digits_classes": [0, 1, 2]})
    assert validate_spec(doc)["strategy"]["source"] == {"classes": [0, 1, 2]}
    doc["search_space"]["num_layers"] = {"type": "int", "min": 1, "max": 3}
    assert any(p.startswith("search_space.num_layers must be fixed") for p in problems(doc))


# -- charts -------------------------------------------------------------------------


def epoch(i: int, **metrics: float) -> SimpleNamespace:
    return SimpleNamespace(epoch=i, metrics=metrics)


def trial(key: str, score: float | None, hps: dict[str, Any], **metrics: Any) -> SimpleNamespace:
    return SimpleNamespace(trial_key=key, score=score, hyperparameters=hps, metrics=metrics,
                           status=TrialStatus.COMPLETED, message=None)


def test_lr_range_chart_has_a_log_axis_and_marks_the_suggestion():
    lrs, losses = crafted_curve(0.05)
    smoothed = smooth(losses)
    fig = tool_charts.lr_range_chart(
        [epoch(i, lr=lr, loss=loss, smoothed_loss=s)
         for i, (lr, loss, s) in enumerate(zip(lrs, losses, smoothed))])
    assert fig.layout.xaxis.type == "log" and fig.layout.uirevision == "lr_range"
    names = [d.name for d in fig.data]
    _, suggested, _ = find_divergence(lrs, losses)
    assert f"suggested: {suggested:.2g}" in names
    assert tool_charts.lr_range_chart([]).layout.xaxis.visible is False


def test_batch_size_chart_plots_time_and_score_against_batch_size():
    trials = [trial("bs-64", 0.9, {"batch_size": 64}, mean_epoch_time_s=0.1, final_score=0.88),
              trial("bs-16", 0.95, {"batch_size": 16}, mean_epoch_time_s=0.3, final_score=0.94)]
    fig = tool_charts.batch_size_chart(trials)
    assert list(fig.data[0].x) == [16, 64] and list(fig.data[0].y) == [0.3, 0.1]
    assert list(fig.data[1].y) == [0.95, 0.9] and list(fig.data[2].y) == [0.94, 0.88]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"


def test_score_vs_params_chart_uses_a_log_axis_and_groups_by_shape():
    trials = [trial("1", 0.9, {"shape": "funnel"}, param_count=1000),
              trial("2", 0.95, {"shape": "constant"}, param_count=100000),
              trial("3", 0.5, {"shape": "constant"})]  # no count: left out
    fig = tool_charts.score_vs_params_chart(trials)
    assert fig.layout.xaxis.type == "log"
    assert sorted(d.name for d in fig.data) == ["shape=constant", "shape=funnel"]
    assert sum(len(d.x) for d in fig.data) == 2


def test_transfer_and_lora_charts():
    trials = [trial("a", 0.9, {"init": "transfer", "frozen_layers": 0, "fine_tune_lr": 0.001}),
              trial("b", 0.8, {"init": "transfer", "frozen_layers": 1, "fine_tune_lr": 0.001}),
              trial("s", 0.85, {"init": "scratch", "frozen_layers": 0, "fine_tune_lr": 0.001})]
    fig = tool_charts.transfer_chart(trials)
    assert list(fig.data[0].y) == [0.9, 0.8]
    assert any("from scratch" in (a.text or "") for a in fig.layout.annotations)
    lora = [trial("r2", 5.0, {"rank": 2, "learning_rate": 0.01}, trainable_params=512,
                  sample="The the"),
            trial("r4", 4.9, {"rank": 4, "learning_rate": 0.01}, trainable_params=1024)]
    fig = tool_charts.lora_chart(lora)
    assert list(fig.data[0].x) == [2, 4] and "sample: The the" in fig.data[0].text[0]


def test_lr_suggestion_of_a_range_test_trial():
    done = trial("range", None, {}, suggested_lr=0.02, diverge_lr=0.04)
    done.message = "because"
    shown = tool_charts.lr_suggestion(done)
    assert shown["learning_rate"] == suggested_space(0.02) and shown["reasoning"] == "because"
    assert tool_charts.lr_suggestion(trial("range", None, {}, suggested_lr=None)) is None


# -- the tools' trial loop ------------------------------------------------------------


def test_trial_loop_records_cancel_failure_and_stop_and_skips_finished_trials(storage):
    from tuning.runner.tool_context import StopRequested, ToolContext, TrialCancelled
    from tuning.strategies._tools import run_trials

    spec = validate_spec(example("digits_batch_size_study.json"))
    run = storage.create_run("loop", spec)
    assert storage.claim_run(run.id, 1)
    ctx = ToolContext(storage, run.id, spec, dataset=None, folder=".", worker="test")
    calls: list[str] = []

    def train(trial_id, values):
        key = values["key"]
        calls.append(key)
        ctx.record_epoch(trial_id, 0, {"loss": 1.0})
        if key == "cancel":
            storage.request_cancel(run.id, key)
            ctx.record_epoch(trial_id, 1, {"loss": 1.0})  # raises TrialCancelled
        if key == "broken":
            raise ValueError("bad value\nmore detail")
        if key == "stop":
            storage.request_stop(run.id)
            ctx.record_epoch(trial_id, 1, {"loss": 1.0})  # raises StopRequested
        return 0.5, {"loss": 1.0, "odd": float("nan")}, "fine", []

    plan = [(k, {"key": k}) for k in ("good", "cancel", "broken", "stop", "later")]
    with pytest.raises(StopRequested):
        run_trials(ctx, plan, train)
    status = {t.trial_key: t for t in storage.list_trials(run.id)}
    assert status["good"].status is TrialStatus.COMPLETED and status["good"].score == 0.5
    assert status["good"].metrics["odd"] is None  # NaN stored as null
    assert status["cancel"].status is TrialStatus.CANCELLED
    assert status["broken"].status is TrialStatus.FAILED
    assert status["broken"].message == "ValueError: bad value"
    assert "later" not in status
    assert isinstance(TrialCancelled("x"), Exception)

    # a resumed run trains only what did not finish
    storage.finish_run(run.id, RunStatus.STOPPED)
    assert storage.get_trial_by_key(run.id, "stop").status is TrialStatus.STOPPED
    storage.requeue(run.id)
    assert storage.claim_run(run.id, 1)
    calls.clear()
    run_trials(ctx, [(k, {"key": k if k != "stop" else "again"}) for k, _ in plan], train)
    assert calls == ["again", "later"]


def test_trial_loop_gives_up_after_consecutive_failures(storage):
    from tuning.runner.tool_context import ToolContext
    from tuning.strategies._tools import run_trials

    spec = validate_spec(example("digits_batch_size_study.json"))
    run = storage.create_run("failing", spec)
    ctx = ToolContext(storage, run.id, spec, dataset=None, folder=".", worker="test")

    def train(trial_id, values):
        raise RuntimeError(f"broken {values['n']}")

    with pytest.raises(RuntimeError, match="3 trials failed in a row; last error: "
                       "RuntimeError: broken 2"):
        run_trials(ctx, [(str(n), {"n": n}) for n in range(5)], train)
    assert len(storage.list_trials(run.id)) == 3


def test_rebuild_script_spells_out_a_funnels_widths(storage):
    from tuning.insights import reports

    doc = example("digits_mlp_random.json")
    doc["search_space"] = template_space("funnel")
    run = storage.create_run("funnel", validate_spec(doc))
    assert storage.claim_run(run.id, 1)
    values = {"num_layers": 3, "units": 256, "shape": "funnel"}
    trial = storage.begin_trial(run.id, "t0", 0, values)
    storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.9)
    script = reports.rebuild_script(storage.get_run(run.id), storage.list_trials(run.id))
    constants = {"__name__": "rebuild"}
    exec(compile(script, "rebuild.py", "exec"), constants)
    hp = constants["HYPERPARAMETERS"]
    assert "shape" not in hp
    assert [hp.get(f"units_{i}", hp["units"]) for i in range(3)] == [256, 128, 64]


class Clock:
    """A clock the test moves by hand: the trial loop's time limits without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def timed_context(storage, time_limit_s=None, trial_time_limit_s=None, time_spent_s=0.0):
    from tuning.runner.tool_context import ToolContext

    doc = example("digits_batch_size_study.json")
    doc.update(time_limit_s=time_limit_s, trial_time_limit_s=trial_time_limit_s)
    doc["strategy"]["max_consecutive_failed_trials"] = 5
    spec = validate_spec(doc)
    run = storage.create_run("timed", spec)
    assert storage.claim_run(run.id, 1)
    clock = Clock()
    return ToolContext(storage, run.id, spec, dataset=None, folder=".", worker="test",
                       time_spent_s=time_spent_s, clock=clock), clock


def test_a_trial_past_its_time_limit_fails_with_the_engines_reason_and_the_run_goes_on(
        storage):
    from tuning.strategies._tools import run_trials

    ctx, clock = timed_context(storage, trial_time_limit_s=2)

    def train(trial_id, values):
        for epoch in range(3):
            clock.now += values["epoch_s"]
            ctx.record_epoch(trial_id, epoch, {"loss": 1.0})
        return 0.5, {}, None, []

    run_trials(ctx, [("slow", {"epoch_s": 1.0}), ("quick", {"epoch_s": 0.5})], train)
    slow, quick = storage.list_trials(ctx.run_id)
    assert slow.status is TrialStatus.FAILED and slow.epochs_done == 3
    assert slow.message == ("ran past the per-trial time limit of 2 s (3 s); raise "
                            "trial_time_limit_s or shrink the model")
    assert quick.status is TrialStatus.COMPLETED and quick.score == 0.5


def test_the_runs_time_limit_cuts_the_trial_in_flight_and_starts_no_other(storage):
    from tuning.runner.tool_context import TimeLimitReached
    from tuning.strategies._tools import run_trials

    ctx, clock = timed_context(storage, time_limit_s=10)
    started: list[str] = []

    def train(trial_id, values):
        started.append(values["key"])
        for epoch in range(4):
            clock.now += 2.0
            ctx.record_epoch(trial_id, epoch, {"loss": 1.0})
        return 0.5, {}, None, []

    with pytest.raises(TimeLimitReached, match="^time limit of 10 s reached after 10 s$"):
        run_trials(ctx, [(k, {"key": k}) for k in ("a", "b", "c")], train)
    assert started == ["a", "b"]  # b ran out at its epoch 1; c never started
    a, b = storage.list_trials(ctx.run_id)
    assert a.status is TrialStatus.COMPLETED
    assert b.status is TrialStatus.STOPPED and b.score is None and b.epochs_done == 1
    assert b.message == ("time limit of 10 s reached after 10 s: this trial was ended early "
                         "and is not scored")


def test_a_resumed_run_counts_the_time_it_already_spent(storage):
    from tuning.runner.tool_context import TimeLimitReached
    from tuning.strategies._tools import run_trials

    ctx, _ = timed_context(storage, time_limit_s=60, time_spent_s=61)
    with pytest.raises(TimeLimitReached, match="after 61 s"):
        run_trials(ctx, [("a", {})], lambda trial_id, values: (0.5, {}, None, []))
    assert storage.list_trials(ctx.run_id) == []


def test_executions_average_as_keras_tuner_does():
    from tuning.strategies._tools import average_executions

    first = (0.8, {"val_accuracy": 0.8, "loss": 0.5, "mean_epoch_time_s": 1.0,
                   "epochs_trained": 3, "param_count": 1000, "final_score": None},
             ["overfitting: why"])
    second = (0.6, {"val_accuracy": 0.6, "loss": 0.7, "mean_epoch_time_s": 2.0,
                    "epochs_trained": 2, "param_count": 1000, "final_score": 0.5},
              ["overfitting: why", "plateau"])
    score, metrics, flags = average_executions([first, second])
    assert score == pytest.approx(0.7)  # the mean of each execution's best epoch
    assert metrics["loss"] == pytest.approx(0.6)
    assert metrics["mean_epoch_time_s"] == pytest.approx(1.5)
    assert metrics["epochs_trained"] == 5  # summed, as the engine records it
    assert metrics["param_count"] == 1000 and isinstance(metrics["param_count"], int)
    assert metrics["final_score"] is None  # one execution had no finite value
    assert flags == ["overfitting: why", "plateau"]
    assert average_executions([first]) == first
