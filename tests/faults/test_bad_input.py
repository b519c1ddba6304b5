"""Bad input, one case per row: spec fields out of range or of the wrong type, unknown
strategies and metrics, empty and oversized search spaces; CSV files that are empty, binary,
headless, single-column, constant, targetless, too small or too large; data paths that try
to leave the project's data folders. Each is refused through the CLI (exit 2, every problem
listed, no traceback) with a message naming the field and the fix, and nothing stored changes.

A CSV with text and missing values among its features is not bad input: it loads.
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from storage import Storage, TrialStatus
from tests.faults.kit import db_fingerprint
from tests.support.runs import cli as cli_process
from tuning import cli
from tuning.data import MAX_CSV_BYTES, load_dataset
from tuning.spec import MAX_GRID_COMBINATIONS, SpecError, validate_spec

SK = {"name": "bad input", "seed": 1, "data": {"source": "sklearn", "name": "iris"},
      "model": {"family": "knn"},
      "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 9}},
      "strategy": {"name": "random", "max_trials": 3}}
MLP = {"name": "bad input", "seed": 1, "data": {"source": "sklearn", "name": "digits"},
       "model": {"family": "mlp"},
       "search_space": {"units": {"type": "int", "min": 8, "max": 32, "step": 8},
                        "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2,
                                          "sampling": "log"}},
       "strategy": {"name": "random", "max_trials": 3}, "training": {"epochs": 2}}


def _with(base: dict, path: str, value: Any = ..., delete: bool = False) -> Callable[[Path], dict]:
    """A spec builder: ``base`` with the dotted ``path`` set to ``value`` (or deleted)."""
    def build(_: Path) -> dict:
        doc = copy.deepcopy(base)
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
        if delete:
            node.pop(last, None)
        else:
            node[last] = value
        return doc
    return build


def _csv(content: bytes | str | Callable[[], pd.DataFrame], target: str = "y",
         name: str = "data.csv") -> Callable[[Path], dict]:
    """A spec over a CSV written into the uploads folder of the database under test."""
    def build(uploads: Path) -> dict:
        path = uploads / name
        if callable(content):
            content().to_csv(path, index=False)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        doc = copy.deepcopy(SK)
        doc["data"] = {"source": "csv", "path": str(path), "target": target}
        return doc
    return build


def _too_large(uploads: Path) -> dict:
    doc = _csv("x,y\n1,2\n")(uploads)
    with open(doc["data"]["path"], "r+b") as fh:  # sparse: no disk is spent
        fh.truncate(MAX_CSV_BYTES + 2**20)
    return doc


def _path(value: str | Callable[[Path], str]) -> Callable[[Path], dict]:
    def build(uploads: Path) -> dict:
        doc = copy.deepcopy(SK)
        path = value(uploads) if callable(value) else value
        doc["data"] = {"source": "csv", "path": path, "target": "y"}
        return doc
    return build


def _symlink_out(uploads: Path) -> str:
    link = uploads / "innocent.csv"
    link.symlink_to("/etc/passwd")
    return str(link)


def _tool(example: str, **strategy: Any) -> Callable[[Path], dict]:
    """A shipped example spec (``examples/``) with strategy fields replaced."""
    def build(_: Path) -> dict:
        doc = json.loads((Path(__file__).resolve().parents[2] / "examples" / example).read_text())
        doc["strategy"].update(strategy)
        return doc
    return build


def _keras_link_out(uploads: Path) -> str:
    target = uploads.parent / "elsewhere" / "model.keras"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(b"not a model")
    link = uploads / "model.keras"
    link.symlink_to(target)
    return str(link)


def _frame(rows: int = 40, **columns) -> Callable[[], pd.DataFrame]:
    def make() -> pd.DataFrame:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.integers(0, 5, rows),
                              "y": ["p", "q"] * (rows // 2)})
        for key, values in columns.items():
            frame[key] = values
        return frame
    return make


def _raw(text: str | bytes) -> Callable[[Path], str | bytes]:
    return lambda _: text


def _huge_grid(_: Path) -> dict:
    doc = copy.deepcopy(SK)
    doc["model"] = {"family": "svm"}
    doc["search_space"] = {"C": {"type": "int", "min": 1, "max": 1000},
                           "degree": {"type": "int", "min": 1, "max": 1000}}
    doc["strategy"] = {"name": "grid"}
    return doc


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


ONE_ROW_CLASS = ["p", "q"] * 19 + ["p", "r"]

# (id, category, build, field, fragments that must all be in that field's message)
CASES: list[tuple[str, str, Callable[[Path], Any], str, tuple[str, ...]]] = [
    # -- the spec document itself
    ("spec-not-json", "spec", _raw('{"name": "x",'), "spec", ("must be valid JSON", "line 1")),
    ("spec-not-utf8", "spec", _raw(b"\xff\xfe{\x00}"), "spec", ("must be UTF-8 JSON text",)),
    ("spec-a-list", "spec", lambda _: [SK], "spec", ("must be a JSON object; got list",)),
    ("unknown-top-level-field", "spec", _with(SK, "epochs", 3), "epochs",
     ("is not a known field", "use one of")),
    # -- fields out of range or of the wrong type
    ("name-too-long", "range", _with(SK, "name", "x" * 500), "name",
     ("at most 120 characters", "shorten it")),
    ("name-with-newline", "type", _with(SK, "name", "a\nb"), "name",
     ("must not contain control characters",)),
    ("name-a-number", "type", _with(SK, "name", 7), "name", ("must be a non-empty string",)),
    ("seed-negative", "range", _with(SK, "seed", -5), "seed", ("must be between 0 and",)),
    ("seed-a-string", "type", _with(SK, "seed", "42"), "seed", ("must be an integer", "got '42'")),
    ("split-too-large", "range", _with(SK, "data.validation_split", 0.95),
     "data.validation_split", ("must be in (0.0, 0.9]", "got 0.95")),
    ("max-rows-too-small", "range", _with(SK, "data.max_rows", 3), "data.max_rows",
     ("must be >= 10",)),
    ("max-trials-zero", "range", _with(SK, "strategy.max_trials", 0), "strategy.max_trials",
     ("must be between 1 and 100000", "got 0")),
    ("max-trials-a-string", "type", _with(SK, "strategy.max_trials", "10"),
     "strategy.max_trials", ("must be an integer", "got '10'")),
    ("max-trials-a-bool", "type", _with(SK, "strategy.max_trials", True), "strategy.max_trials",
     ("must be an integer", "got true")),
    ("cv-folds-one", "range", _with(SK, "strategy.cv_folds", 1), "strategy.cv_folds",
     ("must be between 2 and 20",)),
    ("failure-budget-zero", "range", _with(SK, "strategy.max_consecutive_failed_trials", 0),
     "strategy.max_consecutive_failed_trials", ("must be between 1 and 1000",)),
    ("executions-too-many", "range", _with(MLP, "strategy.executions_per_trial", 50),
     "strategy.executions_per_trial", ("must be between 1 and 20",)),
    ("epochs-zero", "range", _with(MLP, "training.epochs", 0), "training.epochs",
     ("must be between 1 and 10000",)),
    ("batch-size-a-string", "type", _with(MLP, "training.batch_size", "32"),
     "training.batch_size", ("must be an integer",)),
    ("training-for-sklearn", "type", _with(SK, "training", {"epochs": 5}), "training.epochs",
     ("applies to Keras models only", "remove it")),
    ("time-limit-negative", "range", _with(SK, "time_limit_s", -1), "time_limit_s",
     ("must be in (0,",)),
    ("trial-time-limit-zero", "range", _with(SK, "trial_time_limit_s", 0), "trial_time_limit_s",
     ("must be in (0,",)),
    ("min-above-max", "range", _with(SK, "search_space.n_neighbors.min", 50),
     "search_space.n_neighbors.min", ("must be <= max", "swap them")),
    ("log-from-zero", "range", _with(MLP, "search_space.learning_rate.min", 0),
     "search_space.learning_rate.min", ("must be > 0 when sampling is log",)),
    ("int-bound-a-fraction", "type", _with(SK, "search_space.n_neighbors.max", 9.5),
     "search_space.n_neighbors.max", ("must be an integer",)),
    ("dropout-reaches-one", "range", _with(MLP, "search_space.dropout",
                                           {"type": "float", "min": 0.0, "max": 1.0}),
     "search_space.dropout", ("must stay in [0, 1)",)),
    ("choice-mixed-types", "type", _with(SK, "search_space.weights",
                                         {"type": "choice", "values": ["uniform", 3]}),
     "search_space.weights.values", ("must all be strings, all numbers or all booleans",)),
    # -- unknown names
    ("unknown-data-source", "unknown", _with(SK, "data.source", "s3"), "data.source",
     ("must be one of sklearn, csv, keras",)),
    ("unknown-data-set", "unknown", _with(SK, "data.name", "cifar10"), "data.name",
     ("must be one of iris",)),
    ("unknown-family", "unknown", _with(SK, "model.family", "xgboost"), "model.family",
     ("must be one of mlp",)),
    ("family-wrong-task", "unknown", lambda u: {
        **_with(SK, "data.name", "diabetes")(u), "model": {"family": "logistic_regression"},
        "search_space": {"C": {"type": "float", "min": 0.1, "max": 10.0}}},
     "model.family", ("logistic_regression cannot do regression", "pick one of")),
    ("unknown-strategy", "unknown", _with(SK, "strategy.name", "evolution"), "strategy.name",
     ("must be one of random, bayesian",)),
    ("hyperband-for-sklearn", "unknown", _with(SK, "strategy.name", "hyperband"),
     "strategy.name", ("hyperband cannot tune sklearn models", "use one of")),
    ("unknown-metric", "unknown", _with(SK, "objective", {"metric": "auc"}), "objective.metric",
     ("must be one of accuracy",)),
    ("keras-metric-for-sklearn", "unknown", _with(SK, "objective", {"metric": "val_loss"}),
     "objective.metric", ("must be one of accuracy",)),
    ("wrong-direction", "unknown", _with(SK, "objective", {"metric": "accuracy",
                                                           "direction": "min"}),
     "objective.direction", ("must be max for accuracy",)),
    ("unknown-hyperparameter", "unknown", _with(SK, "search_space.n_estimators",
                                                {"type": "int", "min": 1, "max": 5}),
     "search_space.n_estimators", ("is not a hyperparameter of model family knn", "use one of")),
    ("unknown-hp-type", "unknown", _with(SK, "search_space.n_neighbors.type", "integer"),
     "search_space.n_neighbors.type", ("must be one of int, float, choice, bool, fixed",)),
    # -- search spaces
    ("empty-search-space", "space", _with(SK, "search_space", {}), "search_space",
     ("must name at least one hyperparameter", "e.g.")),
    ("missing-search-space", "space", _with(SK, "search_space", delete=True), "search_space",
     ("must name at least one hyperparameter",)),
    ("empty-choice", "space", _with(SK, "search_space.weights", {"type": "choice", "values": []}),
     "search_space.weights.values", ("must be a non-empty list",)),
    ("grid-too-large", "space", _huge_grid, "search_space",
     (f"more than the {MAX_GRID_COMBINATIONS} allowed", "use larger steps")),
    ("grid-float-without-step", "space", _with(MLP, "strategy", {"name": "grid"}),
     "search_space.learning_rate.step", ("is required for grid search", "add a step")),
    # -- numbers and text at the edges: answered with a field message, never an exception
    ("seed-beyond-a-float", "edge", _with(SK, "seed", 10**400), "seed",
     ("must be between 0 and 2147483647", "about 401 digits")),
    ("max-trials-beyond-a-float", "edge", _with(SK, "strategy.max_trials", 10**400),
     "strategy.max_trials", ("must be between 1 and 100000",)),
    ("max-rows-beyond-a-float", "edge", _with(SK, "data.max_rows", 10**400), "data.max_rows",
     ("must be between 10 and", "2**53")),
    ("range-max-beyond-a-float", "edge", _with(SK, "search_space.n_neighbors.max", 10**400),
     "search_space.n_neighbors.max", ("no larger than", "2**53")),
    ("choice-value-beyond-a-float", "edge", _with(SK, "search_space.n_neighbors",
                                                  {"type": "choice", "values": [3, 10**400]}),
     "search_space.n_neighbors.values", ("must be finite numbers", "2**53")),
    ("time-limit-beyond-a-float", "edge", _with(SK, "time_limit_s", 10**400), "time_limit_s",
     ("must be a number no larger than",)),
    ("spec-5000-digit-integer", "edge", _raw('{"seed": ' + "7" * 5000 + "}"), "spec",
     ("must not hold integers of more than 1000 digits", "5000")),
    ("spec-nested-100000-deep", "edge", _raw('{"description": ' + "[" * 100_000
                                             + "]" * 100_000 + "}"), "spec",
     ("must not nest objects or lists more than 32 levels deep",)),
    ("spec-nested-40-deep", "edge", lambda u: {**SK, "description": _nested(40)},
     "description", ("must not nest objects or lists more than 32 levels deep",)),
    ("spec-nan", "edge", _raw('{"name": "x", "seed": NaN}'), "spec",
     ("NaN is not a JSON number",)),
    ("name-lone-surrogate", "edge", _with(SK, "name", "run \ud800 one"), "name",
     ("must be valid Unicode text", "lone surrogate")),
    ("choice-lone-surrogate", "edge", _with(SK, "search_space.weights",
                                            {"type": "choice", "values": ["uniform", "\udc00"]}),
     "search_space.weights.values[1]", ("must be valid Unicode text",)),
    ("hp-name-lone-surrogate", "edge", _with(SK, "search_space.\ud83d", {"type": "bool"}),
     "search_space.\\ud83d", ("must be a name of valid Unicode text",)),
    ("description-not-text", "edge", _with(SK, "description", {"a": 1}), "description",
     ("must be a string",)),
    ("grid-of-a-trillion-steps", "edge", lambda u: {
        **_huge_grid(u), "search_space": {"C": {"type": "float", "min": 0.0, "max": 1.0,
                                                "step": 1e-12}}}, "search_space",
     ("more than the 10000 allowed",)),
    # -- CSV files
    ("csv-empty", "csv", _csv(b""), "data.path", ("is empty (0 bytes)", "give a CSV file")),
    ("csv-binary", "csv", _csv(b"PK\x03\x04\x00\x00binary\x00zip"), "data.path",
     ("is not a text file",)),
    ("csv-not-utf8", "csv", _csv(("a,y\n" + "caf\xe9,p\nthé,q\n" * 10).encode("latin-1")),
     "data.path",
     ("is not UTF-8 text", "save it as")),
    ("csv-without-header", "csv", _csv("1,2,3\n" * 30), "data.path",
     ("has no header row", "the first row must be a header")),
    ("csv-single-column", "csv", _csv("y\n" + "1\n" * 30), "data.path",
     ("has a single column", "at least one feature column")),
    ("csv-too-few-rows", "csv", _csv("a,y\n1,p\n2,q\n"), "data.path",
     ("has 2 data rows", "at least 10 are needed")),
    ("csv-ragged-rows", "csv", _csv("a,y\n1,p\n2,q,3,4\n" * 10), "data.path",
     ("is not valid CSV", "as many comma-separated fields")),
    ("csv-repeated-columns", "csv", _csv("a,a,y\n" + "1,2,p\n3,4,q\n" * 10), "data.path",
     ("repeats column names", "rename the columns")),
    ("csv-constant-target", "csv", _csv(_frame(y=["p"] * 40)), "data.target",
     ("has the same value", "pick another column")),
    ("csv-target-missing", "csv", _csv(_frame(), target="price"), "data.target",
     ("'price' is not a column", "pick one of: a, b, y")),
    ("csv-target-mostly-empty", "csv", _csv(_frame(y=["p"] * 5 + [None] * 35)), "data.target",
     ("is empty in 35 of 40 rows", "fill in the target")),
    ("csv-one-row-of-a-class", "csv", _csv(_frame(y=ONE_ROW_CLASS)), "data.target",
     ("with a single row", "remove those rows")),
    ("csv-too-large", "csv", _too_large, "data.path", ("the limit is 200 MB", "sample it down")),
    ("csv-regression-on-text", "csv", lambda u: {**_csv(_frame())(u), "data": {
        **_csv(_frame())(u)["data"], "task": "regression"}}, "data.task",
     ("is not numeric", "set data.task to classification")),
    ("csv-header-over-64kb", "csv", _csv(",".join(f"column_{i:05d}_" + "x" * 60
                                                  for i in range(1200)) + ",y\n"
                                         + ("1," * 1200 + "p\n") * 20), "data.path",
     ("has a header row longer than 64 KB",)),
    ("csv-too-many-columns", "csv", _csv(",".join(f"c{i}" for i in range(2001)) + ",y\n"
                                         + ("1," * 2001 + "p\n") * 12), "data.path",
     ("has 2002 columns; the limit is 2000",)),
    ("csv-too-many-rows", "csv", _csv("a,y\n" + "1,p\n2,q\n" * 500_001), "data.path",
     ("has more than 1000000 data rows", "sample it down")),
    # -- paths that try to leave the project's data folders
    ("path-parent-escape", "path", _path("../../etc/passwd"), "data.path",
     ("must be a file inside", "upload the file")),
    ("path-absolute-system-file", "path", _path("/etc/passwd"), "data.path",
     ("must be a file inside", "TUNING_DATA_DIRS")),
    ("path-escape-from-uploads", "path", _path(lambda u: f"{u}/../../../../etc/hostname"),
     "data.path", ("must be a file inside",)),
    ("path-symlink-out", "path", _path(_symlink_out), "data.path", ("must be a file inside",)),
    ("path-home-folder", "path", _path("~/.bashrc"), "data.path", ("must be a file inside",)),
    ("path-nul-byte", "path", _path("data\x00.csv"), "data.path",
     ("without control characters",)),
    ("path-a-folder", "path", _path(lambda u: str(u)), "data.path", ("is a folder",)),
    ("path-relative-escape-from-project", "path", _path("../outside.csv"), "data.path",
     ("must be a file inside", "a relative path is taken from")),
    ("lora-corpus-system-file", "path", _tool("tiny_gemma_lora.json", corpus="/etc/passwd"),
     "strategy.corpus", ("must be a file inside", "TUNING_DATA_DIRS")),
    ("lora-corpus-parent-escape", "path", _tool("tiny_gemma_lora.json",
                                                corpus="examples/../../../etc/hostname"),
     "strategy.corpus", ("must be a file inside",)),
    ("lora-preset-outside", "path", _tool("tiny_gemma_lora.json", preset_path="/etc"),
     "strategy.preset_path", ("must be a file inside",)),
    ("transfer-source-outside", "path", _tool("digits_transfer_learning.json",
                                              source={"path": "/tmp/../etc/model.keras"}),
     "strategy.source.path", ("must be a file inside",)),
    ("transfer-source-symlink-out", "path", lambda u: _tool(
        "digits_transfer_learning.json", source={"path": _keras_link_out(u)})(u),
     "strategy.source.path", ("must be a file inside",)),
    ("path-missing-file", "path", _path(lambda u: str(u / "gone.csv")), "data.path",
     ("does not exist", "upload the file again")),
]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A database holding one finished run, its uploads folder, and its fingerprint."""
    db = tmp_path / "tuning.db"
    monkeypatch.setenv("TUNING_DB", str(db))
    monkeypatch.delenv("TUNING_DATA_DIRS", raising=False)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    store = Storage(db)
    run = store.create_run("earlier", validate_spec(copy.deepcopy(SK)))
    trial = store.begin_trial(run.id, "0", 0, {"n_neighbors": 3})
    store.record_epoch(trial.id, 0, 0, {"score": 0.9})
    store.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.9)
    store.close()
    return db, uploads, db_fingerprint(db)


def _spec_file(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "spec.json"
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    elif isinstance(doc, str):
        path.write_text(doc)
    else:
        path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("build, field, fragments", [c[2:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_field_and_the_fix(world, tmp_path, capsys, build,
                                                           field, fragments):
    db, uploads, before = world
    spec = _spec_file(tmp_path, build(uploads))
    for command in ("validate", "run"):
        code = cli.main(["--db", str(db), command, str(spec)])
        err = capsys.readouterr().err
        assert code == 2, err
        lines = [ln.strip()[2:] for ln in err.splitlines() if ln.strip().startswith("- ")]
        assert err.startswith("The spec has") and lines, err
        mine = [ln for ln in lines if ln.startswith(field + " ")]
        assert mine, f"no message for {field}: {lines}"
        assert any(all(f in ln for f in fragments) for ln in mine), mine
    assert db_fingerprint(db) == before, "refusing bad input changed the database"
    assert len(Storage(db).list_runs()) == 1


def test_the_catalogue_is_broad():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    assert {c[1] for c in CASES} == {"spec", "range", "type", "unknown", "space", "csv", "path",
                                     "edge"}


@pytest.mark.slow
@pytest.mark.parametrize("case_id", ["spec-not-json", "seed-a-string", "unknown-strategy",
                                     "grid-too-large", "csv-binary", "csv-one-row-of-a-class",
                                     "path-parent-escape", "path-absolute-system-file"])
def test_the_cli_process_refuses_bad_input_without_a_traceback(world, tmp_path, case_id):
    db, uploads, before = world
    _, _, build, field, fragments = next(c for c in CASES if c[0] == case_id)
    result = cli_process(db, "run", str(_spec_file(tmp_path, build(uploads))), timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert any(f"- {field} " in ln and all(f in ln for f in fragments)
               for ln in result.stderr.splitlines()), result.stderr
    assert db_fingerprint(db) == before


def test_a_csv_with_text_and_missing_values_in_features_loads(world):
    _, uploads, _ = world
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "size": rng.normal(10, 3, 60).round(2),
        "city": rng.choice(["Lyon", "Paris", "Nantes"], 60).astype(object),
        "notes": [f"free text number {i}" for i in range(60)],
        "y": ["a", "b", "c"] * 20,
    })
    frame.loc[[1, 5, 9], "size"] = np.nan
    frame.loc[[2, 7], "city"] = None
    frame.loc[[3, 4], "notes"] = None
    path = uploads / "mixed.csv"
    frame.to_csv(path, index=False)
    doc = copy.deepcopy(SK)
    doc["data"] = {"source": "csv", "path": str(path), "target": "y"}
    spec = validate_spec(doc)
    assert spec["data"]["task"] == "classification"
    data = load_dataset(spec["data"], seed=1)
    assert not np.isnan(data.x_train).any() and not np.isnan(data.x_val).any()
    assert data.n_classes == 3 and len(data.x_train) + len(data.x_val) == 60


def test_csv_folders_named_in_tuning_data_dirs_are_allowed(world, tmp_path, monkeypatch):
    _, _, _ = world
    mine = tmp_path / "my-data"
    mine.mkdir()
    _frame()().to_csv(mine / "d.csv", index=False)
    doc = copy.deepcopy(SK)
    doc["data"] = {"source": "csv", "path": str(mine / "d.csv"), "target": "y"}
    with pytest.raises(SpecError, match="data.path must be a file inside"):
        validate_spec(doc)
    monkeypatch.setenv("TUNING_DATA_DIRS", os.pathsep.join(["/nonexistent", str(mine)]))
    assert validate_spec(doc)["data"]["path"] == str(mine / "d.csv")
