"""The spare discovery process: started ahead by the launch form, it serves one discovery
with the caller's settings of that moment, is replaced when taken, and never outlives
its purpose (idle, or the process that started it gone)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tuning.spec import discovery_process
from tuning.spec.discovery import discover

PROJECT = Path(__file__).resolve().parents[2]
BUILDER = '''
import os

import keras


def build_model(hp):
    top = int(os.environ.get("TINY_UNITS_MAX", "6"))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(hp.Int("units", 2, top)),
                              keras.layers.Dense(1)])
    model.compile("adam", "mse")
    return model
'''


@pytest.fixture(autouse=True)
def no_spare_left():
    discovery_process.shutdown()
    yield
    discovery_process.shutdown()


def test_the_spare_serves_a_discovery_with_the_settings_of_the_request(tmp_path, monkeypatch):
    monkeypatch.delenv("TINY_UNITS_MAX", raising=False)
    discovery_process.prewarm()
    first = discovery_process.spare_pid()
    assert first is not None
    discovery_process.prewarm()  # one spare is enough
    assert discovery_process.spare_pid() == first
    assert discovery_process.wait_ready(180)  # its imports done, it waits for the request
    # Set after the spare started: the request carries the environment.
    module = str(tmp_path / "tiny.py")
    Path(module).write_text(BUILDER)
    monkeypatch.setenv("TINY_UNITS_MAX", "9")
    found = discover(module, "build_model")
    assert found.error is None, found.error
    assert found.warm and [(e["name"], e["max"]) for e in found.entries] == [("units", 9)]
    assert not psutil.pid_exists(first)  # it served one discovery and was reaped
    following = discovery_process.spare_pid()
    assert following is not None and following != first  # taken, so replaced
    monkeypatch.setenv("TINY_UNITS_MAX", "7")
    again = discover(module, "build_model")
    assert again.warm and again.entries[0]["max"] == 7
    missing = discover(str(tmp_path / "gone.py"), "build_model")
    assert missing.error.field == "model.module" and "no such file" in missing.error.text


def test_an_unused_spare_exits_when_idle(monkeypatch):
    monkeypatch.setenv(discovery_process.IDLE_ENV, "1")
    discovery_process.prewarm()
    pid = discovery_process.spare_pid()
    psutil.Process(pid).wait(timeout=120)  # its imports, then one idle second
    assert discovery_process.spare_pid() is None
    found = discover(str(PROJECT / "examples/models/digits_dense.py"), "build_model")
    assert found.error is None and not found.warm  # a fresh process, as without a spare


def test_a_spare_ends_with_the_process_that_started_it():
    script = ("from tuning.spec import discovery_process as d\n"
              "d.prewarm(); print(d.spare_pid(), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    spare = int(done.stdout.split()[-1])
    if psutil.pid_exists(spare):
        psutil.Process(spare).wait(timeout=120)  # its standard input closed: it exits
    assert not psutil.pid_exists(spare) or psutil.Process(spare).status() == "zombie"
