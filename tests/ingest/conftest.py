"""Fixtures of the ingest tests: the watched KerasTuner examples, run once per session."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(__file__).resolve().parent / "watched_examples.py"


@pytest.fixture(scope="session")
def watched_examples(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """``watched_examples.py`` run in a subprocess (TensorFlow stays out of pytest).

    ``db``: the database it recorded into; ``report``: what KerasTuner itself said;
    ``stderr``: its error output; ``work``: the folder holding its project folders.
    """
    work = tmp_path_factory.mktemp("watched")
    db, report = work / "tuning.db", work / "report.json"
    result = subprocess.run([sys.executable, str(EXAMPLES), str(db), str(work), str(report)],
                            cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-4000:]
    return SimpleNamespace(db=db, report=json.loads(report.read_text()), stderr=result.stderr,
                           work=work)
