"""The search-space table: rows and the space they describe, both ways."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tuning.spec import validate_spec
from tuning.spec.space_table import (
    parse_value,
    rows_frame,
    space_from_rows,
    space_to_rows,
    with_template,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def example_space(path: Path) -> dict:
    doc = json.loads(path.read_text())
    if doc["data"].get("path"):
        doc["data"]["path"] = str(path.parent / doc["data"]["path"].removeprefix("examples/"))
    return validate_spec(doc)["search_space"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_space_survives_the_editor_frame(example):
    """The page hands the table editor a frame and reads one back, NaN for empty cells."""
    space = example_space(example)
    frame = rows_frame(space_to_rows(space))
    assert space_from_rows(frame.to_dict("records")) == (space, [])
    assert space_from_rows(frame) == (space, [])


def test_rows_show_each_type_of_hyperparameter():
    rows = space_to_rows({
        "lr": {"type": "float", "min": 1e-4, "max": 0.1, "sampling": "log", "default": 0.01},
        "units": {"type": "int", "min": 16, "max": 64, "step": 16},
        "act": {"type": "choice", "values": ["relu", "tanh"]},
        "flag": {"type": "choice", "values": [True, False]},
        "layers": {"type": "fixed", "value": 2}})
    by_name = {r["name"]: r for r in rows}
    assert by_name["lr"]["sampling"] == "log" and by_name["lr"]["default"] == "0.01"
    assert by_name["units"]["sampling"] == "linear" and by_name["units"]["step"] == 16
    assert by_name["act"]["values"] == "relu, tanh" and by_name["act"]["sampling"] is None
    assert by_name["flag"]["values"] == "true, false"
    assert by_name["layers"]["values"] == "2" and by_name["layers"]["default"] is None


def test_rows_parse_choices_ranges_and_defaults():
    space, problems = space_from_rows([
        {"name": " C ", "type": "choice", "values": "0.1, 1, 10, true, rbf", "default": "1"},
        {"name": "n", "type": "int", "min": 2.0, "max": 8.0, "step": float("nan"),
         "sampling": None},
        {"name": "x", "type": "fixed", "values": "abc"}])
    assert problems == []
    assert space["C"] == {"type": "choice", "values": [0.1, 1, 10, True, "rbf"], "default": 1}
    assert space["n"] == {"type": "int", "min": 2, "max": 8, "sampling": "linear"}
    assert isinstance(space["n"]["min"], int)
    assert space["x"] == {"type": "fixed", "value": "abc"}


def test_rows_without_a_name_or_with_a_name_twice_are_the_tables_problems():
    space, problems = space_from_rows([
        {"name": "C", "type": "float", "min": 1, "max": 2},
        {"name": "", "type": "int", "min": 1},
        {"name": None},  # an empty row added and left empty: ignored
        {"name": "C", "type": "int", "min": 3, "max": 4}])
    assert list(space) == ["C"] and space["C"]["type"] == "float"
    assert [(p.field, p.message) for p in problems] == [
        ("search_space", "row 2 needs a name"),
        ("search_space.C", "is defined twice (row 4); remove one row")]


@pytest.mark.parametrize("text, value", [("32", 32), ("0.5", 0.5), ("1e-05", 1e-05),
                                          ("TRUE", True), ("false", False), (" rbf ", "rbf"),
                                          ("inf", "inf"), ("nan", "nan")])
def test_a_cell_is_a_number_a_boolean_or_text(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_choice_values_survive_the_table_property():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    scalars = st.one_of(
        st.integers(-10**6, 10**6), st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
        st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(
            lambda s: s not in ("true", "false")))

    @hypothesis.given(st.lists(scalars, min_size=1, max_size=6))
    @hypothesis.settings(max_examples=200, deadline=None)
    def check(values):
        space = {"hp": {"type": "choice", "values": values}}
        back, problems = space_from_rows(rows_frame(space_to_rows(space)))
        assert problems == []
        assert back == space
        assert [type(v) for v in back["hp"]["values"]] == [type(v) for v in values]

    check()


def test_a_template_replaces_depth_and_width_only():
    space = {"units": {"type": "int", "min": 8, "max": 16}, "units_0": {"type": "fixed", "value": 8},
             "dropout": {"type": "float", "min": 0.0, "max": 0.5}}
    template = {"num_layers": {"type": "fixed", "value": 2},
                "units_1": {"type": "fixed", "value": 32}}
    assert with_template(space, template) == {"dropout": space["dropout"], **template}


def test_nan_in_number_cells_is_no_value():
    space, _ = space_from_rows([{"name": "lr", "type": "float", "min": 0.1, "max": math.nan}])
    assert space["lr"] == {"type": "float", "min": 0.1, "sampling": "linear"}
