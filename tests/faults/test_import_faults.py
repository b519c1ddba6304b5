"""Damaged and hostile KerasTuner project folders, one case per row: every field the importer
reads from ``oracle.json`` and ``trial.json`` of the wrong type or out of range, ids that are
not plain numbers, names a spec would refuse, numbers no float or SQLite integer holds, JSON
nested too deeply or with integers too long to read. Each is refused through the CLI (exit 2,
no traceback) with a message naming the file, the field and the fix, and nothing stored
changes, not even the run an earlier import of the same folder made.
"""
from __future__ import annotations

import gc
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.kit import db_fingerprint
from tests.support.kt_folders import hyperband_project, random_project, trial
from tuning import cli

Doc = dict[str, Any]


def _edit(file: str, change: Callable[[Doc], Any]) -> Callable[[Path], None]:
    """A damage: ``file`` (relative to the project) read, changed in place, written back."""
    def damage(folder: Path) -> None:
        path = folder / file
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))
    return damage


def _text(file: str, text: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        (folder / file).write_text(text)
    return damage


def _space(i: int, **config: Any) -> Callable[[Path], None]:
    """oracle.json's i-th search-space entry with ``config`` merged into its config."""
    return _edit("oracle.json", lambda d: d["hyperparameters"]["space"][i]["config"].update(config))


def _values(**values: Any) -> Callable[[Path], None]:
    return _edit("trial_1/trial.json", lambda d: d["hyperparameters"]["values"].update(values))


def _observation(**obs: Any) -> Callable[[Path], None]:
    return _edit("trial_1/trial.json",
                 lambda d: d["metrics"]["metrics"]["val_accuracy"]["observations"][0].update(obs))


def _set(file: str, key: str, value: Any) -> Callable[[Path], None]:
    return _edit(file, lambda d: d.__setitem__(key, value))


def _duplicate(folder: Path) -> None:
    (folder / "trial_9").mkdir()
    (folder / "trial_9" / "trial.json").write_text((folder / "trial_1" / "trial.json").read_text())


def _new_trial(folder: Path) -> None:
    (folder / "trial_3").mkdir()
    (folder / "trial_3" / "trial.json").write_text(json.dumps(trial("3", {"units": 8}, 0.5)))


HB = "hyperband"
# (id, project, damage, file, fragments of the message)
CASES: list[tuple[str, str, Callable[[Path], None], str, list[str]]] = [
    # oracle.json: the strategy's settings
    ("hyperband-factor-1", HB, _set("oracle.json", "factor", 1), "oracle.json",
     ["max_epochs, factor, hyperband_iterations are settings no Hyperband", '"factor": 1']),
    ("hyperband-factor-nan", HB, _set("oracle.json", "factor", float("nan")), "oracle.json",
     ["factor must be a finite number; got NaN"]),
    ("hyperband-factor-text", HB, _set("oracle.json", "factor", "3"), "oracle.json",
     ["factor must be a number; got '3'"]),
    ("hyperband-max-epochs-huge", HB, _set("oracle.json", "max_epochs", 10**12), "oracle.json",
     ["max_epochs must be between 1 and 10000; got 1000000000000"]),
    ("hyperband-epochs-fraction", HB, _set("oracle.json", "max_epochs", 2.5), "oracle.json",
     ["max_epochs must be a whole number; got 2.5"]),
    ("seed-negative", "random", _set("oracle.json", "seed", -1), "oracle.json",
     ["seed must be between 0 and 4294967295; got -1"]),
    ("seed-huge", "random", _set("oracle.json", "seed", 10**400), "oracle.json",
     ["seed must be between 0 and", "an integer of 401 digits"]),
    ("start-order-a-number", "random", _set("oracle.json", "start_order", 5), "oracle.json",
     ["start_order must be an array; got 5"]),
    # oracle.json: the search space
    ("space-entry-a-number", "random",
     _edit("oracle.json", lambda d: d["hyperparameters"]["space"].insert(0, 3)), "oracle.json",
     ["hyperparameters.space[0] must be an object; got 3"]),
    ("space-not-a-list", "random",
     _edit("oracle.json", lambda d: d["hyperparameters"].update(space={"units": 1})),
     "oracle.json", ["hyperparameters.space must be an array"]),
    ("int-step-0", "random", _space(0, step=0), "oracle.json",
     ["hyperparameters.space[0] (units).step must be a positive number (or null); got 0"]),
    ("int-min-text", "random", _space(0, min_value="8"), "oracle.json",
     ["(units).min_value must be a whole number; got '8'"]),
    ("int-bound-beyond-a-float", "random", _space(0, max_value=10**400), "oracle.json",
     ["(units).max_value must be between", "an integer of 401 digits"]),
    ("float-max-infinite", "random", _space(2, max_value=float("inf")), "oracle.json",
     ["(lr).max_value must be a finite number; got Infinity"]),
    ("min-above-max", "random", _space(0, min_value=64), "oracle.json",
     ["(units).min_value must be <= max_value (32); got 64"]),
    ("log-from-zero", "random", _space(2, min_value=0.0), "oracle.json",
     ["(lr).min_value must be > 0 when sampling is log; got 0.0"]),
    ("sampling-unknown", "random", _space(2, sampling="cubic"), "oracle.json",
     ["(lr).sampling must be one of linear, log, reverse_log; got 'cubic'"]),
    ("choice-empty", "random", _space(1, values=[]), "oracle.json",
     ["(act).values must list at least one value"]),
    ("choice-mixed", "random", _space(1, values=["relu", 3], default=None), "oracle.json",
     ["(act).values must all be strings, all numbers or all booleans"]),
    ("choice-nested", "random", _space(1, values=[["relu"]]), "oracle.json",
     ["(act).values[0] must be a string, a number or a boolean"]),
    ("choice-default-missing", "random", _space(1, default="gelu"), "oracle.json",
     ["(act).default must be one of the values (or null); got 'gelu'"]),
    ("conditions-not-a-list", "random", _space(0, conditions="units > 3"), "oracle.json",
     ["(units).conditions must be an array"]),
    ("hp-name-newline", "random", _space(0, name="units\nDROP"), "oracle.json",
     ["config.name must not contain control characters"]),
    ("hp-name-too-long", "random", _space(0, name="u" * 500), "oracle.json",
     ["config.name must be at most 120 characters"]),
    ("hp-name-lone-surrogate", "random", _space(0, name="units\ud800"), "oracle.json",
     ["config.name must be valid Unicode text (it holds a lone surrogate)"]),
    ("hp-name-a-number", "random", _space(0, name=7), "oracle.json",
     ["config.name must be a non-empty string; got 7"]),
    # trial.json
    ("trial-id-not-a-number", "random", _set("trial_1/trial.json", "trial_id", "abc"),
     "trial_1/trial.json", ["trial_id must be a plain number as a string", "got 'abc'"]),
    ("trial-id-unicode-digit", "random", _set("trial_1/trial.json", "trial_id", "\u00b2"),
     "trial_1/trial.json", ["trial_id must be a plain number as a string"]),
    ("trial-id-too-long", "random", _set("trial_1/trial.json", "trial_id", "9" * 30),
     "trial_1/trial.json", ["trial_id must be a plain number as a string"]),
    ("trial-id-a-path", "random", _set("trial_1/trial.json", "trial_id", "../../etc"),
     "trial_1/trial.json", ["trial_id must be a plain number as a string"]),
    ("trial-id-twice", "random", _duplicate, "trial_9/trial.json",
     ["trial_id is also the id of trial_1/trial.json; each trial has its own; got '1'"]),
    ("status-unknown", "random", _set("trial_1/trial.json", "status", "DONE"),
     "trial_1/trial.json", ["status must be one of COMPLETED, FAILED, INVALID, STOPPED"]),
    ("score-infinite", "random", _set("trial_1/trial.json", "score", float("inf")),
     "trial_1/trial.json", ["score must be a finite number; got Infinity"]),
    ("score-beyond-sqlite", "random", _set("trial_1/trial.json", "score", 10**30),
     "trial_1/trial.json", ["score must be a number within"]),
    ("score-text", "random", _set("trial_1/trial.json", "score", "0.74"),
     "trial_1/trial.json", ["score must be a number; got '0.74'"]),
    ("message-a-number", "random", _set("trial_1/trial.json", "message", 5),
     "trial_1/trial.json", ["message must be a string or null; got 5"]),
    ("values-a-list", "random",
     _edit("trial_1/trial.json", lambda d: d["hyperparameters"].update(values=[1, 2])),
     "trial_1/trial.json", ["hyperparameters.values must be an object; got [1, 2]"]),
    ("value-nested", "random", _values(units={"a": [1]}), "trial_1/trial.json",
     ["hyperparameters.values.units must be a string, a number or a boolean"]),
    ("value-nan", "random", _values(lr=float("nan")), "trial_1/trial.json",
     ["hyperparameters.values.lr must be a finite number; got NaN"]),
    ("value-name-control", "random", _values(**{"a\x00b": 1}), "trial_1/trial.json",
     ["must not contain control characters"]),
    ("bracket-infinite", HB, _edit("trial_0003/trial.json", lambda d: d["hyperparameters"][
        "values"].update({"tuner/bracket": float("inf")})), "trial_0003/trial.json",
     ["hyperparameters.values.tuner/bracket must be a whole number; got Infinity"]),
    ("round-negative", HB, _edit("trial_0003/trial.json", lambda d: d["hyperparameters"][
        "values"].update({"tuner/round": -1})), "trial_0003/trial.json",
     ["hyperparameters.values.tuner/round must be between 0 and 10000; got -1"]),
    ("parent-not-an-id", HB, _edit("trial_0003/trial.json", lambda d: d["hyperparameters"][
        "values"].update({"tuner/trial_id": 2})), "trial_0003/trial.json",
     ["tuner/trial_id must be the parent's trial id"]),
    ("metrics-a-list", "random",
     _edit("trial_1/trial.json", lambda d: d["metrics"].update(metrics=[1])),
     "trial_1/trial.json", ["metrics.metrics must be an object; got [1]"]),
    ("direction-unknown", "random", _edit("trial_1/trial.json", lambda d: d["metrics"][
        "metrics"]["val_accuracy"].update(direction="up")), "trial_1/trial.json",
     ["metrics.metrics.val_accuracy.direction must be one of min, max; got 'up'"]),
    ("step-nan", "random", _observation(step=float("nan")), "trial_1/trial.json",
     ["metrics.metrics.val_accuracy.observations[0].step must be a whole number; got NaN"]),
    ("step-negative", "random", _observation(step=-2), "trial_1/trial.json",
     ["observations[0].step must be between 0 and 2147483647; got -2"]),
    ("observed-text", "random", _observation(value=["high"]), "trial_1/trial.json",
     ["observations[0].value must be a number; got 'high'"]),
    ("observed-beyond-a-float", "random", _observation(value=[10**400]), "trial_1/trial.json",
     ["observations[0].value must be a number within"]),
    # JSON that Python's reader refuses
    ("integer-of-5000-digits", "random", _text("trial_1/trial.json", '{"score": ' + "9" * 5000
                                              + "}"),
     "trial_1/trial.json", ["holds a number Python refuses to read", "delete its folder trial_1"]),
    ("nested-100000-deep", "random", _text("oracle.json", "[" * 100_000 + "]" * 100_000),
     "oracle.json", ["nests arrays or objects too deeply"]),
]

NAME_CASES = [
    # (id, --name given or None with the folder's name, fragment)
    ("name-newline", "mine\nyours", "the run name must not contain control characters"),
    ("name-too-long", "n" * 200, "the run name must be at most 120 characters"),
    ("name-blank", "   ", "the run name must be a non-empty string"),
    ("folder-name-too-long", None, "the folder's name, which names the run unless you give "
                                   "a name, must be at most 120 characters"),
]


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, tuple]:
    """A database holding the run an earlier, good import of the project made."""
    path = tmp_path / "t.db"
    for kind, make in (("random", random_project), (HB, hyperband_project)):
        assert cli.main(["--db", str(path), "import", str(make(tmp_path / kind))]) == 0
    _settle(path)
    return path, db_fingerprint(path)


def _settle(path: Path) -> None:
    """Close the CLI's connections and fold the WAL into the file, so its bytes compare."""
    gc.collect()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _refused(db: tuple[Path, tuple], folder: Path, capsys, *extra: str) -> str:
    path, before = db
    capsys.readouterr()
    assert cli.main(["--db", str(path), "import", str(folder), *extra]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err
    assert out.err.startswith(f"error: cannot import {folder}")
    _settle(path)
    assert db_fingerprint(path) == before  # the earlier run and its trials are as they were
    return out.err


@pytest.mark.parametrize("case_id, project, damage, file, fragments", CASES,
                         ids=[c[0] for c in CASES])
def test_a_damaged_field_is_refused_naming_the_file_and_the_field(
        db, tmp_path: Path, capsys, case_id, project, damage, file, fragments):
    folder = tmp_path / project
    damage(folder)
    message = _refused(db, folder, capsys)
    assert f"{folder / file}" in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("case_id, name, fragment", NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_a_run_name_a_spec_would_refuse_is_refused(db, tmp_path: Path, capsys, case_id, name,
                                                   fragment):
    folder = tmp_path / "random"
    if name is None:
        folder = tmp_path / ("f" * 130)
        os.rename(tmp_path / "random", folder)
    message = _refused(db, folder, capsys, *(["--name", name] if name is not None else []))
    assert fragment in message and "give the run a name" in message


def test_a_later_trial_alone_is_refused_and_the_earlier_import_stays(db, tmp_path: Path,
                                                                     capsys):
    """The search went on, and its new trial is damaged: the run stays as first imported."""
    folder = tmp_path / "random"
    _new_trial(folder)
    _set("trial_3/trial.json", "score", "NaN")(folder)
    assert "trial_3/trial.json: score must be a number" in _refused(db, folder, capsys)


def test_a_folder_path_with_control_characters_is_refused_and_printed_escaped(db, tmp_path,
                                                                            capsys):
    folder = tmp_path / "bad\x1b[2Jname"
    os.rename(tmp_path / "random", folder)
    path, before = db
    assert cli.main(["--db", str(path), "import", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "the folder's path must not contain control characters" in err
    assert "rename the folder" in err
    assert "\x1b" not in err and "bad\\x1b[2Jname" in err  # a terminal is not told to clear
    _settle(path)
    assert db_fingerprint(path) == before
