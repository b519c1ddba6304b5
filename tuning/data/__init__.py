"""Training data for a run: scikit-learn's bundled sets, the Keras cache, and users' CSV files.

The dashboard process imports this module to preview uploads, so it never imports
TensorFlow or Keras: Keras data sets are parsed straight from the files Keras caches,
and nothing is ever downloaded.

Every problem with the data is a ``DataError`` whose message names the spec field at
fault, says what is wrong and how to fix it::

    data.target 'price' is not a column of houses.csv; pick one of: area, rooms, city

This module is the entry point and loads scikit-learn's bundled sets itself; the rest
lives in small modules whose public names it re-exports, so callers import from here:
``splits`` (``Dataset``, ``DataError``, the seeded split), ``keras_data`` (the Keras
cache), ``csv_files`` (reading a CSV file) and ``csv_data`` (its columns and target),
``arrays`` (a user's ``.npz`` file or Python loader) and ``images`` (an image folder).
Only the Keras families take arrays of other shapes than one row of features per sample.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tuning import catalog
from .csv_data import (AUTO_MAX_CLASSES, COLUMN_KINDS, MAX_CATEGORIES, PREVIEW_ROWS, ColumnInfo,
                       CsvSummary, inspect_csv, load_csv)
from .csv_files import DELIMITERS, MAX_CSV_BYTES, MAX_CSV_COLUMNS, MAX_CSV_ROWS, SNIFF_BYTES
from .keras_data import (FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, MNIST_CLASSES,
                         keras_cache_dir, load_keras)
from .splits import (MIN_ROWS, DataError, Dataset, build_dataset, check_class_sizes,
                     encode_classes, pick_rows, resolve_fixed_task, summarize)

__all__ = [
    "AUTO_MAX_CLASSES", "COLUMN_KINDS", "DELIMITERS", "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES", "MAX_CATEGORIES", "MAX_CSV_BYTES", "MAX_CSV_COLUMNS", "MAX_CSV_ROWS",
    "MIN_ROWS", "MNIST_CLASSES",
    "PREVIEW_ROWS", "SNIFF_BYTES", "ColumnInfo", "CsvSummary", "DataError", "Dataset",
    "inspect_csv", "keras_cache_dir", "load_dataset", "summarize",
]


def load_dataset(data: dict[str, Any], seed: int) -> Dataset:
    """Load the normalised ``data`` section of a spec, split with ``seed``.

    The same ``data`` and ``seed`` always give the same arrays. Raises ``DataError``.
    """
    from .arrays import load_npz, load_python
    from .images import load_images

    loaders = {"sklearn": _load_sklearn, "keras": load_keras, "csv": load_csv,
               "npz": load_npz, "images": load_images, "python": load_python}
    source = data.get("source", "sklearn")
    if source not in loaders:
        raise DataError("data.source", f"data.source must be one of {', '.join(loaders)}; "
                        f"got {source!r}")
    return loaders[source](data, seed)


# ---------------------------------------------------------------- scikit-learn's bundled sets

def _load_sklearn(data: dict[str, Any], seed: int) -> Dataset:
    """``data.name`` from scikit-learn's bundled sets; raises ``DataError``."""
    from sklearn import datasets as bundled
    from sklearn.preprocessing import StandardScaler

    name = data.get("name")
    if name not in catalog.SKLEARN_DATASETS:
        raise DataError("data.name", f"data.name {name!r} is not a bundled scikit-learn data "
                        f"set; use one of: {', '.join(catalog.SKLEARN_DATASETS)}")
    bunch = getattr(bundled, f"load_{name}")()
    task = resolve_fixed_task(data, catalog.SKLEARN_DATASETS[name])
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    class_names = labels = None
    if task == "classification":
        y, class_names = encode_classes(y)
        if "target_names" in bunch and len(bunch.target_names) == len(class_names):
            class_names = tuple(str(c) for c in bunch.target_names)
        check_class_sizes(y, class_names, "data.task", f"data.task classification on {name}: "
                          "the target", "set data.task to regression")
        labels = y
    train, val = pick_rows(labels, class_names, data, seed, len(x))
    if name == "digits":
        x = x / 16.0  # intensities run 0..16; dividing keeps the blank background at 0
    else:
        x = StandardScaler().fit(x[train]).transform(x)
    names = bunch.get("feature_names")
    if names is None or len(names) != x.shape[1]:
        names = [f"x{i}" for i in range(x.shape[1])]
    return build_dataset(name, task, x[train], y[train], x[val], y[val], map(str, names),
                         class_names)
