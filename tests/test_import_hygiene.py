"""What the dashboard process may import, checked once for the whole tree.

1. Everything ``app.py`` and ``pages/*.py`` import (every import statement, those inside
   functions too), imported in a clean interpreter, leaves TensorFlow, Keras, KerasTuner
   and scikit-learn unloaded, and every module that only worker processes import. What
   the launch page then does with its input (validate the example specs, inspect a CSV)
   loads none of them either, except scikit-learn: validating a scikit-learn spec reads
   the estimator's parameters (``tuning.spec.space``). A failure names the import chain.
2. No file under ``tuning/`` or ``storage/`` imports Streamlit.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_FILES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
HEAVY = ("tensorflow", "keras", "keras_tuner", "sklearn")
ALLOWED_WHEN_VALIDATING = ("sklearn",)
# Modules that only worker processes import (each says so): they train or drive KerasTuner.
WORKER_ONLY = ("tuning.runner.executor", "tuning.runner.recording", "tuning.runner.models",
               "tuning.runner.distributed", "tuning.runner.kt_compat", "tuning.runner.worker",
               "tuning.ingest.watched",
               "tuning.strategies.oracles", "tuning.worker")
NO_STREAMLIT = ("tuning", "storage")

# Runs in a fresh interpreter: argv[1] is the JSON list of [where, module, names] to
# import, argv[2] the forbidden modules. A meta-path finder that finds nothing notes, for
# the first import of each forbidden module, which modules (and functions) were running:
# the import chain. Prints what was loaded after the imports and after the page's work.
PROBE = r'''
import importlib, json, sys

FORBIDDEN = set(json.loads(sys.argv[2]))
chains, where = {}, [None]


def forbidden(name):
    root = name.partition(".")[0]
    return name if name in FORBIDDEN else root if root in FORBIDDEN else None


class Spy:
    def find_spec(self, name, path=None, target=None):
        key = forbidden(name)
        if key and key not in chains:
            chain, frame = [], sys._getframe(1)
            while frame is not None:
                module = frame.f_globals.get("__name__")
                code = frame.f_code
                if not code.co_filename.startswith("<") and module not in ("__main__", "importlib"):
                    step = module if code.co_name == "<module>" else f"{module}.{code.co_name}()"
                    if not chain or chain[-1] != step:
                        chain.append(step)
                frame = frame.f_back
            chains[key] = [where[0], *reversed(chain), name]
        return None


sys.meta_path.insert(0, Spy())
for label, module, names in json.loads(sys.argv[1]):
    where[0] = label
    imported = importlib.import_module(module)
    for name in names:  # "from a import b": b may be a submodule
        if not hasattr(imported, name):
            importlib.import_module(f"{module}.{name}")
after_imports = sorted(m for m in sys.modules if forbidden(m) == m)

where[0] = "the launch page validating examples/*.json"
from pathlib import Path
from tuning.spec import SpecError, load_spec_file
for path in sorted(Path("examples").glob("*.json")):
    try:
        load_spec_file(path)
    except SpecError:
        pass
where[0] = "the launch page inspecting a CSV"
from tuning.data import inspect_csv
inspect_csv("examples/data/houses.csv", "price")

after_work = sorted(m for m in sys.modules if forbidden(m) == m)
print(json.dumps({"after_imports": after_imports, "after_work": after_work, "chains": chains}))
'''


def imports_of(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import statement in ``path``, nested ones too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            module = node.module or ""
            if node.level:  # relative to the file's package
                parts = path.relative_to(ROOT).parent.parts
                module = ".".join([*parts[:len(parts) - node.level + 1], module]).strip(".")
            out.append((node.lineno, module, [a.name for a in node.names if a.name != "*"]))
    return sorted(out)


def test_the_dashboard_imports_no_tensorflow_keras_tuner_sklearn_nor_worker_modules():
    wanted = [[f"{path.relative_to(ROOT)}:{line} imports {module}", module, names]
              for path in DASHBOARD_FILES for line, module, names in imports_of(path)]
    assert any(m == "tuning.runner.engine" for _, m, _ in wanted), \
        "the static scan missed the engine import inside pages/_common.py"
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(wanted),
                           json.dumps([*HEAVY, *WORKER_ONLY])],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = sorted(set(result["after_imports"]) | {
        m for m in result["after_work"] if m not in ALLOWED_WHEN_VALIDATING})
    chains = "\n".join(f"  {name}: " + " -> ".join(str(step) for step in result["chains"][name])
                       for name in loaded if name in result["chains"])
    assert not loaded, (f"the dashboard process loads {loaded}; only worker processes may. "
                        f"Import chains:\n{chains}")


def streamlit_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                    "import_module", "__import__"):
            names = [str(node.args[0].value)]
        found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}" for name in names
                  if name.partition(".")[0] == "streamlit"]
    return found


def test_nothing_under_tuning_or_storage_imports_streamlit():
    files = [p for folder in NO_STREAMLIT for p in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 20, files
    offenders = [hit for path in files for hit in streamlit_imports(path)]
    assert not offenders, "only app.py and pages/ may import streamlit:\n" + "\n".join(offenders)
