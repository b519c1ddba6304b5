"""Users' CSV files as training data: the columns, the target and the task it implies,
and the features built from the rest.

``inspect_csv`` runs every check ``load_csv`` would, without building arrays, so the
dashboard can preview an upload and refuse it with the same message a run would give.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tuning import catalog
from .csv_files import read_csv_frame
from .splits import (MIN_ROWS, DataError, Dataset, build_dataset, check_class_sizes, counted,
                     encode_classes, pick_rows, short_list)

# A non-numeric column with more distinct values than this (or than half the rows) is free text.
MAX_CATEGORIES = 50
# With task "auto", an integer target with at most this many distinct values is a class label.
AUTO_MAX_CLASSES = 20
PREVIEW_ROWS = 20
COLUMN_KINDS = ("numeric", "categorical", "boolean", "text")


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


def inspect_csv(path: str, target: str | None = None, task: str = "auto") -> CsvSummary:
    """Describe a CSV file: its columns, the task its target implies, and what will be dropped.

    Raises ``DataError`` for every file ``load_dataset`` could not train on; with no
    ``target`` only the checks that do not depend on the target run.

    Answers (and refusals) are remembered for the last ``INSPECT_CACHE_ENTRIES`` calls,
    keyed by the file's real path, size and modification time: the dashboard validates its
    form on every rerun, and must not parse the same file each time. A changed file is read
    again. The summary's ``preview`` is shared between callers: do not modify it.
    """
    readable_path(path)  # before the memory: the folders allowed may have changed
    key = _cache_key(path, target, task)
    with _CACHE_LOCK:
        hit = _CACHE.get(key) if key is not None else None
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is not None:
        if isinstance(hit, DataError):
            raise DataError(hit.field, hit.message)
        return hit
    try:
        _, answer = _prepare_csv(path, target, task)
    except DataError as exc:
        answer = exc
    if key is not None:
        with _CACHE_LOCK:
            _CACHE[key] = answer
            while len(_CACHE) > INSPECT_CACHE_ENTRIES:
                _CACHE.popitem(last=False)
    if isinstance(answer, DataError):
        raise DataError(answer.field, answer.message)
    return answer


INSPECT_CACHE_ENTRIES = 32
_CACHE: OrderedDict[tuple, CsvSummary | DataError] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def readable_path(path: str):
    """``paths.checked_spec_path`` for ``data.path``, its refusal as a ``DataError``."""
    from tuning.paths import PathRefused, checked_spec_path

    try:
        return checked_spec_path(path, "data.path")
    except PathRefused as exc:
        raise DataError(exc.field, exc.message) from None


def _cache_key(path: str, target: str | None, task: str) -> tuple | None:
    try:
        real = str(readable_path(path))
        info = os.stat(real)
    except (OSError, ValueError, TypeError):
        return None  # missing or unreadable: not remembered, so it is reported afresh
    return (real, info.st_size, info.st_mtime_ns, info.st_ino, target, task)


def load_csv(data: dict[str, Any], seed: int) -> Dataset:
    """The CSV file at ``data.path``, predicting ``data.target``; raises ``DataError``."""
    path, target = data.get("path"), data.get("target")
    if not isinstance(path, str) or not path:
        raise DataError("data.path", "data.path is required for a CSV source; give the path of "
                        "the CSV file")
    if not isinstance(target, str) or not target:
        names = [c.name for c in inspect_csv(path).columns]
        raise DataError("data.target", "data.target is required for a CSV source; pick the "
                        f"column to predict from: {short_list(names)}")
    frame, summary = _prepare_csv(path, target, data.get("task", "auto"))
    label = data.get("name") or _label(path)
    numeric, categorical = _feature_columns(summary)
    if not numeric and not categorical:
        raise DataError("data.path", f"data.path {label} has no usable feature column: every "
                        "column besides the target is free text or empty; add numeric or "
                        "categorical columns")
    y, class_names = _encode_target(frame[target], summary.task)
    labels = y if summary.task == "classification" else None
    train, val = pick_rows(labels, class_names, data, seed, len(frame))
    features = _feature_frame(frame, numeric, categorical)
    try:
        transformer = _feature_transformer(numeric, categorical)
        x_train = transformer.fit_transform(features.iloc[train])
        x_val = transformer.transform(features.iloc[val])
        names = transformer.get_feature_names_out()
    except (ValueError, TypeError) as exc:
        raise DataError("data.path", f"data.path {label}: its columns cannot be turned into "
                        f"features ({exc}); check the columns named in that message") from None
    return build_dataset(label, summary.task, x_train, y[train], x_val, y[val], names,
                         class_names, summary.warnings)


def _prepare_csv(path: str, target: str | None, task: str) -> tuple[pd.DataFrame, CsvSummary]:
    """Read and check a CSV; return its rows that have a target value, and its summary."""
    label = _label(path)
    raw = read_csv_frame(str(readable_path(path)), label)
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
            check_class_sizes(codes, class_names, "data.target", f"data.target {target!r}",
                              _single_row_fix(frame[target], len(class_names)))
            n_classes = len(class_names)
    summary = CsvSummary(path=str(path), rows=len(raw), columns=columns, target=target,
                         task=resolved, n_classes=n_classes, warnings=tuple(warnings),
                         preview=raw.head(PREVIEW_ROWS))
    return frame, summary


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
                    f"pick one of: {short_list(names)}")


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
    return kept, [f"{counted(int(missing.sum()), 'row')} with no value in target column {target} "
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
        examples = short_list([_short(v) for v in values.drop_duplicates().head(3)], 3)
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
    return encode_classes(array)


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

