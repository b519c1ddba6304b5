"""A user's own data: npz files, image folders and Python loaders, good and bad.

No TensorFlow here: the image folder is checked by its names (its pixels are read by
Keras in the worker, see tests/runner/test_custom_runs.py), the loader is plain NumPy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuning.catalog import default_space
from tuning.data import DataError, load_dataset
from tuning.spec import SpecError, validate_spec


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))
    return tmp_path


def custom_spec(data: dict) -> dict:
    return {"data": data, "model": {"family": "cnn"}, "search_space": default_space("cnn"),
            "strategy": {"name": "random"}}


def problems(doc: dict) -> dict[str, list[str]]:
    with pytest.raises(SpecError) as err:
        validate_spec(doc)
    return err.value.by_field()


def digits_arrays(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8, 1)).astype("float32"), np.arange(n) % 3


# -- npz ------------------------------------------------------------------------------

def test_npz_of_images_validates_and_loads_split_and_seeded(data_dir):
    x, y = digits_arrays()
    np.savez(data_dir / "digits.npz", x=x, y=y)
    spec = validate_spec(custom_spec({"source": "npz", "path": str(data_dir / "digits.npz")}))
    assert spec["data"]["task"] == "classification"  # whole-number labels, read from y only
    one, two = (load_dataset(spec["data"], 7) for _ in range(2))
    assert one.x_train.shape[1:] == (8, 8, 1) and len(one.x_train) + len(one.x_val) == 60
    assert one.n_classes == 3 and np.array_equal(one.x_val, two.x_val)


def test_npz_with_its_own_split_is_used_as_given(data_dir):
    x, y = digits_arrays()
    np.savez(data_dir / "split.npz", x_train=x[:40], y_train=y[:40], x_val=x[40:], y_val=y[40:])
    spec = validate_spec(custom_spec({"source": "npz", "path": str(data_dir / "split.npz")}))
    loaded = load_dataset(spec["data"], 1)
    assert np.array_equal(loaded.x_val, x[40:]) and len(loaded.y_train) == 40


@pytest.mark.parametrize("arrays, expected", [
    ({"x": np.zeros((20, 4))}, "has no array 'y'"),
    ({"x": np.zeros((20, 4)), "y": np.zeros(19)}, "x has 20 samples but y has 19"),
    ({"x_train": np.zeros((20, 4)), "y_train": np.zeros(20), "x_val": np.zeros((5, 4))},
     "has no array 'y_val'"),
    ({"x": np.array([object()] * 20, dtype=object), "y": np.zeros(20)}, "holds Python objects"),
])
def test_bad_npz_is_refused_naming_the_field_and_the_fix(data_dir, arrays, expected):
    path = data_dir / "bad.npz"
    np.savez(path, **arrays)
    found = problems(custom_spec({"source": "npz", "path": str(path)}))
    assert any(expected in message for message in found["data.path"]), found


def test_a_file_that_is_not_npz_and_a_path_outside_the_data_folders(data_dir):
    (data_dir / "fake.npz").write_text("not a zip")
    assert "is not a NumPy .npz archive" in problems(custom_spec(
        {"source": "npz", "path": str(data_dir / "fake.npz")}))["data.path"][0]
    assert "(an .npz file) must be a file inside" in problems(custom_spec(
        {"source": "npz", "path": "/etc/hosts.npz"}))["data.path"][0]


def test_flat_models_refuse_image_arrays_and_sklearn_refuses_arrays(data_dir):
    x, y = digits_arrays()
    np.savez(data_dir / "images.npz", x=x, y=y)
    data = {"source": "npz", "path": str(data_dir / "images.npz")}
    assert "one row of features per sample" in problems(
        {**custom_spec(data), "model": {"family": "mlp"}})["model.family"][0]
    assert "trains Keras models only" in problems(
        {**custom_spec(data), "model": {"family": "svm"}})["data.source"][0]


# -- image folder ---------------------------------------------------------------------

def write_png_folder(root: Path, classes: dict[str, int]) -> Path:
    """Tiny valid PNG files (1 x 1 pixel), as many per class as asked."""
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
        "9c63f8cfc0f01f0005fe02fe0dd4a1e50000000049454e44ae426082")
    for cls, count in classes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (root / cls / f"{i}.png").write_bytes(png)
    return root


def test_image_folder_validates_with_its_classes(data_dir):
    folder = write_png_folder(data_dir / "shapes", {"circle": 6, "square": 6})
    spec = validate_spec(custom_spec({"source": "images", "path": str(folder),
                                      "image_size": [16, 16]}))
    assert spec["data"]["image_size"] == [16, 16] and spec["data"]["task"] == "classification"


@pytest.mark.parametrize("layout, extra, expected", [
    ({"circle": 6, "square": 0}, None, "shapes/square is an empty class folder"),
    ({"circle": 12}, None, "at least 2 classes; found only 'circle'"),
    ({"circle": 6, "square": 6}, "square/notes.txt", "holds files that are not images"),
    ({"circle": 6, "square": 6}, "stray.png", "images outside the class folders"),
    ({"circle": 2, "square": 2}, None, "holds 4 images; at least 10"),
])
def test_bad_image_folder_is_refused_with_the_fix(data_dir, layout, extra, expected):
    folder = write_png_folder(data_dir / "shapes", layout)
    if extra:
        (folder / extra).write_bytes(b"x")
    found = problems(custom_spec({"source": "images", "path": str(folder)}))
    assert any(expected in message for message in found["data.path"]), found


def test_image_size_must_be_two_pixel_counts(data_dir):
    folder = write_png_folder(data_dir / "shapes", {"circle": 6, "square": 6})
    found = problems(custom_spec({"source": "images", "path": str(folder), "image_size": [0]}))
    assert "must be [height, width]" in found["data.image_size"][0]


# -- Python loader ---------------------------------------------------------------------

LOADERS = '''
import numpy as np

def load_data():
    rng = np.random.default_rng(0)
    x = rng.random((50, 6)).astype("float32")
    return x[:40], np.arange(40) % 2, x[40:], np.arange(10) % 2

def as_dict():
    x = np.zeros((30, 3))
    return {"x": x, "y": np.arange(30) % 3}

def wrong_lengths():
    return np.zeros((30, 3)), np.zeros(29)

def not_arrays():
    return "x", "y", "z"

def raises():
    return helper()

def helper():
    raise RuntimeError("the data server is down")
'''


def loader_spec(module: Path, function: str) -> dict:
    return {"source": "python", "module": str(module), "function": function,
            "task": "auto", "validation_split": 0.2, "max_rows": None}


def test_python_loader_tuple_and_dict(data_dir):
    module = data_dir / "loaders.py"
    module.write_text(LOADERS)
    given = load_dataset(loader_spec(module, "load_data"), 0)
    assert given.x_train.shape == (40, 6) and given.n_classes == 2
    split = load_dataset(loader_spec(module, "as_dict"), 0)
    assert len(split.x_train) + len(split.x_val) == 30 and split.n_classes == 3


@pytest.mark.parametrize("function, field, expected", [
    ("wrong_lengths", "data.function", "x has 30 samples but y has 29"),
    ("not_arrays", "data.function", "returned tuple; return (x_train, y_train, x_val, y_val)"),
    ("raises", "data.function", "loaders.py, line 23, in helper: RuntimeError: the data "
     "server is down"),
    ("missing", "data.function", "has no function named 'missing'; it defines as_dict"),
])
def test_bad_python_loader_is_the_users_error(data_dir, function, field, expected):
    module = data_dir / "loaders.py"
    module.write_text(LOADERS)
    with pytest.raises(DataError) as err:
        load_dataset(loader_spec(module, function), 0)
    assert err.value.field == field and expected in str(err.value), str(err.value)


def test_python_loader_module_must_exist_in_the_data_folders(data_dir):
    found = problems(custom_spec({"source": "python", "module": str(data_dir / "none.py")}))
    assert "does not exist" in found["data.module"][0]
