"""An image folder: one sub-folder per class, read with Keras' own
``image_dataset_from_directory`` (seeded validation split), the class names kept.

``check_image_folder`` looks at the folder only (names and extensions), so the
validator in the dashboard process reports an empty class, a stray file or a single
class before anything is queued; ``load_images`` imports Keras: workers only.
Pixels are scaled to [0, 1].
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tuning import catalog

from .splits import MIN_ROWS, DataError, Dataset, build_dataset, short_list


def check_image_folder(path: str) -> tuple[str, ...]:
    """The class names (sub-folders, sorted as Keras sorts them); raises ``DataError``
    for a folder Keras would misread."""
    from tuning.paths import resolve_spec_path

    name = os.path.basename(os.path.normpath(path))
    path = str(resolve_spec_path(path))
    if not os.path.isdir(path):
        raise DataError("data.path", f"data.path {path} is not a folder; give a folder with one "
                        "sub-folder of images per class")
    classes = sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
    if len(classes) < 2:
        found = f"only {classes[0]!r}" if classes else "none"
        raise DataError("data.path", f"data.path {name} needs one sub-folder per class, at least "
                        f"2 classes; found {found}. Put each class's images in a folder of its own")
    stray = [e.name for e in os.scandir(path) if e.is_file() and not e.name.startswith(".")
             and e.name.lower().endswith(catalog.IMAGE_EXTENSIONS)]
    if stray:
        raise DataError("data.path", f"data.path {name} has images outside the class folders "
                        f"({short_list(stray, 3)}); move them into the folder of their class")
    total = 0
    for cls in classes:
        files = [f for f in sorted(os.listdir(os.path.join(path, cls))) if not f.startswith(".")]
        images = [f for f in files if f.lower().endswith(catalog.IMAGE_EXTENSIONS)]
        others = [f for f in files if f not in images
                  and os.path.isfile(os.path.join(path, cls, f))]
        if others:
            raise DataError("data.path", f"data.path {name}/{cls} holds files that are not "
                            f"images ({short_list(others, 3)}); images must end in "
                            f"{', '.join(catalog.IMAGE_EXTENSIONS)}; move the others out")
        if not images:
            raise DataError("data.path", f"data.path {name}/{cls} is an empty class folder; add "
                            "its images or remove the folder")
        total += len(images)
    if total < MIN_ROWS:
        raise DataError("data.path", f"data.path {name} holds {total} images; at least "
                        f"{MIN_ROWS} are needed to train and validate")
    return tuple(classes)


def load_images(data: Mapping[str, Any], seed: int) -> Dataset:
    import keras

    from tuning.paths import checked_spec_path

    class_names = check_image_folder(data["path"])
    path = str(checked_spec_path(data["path"], "data.path"))
    height, width = data.get("image_size", (64, 64))
    try:
        train, val = keras.utils.image_dataset_from_directory(
            path, validation_split=float(data.get("validation_split", 0.2)), subset="both",
            seed=int(seed), image_size=(int(height), int(width)),
            color_mode=data.get("color_mode", "rgb"), batch_size=256, shuffle=True)
        x_train, y_train = _arrays(train)
        x_val, y_val = _arrays(val)
    except Exception as exc:  # a damaged or mislabelled image: Keras' decoder says which
        raise DataError("data.path", f"data.path {path}: an image cannot be read ({exc}); "
                        "replace or remove it") from None
    if len(x_val) == 0 or len(x_train) == 0:
        raise DataError("data.validation_split", f"data.validation_split leaves no images on one "
                        f"side of the split of {path}; change it or add images")
    return build_dataset(os.path.basename(os.path.normpath(path)), "classification",
                         x_train / 255.0, y_train, x_val / 255.0, y_val, (), class_names)


def _arrays(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for x, y in ds:
        xs.append(np.asarray(x, dtype=np.float32))
        ys.append(np.asarray(y, dtype=np.int64))
    if not xs:
        return np.zeros((0,)), np.zeros((0,), dtype=np.int64)
    return np.concatenate(xs), np.concatenate(ys)
