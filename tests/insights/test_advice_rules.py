"""Each advice rule fires on a run crafted to trigger it and stays silent on one crafted
not to; every patch a rule proposes validates and round-trips through the launch form."""
from __future__ import annotations

import math

import pytest

from storage import TrialStatus
from tests.support.advice_runs import MLP, SVM, accuracy_curve, rising, spec, stored_run, trial
from tuning.insights.advice import advise, advise_stored, apply_suggestions
from tuning.spec import validate_spec
from tuning.spec.form import form_from_spec, spec_from_form


def suggestions(store, run, rule=None):
    advice = advise_stored(store, run.id)
    found = [s for s in advice.suggestions if rule is None or s.rule == rule]
    for s in found:
        check_patch(run, s)
    return found


def check_patch(run, suggestion):
    """The patch applies to the run's spec, validates, and survives the launch form."""
    patched = apply_suggestions(run.spec, [suggestion])
    assert validate_spec(patched) == patched
    assert validate_spec(spec_from_form(form_from_spec(patched)).doc) == patched
    for c in suggestion.changes:
        node = patched
        for key in c.path[:-1]:
            node = node[key]
        if isinstance(c.new, dict):
            assert {k: node[c.path[-1]][k] for k in c.new} == c.new
        elif c.path[-1] in node and c.path[-1] != "step":
            assert node[c.path[-1]] == c.new
    assert 0 < suggestion.confidence <= 1 and suggestion.confidence_reason
    assert suggestion.title and suggestion.evidence


def svm_trials(score_of, n=12):
    out = []
    for i in range(n):
        c = 10 ** (-3 + 2 * ((i * 7) % n) / (n - 1))
        gamma, kernel = ("scale", "auto")[i % 2], ("rbf", "linear")[(i // 2) % 2]
        out.append(trial({"C": c, "gamma": gamma, "kernel": kernel}, score_of(c, gamma, kernel)))
    return out


# -- edge of range -----------------------------------------------------------------------


def test_edge_of_range_fires_when_the_best_sit_at_the_top(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.5 + 0.4 * (math.log10(c) + 3) / 2))
    [s] = suggestions(storage, run, "edge_of_range")
    assert s.changes[0].field == "search_space.C.max"
    assert s.changes[0].old == 0.1 and s.changes[0].new == 1.0  # a decade on a log scale
    assert "at 100% of the range" in s.evidence[0]
    assert s.chart.kind == "scatter" and len(s.chart.points) == 12


def test_edge_of_range_widens_downwards_by_half_the_width_on_a_linear_scale(storage):
    doc = spec(MLP, search_space={"units": {"type": "int", "min": 32, "max": 128, "step": 16},
                                  "learning_rate": {"type": "fixed", "value": 0.01}})
    trials = [trial({"units": u, "learning_rate": 0.01}, 0.9 - u / 1000)
              for u in (32, 128, 48, 96, 32, 64, 112, 48)]
    run = stored_run(storage, doc, trials)
    [s] = suggestions(storage, run, "edge_of_range")
    assert (s.changes[0].field, s.changes[0].new) == ("search_space.units.min", 1)


def test_edge_of_range_is_silent_when_the_best_sit_inside(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.9 - abs(math.log10(c) + 2) / 5))
    assert suggestions(storage, run, "edge_of_range") == []


# -- log sampling ------------------------------------------------------------------------


def linear_c_trials(score_of):
    return [trial({"C": c, "gamma": "scale", "kernel": "rbf"}, score_of(c))
            for c in (0.5, 12.0, 25.0, 40.0, 1.2, 55.0, 70.0, 2.0, 85.0, 99.0)]


LINEAR_C = spec(SVM, search_space={"C": {"type": "float", "min": 0.1, "max": 100.0},
                                   "gamma": {"type": "choice", "values": ["scale", "auto"]},
                                   "kernel": {"type": "fixed", "value": "rbf"}})


def test_log_sampling_fires_when_good_values_crowd_the_low_end(storage):
    run = stored_run(storage, LINEAR_C, linear_c_trials(lambda c: 0.95 - math.log10(c) / 10))
    [s] = suggestions(storage, run, "log_sampling")
    assert [(c.field, c.new) for c in s.changes] == [("search_space.C.sampling", "log")]
    assert "3.0 decades" in s.evidence[0]


def test_log_sampling_is_silent_when_good_values_are_high(storage):
    run = stored_run(storage, LINEAR_C, linear_c_trials(lambda c: 0.5 + c / 250))
    assert suggestions(storage, run, "log_sampling") == []


# -- importance --------------------------------------------------------------------------


def test_unimportant_and_most_important_fire_when_one_hyperparameter_drives_the_score(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.9 - abs(math.log10(c) + 2) / 4))
    [weak] = suggestions(storage, run, "unimportant")
    assert "search_space.gamma" in {c.field for c in weak.changes}
    assert all(c.new["type"] == "fixed" for c in weak.changes)
    [strong] = suggestions(storage, run, "most_important")
    assert strong.changes[0].path[:2] == ("search_space", "C")
    patched = apply_suggestions(run.spec, [strong])["search_space"]["C"]
    assert 0.001 < patched["min"] < patched["max"] < 0.1


def test_importance_rules_are_silent_when_every_hyperparameter_matters(storage):
    def score(c, gamma, kernel):
        return 0.6 + 0.1 * (gamma == "scale") + 0.1 * (kernel == "rbf") + 0.05 * (c > 0.01)
    run = stored_run(storage, SVM, svm_trials(score))
    assert suggestions(storage, run, "unimportant") == []
    assert suggestions(storage, run, "most_important") == []


# -- curves ------------------------------------------------------------------------------

OVERFIT = "overfitting: validation loss rose from 0.3 to 0.5 over epochs 2-6 while training loss fell"


def mlp_trials(flags_of=lambda i: None, n=8, curve_of=None):
    out = []
    for i in range(n):
        lr = 10 ** (-4 + 4 * i / (n - 1))
        curve = curve_of(i) if curve_of else accuracy_curve(rising(0.5, 0.8 + i / 100, 6, 3))
        out.append(trial({"units": 16 * (1 + i % 4), "learning_rate": lr}, 0.8 + i / 100,
                         accuracy_curve([r["val_accuracy"] for r in curve]) if curve_of is None
                         else curve, flags=flags_of(i)))
    return out


def test_overfitting_fires_on_the_best_trials(storage):
    run = stored_run(storage, MLP, mlp_trials(lambda i: [OVERFIT] if i >= 5 else []))
    [s] = suggestions(storage, run, "overfitting")
    fields = {c.field: c.new for c in s.changes}
    assert fields["training.early_stopping"]["monitor"] == "val_loss"
    assert fields["search_space.dropout"]["type"] == "float"


def test_overfitting_is_silent_when_only_weak_trials_overfit(storage):
    run = stored_run(storage, MLP, mlp_trials(lambda i: [OVERFIT] if i <= 2 else []))
    assert suggestions(storage, run, "overfitting") == []


def lr_run(storage, bad_flag, where):
    trials = []
    for i in range(8):
        lr = 10 ** (-4 + 4 * i / 7)
        bad = where(lr)
        trials.append(trial({"units": 32, "learning_rate": lr}, 0.3 if bad else 0.9 - i / 100,
                            flags=[f"{bad_flag}: made up"] if bad else []))
    return stored_run(storage, MLP, trials)


def test_divergence_fires_at_high_rates_and_lowers_the_top(storage):
    run = lr_run(storage, "divergence", lambda lr: lr > 0.1)
    [s] = suggestions(storage, run, "divergence")
    assert s.changes[0].field == "search_space.learning_rate.max"
    assert 0.1 < s.changes[0].new < 0.27


def test_divergence_is_silent_when_low_rates_diverge(storage):
    run = lr_run(storage, "divergence", lambda lr: lr < 0.001)
    assert suggestions(storage, run, "divergence") == []


def test_no_learning_fires_at_low_rates_and_raises_the_bottom(storage):
    run = lr_run(storage, "no learning", lambda lr: lr < 0.001)
    [s] = suggestions(storage, run, "no_learning")
    assert s.changes[0].field == "search_space.learning_rate.min"
    assert 0.0005 < s.changes[0].new < 0.01
    assert "lr_range_test" in s.evidence[-1]


def test_no_learning_is_silent_at_high_rates(storage):
    run = lr_run(storage, "no learning", lambda lr: lr > 0.1)
    assert suggestions(storage, run, "no_learning") == []


def test_still_improving_fires_when_the_best_curves_climb_at_the_end(storage):
    run = stored_run(storage, MLP, mlp_trials(
        curve_of=lambda i: accuracy_curve(rising(0.5, 0.8 + i / 100, 6, 1.0))))
    [s] = suggestions(storage, run, "still_improving")
    assert (s.changes[0].field, s.changes[0].old, s.changes[0].new) == ("training.epochs", 6, 12)


def test_still_improving_asks_hyperband_for_max_epochs(storage):
    doc = spec(MLP, strategy={"name": "hyperband", "max_epochs": 6, "factor": 3,
                              "max_trials": None})
    doc["strategy"].pop("max_trials")
    run = stored_run(storage, doc, mlp_trials(
        curve_of=lambda i: accuracy_curve(rising(0.5, 0.8 + i / 100, 6, 1.0))))
    [s] = suggestions(storage, run, "still_improving")
    assert (s.changes[0].field, s.changes[0].new) == ("strategy.max_epochs", 12)


def test_still_improving_is_silent_on_plateaus(storage):
    run = stored_run(storage, MLP, mlp_trials(
        curve_of=lambda i: accuracy_curve(rising(0.5, 0.8 + i / 100, 6, 4.0)[:4] + [0.79 + i / 100] * 2)))
    assert suggestions(storage, run, "still_improving") == []


# -- pruning -----------------------------------------------------------------------------


def test_pruning_fires_when_early_epochs_rank_the_trials(storage):
    order = [6, 5, 7, 0, 1, 2, 3, 8, 4, 9]
    trials = [trial({"units": 32, "learning_rate": 0.01}, 0.6 + q / 30,
                    accuracy_curve([0.3 + q / 30 + e / 30 for e in range(8)])) for q in order]
    run = stored_run(storage, spec(MLP, training={"epochs": 8}), trials)
    [s] = suggestions(storage, run, "pruning")
    assert s.changes[0].new == {"warmup_epochs": 2, "min_trials": 3}
    assert "never pruned" in s.evidence[1]


def test_pruning_is_silent_when_the_winner_starts_badly(storage):
    trials = [trial({"units": 32, "learning_rate": 0.01}, 0.6 + q / 30,
                    accuracy_curve([0.3 + q / 30 + e / 30 for e in range(8)]))
              for q in [3, 0, 5, 1, 7, 2, 6, 4]]
    late = [0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.97]  # the winner, worst at first
    trials.append(trial({"units": 64, "learning_rate": 0.01}, 0.97, accuracy_curve(late)))
    run = stored_run(storage, spec(MLP, training={"epochs": 8}), trials)
    assert suggestions(storage, run, "pruning") == []


# -- noise -------------------------------------------------------------------------------


def noisy_run(storage, spread):
    trials = [trial({"C": 0.05, "gamma": "scale", "kernel": "rbf"}, 0.9 - spread * (i % 3))
              for i in range(6)]
    trials += [trial({"C": 10 ** (-3 + i / 3), "gamma": "auto", "kernel": "linear"},
                     0.89 - i / 200) for i in range(5)]
    return stored_run(storage, SVM, trials)


def test_noise_fires_when_repeats_spread_more_than_the_leaders_gap(storage):
    run = noisy_run(storage, 0.05)
    [s] = suggestions(storage, run, "noise")
    assert (s.changes[0].field, s.changes[0].new) == ("strategy.cv_folds", 5)


def test_noise_asks_a_keras_run_for_more_executions(storage):
    trials = [trial({"units": 32, "learning_rate": 0.01}, 0.9 - 0.05 * (i % 3))
              for i in range(6)]
    run = stored_run(storage, MLP, trials)
    [s] = suggestions(storage, run, "noise")
    assert (s.changes[0].field, s.changes[0].new) == ("strategy.executions_per_trial", 3)


def test_noise_is_silent_when_repeats_agree(storage):
    run = noisy_run(storage, 0.0)
    assert suggestions(storage, run, "noise") == []


# -- budget ------------------------------------------------------------------------------


def budget_run(storage, scores):
    trials = [trial({"C": 10 ** (-3 + 2 * ((i * 7) % 12) / 11), "gamma": "scale",
                     "kernel": "rbf"}, s) for i, s in enumerate(scores)]
    return stored_run(storage, spec(SVM, strategy={"max_trials": len(scores)}), trials)


def test_budget_exhausted_when_the_best_came_early(storage):
    run = budget_run(storage, [0.7, 0.9, 0.8, 0.85, 0.6, 0.7, 0.8, 0.75, 0.82, 0.88, 0.7, 0.6])
    [s] = suggestions(storage, run, "budget_exhausted")
    assert (s.changes[0].field, s.changes[0].new) == ("strategy.max_trials", 8)


def test_budget_too_small_when_still_improving_steeply(storage):
    run = budget_run(storage, [0.5, 0.55, 0.52, 0.6, 0.58, 0.62, 0.61, 0.65, 0.7, 0.75, 0.8, 0.86])
    [s] = suggestions(storage, run, "budget_too_small")
    assert (s.changes[0].field, s.changes[0].new) == ("strategy.max_trials", 24)


def test_budget_is_silent_when_gains_stop_in_the_middle(storage):
    run = budget_run(storage, [0.5, 0.6, 0.55, 0.7, 0.65, 0.72, 0.8, 0.7, 0.75, 0.78, 0.6, 0.7])
    assert [s for s in suggestions(storage, run) if s.rule.startswith("budget")] == []


# -- architecture ------------------------------------------------------------------------


def arch_run(storage, widths):
    doc = spec(MLP, search_space={"units": {"type": "int", "min": 4, "max": 64, "step": 4},
                                  "num_layers": {"type": "int", "min": 1, "max": 2}})
    trials = [trial({"units": u, "num_layers": 2}, 0.5 + u / 200) for u in widths]
    return stored_run(storage, doc, trials)


def test_architecture_fires_when_bottlenecked_trials_score_worse(storage):
    run = arch_run(storage, [4, 8, 32, 48, 64, 4, 40])
    [s] = suggestions(storage, run, "architecture")
    assert (s.changes[0].field, s.changes[0].new) == ("search_space.units.min", 12)
    assert "[64, 64]" in s.evidence[1]


def test_architecture_is_silent_when_every_trial_is_healthy(storage):
    run = arch_run(storage, [16, 24, 32, 48, 64, 20, 40])
    assert suggestions(storage, run, "architecture") == []


def cnn_run(storage, blocks):
    doc = spec(MLP, name="digits cnn", model={"family": "cnn"},
               search_space={"conv_blocks": {"type": "int", "min": 1, "max": 5},
                             "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2,
                                               "sampling": "log"}})
    trials = [trial({"conv_blocks": b, "learning_rate": 1e-3}, 0.9 - 0.1 * max(0, b - 3)
                    + 0.01 * i) for i, b in enumerate(blocks)]
    return stored_run(storage, doc, trials)


def test_cnn_architecture_fires_when_blocks_that_see_one_pixel_score_worse(storage):
    run = cnn_run(storage, [1, 2, 4, 5, 3, 4, 2])  # digits are 8 x 8: block 4 sees 1 x 1
    [s] = suggestions(storage, run, "cnn_architecture")
    assert (s.changes[0].field, s.changes[0].new) == ("search_space.conv_blocks.max", 3)
    assert "too deep" in s.title and set(s.trials) == {"2", "3", "5"}


def test_cnn_architecture_is_silent_when_every_trial_is_healthy(storage):
    run = cnn_run(storage, [1, 2, 3, 2, 3, 1, 2])
    assert suggestions(storage, run, "cnn_architecture") == []
    assert suggestions(storage, arch_run(storage, [4, 8, 32, 48, 64, 4, 40]),
                       "cnn_architecture") == []  # an MLP's run is the other rule's


# -- race --------------------------------------------------------------------------------


def test_race_names_the_strategy_that_got_there_first(storage):
    slow = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.5 + c * 4))
    fast_trials = svm_trials(lambda c, g, k: 0.5 + c * 4)
    fast_trials.sort(key=lambda t: -t["score"])
    fast = stored_run(storage, spec(SVM, strategy={"name": "bayesian"}), fast_trials)
    [s] = suggestions(storage, slow, "race")
    assert s.changes[0].field == "strategy" and s.changes[0].new["name"] == "bayesian"
    assert s.changes[0].new["max_trials"] == 12
    assert suggestions(storage, fast, "race") == []


def test_race_is_silent_without_a_race(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.5 + c * 4))
    stored_run(storage, spec(SVM, data={"name": "wine"}, strategy={"name": "bayesian"}),
               svm_trials(lambda c, g, k: 0.5))
    assert suggestions(storage, run, "race") == []


# -- too little evidence and the ranking --------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2, 4])
def test_too_few_trials_say_so(storage, count):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.5 + c, n=12)[:count])
    advice = advise_stored(storage, run.id)
    assert advice.suggestions == ()
    assert advice.note.startswith(f"{count} finished trial")
    assert "nothing to say yet" in advice.note


def test_suggestions_are_ranked_by_weighted_confidence(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.5 + 0.4 * (math.log10(c) + 3) / 2))
    advice = advise(run, storage.list_trials(run.id), [])
    keys = [s.rank_key for s in advice.suggestions]
    assert len(keys) >= 2 and keys == sorted(keys, reverse=True)
    assert advice.note == f"12 finished trials: {len(keys)} suggestions."


def test_failed_and_running_trials_are_not_evidence(storage):
    trials = svm_trials(lambda c, g, k: 0.5 + c, n=12)[:4]
    trials += [trial({"C": 0.01, "gamma": "scale", "kernel": "rbf"}, None,
                     status=TrialStatus.FAILED, message="boom")] * 3
    run = stored_run(storage, SVM, trials)
    assert advise_stored(storage, run.id).note.startswith("4 finished trials")


# -- dead zone ---------------------------------------------------------------------------


def test_dead_zone_fires_when_every_trial_scores_the_same(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.3989))
    [s] = suggestions(storage, run, "dead_zone")
    assert {c.field: c.new for c in s.changes} == {"search_space.C.min": 0.0001,
                                                   "search_space.C.max": 1.0}
    assert [x for x in suggestions(storage, run) if x.rule.startswith("budget")] == []


def test_dead_zone_is_silent_when_scores_differ(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.3989 + c / 100))
    assert suggestions(storage, run, "dead_zone") == []
