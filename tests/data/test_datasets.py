"""tuning.data: bundled sets, the Keras cache, and CSV files good and bad."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuning.data import csv_files
from tuning import data as datasets
from tuning.data import CsvSummary, DataError, inspect_csv, load_dataset

PROJECT = Path(__file__).resolve().parents[2]


def spec(**data) -> dict:
    """A normalised data section, as validate_spec returns it."""
    out = {"source": "sklearn", "task": "auto", "validation_split": 0.2, "max_rows": None}
    out.update(data)
    return out


def csv_spec(path: Path, target: str | None, **data) -> dict:
    return spec(source="csv", path=str(path), name=path.name, target=target, **data)


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def write_text(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def mixed_frame(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """Numeric, categorical, boolean and free-text columns, with gaps."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "size": rng.normal(10, 3, rows).round(2),
        "rooms": rng.integers(1, 6, rows),
        "city": rng.choice(["Lyon", "Paris", "Nantes"], rows),
        "garden": rng.random(rows) < 0.5,
        "notes": [f"note number {i}" for i in range(rows)],
        "label": rng.choice(["a", "b"], rows),
        "price": rng.normal(100, 20, rows).round(1),
    })
    frame.loc[[1, 5, 9], "size"] = np.nan
    frame.loc[[2, 7], "city"] = None
    frame["garden"] = frame["garden"].astype(object)
    frame.loc[3, "garden"] = None
    return frame


def raises(field: str, *fragments: str):
    """Context manager: a DataError for ``field`` whose message holds every fragment."""
    return _Raises(field, fragments)


class _Raises:
    def __init__(self, field, fragments):
        self.field, self.fragments = field, fragments

    def __enter__(self):
        self._ctx = pytest.raises(DataError)
        self.info = self._ctx.__enter__()
        return self.info

    def __exit__(self, *exc):
        handled = self._ctx.__exit__(*exc)
        err = self.info.value
        assert err.field == self.field, str(err)
        assert self.field in str(err)
        for fragment in self.fragments:
            assert fragment in str(err), f"{fragment!r} not in {str(err)!r}"
        return handled


# ---------------------------------------------------------------- bundled scikit-learn sets

@pytest.mark.parametrize("name, task, rows, features, classes", [
    ("iris", "classification", 150, 4, 3),
    ("digits", "classification", 1797, 64, 10),
    ("wine", "classification", 178, 13, 3),
    ("breast_cancer", "classification", 569, 30, 2),
    ("diabetes", "regression", 442, 10, None),
])
def test_sklearn_sets_load_with_right_shapes(name, task, rows, features, classes):
    ds = load_dataset(spec(name=name), seed=1)
    assert ds.task == task and ds.n_classes == classes and ds.name == name
    assert len(ds.x_train) + len(ds.x_val) == rows
    assert len(ds.x_val) == int(np.ceil(0.2 * rows))
    assert ds.x_train.shape[1] == ds.x_val.shape[1] == features == len(ds.feature_names)
    assert ds.x_train.dtype == np.float32 and ds.x_train.ndim == 2
    assert ds.y_train.dtype == (np.int64 if task == "classification" else np.float32)
    assert len(ds.y_train) == len(ds.x_train) and len(ds.y_val) == len(ds.x_val)
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()
    if classes:
        assert len(ds.class_names) == classes
        assert set(np.unique(ds.y_train)) == set(range(classes))
    else:
        assert ds.class_names is None


def test_scaling_is_fitted_on_the_training_part():
    ds = load_dataset(spec(name="wine"), seed=3)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-4)
    assert not np.allclose(ds.x_val.mean(axis=0), 0, atol=1e-3)


def test_digits_pixels_lie_in_unit_range():
    ds = load_dataset(spec(name="digits"), seed=0)
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1


def test_split_is_seeded():
    a, b = load_dataset(spec(name="iris"), 7), load_dataset(spec(name="iris"), 7)
    c = load_dataset(spec(name="iris"), 8)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_train, c.x_train)


def test_split_is_stratified():
    ds = load_dataset(spec(name="iris", validation_split=0.2), seed=5)
    assert np.bincount(ds.y_val).tolist() == [10, 10, 10]
    assert np.bincount(ds.y_train).tolist() == [40, 40, 40]


def test_task_override_on_bundled_set():
    ds = load_dataset(spec(name="iris", task="regression"), seed=0)
    assert ds.task == "regression" and ds.y_train.dtype == np.float32 and ds.n_classes is None
    with raises("data.task", "single row", "regression"):
        load_dataset(spec(name="diabetes", task="classification"), seed=0)


def test_unknown_source_and_name():
    with raises("data.source", "sklearn"):
        load_dataset(spec(source="ftp"), seed=0)
    with raises("data.name", "iris"):
        load_dataset(spec(name="titanic"), seed=0)


def test_max_rows_subsamples_with_stratification():
    ds = load_dataset(spec(name="digits", max_rows=200), seed=0)
    assert len(ds.x_train) + len(ds.x_val) == 200 and len(ds.x_val) == 40
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val]), minlength=10)
    assert counts.min() >= 19 and counts.max() <= 21
    again = load_dataset(spec(name="digits", max_rows=200), seed=0)
    np.testing.assert_array_equal(ds.x_train, again.x_train)


def test_max_rows_too_small_for_the_classes():
    with raises("data.max_rows", "at least 20"):
        load_dataset(spec(name="digits", max_rows=15), seed=0)


def test_max_rows_on_regression_and_above_row_count():
    ds = load_dataset(spec(name="diabetes", max_rows=50), seed=0)
    assert len(ds.x_train) + len(ds.x_val) == 50
    ds = load_dataset(spec(name="iris", max_rows=10_000), seed=0)
    assert len(ds.x_train) + len(ds.x_val) == 150


def test_validation_split_too_small_for_stratification():
    with raises("data.validation_split", "10 classes", "raise it"):
        load_dataset(spec(name="digits", max_rows=40, validation_split=0.1), seed=0)


# ---------------------------------------------------------------- the Keras cache

def fake_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            np.tile(np.arange(10, dtype=np.uint8), n // 10))


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes((0, 0, 8, array.ndim)) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "keras-home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home / "datasets"


def test_mnist_loads_from_the_keras_cache(keras_home):
    x, y = fake_images(50)
    np.savez(keras_home / "mnist.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    ds = load_dataset(spec(source="keras", name="mnist", task="classification"), seed=0)
    assert ds.x_train.shape == (40, 784) and ds.x_val.shape == (10, 784)
    assert ds.x_train.dtype == np.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    assert ds.n_classes == 10 and ds.class_names[3] == "3" and len(ds.feature_names) == 784
    assert sorted(ds.y_val.tolist()) == list(range(10))
    # Each row is the flattened image it came from, scaled by 1/255.
    row = ds.x_val[0] * 255
    assert any(np.allclose(row, image.ravel()) for image in x)


def test_fashion_mnist_loads_from_idx_files(keras_home):
    x, y = fake_images(30, seed=1)
    folder = keras_home / "fashion-mnist"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", x)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x[:10])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y[:10])
    ds = load_dataset(spec(source="keras", name="fashion_mnist", max_rows=20,
                           validation_split=0.5), seed=0)
    assert ds.x_train.shape == (10, 784) and ds.x_val.shape == (10, 784)
    assert sorted(ds.y_val.tolist()) == list(range(10))
    assert ds.class_names[9] == "Ankle boot"


@pytest.mark.parametrize("name, missing", [("mnist", "mnist.npz"),
                                           ("fashion_mnist", "train-images-idx3-ubyte.gz")])
def test_missing_keras_file_says_it_cannot_download(keras_home, name, missing):
    with raises("data.name", "not in the Keras cache", str(keras_home),
                "cannot download", missing, "digits"):
        load_dataset(spec(source="keras", name=name), seed=0)


def test_keras_cache_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets.keras_cache_dir() == tmp_path / ".keras" / "datasets"


def test_damaged_keras_file(keras_home):
    (keras_home / "mnist.npz").write_bytes(b"not a zip file at all")
    with raises("data.name", "cannot be read", "fresh copy"):
        load_dataset(spec(source="keras", name="mnist"), seed=0)


def test_keras_sets_are_classification_only(keras_home):
    with raises("data.task", "classification"):
        load_dataset(spec(source="keras", name="mnist", task="regression"), seed=0)


# ---------------------------------------------------------------- CSV files that load

def test_mixed_csv_loads_without_missing_values(tmp_path):
    path = write_csv(tmp_path, mixed_frame())
    ds = load_dataset(csv_spec(path, "price"), seed=0)
    assert ds.task == "regression" and ds.y_train.dtype == np.float32
    assert not np.isnan(ds.x_train).any() and not np.isnan(ds.x_val).any()
    # size, rooms, then one-hot city (3), garden (2) and label (2); notes is dropped.
    assert ds.feature_names == ("size", "rooms", "city=Lyon", "city=Nantes", "city=Paris",
                                "garden=False", "garden=True", "label=a", "label=b")
    assert ds.x_train.shape == (48, 9) and ds.x_val.shape == (12, 9)
    assert not any("notes" in f for f in ds.feature_names)
    assert any("notes" in w and "free text" in w for w in ds.warnings)
    one_hot = ds.x_train[:, 2:5]
    assert set(np.unique(one_hot)) == {0.0, 1.0} and (one_hot.sum(axis=1) == 1).all()
    np.testing.assert_allclose(ds.x_train[:, 0].mean(), 0, atol=1e-5)


def test_inspect_csv_describes_columns(tmp_path):
    frame = mixed_frame()
    summary = inspect_csv(str(write_csv(tmp_path, frame)), target="label")
    kinds = {c.name: c.kind for c in summary.columns}
    assert kinds == {"size": "numeric", "rooms": "numeric", "city": "categorical",
                     "garden": "boolean", "notes": "text", "label": "categorical",
                     "price": "numeric"}
    size = next(c for c in summary.columns if c.name == "size")
    assert size.missing == 3 and size.unique == frame["size"].nunique()
    assert summary.rows == 60 and summary.task == "classification" and summary.n_classes == 2
    assert summary.warnings == ("column notes is free text with 60 distinct values; "
                                "it is left out of the features",)
    assert len(summary.preview) == 20 and list(summary.preview.columns)[0] == "size"


def test_inspect_csv_without_target(tmp_path):
    summary = inspect_csv(str(write_csv(tmp_path, mixed_frame())))
    assert summary.target is None and summary.task is None and summary.n_classes is None


def test_summary_equality_ignores_preview(tmp_path):
    path = str(write_csv(tmp_path, mixed_frame()))
    a, b = inspect_csv(path, "price"), inspect_csv(path, "price")
    assert isinstance(a, CsvSummary) and a == b and hash(a) == hash(b)


def test_categories_unseen_in_training_are_ignored(tmp_path):
    frame = mixed_frame(rows=40)
    frame.loc[0, "city"] = "Brest"  # one row only: it lands in training or validation
    path = write_csv(tmp_path, frame)
    for seed in range(4):
        ds = load_dataset(csv_spec(path, "price"), seed=seed)
        assert not np.isnan(ds.x_val).any()


@pytest.mark.parametrize("values, task, n_classes", [
    (["yes", "no"] * 10, "classification", 2),
    ([1, 2, 3, 4] * 5, "classification", 4),
    ([1.0, 2.0] * 10, "classification", 2),
    ([float(i) + 0.5 for i in range(20)], "regression", None),
    (list(range(30)), "regression", None),
])
def test_task_inference(tmp_path, values, task, n_classes):
    rows = len(values)
    frame = pd.DataFrame({"x": np.arange(rows, dtype=float), "y": values})
    path = write_csv(tmp_path, frame)
    assert inspect_csv(str(path), "y").task == task
    ds = load_dataset(csv_spec(path, "y"), seed=0)
    assert ds.task == task and ds.n_classes == n_classes


def test_class_names_of_numeric_labels(tmp_path):
    frame = pd.DataFrame({"x": range(20), "y": [10.0, 2.0] * 10})
    ds = load_dataset(csv_spec(write_csv(tmp_path, frame), "y"), seed=0)
    assert ds.class_names == ("2", "10")  # numeric order, whole numbers without ".0"


def test_task_override(tmp_path):
    frame = pd.DataFrame({"x": np.arange(20.0), "y": [1, 2, 3, 4] * 5})
    path = write_csv(tmp_path, frame)
    ds = load_dataset(csv_spec(path, "y", task="regression"), seed=0)
    assert ds.task == "regression" and ds.y_train.dtype == np.float32
    assert inspect_csv(str(path), "y", task="regression").task == "regression"
    frame = pd.DataFrame({"x": np.arange(40.0), "y": [1, 2] * 20})
    frame["y"] = frame["y"] * 25  # 25, 50: still labels when the user says so
    ds = load_dataset(csv_spec(write_csv(tmp_path, frame), "y", task="classification"), seed=0)
    assert ds.task == "classification" and ds.class_names == ("25", "50")


def test_rows_without_target_are_dropped_with_a_warning(tmp_path):
    frame = mixed_frame(rows=30)
    frame.loc[[0, 4], "price"] = np.nan
    path = write_csv(tmp_path, frame)
    ds = load_dataset(csv_spec(path, "price"), seed=0)
    assert len(ds.x_train) + len(ds.x_val) == 28
    assert any("2 rows with no value in target column price" in w for w in ds.warnings)


def test_csv_split_is_seeded_and_stratified(tmp_path):
    frame = pd.DataFrame({"x": np.arange(100.0), "y": ["a"] * 80 + ["b"] * 20})
    path = write_csv(tmp_path, frame)
    a, b = (load_dataset(csv_spec(path, "y", validation_split=0.25), seed=s) for s in (1, 1))
    c = load_dataset(csv_spec(path, "y", validation_split=0.25), seed=2)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    assert np.bincount(a.y_val).tolist() == [20, 5]


def test_csv_max_rows(tmp_path):
    frame = pd.DataFrame({"x": np.arange(300.0), "y": ["a", "b", "c"] * 100})
    ds = load_dataset(csv_spec(write_csv(tmp_path, frame), "y", max_rows=60), seed=0)
    assert len(ds.x_train) + len(ds.x_val) == 60
    assert np.bincount(np.concatenate([ds.y_train, ds.y_val])).tolist() == [20, 20, 20]


def test_semicolons_bom_and_infinities(tmp_path):
    lines = ["a;b;y"] + [f"{i};{'inf' if i == 3 else i * 2};{i % 2}" for i in range(12)]
    path = write_text(tmp_path, ("\ufeff" + "\n".join(lines)).encode("utf-8"))
    summary = inspect_csv(str(path), "y")
    assert [c.name for c in summary.columns] == ["a", "b", "y"]
    assert summary.columns[1].missing == 1
    ds = load_dataset(csv_spec(path, "y"), seed=0)
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()


def test_empty_column_is_left_out(tmp_path):
    frame = pd.DataFrame({"x": np.arange(20.0), "blank": [np.nan] * 20, "y": [0, 1] * 10})
    ds = load_dataset(csv_spec(write_csv(tmp_path, frame), "y"), seed=0)
    assert ds.feature_names == ("x",)
    assert any("blank is empty" in w for w in ds.warnings)


@pytest.mark.parametrize("name, target, task, n_classes", [
    ("houses.csv", "price", "regression", None),
    ("customers.csv", "churned", "classification", 2),
])
def test_demo_csvs(name, target, task, n_classes):
    path = PROJECT / "examples" / "data" / name
    summary = inspect_csv(str(path), target)
    assert summary.rows == 200 and summary.task == task and summary.n_classes == n_classes
    ds = load_dataset(csv_spec(path, target), seed=42)
    assert not np.isnan(ds.x_train).any()
    if name == "customers.csv":
        assert "notes" not in ds.feature_names and ds.class_names == ("no", "yes")


# ---------------------------------------------------------------- CSV files that fail

def test_missing_file(tmp_path):
    with raises("data.path", "does not exist", "missing.csv"):
        inspect_csv(str(tmp_path / "missing.csv"))


def test_folder_instead_of_file(tmp_path):
    with raises("data.path", "is a folder"):
        inspect_csv(str(tmp_path))


def test_empty_file(tmp_path):
    with raises("data.path", "data.csv is empty (0 bytes)"):
        inspect_csv(str(write_text(tmp_path, "")))


def test_blank_lines_only(tmp_path):
    with raises("data.path", "no columns"):
        inspect_csv(str(write_text(tmp_path, "\n\n  \n")))


def test_binary_file(tmp_path):
    path = write_text(tmp_path, b"PK\x03\x04\x00\x00binary spreadsheet", "book.xlsx")
    with raises("data.path", "book.xlsx is not a text file", "CSV (UTF-8)"):
        inspect_csv(str(path))


def test_not_utf8(tmp_path):
    text = "name,city\n" + "\n".join(f"row{i},Besan\xe7on" for i in range(12))
    path = write_text(tmp_path, text.encode("latin-1"))
    with raises("data.path", "is not UTF-8", "0xe7", "CSV UTF-8"):
        inspect_csv(str(path))


def test_not_utf8_after_the_sniffed_part(tmp_path):
    rows = [f"{i},{i * 2}" for i in range(20_000)] + ["1,\xe9"]
    path = write_text(tmp_path, ("a,b\n" + "\n".join(rows)).encode("latin-1"))
    with raises("data.path", "is not UTF-8", "after the first 64 KB"):
        inspect_csv(str(path))


def test_unparseable_csv(tmp_path):
    rows = ["a,b"] + ["1,2"] * 12 + ["1,2,3,4"]
    with raises("data.path", "is not valid CSV", "line 14", "comma-separated fields"):
        inspect_csv(str(write_text(tmp_path, "\n".join(rows))))


def test_rows_longer_than_the_header(tmp_path):
    rows = ["a,b"] + ["1,2,3"] * 12
    with raises("data.path", "more fields than its header"):
        inspect_csv(str(write_text(tmp_path, "\n".join(rows))))


def test_no_header_row(tmp_path):
    rows = [f"{i}.5,{i},{i * 3}" for i in range(15)]
    with raises("data.path", "no header row", "the first row must be a header naming the columns"):
        inspect_csv(str(write_text(tmp_path, "\n".join(rows))))


def test_single_column(tmp_path):
    with raises("data.path", "single column", "at least one feature column besides the target"):
        inspect_csv(str(write_text(tmp_path, "y\n" + "\n".join("1" * 12))))


def test_too_few_rows(tmp_path):
    frame = pd.DataFrame({"x": range(9), "y": range(9)})
    with raises("data.path", "has 9 data rows", "at least 10"):
        inspect_csv(str(write_csv(tmp_path, frame)))


def test_duplicate_column_names(tmp_path):
    rows = ["a,b,a"] + ["1,2,3"] * 12
    with raises("data.path", "repeats column names", "'a' (2 times)", "rename"):
        inspect_csv(str(write_text(tmp_path, "\n".join(rows))))


def test_file_over_the_size_limit(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:  # sparse: takes no disk space
        fh.truncate(312 * 1024 * 1024)
    with raises("data.path", "huge.csv is 312 MB; the limit is 200 MB; sample it down"):
        inspect_csv(str(path))


def test_target_not_given(tmp_path):
    path = write_csv(tmp_path, mixed_frame())
    with raises("data.target", "is required", "size, rooms, city"):
        load_dataset(csv_spec(path, None), seed=0)


def test_target_not_a_column(tmp_path):
    path = write_csv(tmp_path, mixed_frame(), "houses.csv")
    with raises("data.target", "data.target 'cost' is not a column of houses.csv; pick one of: "
                               "size, rooms, city"):
        inspect_csv(str(path), "cost")
    with raises("data.target", "did you mean 'price'?"):
        inspect_csv(str(path), "Price")


def test_target_list_is_truncated(tmp_path):
    frame = pd.DataFrame({f"col{i}": range(12) for i in range(30)})
    with raises("data.target", "col19, ... (10 more)"):
        inspect_csv(str(write_csv(tmp_path, frame)), "nope")


def test_constant_target(tmp_path):
    frame = pd.DataFrame({"x": range(12), "y": ["same"] * 12})
    with raises("data.target", "same value ('same') in every row", "pick another column"):
        inspect_csv(str(write_csv(tmp_path, frame)), "y")


def test_regression_on_text_target(tmp_path):
    frame = pd.DataFrame({"x": range(12), "city": ["Lyon", "Paris", "Nantes"] * 4})
    path = write_csv(tmp_path, frame)
    with raises("data.task", "regression", "'city' is not numeric", "'Lyon'"):
        load_dataset(csv_spec(path, "city", task="regression"), seed=0)


def test_class_with_a_single_row(tmp_path):
    frame = pd.DataFrame({"x": range(12), "y": ["a"] * 6 + ["b"] * 5 + ["rare"]})
    path = write_csv(tmp_path, frame)
    with raises("data.target", "'rare'", "single row", "remove those rows or gather more data"):
        inspect_csv(str(path), "y")
    with raises("data.target", "'rare'"):
        load_dataset(csv_spec(path, "y"), seed=0)


def test_single_row_classes_of_a_quantity_suggest_regression(tmp_path):
    frame = pd.DataFrame({"x": range(30), "y": range(30)})
    with raises("data.target", "set data.task to regression"):
        inspect_csv(str(write_csv(tmp_path, frame)), "y", task="classification")


def test_too_few_rows_with_a_target(tmp_path):
    frame = pd.DataFrame({"x": range(12), "y": [1.5, 2.5, None, None] * 3})
    with raises("data.target", "empty in 6 of 12 rows", "at least 10"):
        inspect_csv(str(write_csv(tmp_path, frame)), "y")


def test_no_usable_feature(tmp_path):
    frame = pd.DataFrame({"notes": [f"text {i}" for i in range(12)], "y": [0, 1] * 6})
    with raises("data.path", "no usable feature column"):
        load_dataset(csv_spec(write_csv(tmp_path, frame), "y"), seed=0)


def test_invalid_task_value(tmp_path):
    path = write_csv(tmp_path, mixed_frame())
    with raises("data.task", "auto, classification, regression"):
        inspect_csv(str(path), "price", task="clustering")


def test_data_error_always_names_its_field():
    err = DataError("data.path", "something is wrong; fix it")
    assert str(err) == "data.path: something is wrong; fix it" and err.field == "data.path"
    assert isinstance(err, ValueError)


def test_unreadable_file(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # chmod does not stop root, so refuse the open itself, where csv_files reads the file.
    monkeypatch.setattr(csv_files, "open", denied, raising=False)
    path = write_csv(tmp_path, mixed_frame())
    with raises("data.path", "cannot be read (Permission denied)"):
        inspect_csv(str(path))
