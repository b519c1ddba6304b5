"""The lora strategy without the optional ``lora`` extra: it refuses at validation (and in the
worker) with the install command, and finds the packages without importing them."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tuning.spec import SpecError, validate_spec
from tuning.strategies import lora

SPEC = Path(__file__).resolve().parents[2] / "examples" / "tiny_gemma_lora.json"


@pytest.fixture
def extra_missing(monkeypatch):
    monkeypatch.setattr(lora, "EXTRA_PACKAGES", {"json": "json", "no_such_module_q7": "keras-hub",
                                                 "no_such_module_q8": "tensorflow-text"})


def test_missing_packages_are_found_without_importing(monkeypatch):
    monkeypatch.setattr(lora, "EXTRA_PACKAGES", {"no_such_module_q7": "keras-hub",
                                                 "tuning.cli": "tuning"})
    sys.modules.pop("tuning.cli", None)
    assert lora.missing_packages() == ["keras-hub"]
    assert "tuning.cli" not in sys.modules


def test_validation_refuses_a_lora_spec_and_names_the_extra(extra_missing):
    with pytest.raises(SpecError) as exc:
        validate_spec(json.loads(SPEC.read_text()))
    assert [str(p) for p in exc.value.problems] == [
        "strategy.name lora needs the optional lora extra, and keras-hub, tensorflow-text are not "
        "installed; install it with pip install 'tuning-dashboard[lora]' (or pip install -r "
        "requirements.txt in a checkout); got 'lora'"]


def test_the_worker_refuses_too(extra_missing):
    with pytest.raises(RuntimeError, match=r"pip install 'tuning-dashboard\[lora\]'"):
        lora.run(None)
