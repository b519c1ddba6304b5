"""Spec patches: conflicts, applying several, the field-by-field difference, and the
CLI's ``advise`` output (text and JSON)."""
from __future__ import annotations

import json
import math

import pytest

from tests.insights.test_advice_rules import svm_trials
from tests.support.advice_runs import SVM, stored_run
from tuning import cli
from tuning.insights.advice import (
    REMOVED,
    AdviceError,
    Change,
    Suggestion,
    advise_stored,
    apply_suggestions,
    conflicts,
    spec_diff,
)
from tuning.spec import validate_spec


def suggestion(*changes, title="s"):
    return Suggestion("test", title, ("e",), 0.5, "r", tuple(changes))


def test_suggestions_on_one_field_or_inside_it_conflict():
    a = suggestion(Change(("search_space", "C", "max"), 0.1, 1.0), title="a")
    b = suggestion(Change(("search_space", "C"), {}, {"type": "fixed", "value": 1}), title="b")
    c = suggestion(Change(("search_space", "C", "min"), 0.001, 0.0001), title="c")
    assert [(x.title, y.title, f) for x, y, f in conflicts([a, b, c])] == [
        ("a", "b", "search_space.C.max"), ("b", "c", "search_space.C")]
    assert conflicts([a, c]) == []


def test_apply_two_on_different_fields_and_refuse_a_clash():
    spec = validate_spec(SVM)
    wider = suggestion(Change(("search_space", "C", "max"), 0.1, 1.0))
    lower = suggestion(Change(("search_space", "C", "min"), 0.001, 0.0001))
    patched = apply_suggestions(spec, [wider, lower])
    assert (patched["search_space"]["C"]["min"], patched["search_space"]["C"]["max"]) == (1e-4, 1.0)
    assert patched["name"] == "iris svm (advised)"
    with pytest.raises(AdviceError, match="both change search_space.C.max"):
        apply_suggestions(spec, [wider, wider])


def test_a_patch_that_breaks_the_spec_is_refused_with_the_validator_message():
    bad = suggestion(Change(("search_space", "C", "min"), 0.001, -1.0))
    with pytest.raises(AdviceError, match="search_space.C.min must be > 0 when sampling is log"):
        apply_suggestions(validate_spec(SVM), [bad])


def test_spec_diff_lists_each_leaf_field():
    old = validate_spec(SVM)
    new = json.loads(json.dumps(old))
    new["search_space"]["gamma"] = {"type": "fixed", "value": "scale"}
    new["strategy"]["max_trials"] = 20
    rows = {c.field: (c.old, c.new) for c in spec_diff(old, new)}
    assert rows == {"search_space.gamma.type": ("choice", "fixed"),
                    "search_space.gamma.values": (["scale", "auto"], REMOVED),
                    "search_space.gamma.value": (REMOVED, "scale"),
                    "strategy.max_trials": (12, 20)}
    assert spec_diff(old, old) == []


def test_cli_advise_json_is_the_ranked_list(tmp_path, capsys):
    from storage import Storage

    db = tmp_path / "t.db"
    store = Storage(db)
    run = stored_run(store, SVM, svm_trials(lambda c, g, k: 0.5 + 0.4 * (math.log10(c) + 3) / 2))
    assert cli.main(["--db", str(db), "advise", str(run.id), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = advise_stored(store, run.id).to_json()
    assert doc == json.loads(json.dumps(expected))
    assert doc["finished_trials"] == 12 and doc["note"].startswith("12 finished trials")
    first = doc["suggestions"][0]
    assert set(first) >= {"rule", "title", "evidence", "confidence", "confidence_reason",
                          "patch", "chart"}
    assert first["patch"][0] == {"field": "search_space.C.max",
                                 "path": ["search_space", "C", "max"], "old": 0.1, "new": 1.0}
    assert cli.main(["--db", str(db), "advise", str(run.id)]) == 0
    text = capsys.readouterr().out
    assert "1. Widen C upwards" in text and "patch search_space.C.max: 0.1 -> 1.0" in text


def test_cli_advise_for_a_missing_run_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["--db", str(tmp_path / "t.db"), "advise", "99"]) == cli.EXIT_USAGE
    assert "99" in capsys.readouterr().err
