"""The spec's sections for a user's own code and data: the data sources ``npz``,
``images`` and ``python``, and the ``custom`` model family's ``module`` and ``build``.

Part of the validator behind ``tuning.spec.validate_spec``. Nothing here imports the
user's module (or TensorFlow): an npz file is read by its headers, an image folder by
its names, a module by its path. What only running the code can tell (its search space,
its errors, a loader's arrays) is ``tuning.spec.discovery``'s, in a process of its own.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tuning import catalog

from .checker import Checker, is_int
from .user_code import check_identifier, check_module_path

COLOR_MODES = ("rgb", "grayscale", "rgba")
IMAGE_SIZE_LIMIT = 2048


def check_user_data(c: Checker, source: str, data: Mapping[str, Any], out: dict[str, Any],
                    model: Mapping[str, Any]) -> tuple[str, list[int] | None]:
    """Check an npz, images or python data section into ``out``; return the task it
    implies ("auto" when only loading it can tell) and the shape of one sample (None
    when unknown before loading)."""
    if source == "python":
        module = data.get("module", model.get("module"))
        out["module"] = check_module_path(c, "data.module", module)
        out["function"] = check_identifier(c, "data.function", data.get("function", "load_data"),
                                           "the function that returns your arrays")
        out["name"] = out["function"] or "python"
        return "auto", None
    path = data.get("path")
    if not _check_location(c, path, source):
        return "auto", None
    out["path"] = path
    out["name"] = os.path.basename(os.path.normpath(path))
    from tuning.data import DataError

    if source == "npz":
        from tuning.data.arrays import check_npz

        try:
            shapes = check_npz(path)
        except DataError as exc:
            c.problems.append(_problem(exc))
            return "auto", None
        return "auto", list(shapes.get("x", shapes.get("x_train"))[0][1:])
    size = data.get("image_size", [64, 64])
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(
            is_int(v) and 1 <= v <= IMAGE_SIZE_LIMIT for v in size)):
        c.fail("data.image_size", f"must be [height, width] in pixels, each 1 to "
               f"{IMAGE_SIZE_LIMIT}, such as [64, 64]", size)
        size = [64, 64]
    out["image_size"] = [int(v) for v in size]
    out["color_mode"] = c.choice("data.color_mode", data.get("color_mode", "rgb"), COLOR_MODES)
    from tuning.data.images import check_image_folder

    try:
        check_image_folder(path)
    except DataError as exc:
        c.problems.append(_problem(exc))
    channels = {"rgb": 3, "grayscale": 1, "rgba": 4}.get(out["color_mode"] or "rgb", 3)
    return "classification", [*out["image_size"], channels]


def _check_location(c: Checker, path: Any, source: str) -> bool:
    from tuning.paths import spec_path_problem

    what = "an .npz file" if source == "npz" else "a folder with one sub-folder per class"
    if not isinstance(path, str) or not path.strip():
        c.fail("data.path", f"is required for an {source} source ({what})",
               path if path is not None else ...)
        return False
    if any(ord(ch) < 32 for ch in path):
        c.fail("data.path", "must be a path without control characters", path)
        return False
    problem = spec_path_problem(path)
    if problem is not None:
        c.fail("data.path", f"({what}) {problem}", path)
        return False
    return True


def _problem(exc: Any) -> Any:
    from .checker import Problem

    prefix = f"{exc.field} "
    message = exc.message
    if message.startswith(f"{exc.field}: "):
        message = message[len(exc.field) + 2:]
    elif message.startswith(prefix):
        message = message[len(prefix):]
    return Problem(exc.field, message)


def check_custom_model(c: Checker, model: Mapping[str, Any]) -> dict[str, Any]:
    """``model.module`` (a .py file in the data folders) and ``model.build`` (a build
    function ``build(hp)`` or a ``keras_tuner.HyperModel`` subclass defined there)."""
    return {
        "family": "custom",
        "module": check_module_path(c, "model.module", model.get("module")),
        "build": check_identifier(c, "model.build", model.get("build", "build_model"),
                                  "your build function or HyperModel class"),
    }


def check_image_input(c: Checker, family: str, data: Mapping[str, Any],
                      shape: list[int] | None) -> None:
    """A family that takes images (the CNN) needs image-shaped data: an image folder, the
    Keras cache's sets, scikit-learn's digits, or arrays of images."""
    if catalog.FAMILIES[family].inputs != "image":
        return
    source, name = data.get("source"), data.get("name")
    fits = (source in ("images", "keras") or (source == "sklearn" and name == "digits")
            or source == "python"
            or (source == "npz" and shape is not None and (len(shape) in (2, 3) or (
                len(shape) == 1 and round(shape[0] ** 0.5) ** 2 == shape[0]))))
    if not fits:
        c.fail("model.family", f"{family} takes images: an image folder (source images), "
               "mnist or fashion_mnist (source keras), digits (source sklearn), or an .npz of "
               "images; pick another family for this data", family)
