"""Every use of KerasTuner's private API, in one place.

KerasTuner 1.4.8 has no public hook for what the engine needs at a few points (a lean
model build, per-execution seeding, a search without ``tensorboard``, repairing the
retry queue after a resume, serving the oracle without KerasTuner's blocking chief
loop, resuming a grid search). Each such use is a named function or mixin here, its
docstring naming the KerasTuner source it relies on and why; ``tests/runner/
test_kt_compat.py`` pins each one, so an upgrade that changes one fails a test that
names it instead of failing trials at run time.

Imports KerasTuner (and so TensorFlow): worker-side modules only, and only where they
would import KerasTuner anyway. The dashboard process never imports this module
(``tests/test_import_hygiene.py``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import keras
import keras_tuner as kt
from keras_tuner.src.engine import tuner as _kt_tuner

__all__ = ["ExecutionHook", "LeanBuild", "NoTensorBoardByDefault", "add_oracle_service",
           "checkpoint_path", "drop_from_retry_queue", "model_size",
           "rebuild_grid_frontier", "retry_queue"]


# -- tuner mixins (put them before the KerasTuner class in the bases) -------------------


class NoTensorBoardByDefault:
    """A tuner mixin: trials no longer fail for want of the ``tensorboard`` package.

    Relies on ``keras_tuner/src/engine/tuner.py``: ``Tuner.run_trial`` calls
    ``self._configure_tensorboard_dir(callbacks, trial, execution)`` once per
    execution, and the stock method imports ``tensorboard.plugins.hparams`` on the
    TensorFlow backend whether or not a TensorBoard callback is present. TF 2.21 no
    longer installs tensorboard, so every trial would go INVALID (see STACK.md). The
    stock method runs only when the user passed a TensorBoard callback.
    """

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        if any(isinstance(cb, keras.callbacks.TensorBoard) for cb in callbacks):
            super()._configure_tensorboard_dir(callbacks, trial, execution)


class LeanBuild:
    """A tuner mixin: builds each model without two ``gc.collect()`` calls first.

    Relies on ``keras_tuner/src/engine/tuner.py``: ``Tuner._try_build(hp)`` builds
    every trial's model (``_build_and_fit_model`` and ``load_model`` call it) through
    ``self._build_hypermodel(hp)``, checks it is a Keras model and that it is not over
    ``self.max_model_size``. The stock version also clears the session and runs
    ``gc.collect()`` twice: 0.2-0.4 s a trial once TensorFlow fills the heap, which
    Keras's docs advise skipping in short loops. Python's collector still frees the
    cycles on its own schedule, and the engine replaces a worker every
    ``recycle_every`` trials to keep memory flat (``bench/bench_engine.py`` checks).
    Everything else is the stock method's, messages included.
    """

    def _try_build(self, hp):
        keras.backend.clear_session(free_memory=False)
        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.models.Model):
            raise kt.errors.FatalTypeError(
                "Expected the model-building function, or HyperModel.build() to return "
                f"a valid Keras Model instance. Received: {model} of type {type(model)}.")
        size = model_size(model)
        if self.max_model_size and size > self.max_model_size:
            raise kt.errors.FailedTrialError(f"Oversized model: {size} parameters. "
                                             "Skip model.")
        return model


class ExecutionHook:
    """A tuner mixin: ``fit_execution(trial, fit)`` wraps each execution of a trial.

    Relies on ``keras_tuner/src/engine/tuner.py``: ``Tuner.run_trial`` calls
    ``self._build_and_fit_model(trial, *args, **kwargs)`` once per execution
    (``executions_per_trial``), with that execution's callbacks; it builds the model
    and fits it, and returns what ``run_trial`` averages. It is the one point that
    sees an execution begin with the trial in hand (``on_trial_begin`` is once a
    trial; callbacks never see the trial). Override ``fit_execution``: call ``fit()``
    to build and train (what ``_build_and_fit_model`` returns), or return a result of
    your own instead of training.
    """

    def fit_execution(self, trial: Any, fit: Callable[[], Any]) -> Any:
        return fit()

    def _build_and_fit_model(self, trial, *args, **kwargs):
        return self.fit_execution(
            trial, lambda: super(ExecutionHook, self)._build_and_fit_model(trial, *args, **kwargs))


# -- functions ----------------------------------------------------------------------------


def model_size(model: Any) -> int:
    """Trainable parameters of a built model (0 if it is not built), as KerasTuner counts
    them against ``max_model_size``.

    Relies on ``keras_tuner/src/engine/tuner.py``: ``maybe_compute_model_size(model)``,
    the module-level helper ``Tuner._try_build`` uses; using it keeps ``LeanBuild``'s
    size check the stock one.
    """
    return _kt_tuner.maybe_compute_model_size(model)


def checkpoint_path(tuner: Any, trial_id: str) -> str:
    """The file holding the best epoch's weights of ``trial_id``.

    Relies on ``keras_tuner/src/engine/tuner.py``: ``Tuner._get_checkpoint_fname(trial_id)``,
    the path ``Tuner.run_trial`` gives its ``SaveBestEpoch`` callback (a
    ``.weights.h5`` file in the trial's folder on Keras 3). Reading it directly saves
    what ``Tuner.load_model`` adds around it: a session clear and two ``gc.collect()``.
    """
    return tuner._get_checkpoint_fname(trial_id)


def retry_queue(oracle: Any) -> list[str]:
    """Ids of the trials ``oracle`` will hand out again before any new one (a copy);
    empty for an oracle with no queue of its own (a distributed worker's client).

    Relies on ``keras_tuner/src/engine/oracle.py``: ``Oracle._retry_queue``, a list of
    trial ids: ``Oracle.reload`` (a resume) appends every trial that was running,
    ``Oracle._retry`` an INVALID trial with retries left, and ``Oracle.create_trial``
    pops from it before it makes a new trial.
    """
    return list(getattr(oracle, "_retry_queue", ()))


def drop_from_retry_queue(oracle: Any, trial_ids: Iterable[str]) -> None:
    """Take ``trial_ids`` out of ``oracle``'s retry queue (every occurrence), so that
    KerasTuner does not train them again; no-op for an oracle without a queue.

    Relies on ``keras_tuner/src/engine/oracle.py``: ``Oracle._retry_queue`` (see
    ``retry_queue``) is a plain list that ``create_trial`` reads at each call, and is
    saved with the oracle's state (``get_state()["retry_queue"]``).
    """
    if hasattr(oracle, "_retry_queue"):
        drop = set(trial_ids)
        oracle._retry_queue = [tid for tid in oracle._retry_queue if tid not in drop]


def add_oracle_service(server: Any, oracle: Any) -> None:
    """Register ``oracle`` on a ``grpc.server`` as KerasTuner's chief would.

    Relies on ``keras_tuner/src/distribute/oracle_chief.py``: ``OracleServicer(oracle)``,
    and ``keras_tuner/src/protos/__init__.py``: ``get_service_grpc()`` with its
    generated ``add_OracleServicer_to_server``. KerasTuner's public entry point
    (``oracle_chief.start_server``, reached from ``BaseTuner.search`` on the chief)
    blocks until the search ends; the engine serves the same service itself so that
    it can supervise workers and train as one of them meanwhile.
    """
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    protos.get_service_grpc().add_OracleServicer_to_server(OracleServicer(oracle), server)


def rebuild_grid_frontier(oracle: Any) -> None:
    """Derive a ``GridSearchOracle``'s in-memory frontier again from its trials (after
    ``set_state``), so a reloaded grid goes on where it stopped.

    Relies on ``keras_tuner/src/tuners/gridsearch.py``: ``GridSearchOracle`` keeps the
    grid's order in ``_ordered_ids`` (a ``LinkedList`` of trial ids sorted by
    ``_compare(values_a, values_b)``) and the trials whose next combination is still to
    be tried in ``_populate_next``; ``populate_space`` reads both, and neither is saved
    with the oracle's state, so a reloaded oracle raises KeyError or declares the grid
    done. Every trial goes back in ``_populate_next``: ``populate_space`` skips the
    combinations already tried.
    """
    from functools import cmp_to_key

    from keras_tuner.src.tuners.gridsearch import LinkedList

    trials = oracle.trials
    ids = sorted(trials, key=cmp_to_key(
        lambda a, b: oracle._compare(trials[a].hyperparameters.values,
                                     trials[b].hyperparameters.values)))
    oracle._ordered_ids = LinkedList()
    for trial_id in ids:
        oracle._ordered_ids.insert(trial_id)
    oracle._populate_next = list(ids)
