"""A user's own Python file (a model builder, a data loader): where it may live, how it
is imported, and how an error in it is told as the user's (their file, line, exception).

The dashboard process never imports a user's module: ``check_module_path`` only looks
at the path, and ``load_module`` runs in worker processes and in the short-lived
discovery process (``tuning.spec.discovery``). No TensorFlow here.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from .checker import Checker


class UserCodeError(Exception):
    """An error raised by (or found in) the user's own code. ``field`` is the spec field
    that names the code (``model.module``, ``model.build``, ``data.function``); ``where``
    is "their_file.py, line 12" (or the file alone); ``text`` the exception as they would
    read it ("ValueError: units must be positive")."""

    def __init__(self, field: str, where: str, text: str):
        self.field = field
        self.where = where
        self.text = text
        super().__init__(f"{field}: {where}: {text}" if where else f"{field}: {text}")


def check_module_path(c: Checker, field: str, path: Any) -> str | None:
    """A module path as a spec may name it: a ``.py`` file inside the data folders (see
    ``paths.data_roots``), which exists. Records a problem on ``c`` and returns None
    otherwise. Never imports the file."""
    from tuning.paths import resolve_spec_path, spec_path_problem

    if not isinstance(path, str) or not path.strip():
        c.fail(field, "is required: the path of your Python file, such as "
               "examples/models/digits_dense.py", path if path is not None else ...)
        return None
    if any(ord(ch) < 32 for ch in path):
        c.fail(field, "must be a file path without control characters", path)
        return None
    if not path.endswith(".py"):
        c.fail(field, "must be a Python file ending in .py", path)
        return None
    problem = spec_path_problem(path)
    if problem is not None:
        c.fail(field, problem, path)
        return None
    if not resolve_spec_path(path).is_file():
        c.fail(field, "does not exist; check the path (a relative path is taken from the "
               "project folder)", path)
        return None
    return path


def check_identifier(c: Checker, field: str, name: Any, what: str) -> str | None:
    if not isinstance(name, str) or not name.isidentifier():
        c.fail(field, f"must be the name of {what} in the module, such as build_model", name)
        return None
    return name


def load_module(path: str, field: str = "model.module") -> ModuleType:
    """Import the user's file under a name of its own (one module object per file and
    content); its folder is put on ``sys.path`` so it can import its neighbours. Any
    error (a syntax error, a failed import) is a ``UserCodeError`` naming their line."""
    real = _resolved(path)
    if not os.path.isfile(real):
        raise UserCodeError(field, path, f"no such file ({real}); a relative path is taken from "
                            "the project folder")
    digest = hashlib.sha256(real.encode()).hexdigest()[:12]
    name = f"tuning_user_{Path(real).stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    folder = os.path.dirname(real)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, real)
    if spec is None or spec.loader is None:
        raise UserCodeError(field, path, "is not a Python module that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a user's module may raise anything
        del sys.modules[name]
        raise as_user_error(exc, field, path) from None
    return module


def attribute(module: ModuleType, name: str, field: str, path: str, what: str) -> Any:
    """``module.name``, or a ``UserCodeError`` listing what the module does define."""
    if not hasattr(module, name):
        public = sorted(n for n, v in vars(module).items()
                        if callable(v) and not n.startswith("_")
                        and getattr(v, "__module__", None) == module.__name__)
        hint = ("; it defines " + ", ".join(public)) if public else ""
        raise UserCodeError(field, path, f"has no {what} named {name!r}{hint}")
    return getattr(module, name)


def where_in_user_code(exc: BaseException, path: str) -> str:
    """"file.py, line N, in function" for the deepest frame of ``exc``'s traceback that
    lies in the user's folder (their file or a neighbour it imports); the file alone when
    none does. A syntax error names the line it is on."""
    folder = os.path.dirname(_resolved(path))
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{_shown(exc.filename, path)}, line {exc.lineno}"
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.realpath(frame.filename).startswith(folder + os.sep):
            found = frame
    if found is None:
        return path
    return f"{_shown(found.filename, path)}, line {found.lineno}, in {found.name}"


def exception_text(exc: BaseException) -> str:
    """The exception's last line as Python prints it: "ValueError: message"."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1]}" if text else type(exc).__name__


def as_user_error(exc: BaseException, field: str, path: str) -> UserCodeError:
    if isinstance(exc, UserCodeError):
        return exc
    return UserCodeError(field, where_in_user_code(exc, path), exception_text(exc))


def _resolved(path: str) -> str:
    """Where the spec's path points (``paths.resolve_spec_path``: relative to the project)."""
    from tuning.paths import resolve_spec_path

    return str(resolve_spec_path(path))


def _shown(filename: str, path: str) -> str:
    """The file as the user named it: their spec's path for the module itself."""
    if os.path.realpath(filename) == _resolved(path):
        return path
    return os.path.relpath(filename) if not os.path.isabs(path) else filename
