"""tuning.formatting: how numbers read on every surface."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tuning.formatting import fmt_duration, fmt_number, fmt_score, rounded


def test_float_noise_is_gone_and_precision_is_sensible():
    assert fmt_number(0.1 + 0.2) == "0.3"
    assert fmt_number(0.30000000000000004) == "0.3"
    assert fmt_number(np.float64(0.1) * 3) == "0.3"
    assert fmt_number(0.0031622776601683794) == "0.00316228"
    assert fmt_number(1e-5) == "1e-05"
    assert fmt_number(128.0) == "128" and fmt_number(128) == "128"
    assert fmt_number(True) == "True" and fmt_number("relu") == "relu"
    assert fmt_number(None) == fmt_number(math.nan) == "–"
    assert fmt_score(0.912345678) == "0.9123" and fmt_score(None) == "–"


def test_durations_read_as_a_person_says_them():
    assert [fmt_duration(s) for s in (None, 4.4, 65, 3600 * 2 + 7 * 60, 86400 * 3 + 3600 * 4)] \
        == ["–", "4s", "1m 05s", "2h 07m", "3d 04h"]


def test_rounded_keeps_numbers_numbers_inside_mappings():
    assert rounded({"dropout": 0.1 + 0.2, "units": 64, "act": "relu", "l": [0.1 + 0.2]}) == \
        {"dropout": 0.3, "units": 64, "act": "relu", "l": [0.3]}


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_formatted_float_reads_back_within_its_precision(value):
    back = float(fmt_number(value))
    assert math.isclose(back, value, rel_tol=1e-5, abs_tol=0.0)
