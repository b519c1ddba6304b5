"""``tuning dashboard``: start the Streamlit app from any folder.

The app is the checkout's ``app.py``, or the copy an installed wheel carries
(``tuning.paths.PROJECT_ROOT``). Streamlit reads ``.streamlit/config.toml`` only from the
current folder and the user's home, so the settings of the checkout's file go on the command
line: an installed dashboard started anywhere is as locked down as ``make run``'s.

The server process imports what the pages import on a thread once Streamlit is imported
(``start_warm_up``), so the first page after a start does not wait for them (scikit-learn
alone takes seconds): a first visit 3 s after the start took 6.4 s in a fresh browser on the
two-core machine, 3.7 to 4.3 s with them imported ahead. A script run that starts during the
warm-up waits for it (``wait_for_warm_up``, first thing in app.py): two threads importing
the same packages at once can see a half-initialised module.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Mapping

from .paths import PROJECT_ROOT, default_db_path

APP = PROJECT_ROOT / "app.py"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
# .streamlit/config.toml's settings but the address and the port, which are options here
# (tests/test_dashboard_cli.py checks that the two agree).
SETTINGS: Mapping[str, str] = {
    "server.headless": "true",
    "server.maxUploadSize": "50",
    "server.enableXsrfProtection": "true",
    "server.runOnSave": "false",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "none",
}


# Beside what the pages import: the launch form's default network is checked against a
# bundled scikit-learn data set, read in the dashboard's process.
ALSO_WARM = ("sklearn.datasets",)
# The server process: Streamlit imported (with pandas and Plotly), the warm-up started on a
# thread, then Streamlit's own command line as ``python -m streamlit`` runs it (``run APP
# FLAGS`` follow on the command line). Streamlit is imported by this snippet in that
# process, never by a module of ``tuning``.
SERVER = ("import runpy, streamlit.web.cli; from tuning.dashboard import start_warm_up; "
          "start_warm_up(); runpy.run_module('streamlit', run_name='__main__', alter_sys=True)")
WARM_UP_WAIT_S = 120.0
_warm_up: threading.Thread | None = None


def page_imports() -> dict[str, list[str]]:
    """What ``app.py`` and the pages import of ours, read from their source: each module
    with the names imported from it (``from tuning import catalog``: a submodule)."""
    found: dict[str, list[str]] = {}
    for path in [APP, *sorted((APP.parent / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                pairs = [(node.module, [a.name for a in node.names])]
            elif isinstance(node, ast.Import):
                pairs = [(a.name, []) for a in node.names]
            else:
                continue
            for module, names in pairs:
                if module.partition(".")[0] in ("tuning", "storage"):
                    known = found.setdefault(module, [])
                    known += [n for n in names if n not in known]
    return found


def warm_imports() -> list[str]:
    """Import what the pages will (``page_imports``, then ``ALSO_WARM``); returns what
    failed. Never TensorFlow, Keras or KerasTuner (tests/test_import_hygiene.py)."""
    failed = []
    wanted = [*page_imports().items(), *((name, []) for name in ALSO_WARM)]
    for module, names in wanted:
        try:
            imported = importlib.import_module(module)
            for name in names:
                if not hasattr(imported, name):
                    importlib.import_module(f"{module}.{name}")
        except Exception:  # noqa: BLE001 - a warm-up never stops the server; the page reports it
            failed.append(module)
    return failed


def start_warm_up() -> threading.Thread:
    """``warm_imports`` on a daemon thread of this process (the server's)."""
    global _warm_up
    _warm_up = threading.Thread(target=warm_imports, name="tuning-warm-up", daemon=True)
    _warm_up.start()
    return _warm_up


def wait_for_warm_up() -> None:
    """Block until the warm-up, if this process started one, has ended."""
    if _warm_up is not None and _warm_up is not threading.current_thread():
        _warm_up.join(WARM_UP_WAIT_S)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="start the dashboard (a local web server)",
                       description="Start the dashboard (Streamlit) on HOST:PORT.")
    # SUPPRESS: `tuning --db X dashboard` keeps X unless this one is given.
    p.add_argument("--db", default=argparse.SUPPRESS,
                   help="database file (default: $TUNING_DB, else tuning.db in the data folder)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to bind (default {DEFAULT_HOST}: this machine only; the "
                        "dashboard can start and stop jobs and has no login)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535; got {text!r}")
    return port


def command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The Streamlit command line and environment ``start`` runs, without running them."""
    db = os.path.abspath(getattr(args, "db", None) or default_db_path())
    argv = [sys.executable, "-c", SERVER, "run", str(APP),
            f"--server.address={args.host}", f"--server.port={args.port}"]
    argv += [f"--{key}={value}" for key, value in SETTINGS.items()]
    return argv, {**os.environ, "TUNING_DB": db}


def start(args: argparse.Namespace) -> int:
    """Become the Streamlit server (Ctrl-C and signals reach it directly)."""
    argv, env = command(args)
    print(f"tuning dashboard: http://{args.host}:{args.port}  database {env['TUNING_DB']}",
          file=sys.stderr, flush=True)
    if os.name == "posix":
        os.execve(sys.executable, argv, env)
    return subprocess.call(argv, env=env)
