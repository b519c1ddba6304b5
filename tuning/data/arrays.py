"""A user's own arrays: a NumPy ``.npz`` file, or a Python loader function in their module.

Arrays may have any shape (images, sequences, tabular rows); the first axis is the
sample. Either ``x`` and ``y`` (split here, seeded and stratified like every source) or
``x_train``, ``y_train``, ``x_val``, ``y_val`` (used as given).

``npz_summary`` reads only the arrays' headers (shapes and types, never the data), so
the validator in the dashboard process can check a file of any size at once.
``load_npz`` loads with ``allow_pickle=False``: a file never runs code. ``load_python``
imports the user's module: worker processes and the discovery process only.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from .csv_data import AUTO_MAX_CLASSES
from .splits import (MIN_ROWS, DataError, Dataset, build_dataset, check_class_sizes,
                     encode_classes, pick_rows)

SPLIT_KEYS = ("x_train", "y_train", "x_val", "y_val")
WHOLE_KEYS = ("x", "y")


def npz_summary(path: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each array of the ``.npz`` file: its shape and dtype, read from the headers only.
    Raises ``DataError("data.path", ...)`` for a file that is not an npz archive."""
    from tuning.paths import resolve_spec_path

    shapes: dict[str, tuple[tuple[int, ...], str]] = {}
    try:
        with zipfile.ZipFile(resolve_spec_path(path)) as archive:
            for entry in archive.namelist():
                if not entry.endswith(".npy"):
                    continue
                with archive.open(entry) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(fh)
                shapes[entry[:-4]] = (tuple(int(n) for n in shape), dtype.str)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise DataError("data.path", f"data.path {os.path.basename(path)} is not a NumPy .npz "
                        f"archive ({exc}); save your arrays with numpy.savez(path, x=x, y=y)"
                        ) from None
    return shapes


def check_npz(path: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """The npz file's arrays, checked: the keys, object arrays, matching lengths. Raises
    ``DataError`` naming ``data.path`` and the fix."""
    shapes = npz_summary(path)
    name = os.path.basename(path)
    keys = _keys_of(shapes, "data.path", f"data.path {name}")
    for key in keys:
        if shapes[key][1].startswith("|O"):
            raise DataError("data.path", f"data.path {name}: array {key!r} holds Python objects, "
                            "which are never unpickled; save numbers (numpy.asarray(x, "
                            "dtype='float32'))")
    _check_lengths({k: shapes[k][0] for k in keys}, "data.path", f"data.path {name}")
    return shapes


def load_npz(data: Mapping[str, Any], seed: int) -> Dataset:
    from tuning.paths import checked_spec_path

    path = data["path"]
    check_npz(path)
    try:
        with np.load(checked_spec_path(path, "data.path"), allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError) as exc:
        raise DataError("data.path", f"data.path {os.path.basename(path)} cannot be read "
                        f"({exc}); save it again with numpy.savez") from None
    return dataset_from_arrays(os.path.basename(path), arrays, data, seed, "data.path",
                               f"data.path {os.path.basename(path)}")


def load_python(data: Mapping[str, Any], seed: int) -> Dataset:
    """Call the user's loader (``data.module``'s ``data.function``); what it returns is
    (x_train, y_train, x_val, y_val), (x, y), or a dict of those names."""
    from tuning.spec.user_code import UserCodeError, as_user_error, attribute, load_module

    module_path, function = data["module"], data["function"]
    try:
        loader = attribute(load_module(module_path, "data.module"), function,
                           "data.function", module_path, "function")
        result = loader()
    except UserCodeError as exc:
        raise DataError(exc.field, str(exc)) from None
    except Exception as exc:  # the loader's own error, told as theirs
        raise DataError("data.function", str(as_user_error(exc, "data.function",
                                                           module_path))) from None
    subject = f"data.function {function}() in {module_path}"
    if isinstance(result, Mapping):
        arrays = dict(result)
    elif isinstance(result, (tuple, list)) and len(result) in (2, 4):
        arrays = dict(zip(WHOLE_KEYS if len(result) == 2 else SPLIT_KEYS, result))
    else:
        raise DataError("data.function", f"{subject} returned {type(result).__name__}; return "
                        "(x_train, y_train, x_val, y_val), (x, y), or a dict of those names")
    return dataset_from_arrays(function, arrays, data, seed, "data.function", subject)


def dataset_from_arrays(name: str, arrays: Mapping[str, Any], data: Mapping[str, Any],
                        seed: int, field: str, subject: str) -> Dataset:
    """A ``Dataset`` from the user's arrays; ``field`` and ``subject`` name them in errors."""
    keys = _keys_of({k: None for k in arrays}, field, subject)
    try:
        given = {k: np.asarray(arrays[k]) for k in keys}
    except (TypeError, ValueError) as exc:
        raise DataError(field, f"{subject}: the arrays cannot be read as NumPy arrays ({exc})"
                        ) from None
    for key, value in given.items():
        if value.dtype == object or not (np.issubdtype(value.dtype, np.number)
                                         or value.dtype == bool):
            raise DataError(field, f"{subject}: {key} must hold numbers; got dtype {value.dtype}")
        if value.ndim == 0:
            raise DataError(field, f"{subject}: {key} must be an array with one entry per "
                            "sample; got a single value")
    _check_lengths({k: v.shape for k, v in given.items()}, field, subject)
    task = infer_task([given[k] for k in keys if k.startswith("y")], data)
    if "x" in given:
        x, y = given["x"], given["y"]
        labels, class_names = _labels(y, task)
        train, val = pick_rows(labels, class_names, dict(data), seed, len(x))
        x_train, x_val = x[train], x[val]
        y_train, y_val = (labels if labels is not None else y)[train], \
            (labels if labels is not None else y)[val]
    else:
        x_train, x_val = given["x_train"], given["x_val"]
        if x_train.shape[1:] != x_val.shape[1:]:
            raise DataError(field, f"{subject}: x_train has samples of shape "
                            f"{x_train.shape[1:]} but x_val {x_val.shape[1:]}; they must match")
        n = len(x_train)
        both, class_names = _labels(np.concatenate([given["y_train"], given["y_val"]]), task)
        y_all = both if both is not None else np.concatenate([given["y_train"], given["y_val"]])
        y_train, y_val = y_all[:n], y_all[n:]
    if task == "classification" and "x" not in given:
        check_class_sizes(y_train, class_names, field, f"{subject}: y_train",
                          "give every class at least 2 training samples")
    names = [f"x{i}" for i in range(x_train.shape[1])] if x_train.ndim == 2 else []
    return build_dataset(name, task, x_train, y_train, x_val, y_val, names, class_names)


def _keys_of(present: Mapping[str, Any], field: str, subject: str) -> tuple[str, ...]:
    if all(k in present for k in SPLIT_KEYS):
        return SPLIT_KEYS
    if all(k in present for k in WHOLE_KEYS):
        return WHOLE_KEYS
    missing = [k for k in (SPLIT_KEYS if any(k in present for k in SPLIT_KEYS) else WHOLE_KEYS)
               if k not in present]
    have = ", ".join(sorted(present)) or "nothing"
    raise DataError(field, f"{subject} has no array {missing[0]!r} (it holds {have}); give x "
                    "and y, or x_train, y_train, x_val and y_val")


def _check_lengths(shapes: Mapping[str, tuple[int, ...]], field: str, subject: str) -> None:
    for x_key, y_key in (("x", "y"), ("x_train", "y_train"), ("x_val", "y_val")):
        if x_key not in shapes:
            continue
        nx, ny = (shapes[x_key][0] if shapes[x_key] else 0), (
            shapes[y_key][0] if shapes[y_key] else 0)
        if nx != ny:
            raise DataError(field, f"{subject}: {x_key} has {nx} samples but {y_key} has {ny}; "
                            "give one label per sample")
    rows = sum(shapes[k][0] for k in shapes if k.startswith("x") and shapes[k])
    if rows < MIN_ROWS:
        raise DataError(field, f"{subject} holds {rows} samples; at least {MIN_ROWS} are needed "
                        "to train and validate")


def infer_task(ys: list[np.ndarray], data: Mapping[str, Any]) -> str:
    """``data.task``, or for "auto": classification when the labels are one integer
    (or whole-number) value per sample with at most ``AUTO_MAX_CLASSES`` values."""
    task = data.get("task", "auto")
    if task != "auto":
        return task
    y = np.concatenate([np.asarray(v).reshape(len(v), -1) for v in ys])
    if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
        return "classification"
    if y.shape[1] == 1 and (np.issubdtype(y.dtype, np.integer) or y.dtype == bool or (
            np.all(np.isfinite(y)) and np.all(y == np.round(y)))) and \
            len(np.unique(y)) <= AUTO_MAX_CLASSES:
        return "classification"
    return "regression"


def _labels(y: np.ndarray, task: str) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    if task != "classification":
        return None, None
    if y.ndim > 1 and y.shape[1:] != (1,):
        raise DataError("data.task", f"data.task classification needs one class label per "
                        f"sample; y has shape {y.shape} (one-hot labels? pass "
                        "y.argmax(axis=1))")
    return encode_classes(y.reshape(-1))
