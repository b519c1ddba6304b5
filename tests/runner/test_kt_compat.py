"""Each use of KerasTuner's private API in ``tuning/runner/kt_compat.py``, pinned.

The checks (``kt_compat_checks.py``) run in one subprocess, so TensorFlow stays out of
pytest; each becomes a test here that names what changed, so a KerasTuner upgrade
that breaks one says which entry to update.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runner.kt_compat_checks import CHECKS, COMPAT, ROOT

SCRIPT = Path(__file__).resolve().parent / "kt_compat_checks.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("kt_compat")
    out = work / "report.json"
    done = subprocess.run([sys.executable, str(SCRIPT), str(work), str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_keras_tuner_still_has_what_kt_compat_relies_on(report, check):
    assert check.name in report["problems"], f"{check.name} did not run"
    problem = report["problems"][check.name]
    if problem is not None:
        pytest.fail(f"KerasTuner {report['version']} changed {check.thing} ({check.module} "
                    f"{check.entry} relies on this: {check.relied}); update "
                    f"{Path(check.module).stem}.\n{problem}", pytrace=False)


def test_every_kt_compat_name_is_pinned():
    """A new entry in kt_compat comes with its check."""
    import ast

    tree = ast.parse((ROOT / COMPAT).read_text(encoding="utf-8"))
    public = {node.name for node in tree.body
              if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")}
    pinned = {name.strip() for c in CHECKS if c.module == COMPAT for name in c.entry.split(",")}
    assert public <= pinned, f"kt_compat entries without a check: {sorted(public - pinned)}"
