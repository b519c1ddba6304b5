"""What every data loader shares: the ``Dataset`` it returns, the ``DataError`` it raises,
and the seeded subsample and stratified train/validation split of its rows.

The loaders themselves live in ``tuning.data`` (scikit-learn's bundled sets), ``keras_data``
and ``csv_data``; this module imports none of them, so each can import it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

# The fewest data rows a file (or a cached image set) must hold to be trained on.
MIN_ROWS = 10


class DataError(ValueError):
    """Bad data. ``field`` is the spec field at fault ("data.path", "data.target", ...).

    ``str(err)`` is one sentence naming the field, the problem and the fix.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message if field in message else f"{field}: {message}"
        super().__init__(self.message)


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


MAX_SUMMARY_NAMES = 200  # class or feature names a summary keeps (the rest are counted)


def summarize(dataset: Dataset) -> dict[str, Any]:
    """What a run's pages and reports say about its data, as plain JSON: the rows of
    each split, one sample's shape, the task, the classes (their names, as loaded: an
    image folder's subfolders, a CSV target's values) and the features' names."""
    summary: dict[str, Any] = {
        "name": dataset.name, "task": dataset.task,
        "train_rows": int(len(dataset.x_train)), "val_rows": int(len(dataset.x_val)),
        "input_shape": [int(d) for d in dataset.x_train.shape[1:]],
        "features": len(dataset.feature_names),
        "feature_names": [str(n) for n in dataset.feature_names[:MAX_SUMMARY_NAMES]],
    }
    if dataset.class_names is not None:
        summary["classes"] = len(dataset.class_names)
        summary["class_names"] = [str(n) for n in dataset.class_names[:MAX_SUMMARY_NAMES]]
        counts = np.bincount(dataset.y_train.astype(np.int64),
                             minlength=len(dataset.class_names))
        summary["train_class_counts"] = [int(c) for c in counts[:MAX_SUMMARY_NAMES]]
    if dataset.warnings:
        summary["warnings"] = [str(w) for w in dataset.warnings]
    return summary


# ---------------------------------------------------------------- rows: sample and split

def pick_rows(labels: np.ndarray | None, class_names: Sequence[str] | None,
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
            check_class_sizes(labels[rows], class_names, "data.max_rows",
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


def check_class_sizes(labels: np.ndarray, class_names: Sequence[str] | None, field: str,
                      subject: str, fix: str) -> None:
    """Raise ``DataError(field, ...)`` when a class has a single row: "{subject} has ...; {fix}"."""
    classes, counts = np.unique(labels, return_counts=True)
    single = [classes[i] for i in np.flatnonzero(counts < 2)]
    if not single:
        return
    names = [repr(class_names[c]) if class_names is not None else repr(c) for c in single]
    raise DataError(field, f"{subject} has {counted(len(single), 'class', 'classes')} with a "
                    f"single row ({short_list(names, 5)}); a stratified train/validation split "
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


def resolve_fixed_task(data: dict[str, Any], default: str) -> str:
    """``data.task`` for a set whose target is fixed; ``default`` when it is "auto" or absent."""
    task = data.get("task", "auto")
    if task == "auto":
        return default
    if task not in ("classification", "regression"):
        raise DataError("data.task", "data.task must be one of auto, classification, regression; "
                        f"got {task!r}")
    return task


def encode_classes(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices in sorted order of the values, and the values as names."""
    classes, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64).ravel(), tuple(str(c) for c in classes)


def build_dataset(name: str, task: str, x_train: np.ndarray, y_train: np.ndarray,
                  x_val: np.ndarray, y_val: np.ndarray, feature_names: Iterable[str],
                  class_names: tuple[str, ...] | None, warnings: Iterable[str] = ()) -> Dataset:
    """The ``Dataset``, with x as contiguous float32 and y as int64 (classes) or float32."""
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


# ---------------------------------------------------------------- wording

def short_list(items: Sequence[str], limit: int = 20) -> str:
    """``items`` joined by commas, the first ``limit`` of them, then how many more."""
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... ({len(items) - limit} more)"


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with the noun agreeing: "1 row", "3 rows", "2 classes"."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"

