"""``tuning dashboard``: start the Streamlit app from any folder.

The app is the checkout's ``app.py``, or the copy an installed wheel carries
(``tuning.paths.PROJECT_ROOT``). Streamlit reads ``.streamlit/config.toml`` only from the
current folder and the user's home, so the settings of the checkout's file go on the command
line: an installed dashboard started anywhere is as locked down as ``make run``'s.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
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
    argv = [sys.executable, "-m", "streamlit", "run", str(APP),
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
