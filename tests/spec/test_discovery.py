"""Discovery of a user's own search space, in a process of its own: this test process
never imports TensorFlow, KerasTuner or the user's module. Each user-code error comes
back with the user's file and line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuning.spec.discovery import discover, problems

PROJECT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "keras", "keras_tuner")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))
    return tmp_path


def test_the_articles_builder_space_with_its_conditional_entry():
    found = discover(str(PROJECT / "examples/models/digits_dense.py"), "build_model")
    assert found.error is None and found.builder == "function"
    by_name = {e["name"]: e for e in found.entries}
    assert by_name["units_0"] == {"name": "units_0", "type": "int", "min": 16, "max": 64,
                                  "step": 16, "sampling": "linear", "conditions": []}
    assert by_name["learning_rate"]["sampling"] == "log"
    assert by_name["activation"]["values"] == ["relu", "tanh"]
    # Off the default path (dropout is False by default), found by switching the scope on.
    assert by_name["dropout_rate"]["conditions"] == [{"name": "dropout", "values": [True]}]
    assert "dropout_rate" not in found.space and found.space["num_layers"]["max"] == 2
    assert found.params and found.params > 0


def test_discovery_leaves_its_caller_without_tensorflow():
    """In a fresh interpreter: the suite's own process may have imported TensorFlow."""
    script = ("import json, sys\n"
              "from tuning.spec.discovery import discover\n"
              "found = discover(sys.argv[1], 'build_model')\n"
              f"print(json.dumps([found.error, [m for m in {HEAVY!r} if m in sys.modules]]))\n")
    done = subprocess.run([sys.executable, "-c", script,
                           str(PROJECT / "examples/models/digits_dense.py")],
                          cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == [None, []]


HYPERMODEL = '''
import keras
import keras_tuner as kt


class Tiny(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 8)),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [8, 16]), **kwargs)
'''

ERRORS = {
    "syntax": ("def build_model(hp)\n    return 1\n", "build_model", "model.module",
               "line 1", "SyntaxError"),
    "import": ("import not_a_module_anywhere\n", "build_model", "model.module", "line 1",
               "ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
    "raises": ("def build_model(hp):\n    units = hp.Int('units', 1, 4)\n"
               "    raise ValueError(f'no model with {units} units')\n", "build_model",
               "model.build", "line 3, in build_model", "ValueError: no model with 1 units"),
    "not a model": ("def build_model(hp):\n    return 'a model'\n", "build_model", "model.build",
                    "", "build_model returned str, not a keras.Model"),
    "not compiled": ("import keras\ndef build_model(hp):\n    return keras.Sequential("
                     "[keras.Input((3,)), keras.layers.Dense(1)])\n", "build_model",
                     "model.build", "", "returned a model that is not compiled"),
    "no builder": ("def make(hp):\n    pass\n", "build_model", "model.build", "",
                   "has no build function or HyperModel class named 'build_model'; it defines "
                   "make"),
}


def test_a_hypermodel_subclass_is_discovered(data_dir):
    (data_dir / "tiny.py").write_text(HYPERMODEL)
    found = discover(str(data_dir / "tiny.py"), "Tiny")
    assert found.error is None and found.builder == "hypermodel"
    assert [e["name"] for e in found.entries] == ["units"]  # batch_size is met in fit only


@pytest.mark.parametrize("case", list(ERRORS))
def test_each_user_code_error_names_the_users_file_and_line(data_dir, case):
    source, build, field, line, text = ERRORS[case]
    path = data_dir / "broken.py"
    path.write_text(source)
    found = discover(str(path), build)
    assert found.error is not None, case
    assert found.error.field == field and text in found.error.text, found.error
    assert str(path) in found.error.where and line in found.error.where, found.error
    (problem,) = problems(found)
    assert problem.field == field and "Traceback" not in problem.message


def test_a_loader_whose_arrays_do_not_fit_the_model(data_dir):
    path = data_dir / "mismatch.py"
    path.write_text(
        "import keras, numpy as np\n"
        "def build_model(hp):\n"
        "    m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, activation='softmax')])\n"
        "    m.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "    return m\n"
        "def load_data():\n"
        "    return np.zeros((20, 3)), np.arange(20) % 2\n")
    data = {"source": "python", "module": str(path), "function": "load_data", "task": "auto",
            "validation_split": 0.2}
    found = discover(str(path), "build_model", data=data)
    assert found.data == {"shape": [3], "task": "classification", "rows": 20, "classes": 2}
    assert "takes samples of shape (5,), but the data's samples have shape (3,)" in \
        found.error.text


def test_validate_reports_the_users_error_as_a_spec_problem(data_dir):
    from tuning.spec import SpecError, validate_spec
    from tuning.spec.discovery import check_user_model

    path = data_dir / "typo.py"
    path.write_text("import keras\ndef build_model(hp):\n    return keras.Sequentail()\n")
    spec = validate_spec({"data": {"source": "sklearn", "name": "iris"},
                          "model": {"family": "custom", "module": str(path)},
                          "search_space": {"units": {"type": "fixed", "value": 3}},
                          "strategy": {"name": "random", "max_trials": 2}})
    with pytest.raises(SpecError) as err:
        check_user_model(spec)
    (problem,) = err.value.problems
    assert problem.field == "model.build"
    assert f"{path}, line 3, in build_model: AttributeError" in problem.message
    assert "Sequentail" in problem.message
