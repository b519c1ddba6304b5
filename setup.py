"""Build hook: a wheel carries the dashboard and the storage layer inside the ``tuning`` package.

The metadata lives in pyproject.toml; this file only adds one step to ``build_py``.

A checkout keeps ``app.py``, ``pages/``, ``examples/`` and ``storage/`` at its top level, where
``python -m tuning``, ``streamlit run app.py`` and the tests use them. An installed wheel must not
claim generic top-level import names (``storage``, ``pages``) in a user's environment, so the
wheel's build writes

    storage/**.py                  -> tuning/_storage/**.py
    app.py, pages/**, examples/**  -> tuning/_bundle/...   (``tuning.paths.BUNDLE``)

and rewrites each ``from storage[.x] import`` into ``from tuning._storage[.x] import``. The
build fails if any other import of ``storage`` is left. The bundle's ``pages`` is imported only
by the dashboard process, where Streamlit puts the main script's folder (the bundle) on
``sys.path``. An editable install (``pip install -e .``) keeps the checkout's layout as it is.
"""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py
from setuptools.command.egg_info import egg_info as _egg_info

HERE = Path(__file__).resolve().parent
PRIVATE_STORAGE = "tuning._storage"
BUNDLE = ("app.py", "pages", "examples")
_FROM_STORAGE = re.compile(r"^(\s*)from storage(\.[\w.]+)? import ", re.MULTILINE)


def rewrite_storage_imports(source: str) -> str:
    return _FROM_STORAGE.sub(rf"\1from {PRIVATE_STORAGE}\2 import ", source)


def storage_imports_left(source: str, filename: str) -> list[str]:
    """``file:line`` of every absolute import of the top-level ``storage`` still in ``source``."""
    left = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "storage" or name.startswith("storage.") for name in names):
            left.append(f"{filename}:{node.lineno}")
    return left


def relocate(build_lib: Path, source_root: Path = HERE) -> None:
    """Turn the checkout's layout, as ``build_py`` copied it into ``build_lib``, into the wheel's."""
    package = build_lib / "tuning"
    private = package / "_storage"
    shutil.rmtree(private, ignore_errors=True)
    shutil.move(str(build_lib / "storage"), str(private))
    bundle = package / "_bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    bundle.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUNDLE:
        src = source_root / name
        if src.is_dir():
            shutil.copytree(src, bundle / name, ignore=ignore)
        else:
            shutil.copy2(src, bundle / name)
    left = []
    for path in sorted(package.rglob("*.py")):
        text = rewrite_storage_imports(path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")
        left += storage_imports_left(text, str(path.relative_to(build_lib)))
    if left:
        raise SystemExit("imports of the top-level storage package the build cannot rewrite "
                         f"(use 'from storage import ...'): {', '.join(left)}")


class build_py(_build_py):
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            relocate(Path(self.build_lib))


class egg_info(_egg_info):
    def run(self) -> None:
        super().run()
        # The metadata names the wheel's one top-level package, not the checkout's two.
        Path(self.egg_info, "top_level.txt").write_text("tuning\n", encoding="utf-8")


if __name__ == "__main__":
    setup(cmdclass={"build_py": build_py, "egg_info": egg_info})
