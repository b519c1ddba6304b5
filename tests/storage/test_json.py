"""storage.plain_json and storage.frozen_json: the one conversion of stored JSON values."""
from __future__ import annotations

import json
from types import MappingProxyType

import numpy as np
import pytest

from storage import frozen_json, plain_json


def test_plain_json_thaws_frozen_values_and_casts_what_json_lacks():
    frozen = MappingProxyType({
        "space": MappingProxyType({"units": MappingProxyType({"values": (16, 32)})}),
        "scores": (np.float64(0.5), np.float32(0.25), np.int64(3), np.bool_(True)),
        "bad": (float("nan"), float("inf"), np.float64("-inf"), np.float32("nan")),
        "text": np.str_("relu"), "none": None, "list": [1, (2, 3)],
    })
    plain = plain_json(frozen)
    assert plain == {"space": {"units": {"values": [16, 32]}}, "scores": [0.5, 0.25, 3, True],
                     "bad": [None, None, None, None], "text": "relu", "none": None,
                     "list": [1, [2, 3]]}
    assert type(plain["space"]) is dict and type(plain["space"]["units"]["values"]) is list
    assert [type(v) for v in plain["scores"]] == [float, float, int, bool]
    json.dumps(plain, allow_nan=False)  # nothing left that strict JSON refuses


def test_plain_json_keeps_keys_and_leaves_other_objects_for_json_to_refuse():
    assert plain_json({1: "a"}) == {1: "a"}
    assert json.dumps({"x": np.int64(2)}, default=plain_json) == '{"x": 2}'
    with pytest.raises((TypeError, ValueError)):
        json.dumps({"x": {1, 2}}, default=plain_json)


def test_frozen_json_is_read_only_and_plain_json_undoes_it():
    value = {"a": [1, {"b": [2]}], "c": "d"}
    frozen = frozen_json(value)
    assert isinstance(frozen, MappingProxyType) and frozen["a"] == (1, MappingProxyType({"b": (2,)}))
    with pytest.raises(TypeError):
        frozen["a"] = 1
    assert plain_json(frozen) == value
