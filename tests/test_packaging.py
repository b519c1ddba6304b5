"""The install: pyproject.toml's metadata against requirements.txt, and setup.py's build step
(the wheel moves storage/ under tuning._storage and the app under tuning/_bundle). Fast: the
full build-install-use check is .ci/install_check.py."""
from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _load_setup():
    spec = importlib.util.spec_from_file_location("tuning_setup", ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # setup() runs only under __main__
    return module


setup_py = _load_setup()


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([\w.]+)", requirement)
        assert match, f"{requirement!r} must be pinned exactly, as in requirements.txt"
        out[match[1].lower()] = match[2]
    return out


def test_base_and_lora_extra_together_are_exactly_requirements_txt():
    base, lora = pins(PROJECT["dependencies"]), pins(PROJECT["optional-dependencies"]["lora"])
    assert not base.keys() & lora.keys()
    assert {**base, **lora} == requirement_pins()
    assert set(lora) == {"keras-hub", "tensorflow-text", "sentencepiece"}


def test_lora_extra_names_what_the_lora_strategy_checks_for():
    from tuning.strategies import lora

    assert set(lora.EXTRA_PACKAGES.values()) == set(pins(PROJECT["optional-dependencies"]["lora"]))
    assert f"{PROJECT['name']}[lora]" in lora.INSTALL_HINT


def test_console_command_is_the_cli_main():
    assert PROJECT["scripts"] == {"tuning": "tuning.cli:main"}
    module, _, name = PROJECT["scripts"]["tuning"].partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"


def test_rewrite_moves_every_storage_import_form_used_under_the_private_name():
    source = ("from storage import Run\n"
              "def f():\n    from storage import (\n        Trial,\n    )\n"
              "from storage.errors import StorageError\n"
              "from storages import x\nfrom tuning.storage_helpers import y\n")
    out = setup_py.rewrite_storage_imports(source)
    assert out == ("from tuning._storage import Run\n"
                   "def f():\n    from tuning._storage import (\n        Trial,\n    )\n"
                   "from tuning._storage.errors import StorageError\n"
                   "from storages import x\nfrom tuning.storage_helpers import y\n")
    assert setup_py.storage_imports_left(out, "m.py") == []
    assert setup_py.rewrite_storage_imports(out) == out


@pytest.mark.parametrize("line", ["import storage", "import storage.errors as e",
                                  "import os, storage", "from storage import *"])
def test_imports_the_rewrite_does_not_cover_are_reported(line):
    left = setup_py.storage_imports_left(setup_py.rewrite_storage_imports(line + "\n"), "m.py")
    assert left == ([] if line.startswith("from ") else ["m.py:1"])


def test_relocate_builds_the_wheel_layout_and_leaves_no_top_level_storage(tmp_path):
    build_lib = tmp_path / "lib"
    for package in ("tuning", "storage"):
        (build_lib / package).mkdir(parents=True)
    (build_lib / "tuning" / "cli.py").write_text("from storage import Storage\n")
    (build_lib / "storage" / "__init__.py").write_text("from ._sqlite import Storage\n")
    setup_py.relocate(build_lib)
    package = build_lib / "tuning"
    assert sorted(p.name for p in build_lib.iterdir()) == ["tuning"]
    assert (package / "cli.py").read_text() == "from tuning._storage import Storage\n"
    assert (package / "_storage" / "__init__.py").read_text() == "from ._sqlite import Storage\n"
    bundle = package / "_bundle"
    assert (bundle / "app.py").is_file() and (bundle / "pages" / "launch.py").is_file()
    assert (bundle / "examples" / "iris_svm_random.json").is_file()
    assert (bundle / "examples" / "data" / "houses.csv").is_file()
    assert "from tuning._storage import" in (bundle / "pages" / "_common.py").read_text()


def test_every_import_of_storage_in_the_shipped_tree_is_one_the_build_rewrites():
    shipped = [*ROOT.glob("tuning/**/*.py"), *ROOT.glob("storage/**/*.py"), ROOT / "app.py",
               *ROOT.glob("pages/*.py"), *ROOT.glob("examples/**/*.py")]
    left = []
    for path in shipped:
        text = setup_py.rewrite_storage_imports(path.read_text(encoding="utf-8"))
        left += setup_py.storage_imports_left(text, str(path.relative_to(ROOT)))
    assert left == []


def test_sdist_manifest_carries_what_the_build_moves_into_the_wheel():
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    for name in setup_py.BUNDLE:
        assert name in manifest
    assert sys.version_info >= tuple(int(p) for p in PROJECT["requires-python"][2:].split("."))
