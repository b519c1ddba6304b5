"""Install the product the way a user does, and use it from a folder outside the checkout.

    python3 .ci/install_check.py [--keep]

Builds the wheel from a clean copy of the working tree, installs it into a fresh virtual
environment in a temporary folder (pip's cache is reused: the first run downloads TensorFlow),
then, from another temporary folder with a fresh per-user data folder (``XDG_DATA_HOME``):
``tuning --help``; ``tuning validate`` on an example the wheel ships; ``tuning run`` of a
two-trial scikit-learn search (a worker process of the installed package); the installed app
rendered by Streamlit's AppTest; ``tuning dashboard`` until ``/_stcore/health`` answers; and a
script that calls ``tuning.watch`` on a two-trial KerasTuner search, whose run ``tuning list``
then shows from the default database. Last, the same environment gets ``pip install -e`` of a
copy of the checkout instead, and the watch script runs again from outside it. Standard library
only; exits non-zero on the first failure.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Left out of the copy the wheel is built from: at the top level, and anywhere.
NOT_BUILT_FROM_TOP = {".git", ".venv", "build", "dist", "data", "tests", "bench", "docs",
                      ".pytest_cache", ".ruff_cache"}
NOT_BUILT_FROM = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
DASHBOARD_DEADLINE_S = 120
STEP_TIMEOUT_S = 600
INSTALL_TIMEOUT_S = 1800  # the first run downloads TensorFlow

WATCH_SCRIPT = '''
import keras
import keras_tuner as kt
import numpy as np

import tuning


def build_model(hp):
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(hp.Int("units", 2, 8, step=2), activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


rng = np.random.default_rng(0)
x, y = rng.normal(size=(32, 4)), rng.normal(size=(32, 1))
tuner = tuning.watch(kt.RandomSearch(build_model, objective="val_loss", max_trials=2,
                                     directory="kt", project_name="install_check", seed=1),
                     name="install check watch")
tuner.search(x, y, epochs=1, validation_split=0.25, verbose=0)
print("watched", len(tuner.oracle.trials), "trials")
'''

APPTEST_SCRIPT = '''
import sys

from streamlit.testing.v1 import AppTest

from tuning.paths import INSTALLED, PROJECT_ROOT

assert INSTALLED, PROJECT_ROOT
sys.path.insert(0, str(PROJECT_ROOT))  # what `streamlit run` does for the main script's folder
at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120).run()
assert not at.exception, [e.value for e in at.exception]
pages = sys.modules.get("pages")
assert pages is None or list(pages.__path__)[0].startswith(str(PROJECT_ROOT)), pages
assert "storage" not in sys.modules, sys.modules["storage"]
print("app rendered:", len(at.main), "elements on the launch page")
'''


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def sh(argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
       timeout: float = STEP_TIMEOUT_S) -> str:
    printable = " ".join(str(a) for a in argv)
    print(f"$ {printable}", flush=True)
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        raise SystemExit(f"install check failed (exit {done.returncode}): {printable}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, port: int) -> float:
    start = time.monotonic()
    deadline = start + DASHBOARD_DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tuning dashboard exited with {proc.returncode} before it answered")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.25)  # polling interval, bounded by the deadline above
    raise SystemExit(f"tuning dashboard did not answer /_stcore/health in {DASHBOARD_DEADLINE_S} s")


def check_dashboard(tuning_cmd: Path, cwd: Path, env: dict[str, str]) -> None:
    port = free_port()
    log = open(cwd / "dashboard.log", "w+")
    proc = subprocess.Popen([str(tuning_cmd), "dashboard", "--port", str(port)], cwd=cwd,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        seconds = wait_healthy(proc, port)
        print(f"dashboard healthy on 127.0.0.1:{port} after {seconds:.1f} s")
    except SystemExit:
        log.seek(0)
        sys.stdout.write(log.read())
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _not_built_from(folder: str, names: list[str]) -> set[str]:
    left_out = set(NOT_BUILT_FROM(folder, names))
    if Path(folder) == ROOT:
        left_out |= NOT_BUILT_FROM_TOP & set(names)
    return left_out


def clean_copy(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=_not_built_from)
    return dest


def build_and_install(tmp: Path) -> Path:
    step("build the wheel from a clean copy of the working tree")
    src = clean_copy(tmp / "src")
    venv = tmp / "venv"
    sh([sys.executable, "-m", "venv", venv], cwd=tmp)
    python = venv / "bin" / "python"
    sh([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], cwd=tmp)
    sh([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp / "dist", src], cwd=tmp)
    wheel = next((tmp / "dist").glob("*.whl"))
    print("built", wheel.name)
    step("install it into a fresh virtual environment")
    sh([python, "-m", "pip", "install", "--quiet", wheel], cwd=tmp, timeout=INSTALL_TIMEOUT_S)
    shutil.rmtree(src)  # nothing below may read the copy of the checkout
    return venv


def use_it(venv: Path, tmp: Path) -> None:
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("TUNING_DB", "TUNING_DATA_DIRS", "PYTHONPATH", "VIRTUAL_ENV")}
    env["XDG_DATA_HOME"] = str(tmp / "xdg")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    python, tuning_cmd = venv / "bin" / "python", venv / "bin" / "tuning"

    step("tuning --help from a folder outside the checkout")
    assert "dashboard" in sh([tuning_cmd, "--help"], elsewhere, env)
    bundle = Path(sh([python, "-c", "import tuning.paths as p; assert p.INSTALLED; "
                      "print(p.PROJECT_ROOT)"], elsewhere, env).strip())
    assert str(bundle).startswith(str(venv)), bundle

    step("tuning validate on an example the wheel ships")
    print(sh([tuning_cmd, "validate", bundle / "examples" / "iris_svm_random.json"], elsewhere, env))

    step("tuning run: a two-trial search in a worker process of the installed package")
    spec = json.loads((bundle / "examples" / "iris_svm_random.json").read_text())
    spec["strategy"]["max_trials"] = 2
    (elsewhere / "tiny.json").write_text(json.dumps(spec))
    sh([tuning_cmd, "run", "--quiet", "tiny.json"], elsewhere, env)

    step("the installed app renders (Streamlit AppTest)")
    print(sh([python, "-c", APPTEST_SCRIPT], elsewhere, env))

    step("tuning dashboard until /_stcore/health answers")
    check_dashboard(tuning_cmd, elsewhere, env)

    step("a script calling tuning.watch on a tiny search")
    (elsewhere / "watched.py").write_text(WATCH_SCRIPT)
    print(sh([python, "watched.py"], elsewhere, env))

    step("tuning list: both runs are in the per-user default database")
    listing = sh([tuning_cmd, "list"], elsewhere, env)
    print(listing)
    for name in (spec["name"], "install check watch"):
        assert name in listing, (name, listing)
    assert (tmp / "xdg" / "tuning" / "tuning.db").is_file()
    assert not (elsewhere / "tuning.db").exists()


def use_it_editable(venv: Path, tmp: Path) -> None:
    step("pip install -e of a copy of the checkout, then tuning.watch from outside it")
    python = venv / "bin" / "python"
    checkout = clean_copy(tmp / "checkout")
    sh([python, "-m", "pip", "uninstall", "--quiet", "--yes", "tuning-dashboard"], tmp)
    sh([python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", checkout], tmp)
    elsewhere = tmp / "elsewhere-editable"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TUNING_DB"] = str(tmp / "editable.db")
    where = sh([python, "-c", "import tuning, tuning.paths as p; assert not p.INSTALLED; "
                "print(tuning.__file__)"], elsewhere, env).strip()
    assert where.startswith(str(checkout)), where
    (elsewhere / "watched.py").write_text(WATCH_SCRIPT)
    print(sh([python, "watched.py"], elsewhere, env))
    assert "install check watch" in sh([venv / "bin" / "tuning", "list"], elsewhere, env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="tuning-install-check-"))
    try:
        venv = build_and_install(tmp)
        use_it(venv, tmp)
        use_it_editable(venv, tmp)
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ninstall check passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
