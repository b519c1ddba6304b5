"""Property-based: whatever document or text arrives, the validator answers with a normalised
spec or a ``SpecError`` naming fields, never another exception, and a refused spec stores
nothing. Seeded (``derandomize``), so CI sees the same cases each time."""
from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import Storage
from tests.faults.kit import db_fingerprint
from tests.support.fuzz import case, report_fuzz_cases  # noqa: F401 (autouse)
from tuning import cli
from tuning.spec import SpecError, parse_spec_text, validate_spec

# 700 cases a suite (2,100 in all, and 60 more through the CLI and a database).
FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=700,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID = [
    {"name": "knn", "seed": 1, "data": {"source": "sklearn", "name": "iris"},
     "model": {"family": "knn"},
     "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 9},
                      "weights": {"type": "choice", "values": ["uniform", "distance"]}},
     "strategy": {"name": "random", "max_trials": 3}},
    {"name": "mlp", "data": {"source": "sklearn", "name": "digits"}, "model": {"family": "mlp"},
     "search_space": {"units": {"type": "int", "min": 8, "max": 32, "step": 8},
                      "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2,
                                        "sampling": "log"}},
     "strategy": {"name": "hyperband", "max_epochs": 4}, "training": {"batch_size": 32}},
    {"name": "grid", "data": {"source": "sklearn", "name": "wine"}, "model": {"family": "svm"},
     "search_space": {"C": {"type": "float", "min": 0.1, "max": 1.0, "step": 0.3}},
     "strategy": {"name": "grid"}, "time_limit_s": 60},
]

EDGE_TEXT = st.sampled_from(["", " ", "\ud800", "a\udfffb", "\x00", "\n", "<b>", "=1+1",
                             "x" * 200, "random", "grid", "int", "choice", "log", "csv"])
EDGE_NUMBERS = st.sampled_from([0, -1, 1, 2**31, 2**53, 2**53 + 1, 10**400, -10**400,
                                float("nan"), float("inf"), -0.0, 1e308, 5e-324, 0.5, 3.0])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | EDGE_NUMBERS
           | st.text(max_size=12) | EDGE_TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8) | EDGE_TEXT, inner, max_size=4),
                      max_leaves=8)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, prefix + (key,))
    return out


@st.composite
def mutated_specs(draw) -> Any:
    """A valid spec with one to three fields replaced, added or deleted."""
    doc = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.integers(0, 5)) == 0:
            parent.pop(path[-1], None)
        elif draw(st.booleans()):
            parent[path[-1]] = draw(VALUES)
        elif isinstance(parent.get(path[-1]), dict):
            parent[path[-1]][draw(st.text(max_size=10) | EDGE_TEXT)] = draw(VALUES)
    return doc


def _check_answer(doc: Any) -> None:
    try:
        spec = validate_spec(doc)
    except SpecError as exc:
        assert exc.problems and all(p.field for p in exc.problems)
        str(exc).encode("utf-8")  # a message can always be printed and stored
        return
    json.dumps(spec, allow_nan=False).encode("utf-8")


@FUZZ
@given(mutated_specs())
def test_mutated_specs_get_a_spec_or_a_spec_error(doc):
    case("test_mutated_specs_get_a_spec_or_a_spec_error")
    _check_answer(doc)


@FUZZ
@given(VALUES)
def test_arbitrary_documents_get_a_spec_or_a_spec_error(doc):
    case("test_arbitrary_documents_get_a_spec_or_a_spec_error")
    _check_answer(doc)


TEXT_PIECES = st.sampled_from(['{', '}', '[', ']', ',', ':', '"seed"', '"name"', "NaN",
                               "Infinity", "-", "1e999", "9" * 1200, '"\\ud800"', "null",
                               " ", "\n", "tru", "0x1", '"', "\\"])


@FUZZ
@given(st.one_of(
    mutated_specs().map(lambda d: json.dumps(d)),
    st.lists(TEXT_PIECES, max_size=30).map("".join),
    st.tuples(mutated_specs(), st.integers(0, 400), st.text(max_size=5)).map(
        lambda t: (lambda s: s[:t[1]] + t[2] + s[t[1]:])(json.dumps(t[0]))),
))
def test_spec_text_gets_a_value_or_a_spec_error(text):
    case("test_spec_text_gets_a_value_or_a_spec_error")
    try:
        doc = parse_spec_text(text)
    except SpecError as exc:
        assert [p.field for p in exc.problems] == ["spec"] or exc.problems
        str(exc).encode("utf-8")
        return
    _check_answer(doc)


@settings(FUZZ, max_examples=60)
@given(mutated_specs())
def test_a_refused_spec_changes_nothing_stored(tmp_path_factory, doc):
    case("test_a_refused_spec_changes_nothing_stored")
    try:
        validate_spec(copy.deepcopy(doc))
    except SpecError:
        pass
    else:
        return  # only refusals here: an accepted spec would start a run
    folder = tmp_path_factory.mktemp("fuzz")
    db = folder / "tuning.db"
    store = Storage(db)
    store.create_run("earlier", validate_spec(copy.deepcopy(VALID[0])))
    store.close()
    before = db_fingerprint(db)
    spec = folder / "spec.json"
    spec.write_text(json.dumps(doc), encoding="utf-8")
    assert cli.main(["--db", str(db), "run", str(spec)]) == 2
    assert db_fingerprint(db) == before
