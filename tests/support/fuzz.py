"""Counting a hypothesis test's cases for the fault catalogue (``bench/bench_faults.py``
reads the ``fuzz cases:`` line each fuzz test prints when it ends)."""
from __future__ import annotations

from collections import Counter

import pytest

CASES: Counter[str] = Counter()


def case(test: str) -> None:
    """Count one generated case of ``test`` (call it first thing in the test's body)."""
    CASES[test] += 1


@pytest.fixture(autouse=True)
def report_fuzz_cases(request):
    """After each test of a module that imports this fixture, print how many cases it ran."""
    name = request.node.originalname
    before = CASES[name]
    yield
    if CASES[name] > before:
        doc = (request.node.function.__doc__ or name.replace("_", " ")).strip().splitlines()[0]
        print(f"fuzz cases: {CASES[name] - before} ({doc})")
