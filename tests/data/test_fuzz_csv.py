"""Property-based: whatever file arrives, the CSV reader answers with a summary or a
``DataError`` naming ``data.path`` or ``data.target``, never another exception. Seeded
(``derandomize``), so CI sees the same cases each time."""
from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fuzz import case, report_fuzz_cases  # noqa: F401 (autouse)
from tuning.data import DataError, inspect_csv

FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=500,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
_names = itertools.count()

CELL = st.one_of(
    st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(repr),
    st.sampled_from(["", "NA", "nan", "inf", "-inf", "True", "false", '"', '""', "a,b", "=1+1",
                     "\ufeff", "\x00", "é", "1e999", "9" * 400, " ", "\t", "x" * 300]),
    st.text(max_size=6),
)
DELIMITER = st.sampled_from([",", ";", "\t", "|"])


@st.composite
def tables(draw) -> bytes:
    """Text files shaped like CSV: a header and rows of cells, ragged at times."""
    sep = draw(DELIMITER)
    width = draw(st.integers(1, 6))
    header = draw(st.lists(CELL, min_size=width, max_size=width))
    if draw(st.booleans()):
        header[-1] = "y"
    rows = draw(st.lists(st.lists(CELL, min_size=max(1, width - 1), max_size=width + 1),
                         max_size=30))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(sep.join(row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf-8")
                       else "replace")


FILES = st.one_of(tables(), st.binary(max_size=400),
                  st.tuples(tables(), st.binary(max_size=20), st.integers(0, 200)).map(
                      lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:]))


@FUZZ
@given(FILES, st.sampled_from([None, "y", "a", ""]), st.sampled_from(
    ["auto", "classification", "regression"]))
def test_any_file_gets_a_summary_or_a_data_error(tmp_path, content, target, task):
    case("test_any_file_gets_a_summary_or_a_data_error")
    # tmp_path is a data folder (conftest). A fresh name each time: the reader remembers
    # files by path, size and mtime.
    path = os.path.join(tmp_path, f"f{next(_names)}.csv")
    with open(path, "wb") as fh:
        fh.write(content)
    try:
        summary = inspect_csv(path, target or None, task)
    except DataError as exc:
        assert exc.field in ("data.path", "data.target", "data.task"), exc
        assert "must be a file inside" not in exc.message  # the file itself was judged
        str(exc).encode("utf-8")  # the message can always be shown
        return
    finally:
        os.remove(path)
    assert summary.rows >= 10 and len(summary.columns) >= 2
    assert len({c.name for c in summary.columns}) == len(summary.columns)
