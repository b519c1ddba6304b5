"""MNIST and Fashion-MNIST, parsed straight from the files Keras caches.

The dashboard process imports this module, so it never imports TensorFlow or Keras, and
nothing is ever downloaded: a set missing from the cache is a ``DataError`` saying where
to copy it.
"""
from __future__ import annotations

import gzip
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from tuning import catalog
from .splits import MIN_ROWS, DataError, Dataset, build_dataset, pick_rows, resolve_fixed_task

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def load_keras(data: dict[str, Any], seed: int) -> Dataset:
    """MNIST or Fashion-MNIST (``data.name``) from the cache; raises ``DataError``."""
    name = data.get("name")
    if name not in catalog.KERAS_DATASETS:
        raise DataError("data.name", f"data.name {name!r} is not a Keras data set this app "
                        f"reads; use one of: {', '.join(catalog.KERAS_DATASETS)}")
    if resolve_fixed_task(data, "classification") != "classification":
        raise DataError("data.task", f"data.task must be classification for Keras data set "
                        f"{name}; got {data.get('task')!r}")
    if name == "mnist":
        x, y, class_names = (*_read_mnist(keras_cache_dir()), MNIST_CLASSES)
    else:
        x, y, class_names = (*_read_fashion_mnist(keras_cache_dir()), FASHION_MNIST_CLASSES)
    # Only the official training part is used; its test part stays unseen by every trial.
    labels = y.astype(np.int64)
    train, val = pick_rows(labels, class_names, data, seed, len(labels))
    names = (f"pixel_{i}" for i in range(math.prod(x.shape[1:])))
    return build_dataset(name, "classification", _pixels(x[train]), labels[train],
                         _pixels(x[val]), labels[val], names, class_names)


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

