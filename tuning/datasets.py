"""Training data for a run: scikit-learn's bundled sets, the Keras cache, and users' CSV files.

The dashboard process imports this module to preview uploads, so it never imports
TensorFlow or Keras: Keras data sets are parsed straight from the files Keras caches,
and nothing is ever downloaded.

Every problem with the data is a ``DataError`` whose message names the spec field at
fault, says what is wrong and how to fix it::

    data.target 'price' is not a column of houses.csv; pick one of: area, rooms, city
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from . import catalog

MAX_CSV_BYTES = 200 * 1024 * 1024
MIN_ROWS = 10
# A non-numeric column with more distinct values than this (or than half the rows) is free text.
MAX_CATEGORIES = 50
# With task "auto", an integer target with at most this many distinct values is a class label.
AUTO_MAX_CLASSES = 20
PREVIEW_ROWS = 20
# Enough of the file to judge its encoding and header without reading all of it.
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
COLUMN_KINDS = ("numeric", "categorical", "boolean", "text")

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


class DataError(ValueError):
    """Bad data. ``field`` is the spec field at fault ("data.path", "data.target", ...).

    ``str(err)`` is one sentence naming the field, the problem and the fix.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message if field in message else f"{field}: {message}"
        super().__init__(self.message)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: str  # one of COLUMN_KINDS; "text" columns are left out of the features
    missing: int
    unique: int


@dataclass(frozen=True)
class CsvSummary:
    """What ``inspect_csv`` learnt about a file. ``rows`` counts every data row, target or not."""

    path: str
    rows: int
    columns: tuple[ColumnInfo, ...]
    target: str | None
    task: str | None
    n_classes: int | None
    warnings: tuple[str, ...]
    preview: pd.DataFrame = field(compare=False, repr=False)


# Arrays have no single truth value, so a generated __eq__ would raise: compare by identity.
@dataclass(frozen=True, eq=False)
class Dataset:
    """Arrays ready to train on: x float32 2-D and scaled; y int64 class indices or float32."""

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int | None
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    warnings: tuple[str, ...] = ()


def load_dataset(data: dict[str, Any], seed: int) -> Dataset:
    """Load the normalised ``data`` section of a spec, split with ``seed``.

    The same ``data`` and ``seed`` always give the same arrays. Raises ``DataError``.
    """
    loaders = {"sklearn": _load_sklearn, "keras": _load_keras, "csv": _load_csv}
    source = data.get("source", "sklearn")
    if source not in loaders:
        raise DataError("data.source", f"data.source must be one of {', '.join(loaders)}; "
                        f"got {source!r}")
    return loaders[source](data, seed)


# ---------------------------------------------------------------- rows: sample and split

def _pick_rows(labels: np.ndarray | None, class_names: Sequence[str] | None,
               data: dict[str, Any], seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for training and validation.

    Subsampled to ``data.max_rows`` first, then split by ``data.validation_split``; both
    seeded, both stratified when ``labels`` (class indices) are given.
    """
    from sklearn.model_selection import train_test_split

    rows = np.arange(n)
    max_rows = data.get("max_rows")
    if max_rows is not None and max_rows < n:
        rows = _subsample(rows, labels, int(max_rows), seed)
        if labels is not None:
            _check_class_sizes(labels[rows], class_names, "data.max_rows",
                               f"data.max_rows {max_rows} samples a set in which the target",
                               "raise data.max_rows or leave it out")
    split = float(data.get("validation_split", 0.2))
    strata = None if labels is None else labels[rows]
    if strata is not None:
        _check_split_sizes(strata, split)
    train, val = train_test_split(rows, test_size=split, random_state=seed, stratify=strata)
    return train, val


def _subsample(rows: np.ndarray, labels: np.ndarray | None, size: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    if labels is None:
        return np.sort(np.random.default_rng(seed).choice(rows, size, replace=False))
    classes, counts = np.unique(labels, return_counts=True)
    if size < 2 * len(classes):
        raise DataError("data.max_rows", f"data.max_rows {size} is too small for "
                        f"{len(classes)} classes; a stratified split needs at least 2 rows per "
                        f"class, so raise it to at least {2 * len(classes)}")
    if counts.min() < 2 or len(rows) - size < len(classes):
        # Stratifying cannot work here; so few rows are dropped that a plain sample is fair.
        return np.sort(np.random.default_rng(seed).choice(rows, size, replace=False))
    kept, _ = train_test_split(rows, train_size=size, random_state=seed, stratify=labels)
    return np.sort(kept)


def _check_class_sizes(labels: np.ndarray, class_names: Sequence[str] | None, field: str,
                       subject: str, fix: str) -> None:
    classes, counts = np.unique(labels, return_counts=True)
    single = [classes[i] for i in np.flatnonzero(counts < 2)]
    if not single:
        return
    names = [repr(class_names[c]) if class_names is not None else repr(c) for c in single]
    raise DataError(field, f"{subject} has {_count(len(single), 'class', 'classes')} with a "
                    f"single row ({_short_list(names, 5)}); a stratified train/validation split "
                    f"needs at least 2 rows of each class; {fix}")


def _check_split_sizes(labels: np.ndarray, split: float) -> None:
    """Both sides of a stratified split must hold every class at least once."""
    n, k = len(labels), len(np.unique(labels))
    n_val = math.ceil(split * n)
    if n_val < k:
        needed = math.ceil(100 * k / n) / 100
        fix = f"raise it to at least {needed:g} or use more rows" if needed <= 0.9 else (
            "use more rows")
        raise DataError("data.validation_split", f"data.validation_split {split:g} leaves "
                        f"{n_val} validation rows for {k} classes; every class needs a row on "
                        f"each side, so {fix}")
    if n - n_val < k:
        raise DataError("data.validation_split", f"data.validation_split {split:g} leaves "
                        f"{n - n_val} training rows for {k} classes; every class needs a row on "
                        "each side, so lower it or use more rows")


def _resolve_fixed_task(data: dict[str, Any], default: str) -> str:
    task = data.get("task", "auto")
    if task == "auto":
        return default
    if task not in ("classification", "regression"):
        raise DataError("data.task", "data.task must be one of auto, classification, regression; "
                        f"got {task!r}")
    return task


def _encode_classes(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices in sorted order of the values, and the values as names."""
    classes, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64).ravel(), tuple(str(c) for c in classes)


def _finish(name: str, task: str, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
            y_val: np.ndarray, feature_names: Iterable[str],
            class_names: tuple[str, ...] | None, warnings: Iterable[str] = ()) -> Dataset:
    y_type = np.int64 if task == "classification" else np.float32
    return Dataset(
        name=name, task=task,
        x_train=np.ascontiguousarray(x_train, dtype=np.float32),
        y_train=np.ascontiguousarray(y_train, dtype=y_type),
        x_val=np.ascontiguousarray(x_val, dtype=np.float32),
        y_val=np.ascontiguousarray(y_val, dtype=y_type),
        n_classes=None if class_names is None else len(class_names),
        feature_names=tuple(feature_names), class_names=class_names,
        warnings=tuple(warnings))


# ---------------------------------------------------------------- scikit-learn's bundled sets

def _load_sklearn(data: dict[str, Any], seed: int) -> Dataset:
    from sklearn import datasets as bundled
    from sklearn.preprocessing import StandardScaler

    name = data.get("name")
    if name not in catalog.SKLEARN_DATASETS:
        raise DataError("data.name", f"data.name {name!r} is not a bundled scikit-learn data "
                        f"set; use one of: {', '.join(catalog.SKLEARN_DATASETS)}")
    bunch = getattr(bundled, f"load_{name}")()
    task = _resolve_fixed_task(data, catalog.SKLEARN_DATASETS[name])
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    class_names = labels = None
    if task == "classification":
        y, class_names = _encode_classes(y)
        if "target_names" in bunch and len(bunch.target_names) == len(class_names):
            class_names = tuple(str(c) for c in bunch.target_names)
        _check_class_sizes(y, class_names, "data.task", f"data.task classification on {name}: "
                           "the target", "set data.task to regression")
        labels = y
    train, val = _pick_rows(labels, class_names, data, seed, len(x))
    if name == "digits":
        x = x / 16.0  # intensities run 0..16; dividing keeps the blank background at 0
    else:
        x = StandardScaler().fit(x[train]).transform(x)
    names = bunch.get("feature_names")
    if names is None or len(names) != x.shape[1]:
        names = [f"x{i}" for i in range(x.shape[1])]
    return _finish(name, task, x[train], y[train], x[val], y[val], map(str, names), class_names)


# ---------------------------------------------------------------- the Keras cache

def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _load_keras(data: dict[str, Any], seed: int) -> Dataset:
    name = data.get("name")
    if name not in catalog.KERAS_DATASETS:
        raise DataError("data.name", f"data.name {name!r} is not a Keras data set this app "
                        f"reads; use one of: {', '.join(catalog.KERAS_DATASETS)}")
    if _resolve_fixed_task(data, "classification") != "classification":
        raise DataError("data.task", f"data.task must be classification for Keras data set "
                        f"{name}; got {data.get('task')!r}")
    if name == "mnist":
        x, y, class_names = (*_read_mnist(keras_cache_dir()), MNIST_CLASSES)
    else:
        x, y, class_names = (*_read_fashion_mnist(keras_cache_dir()), FASHION_MNIST_CLASSES)
    # Only the official training part is used; its test part stays unseen by every trial.
    labels = y.astype(np.int64)
    train, val = _pick_rows(labels, class_names, data, seed, len(labels))
    names = (f"pixel_{i}" for i in range(math.prod(x.shape[1:])))
    return _finish(name, "classification", _pixels(x[train]), labels[train], _pixels(x[val]),
                   labels[val], names, class_names)


def _pixels(images: np.ndarray) -> np.ndarray:
    """Flattened to one row per image, scaled from 0..255 to [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def _not_cached(name: str, path: Path, what: str) -> DataError:
    return DataError("data.name", f"data.name {name} is not in the Keras cache at {path}; this "
                     f"machine cannot download it. Copy {what} there, or use a bundled data set "
                     "such as digits")


def _damaged(name: str, path: Path, problem: object) -> DataError:
    return DataError("data.name", f"data.name {name}: the cached file {path} cannot be read "
                     f"({problem}); replace it with a fresh copy, or use a bundled data set such "
                     "as digits")


def _read_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    path = folder / "mnist.npz"
    if not path.is_file():
        raise _not_cached("mnist", path, "mnist.npz")
    try:
        with np.load(path, allow_pickle=False) as archive:
            x, y = archive["x_train"], archive["y_train"]
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise _damaged("mnist", path, exc) from None
    return _checked_images("mnist", path, x, y)


def _read_fashion_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = folder / "fashion-mnist"
    images, labels = (folder / f for f in FASHION_MNIST_FILES)
    if not (images.is_file() and labels.is_file()):
        raise _not_cached("fashion_mnist", folder, "the files " + ", ".join(FASHION_MNIST_FILES))
    x = _read_idx("fashion_mnist", images, ndim=3)
    y = _read_idx("fashion_mnist", labels, ndim=1)
    return _checked_images("fashion_mnist", images, x, y)


def _read_idx(name: str, path: Path, ndim: int) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes (the MNIST distribution format)."""
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise _damaged(name, path, exc) from None
    header = 4 + 4 * ndim
    # Magic number: two zero bytes, type 0x08 (unsigned byte), then the number of dimensions.
    if len(raw) < header or raw[:4] != bytes((0, 0, 8, ndim)):
        raise _damaged(name, path, f"not an IDX file of {ndim}-D unsigned bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    values = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if values.size != math.prod(shape):
        raise _damaged(name, path, f"header promises shape {shape}, file holds {values.size} "
                       "values")
    return values.reshape(shape)


def _checked_images(name: str, path: Path, x: np.ndarray,
                    y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(y) < MIN_ROWS:
        raise _damaged(name, path, f"images {x.shape} and labels {y.shape} do not match")
    if y.min() < 0 or y.max() > 9:
        raise _damaged(name, path, "labels must be digits 0 to 9")
    return x, y


# ---------------------------------------------------------------- CSV files

def inspect_csv(path: str, target: str | None = None, task: str = "auto") -> CsvSummary:
    """Describe a CSV file: its columns, the task its target implies, and what will be dropped.

    Raises ``DataError`` for every file ``load_dataset`` could not train on; with no
    ``target`` only the checks that do not depend on the target run.
    """
    _, summary = _prepare_csv(path, target, task)
    return summary


def _load_csv(data: dict[str, Any], seed: int) -> Dataset:
    path, target = data.get("path"), data.get("target")
    if not isinstance(path, str) or not path:
        raise DataError("data.path", "data.path is required for a CSV source; give the path of "
                        "the CSV file")
    if not isinstance(target, str) or not target:
        names = [c.name for c in inspect_csv(path).columns]
        raise DataError("data.target", "data.target is required for a CSV source; pick the "
                        f"column to predict from: {_short_list(names)}")
    frame, summary = _prepare_csv(path, target, data.get("task", "auto"))
    label = data.get("name") or _label(path)
    numeric, categorical = _feature_columns(summary)
    if not numeric and not categorical:
        raise DataError("data.path", f"data.path {label} has no usable feature column: every "
                        "column besides the target is free text or empty; add numeric or "
                        "categorical columns")
    y, class_names = _encode_target(frame[target], summary.task)
    labels = y if summary.task == "classification" else None
    train, val = _pick_rows(labels, class_names, data, seed, len(frame))
    features = _feature_frame(frame, numeric, categorical)
    try:
        transformer = _feature_transformer(numeric, categorical)
        x_train = transformer.fit_transform(features.iloc[train])
        x_val = transformer.transform(features.iloc[val])
        names = transformer.get_feature_names_out()
    except (ValueError, TypeError) as exc:
        raise DataError("data.path", f"data.path {label}: its columns cannot be turned into "
                        f"features ({exc}); check the columns named in that message") from None
    return _finish(label, summary.task, x_train, y[train], x_val, y[val], names, class_names,
                   summary.warnings)


def _prepare_csv(path: str, target: str | None, task: str) -> tuple[pd.DataFrame, CsvSummary]:
    """Read and check a CSV; return its rows that have a target value, and its summary."""
    label = _label(path)
    raw = _read_csv(path, label)
    columns = tuple(_column_info(name, raw[name], len(raw)) for name in raw.columns)
    warnings = _feature_warnings(columns, target, len(raw))
    frame, resolved, n_classes = raw, None, None
    if target is not None:
        _check_target_name(raw, target, label)
        frame, dropped = _rows_with_target(raw, target)
        warnings += dropped
        resolved = _resolve_csv_task(frame[target], target, task)
        if resolved == "classification":
            codes, class_names = _encode_target(frame[target], resolved)
            _check_class_sizes(codes, class_names, "data.target", f"data.target {target!r}",
                               _single_row_fix(frame[target], len(class_names)))
            n_classes = len(class_names)
    summary = CsvSummary(path=str(path), rows=len(raw), columns=columns, target=target,
                         task=resolved, n_classes=n_classes, warnings=tuple(warnings),
                         preview=raw.head(PREVIEW_ROWS))
    return frame, summary


def _read_csv(path: str, label: str) -> pd.DataFrame:
    """The file as a DataFrame; every way a file can be unusable is a ``DataError``."""
    size = _file_size(path, label)
    head = _read_head(path, label)
    text = _decode_head(head, whole=len(head) >= size, label=label)
    delimiter = _guess_delimiter(text)
    _check_header(_header_names(text, delimiter, label), label)
    frame = _parse_csv(path, delimiter, label)
    _check_shape(frame, label)
    numeric = frame.select_dtypes("number").columns
    # Infinities break scaling; treat them like the missing values they usually stand for.
    frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    return frame


def _file_size(path: str, label: str) -> int:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError("data.path", f"data.path {path!r} does not exist; check the path or "
                        "upload the file again") from None
    except OSError as exc:
        raise DataError("data.path", f"data.path {path!r} cannot be read ({exc.strerror}); "
                        "check that the file exists and is readable") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError("data.path", f"data.path {path!r} is a folder; give the path of a CSV "
                        "file inside it")
    if info.st_size == 0:
        raise DataError("data.path", f"data.path {label} is empty (0 bytes); give a CSV file "
                        f"with a header row and at least {MIN_ROWS} data rows")
    if info.st_size > MAX_CSV_BYTES:
        raise DataError("data.path", f"data.path {label} is {math.ceil(info.st_size / 2**20)} MB;"
                        f" the limit is {MAX_CSV_BYTES // 2**20} MB; sample it down to fewer rows")
    return info.st_size


def _read_head(path: str, label: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise DataError("data.path", f"data.path {label} cannot be read ({exc.strerror}); check "
                        "that the file is readable") from None


def _decode_head(head: bytes, whole: bool, label: str) -> str:
    # Text files never hold NUL bytes; spreadsheets, archives and UTF-16 exports do.
    if b"\x00" in head:
        raise DataError("data.path", f"data.path {label} is not a text file (it holds binary "
                        "data); export the data as CSV (UTF-8) and use that file")
    # An incremental decoder tolerates a character cut in half where the sample ends.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError as exc:
        raise _not_utf8(label, f"byte 0x{head[exc.start]:02x} at offset {exc.start}") from None
    return text.lstrip("\ufeff")


def _not_utf8(label: str, where: str) -> DataError:
    return DataError("data.path", f"data.path {label} is not UTF-8 text ({where}); save it as "
                     "CSV UTF-8 (in Excel: Save As, CSV UTF-8) and try again")


def _guess_delimiter(text: str) -> str:
    """The delimiter used most often in the header line; a comma when none is used."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = [first.count(d) for d in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))] if max(counts) else ","


def _header_names(text: str, delimiter: str, label: str) -> list[str]:
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            if any(cell.strip() for cell in row):
                return row
    except csv.Error as exc:
        raise DataError("data.path", f"data.path {label} is not valid CSV ({exc}); check its "
                        "header row") from None
    return []


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _check_header(names: list[str], label: str) -> None:
    if not names:
        raise DataError("data.path", f"data.path {label} has no columns (it holds only blank "
                        "lines); give a CSV file with a header row and data rows")
    if all(_NUMBER.fullmatch(name.strip()) for name in names):
        raise DataError("data.path", f"data.path {label} has no header row: its first row "
                        f"({_short_list(names, 5)}) looks like data; the first row must be a "
                        "header naming the columns")
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    repeated = [f"{name!r} ({count} times)" for name, count in seen.items() if count > 1]
    if repeated:
        raise DataError("data.path", f"data.path {label} repeats column names: "
                        f"{_short_list(repeated, 5)}; rename the columns so that each name is "
                        "used once")


def _parse_csv(path: str, delimiter: str, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding="utf-8", low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError("data.path", f"data.path {label} has no columns; give a CSV file with a "
                        "header row and data rows") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. ", "")
        raise DataError("data.path", f"data.path {label} is not valid CSV ({detail}); check that "
                        f"every row has as many {_delimiter_name(delimiter)}-separated fields as "
                        "the header and that every quote is closed") from None
    except UnicodeDecodeError:
        raise _not_utf8(label, f"somewhere after the first {SNIFF_BYTES // 1024} KB") from None
    except Exception as exc:  # pandas raises many unrelated types; a bad file must not crash
        raise DataError("data.path", f"data.path {label} cannot be read as CSV "
                        f"({type(exc).__name__}: {exc}); check that it is a CSV file") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas silently turns the first column into the index when rows outgrow the header.
        raise DataError("data.path", f"data.path {label} is not valid CSV (its rows have more "
                        f"fields than its header); check that every row has as many "
                        f"{_delimiter_name(delimiter)}-separated fields as the header")
    return frame


def _check_shape(frame: pd.DataFrame, label: str) -> None:
    if frame.shape[1] < 2:
        raise DataError("data.path", f"data.path {label} has a single column "
                        f"({frame.columns[0]!r}); a tuning run needs at least one feature "
                        "column besides the target")
    if len(frame) < MIN_ROWS:
        raise DataError("data.path", f"data.path {label} has {_count(len(frame), 'data row')}; "
                        f"at least {MIN_ROWS} are needed below the header row")


def _column_info(name: str, values: pd.Series, rows: int) -> ColumnInfo:
    present = values.dropna()
    unique = int(present.nunique())
    if pd.api.types.is_bool_dtype(values) or (
            len(present) and all(isinstance(v, (bool, np.bool_)) for v in present.unique())):
        kind = "boolean"
    elif pd.api.types.is_numeric_dtype(values):
        kind = "numeric"
    elif unique <= MAX_CATEGORIES and unique < 0.5 * rows:
        kind = "categorical"
    else:
        kind = "text"
    return ColumnInfo(name=str(name), kind=kind, missing=int(values.isna().sum()), unique=unique)


def _feature_warnings(columns: tuple[ColumnInfo, ...], target: str | None, rows: int) -> list[str]:
    warnings = []
    for col in columns:
        if col.name == target:
            continue
        if col.missing == rows:
            warnings.append(f"column {col.name} is empty in every row; it is left out of the "
                            "features")
        elif col.kind == "text":
            warnings.append(f"column {col.name} is free text with {col.unique} distinct values; "
                            "it is left out of the features")
    return warnings


def _feature_columns(summary: CsvSummary) -> tuple[list[str], list[str]]:
    usable = [c for c in summary.columns
              if c.name != summary.target and c.kind != "text" and c.missing < summary.rows]
    numeric = [c.name for c in usable if c.kind == "numeric"]
    return numeric, [c.name for c in usable if c.kind in ("categorical", "boolean")]


def _feature_frame(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    features = frame[numeric + categorical].copy()
    for name in categorical:
        # One dtype for the encoder: strings, with NaN for missing cells.
        features[name] = features[name].map(str, na_action="ignore").astype(object)
    return features


def _one_hot_name(column: str, category: object) -> str:
    return f"{column}={category}"


def _feature_transformer(numeric: list[str], categorical: list[str]):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # keep_empty_features: a column empty in the training part still yields its output
    # column, so feature_names always line up with the arrays.
    numbers = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                            StandardScaler())
    categories = make_pipeline(
        SimpleImputer(strategy="most_frequent", keep_empty_features=True),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                      feature_name_combiner=_one_hot_name))
    return ColumnTransformer([("numeric", numbers, numeric),
                              ("categorical", categories, categorical)],
                             verbose_feature_names_out=False, sparse_threshold=0.0)


def _check_target_name(frame: pd.DataFrame, target: str, label: str) -> None:
    if target in frame.columns:
        return
    names = [str(c) for c in frame.columns]
    close = [n for n in names if n.strip().lower() == target.strip().lower()]
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise DataError("data.target", f"data.target {target!r} is not a column of {label}; {hint}"
                    f"pick one of: {_short_list(names)}")


def _rows_with_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, list[str]]:
    missing = frame[target].isna()
    kept = frame.loc[~missing].reset_index(drop=True)
    if len(kept) < MIN_ROWS:
        raise DataError("data.target", f"data.target {target!r} is empty in {int(missing.sum())}"
                        f" of {len(frame)} rows, which leaves {len(kept)}; at least {MIN_ROWS} "
                        "rows with a target value are needed; fill in the target or pick another "
                        "column")
    if kept[target].nunique() == 1:
        raise DataError("data.target", f"data.target {target!r} has the same value "
                        f"({_short(kept[target].iloc[0])}) in every row, so there is nothing to "
                        "predict; pick another column")
    if not missing.any():
        return kept, []
    return kept, [f"{_count(int(missing.sum()), 'row')} with no value in target column {target} "
                  "are left out"]


def _is_numeric_target(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _is_integer_valued(values: pd.Series) -> bool:
    return bool(np.all(np.mod(values.to_numpy(dtype=np.float64), 1) == 0))


def _resolve_csv_task(values: pd.Series, target: str, task: str) -> str:
    if task not in catalog.TASKS:
        raise DataError("data.task", f"data.task must be one of {', '.join(catalog.TASKS)}; got "
                        f"{task!r}")
    numeric = _is_numeric_target(values)
    if task == "regression" and not numeric:
        examples = _short_list([_short(v) for v in values.drop_duplicates().head(3)], 3)
        raise DataError("data.task", f"data.task is regression but data.target {target!r} is "
                        f"not numeric (values such as {examples}); set data.task to "
                        "classification or pick a numeric target column")
    if task != "auto":
        return task
    if not numeric or (_is_integer_valued(values) and values.nunique() <= AUTO_MAX_CLASSES):
        return "classification"
    return "regression"


def _encode_target(values: pd.Series,
                   task: str | None) -> tuple[np.ndarray, tuple[str, ...] | None]:
    if task == "regression":
        return values.to_numpy(dtype=np.float32), None
    if _is_numeric_target(values):
        # 1.0 and 1 are one class, named "1".
        array = values.to_numpy(dtype=np.int64 if _is_integer_valued(values) else np.float64)
    else:
        array = values.map(str).to_numpy(dtype=object)
    return _encode_classes(array)


def _single_row_fix(values: pd.Series, n_classes: int) -> str:
    fix = "remove those rows or gather more data"
    if _is_numeric_target(values) and n_classes > AUTO_MAX_CLASSES:
        fix += "; if the target is a quantity rather than a label, set data.task to regression"
    return fix


# ---------------------------------------------------------------- wording

def _label(path: str) -> str:
    return os.path.basename(os.path.normpath(path)) or str(path)


def _short(value: object, limit: int = 40) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_list(items: Sequence[str], limit: int = 20) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... ({len(items) - limit} more)"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[delimiter]
