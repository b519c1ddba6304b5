"""`tuning dashboard` and where the database lives: the command line it builds (never started
here), the settings it shares with .streamlit/config.toml, and the default-database rule."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tuning import dashboard, paths
from tuning.cli import _parser

ROOT = Path(__file__).resolve().parent.parent


def command_for(*argv: str) -> tuple[list[str], dict[str, str]]:
    return dashboard.command(_parser().parse_args(list(argv)))


def flags(argv: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv if a.startswith("--"))


def test_help_works_as_python_dash_m_tuning_from_another_folder(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    top = subprocess.run([sys.executable, "-m", "tuning", "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert top.returncode == 0 and "dashboard" in top.stdout
    sub = subprocess.run([sys.executable, "-m", "tuning", "dashboard", "--help"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert sub.returncode == 0
    for option in ("--db", "--host", "--port", "127.0.0.1", "8501"):
        assert option in sub.stdout


def test_defaults_bind_loopback_on_8501_with_the_checkout_app(monkeypatch, tmp_path):
    monkeypatch.setenv("TUNING_DB", str(tmp_path / "env.db"))
    argv, env = command_for("dashboard")
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")]
    assert flags(argv)["server.address"] == "127.0.0.1"
    assert flags(argv)["server.port"] == "8501"
    assert env["TUNING_DB"] == str(tmp_path / "env.db")


def test_host_port_and_db_options_reach_streamlit_and_the_app(monkeypatch, tmp_path):
    monkeypatch.setenv("TUNING_DB", str(tmp_path / "env.db"))
    monkeypatch.chdir(tmp_path)
    argv, env = command_for("dashboard", "--db", "mine.db", "--host", "0.0.0.0", "--port", "9000")
    assert flags(argv)["server.address"] == "0.0.0.0" and flags(argv)["server.port"] == "9000"
    assert env["TUNING_DB"] == str(tmp_path / "mine.db")  # absolute: --db beats TUNING_DB
    _, env = command_for("--db", "top.db", "dashboard")
    assert env["TUNING_DB"] == str(tmp_path / "top.db")


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_bad_port_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["dashboard", "--port", port])
    assert exc.value.code == 2
    assert f"must be a port number from 1 to 65535; got '{port}'" in capsys.readouterr().err


def test_flags_carry_every_setting_of_the_streamlit_config_but_address_and_port():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    expected = {f"{section}.{key}": str(value).lower() if isinstance(value, bool) else str(value)
                for section, values in config.items() for key, value in values.items()}
    assert expected.pop("server.address") == dashboard.DEFAULT_HOST
    assert expected.pop("server.port") == str(dashboard.DEFAULT_PORT)
    argv, _ = command_for("dashboard")
    got = flags(argv)
    assert {k: got[k] for k in expected} == expected
    assert got["server.enableXsrfProtection"] == "true" and got["server.maxUploadSize"] == "50"


def test_start_becomes_streamlit_with_that_command(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(dashboard.os, "execve", lambda *a: calls.append(a))
    monkeypatch.setattr(dashboard.subprocess, "call", lambda argv, env: calls.append((argv, env)))
    args = _parser().parse_args(["dashboard", "--db", str(tmp_path / "x.db"), "--port", "8777"])
    dashboard.start(args)
    argv, env = calls[0][-2:]
    assert argv == dashboard.command(args)[0] and env["TUNING_DB"] == str(tmp_path / "x.db")


# -- where the database lives -----------------------------------------------------------


def test_a_checkout_keeps_its_database_in_data(monkeypatch):
    monkeypatch.delenv("TUNING_DB", raising=False)
    assert not paths.INSTALLED and paths.PROJECT_ROOT == ROOT
    assert paths.data_dir(installed=False) == ROOT / "data"
    assert paths.default_db_path() == str(ROOT / "data" / "tuning.db")


def test_tuning_db_overrides_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("TUNING_DB", str(tmp_path / "elsewhere.db"))
    assert paths.default_db_path() == str(tmp_path / "elsewhere.db")


def test_an_installed_copy_uses_a_per_user_folder_whatever_the_working_folder(monkeypatch,
                                                                              tmp_path):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert paths.data_dir(installed=True) == paths.user_data_dir()
    assert paths.user_data_dir({}, "linux", home) == home / ".local" / "share" / "tuning"
    assert paths.user_data_dir({"XDG_DATA_HOME": "/x"}, "linux", home) == Path("/x/tuning")
    assert paths.user_data_dir({}, "darwin", home) == (
        home / "Library" / "Application Support" / "tuning")
    assert paths.user_data_dir({"LOCALAPPDATA": "C:/L"}, "win32", home) == Path("C:/L/tuning")
    monkeypatch.chdir(tmp_path)
    assert paths.data_dir(installed=True) == home / ".local" / "share" / "tuning"
