"""What ``tuning/runner/kt_compat.py`` relies on in KerasTuner's private API, one check each.

Run by ``test_kt_compat.py`` in a subprocess, so TensorFlow never loads into pytest::

    python tests/runner/kt_compat_checks.py WORKDIR REPORT.json

Writes ``{"version": KerasTuner's version, "problems": {check: None or what failed}}``.
Importing this module imports nothing of KerasTuner: ``CHECKS`` names the checks and
what each pins, for the test to parametrize over.
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


COMPAT = "tuning/runner/kt_compat.py"


@dataclass(frozen=True)
class Check:
    name: str
    entry: str   # the name in ``module`` that relies on it
    thing: str   # KerasTuner's private thing
    relied: str  # what ``entry`` assumes of it
    run: Callable[[Path], None]
    module: str = COMPAT


CHECKS: list[Check] = []


def check(entry: str, thing: str, relied: str,
          module: str = COMPAT) -> Callable[[Callable[[Path], None]], Callable]:
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        CHECKS.append(Check(fn.__name__, entry, thing, relied, fn, module))
        return fn
    return register


# -- helpers (imported inside, so this module imports no KerasTuner) ---------------------


def params(fn: Callable) -> list[str]:
    """Parameter names of ``fn`` as written, ``*args``/``**kwargs`` with their stars."""
    out = []
    for p in inspect.signature(fn).parameters.values():
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        out.append(prefix + p.name)
    return out


def expect_params(fn: Callable, expected: list[str]) -> None:
    got = params(fn)
    assert got == expected, f"{fn.__qualname__} takes ({', '.join(got)}), " \
                            f"expected ({', '.join(expected)})"


def expect_call(fn: Callable, call: str) -> None:
    source = inspect.getsource(fn)
    assert call in source, f"{fn.__qualname__} no longer calls `{call}`"


def tiny_build(hp):
    import keras

    units = hp.Int("units", 2, 8, step=2)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def tiny_data():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")


# -- the checks -----------------------------------------------------------------------


@check("NoTensorBoardByDefault", "Tuner._configure_tensorboard_dir",
       "Tuner.run_trial calls it as (callbacks, trial, execution) once per execution")
def tensorboard_dir(work: Path) -> None:
    import keras_tuner as kt

    from tuning.runner.kt_compat import NoTensorBoardByDefault

    expect_params(kt.Tuner._configure_tensorboard_dir,
                  ["self", "callbacks", "trial", "execution"])
    expect_call(kt.Tuner.run_trial, "self._configure_tensorboard_dir(callbacks, trial, execution)")

    class Quiet(NoTensorBoardByDefault, kt.RandomSearch):
        pass

    tuner = Quiet(tiny_build, objective="loss", max_trials=1, directory=str(work),
                  project_name="tensorboard")
    callbacks: list = []
    tuner._configure_tensorboard_dir(callbacks, None, 0)  # no TensorBoard: nothing imported
    assert callbacks == [], "the override changed callbacks without a TensorBoard callback"


@check("LeanBuild", "Tuner._try_build",
       "every model of a trial is built by _try_build(hp), through _build_hypermodel(hp), "
       "checked against max_model_size")
def try_build(work: Path) -> None:
    import keras
    import keras_tuner as kt

    from tuning.runner.kt_compat import LeanBuild

    expect_params(kt.Tuner._try_build, ["self", "hp"])
    expect_params(kt.Tuner._build_hypermodel, ["self", "hp"])
    expect_call(kt.Tuner._build_and_fit_model, "self._try_build(hp)")
    expect_call(kt.Tuner.load_model, "self._try_build(")
    expect_call(kt.Tuner._try_build, "self._build_hypermodel(hp)")

    class Lean(LeanBuild, kt.RandomSearch):
        pass

    tuner = Lean(tiny_build, objective="loss", max_trials=1, directory=str(work),
                 project_name="lean", max_model_size=10_000)
    assert hasattr(tuner, "max_model_size"), "Tuner no longer keeps max_model_size"
    hp = kt.HyperParameters()
    assert isinstance(tuner._try_build(hp), keras.Model)
    tuner.max_model_size = 3
    try:
        tuner._try_build(hp)
    except kt.errors.FailedTrialError as exc:
        assert "Oversized model" in str(exc), str(exc)
    else:
        raise AssertionError("an oversized model was not refused")


@check("model_size", "keras_tuner.src.engine.tuner.maybe_compute_model_size",
       "maybe_compute_model_size(model) counts a built model's trainable parameters, 0 unbuilt")
def model_size(work: Path) -> None:
    import keras
    import keras_tuner as kt
    from keras_tuner.src.engine import tuner as kt_tuner

    from tuning.runner import kt_compat

    assert callable(getattr(kt_tuner, "maybe_compute_model_size", None)), \
        "keras_tuner.src.engine.tuner.maybe_compute_model_size is gone"
    expect_call(kt.Tuner._try_build, "maybe_compute_model_size(model)")
    model = tiny_build(kt.HyperParameters())  # 4*2+2 + 2*1+1 trainable parameters
    assert kt_compat.model_size(model) == 13, kt_compat.model_size(model)
    assert kt_compat.model_size(keras.Sequential([keras.layers.Dense(3)])) == 0


@check("ExecutionHook", "Tuner._build_and_fit_model",
       "Tuner.run_trial calls _build_and_fit_model(trial, *args, **kwargs) once per "
       "execution and keeps what it returns")
def build_and_fit(work: Path) -> None:
    import keras_tuner as kt

    from tuning.runner.kt_compat import ExecutionHook, LeanBuild, NoTensorBoardByDefault

    expect_params(kt.Tuner._build_and_fit_model, ["self", "trial", "*args", "**kwargs"])
    expect_call(kt.Tuner.run_trial, "self._build_and_fit_model(trial, *args,")
    seen: list[str] = []

    class Hooked(NoTensorBoardByDefault, LeanBuild, ExecutionHook, kt.RandomSearch):
        def fit_execution(self, trial, fit):
            seen.append(trial.trial_id)
            return fit()

    tuner = Hooked(tiny_build, objective="loss", max_trials=1, executions_per_trial=2,
                   directory=str(work), project_name="hook")
    x, y = tiny_data()
    tuner.search(x, y, epochs=1, verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    assert trial.status == "COMPLETED", f"the trial ended {trial.status}: {trial.message}"
    assert seen == [trial.trial_id] * 2, f"2 executions went through the hook as {seen}"


@check("checkpoint_path", "Tuner._get_checkpoint_fname",
       "_get_checkpoint_fname(trial_id) is the .weights.h5 file in the trial's folder that "
       "run_trial saves the best epoch to")
def checkpoint(work: Path) -> None:
    import keras_tuner as kt

    from tuning.runner.kt_compat import NoTensorBoardByDefault, checkpoint_path

    expect_params(kt.Tuner._get_checkpoint_fname, ["self", "trial_id"])
    expect_call(kt.Tuner.run_trial, "filepath=self._get_checkpoint_fname(trial.trial_id)")

    class Quiet(NoTensorBoardByDefault, kt.RandomSearch):
        pass

    tuner = Quiet(tiny_build, objective="loss", max_trials=1, directory=str(work),
                  project_name="checkpoint")
    x, y = tiny_data()
    tuner.search(x, y, epochs=1, verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    path = checkpoint_path(tuner, trial.trial_id)
    assert isinstance(path, str), f"returned {path!r}"
    assert os.path.dirname(path) == tuner.get_trial_dir(trial.trial_id), path
    assert path.endswith(".weights.h5"), f"{path} is not a Keras 3 weights file"
    assert os.path.exists(path), f"{path} was not written by the search"
    tiny_build(trial.hyperparameters).load_weights(path)


@check("retry_queue, drop_from_retry_queue", "Oracle._retry_queue",
       "a list of trial ids that a reload fills with the trials that were running and "
       "create_trial hands out first")
def retry(work: Path) -> None:
    import keras_tuner as kt

    from tuning.runner.kt_compat import drop_from_retry_queue, retry_queue

    expect_call(kt.Oracle.reload, "self._retry_queue.append(trial.trial_id)")
    args = dict(objective="loss", max_trials=5, directory=str(work), project_name="retry")
    first = kt.RandomSearch(tiny_build, **args)
    assert isinstance(first.oracle._retry_queue, list), type(first.oracle._retry_queue)
    assert "retry_queue" in first.oracle.get_state(), "the oracle's state has no retry_queue"
    running = first.oracle.create_trial("tuner0")  # then the process "dies"
    first.save()
    second = kt.RandomSearch(tiny_build, **args)  # overwrite=False: a resume
    assert retry_queue(second.oracle) == [running.trial_id], retry_queue(second.oracle)
    again = second.oracle.create_trial("tuner0")  # saves: still running, on disk
    assert again.trial_id == running.trial_id, "create_trial no longer retries the queue first"
    third = kt.RandomSearch(tiny_build, **args)
    drop_from_retry_queue(third.oracle, {running.trial_id})
    assert retry_queue(third.oracle) == []
    fresh = third.oracle.create_trial("tuner0")
    assert fresh.trial_id != running.trial_id, "a dropped trial was handed out again"
    assert retry_queue(object()) == [], "an oracle without a queue must read as empty"
    drop_from_retry_queue(object(), ["0"])


@check("add_oracle_service", "keras_tuner.src.distribute.oracle_chief.OracleServicer",
       "OracleServicer(oracle) and protos.get_service_grpc().add_OracleServicer_to_server")
def oracle_service(work: Path) -> None:
    from concurrent import futures

    import grpc
    import keras_tuner as kt
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    from tuning.runner.kt_compat import add_oracle_service

    expect_params(oracle_chief.OracleServicer.__init__, ["self", "oracle"])
    assert hasattr(protos.get_service_grpc(), "add_OracleServicer_to_server")
    tuner = kt.RandomSearch(tiny_build, objective="loss", max_trials=1, directory=str(work),
                            project_name="service")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    add_oracle_service(server, tuner.oracle)
    server.stop(0)


@check("rebuild_grid_frontier", "GridSearchOracle._ordered_ids, _populate_next, _compare",
       "populate_space walks _ordered_ids (a gridsearch.LinkedList sorted by _compare) from "
       "the ids in _populate_next, and neither is saved with the oracle's state")
def grid_frontier(work: Path) -> None:
    import keras_tuner as kt
    from keras_tuner.src.tuners import gridsearch

    from tuning.strategies.oracles import ResumableGridSearchOracle

    expect_params(kt.oracles.GridSearchOracle._compare, ["self", "a", "b"])
    expect_params(gridsearch.LinkedList.insert, ["self", "data", "data_pre"])
    expect_params(gridsearch.LinkedList.next, ["self", "data"])
    for name in ("self._ordered_ids", "self._populate_next"):
        expect_call(kt.oracles.GridSearchOracle.populate_space, name)
    assert "_populate_next" not in kt.oracles.GridSearchOracle().get_state(), \
        "the grid's frontier is saved now: rebuild_grid_frontier may be unneeded"

    def build(hp):
        hp.Choice("x", [1, 2, 3])
        return tiny_build(kt.HyperParameters())

    def tuner():
        oracle = ResumableGridSearchOracle(objective=kt.Objective("score", "max"))
        return kt.Tuner(oracle=oracle, hypermodel=build, directory=str(work),
                        project_name="grid")

    def run_one(t):
        trial = t.oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            return None
        t.oracle.update_trial(trial.trial_id, {"score": 1.0})
        trial.status = "COMPLETED"
        t.oracle.end_trial(trial)
        t.save()
        return trial.hyperparameters.values["x"]

    first = tuner()
    tried = [run_one(first), run_one(first)]
    resumed = tuner()  # reloads the project: set_state, then the rebuild
    tried += [run_one(resumed), run_one(resumed)]
    assert tried == [1, 2, 3, None], f"a resumed grid tried {tried}"


@check("hyperband_trials", "HyperbandOracle's bracket arithmetic (_get_num_brackets, _get_size)",
       "it counts a Hyperband run's trials with the same arithmetic, for the dashboard, "
       "which cannot ask KerasTuner", module="tuning/strategies/hyperband.py")
def hyperband_arithmetic(work: Path) -> None:
    import keras_tuner as kt

    from tuning.strategies.hyperband import hyperband_trials

    for max_epochs, factor, iterations in ((9, 3, 1), (10, 3, 2), (27, 2, 1)):
        oracle = kt.oracles.HyperbandOracle(objective=kt.Objective("score", "max"),
                                            max_epochs=max_epochs, factor=factor,
                                            hyperband_iterations=iterations, seed=1)

        def build(hp):
            hp.Float("x", 0.0, 1.0)
            return tiny_build(kt.HyperParameters())

        tuner = kt.Tuner(oracle=oracle, hypermodel=build, directory=str(work),
                         project_name=f"hyperband_{max_epochs}_{factor}_{iterations}")
        created = 0
        while True:
            trial = tuner.oracle.create_trial("tuner0")
            if trial.status != "RUNNING":
                assert trial.status == "STOPPED", f"the oracle said {trial.status}"
                break
            created += 1
            tuner.oracle.update_trial(trial.trial_id, {"score": float(created % 7)})
            trial.status = "COMPLETED"
            tuner.oracle.end_trial(trial)
        ours = hyperband_trials({"max_epochs": max_epochs, "factor": factor,
                                 "hyperband_iterations": iterations})
        assert created == ours, (f"Hyperband({max_epochs}, {factor}, {iterations}) ran "
                                 f"{created} trials, tuning.spec counts {ours}")


def main(work: Path, report: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras_tuner as kt

    problems: dict[str, str | None] = {}
    for c in CHECKS:
        folder = work / c.name
        folder.mkdir(parents=True, exist_ok=True)
        try:
            c.run(folder)
            problems[c.name] = None
        except Exception as exc:  # each check reports on its own
            problems[c.name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
    report.write_text(json.dumps({"version": kt.__version__, "problems": problems}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
