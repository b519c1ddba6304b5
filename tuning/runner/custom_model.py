"""The user's own model: their module's build function or ``keras_tuner.HyperModel``
subclass, run as a KerasTuner hypermodel, every error in it told as theirs.

``CustomHyperModel`` is what the executor tunes for ``"family": "custom"``. Each build
calls the user's builder with the trial's ``HyperParameters`` (the entries the spec
narrows or fixes are registered first, by the oracle: see ``executor.build_tuner``) and
checks that a compiled ``keras.Model`` came back; anything else fails the trial with
the user's file, line and exception (a ``FailedTrialError``, counted by KerasTuner's
failure budget). A ``HyperModel``'s own ``fit`` is used, so it may tune fit arguments
such as the batch size; a build function's model is fitted with the spec's batch size
(or a ``batch_size`` hyperparameter, as for the MLP).

Imports Keras and KerasTuner: worker processes and the discovery process only.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt

from tuning.spec.user_code import UserCodeError, as_user_error, attribute, load_module


@dataclass
class Builder:
    """The user's builder: ``kind`` "function" or "hypermodel"; ``build(hp)`` returns
    their model, checked; ``hypermodel`` is their HyperModel instance (kind hypermodel)."""
    kind: str
    build: Callable[[Any], Any]
    hypermodel: Any = None


def load_builder(module: str, build: str) -> Builder:
    """Import ``module`` and find ``build`` in it; a ``UserCodeError`` otherwise."""
    found = attribute(load_module(module, "model.module"), build, "model.build", module,
                      "build function or HyperModel class")
    if isinstance(found, type) and issubclass(found, kt.HyperModel):
        try:
            hypermodel = found()
        except Exception as exc:
            err = as_user_error(exc, "model.build", module)
            raise UserCodeError("model.build", err.where, f"{build}() cannot be created without "
                                f"arguments ({err.text}); give its __init__ arguments "
                                "defaults") from None
        return Builder("hypermodel", _checked(hypermodel.build, module, build), hypermodel)
    if isinstance(found, kt.HyperModel):
        return Builder("hypermodel", _checked(found.build, module, build), found)
    if isinstance(found, type):
        raise UserCodeError("model.build", module, f"{build} is a class but not a subclass of "
                            "keras_tuner.HyperModel; subclass it, or name a build function")
    if not callable(found):
        raise UserCodeError("model.build", module, f"{build} is a {type(found).__name__}, not a "
                            "build function build_model(hp) or a keras_tuner.HyperModel subclass")
    return Builder("function", _checked(found, module, build))


def _checked(build: Callable[[Any], Any], module: str, name: str) -> Callable[[Any], Any]:
    def call(hp: Any) -> Any:
        try:
            model = build(hp)
        except Exception as exc:
            raise as_user_error(exc, "model.build", module) from None
        check_built_model(model, module, name)
        return model
    return call


def check_built_model(model: Any, module: str, name: str) -> None:
    if not isinstance(model, keras.Model):
        raise UserCodeError("model.build", module, f"{name} returned {type(model).__name__}, "
                            "not a keras.Model; return the model you built")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise UserCodeError("model.build", module, f"{name} returned a model that is not "
                            "compiled; call model.compile(optimizer=..., loss=..., "
                            "metrics=[...]) before returning it")


def check_input_shape(model: Any, sample: Sequence[int], module: str, name: str) -> None:
    """The model's input must take the data's samples (when the model declares one)."""
    try:
        wanted = tuple(model.input_shape[1:])
    except (AttributeError, ValueError, TypeError):
        return  # a subclassed model learns its input from the first batch
    if len(wanted) != len(sample) or any(w is not None and w != s
                                         for w, s in zip(wanted, sample)):
        raise UserCodeError("model.build", module, f"{name} builds a model that takes samples "
                            f"of shape {wanted}, but the data's samples have shape "
                            f"{tuple(sample)}; change the model's input or the data")


class CustomHyperModel(kt.HyperModel):
    """The user's builder as the hypermodel every strategy tunes."""

    def __init__(self, module: str, build: str, batch_size: int):
        super().__init__(name="custom", tunable=True)
        self.module, self.build_name, self.batch_size = module, build, batch_size
        self._builder: Builder | None = None

    # The spec's search space names ``learning_rate``: each build sets it on the compiled
    # optimizer, so it applies even where the module names its rate otherwise or fixes it
    # (a range test's follow-up run searches ``learning_rate``).
    sets_rate = False

    @classmethod
    def for_run(cls, spec: Any, dataset: Any) -> CustomHyperModel:
        model = spec["model"]
        hypermodel = cls(model["module"], model["build"], spec["training"]["batch_size"])
        hypermodel.sets_rate = "learning_rate" in spec["search_space"]
        hypermodel.spec = spec
        return hypermodel

    @property
    def builder(self) -> Builder:
        if self._builder is None:
            self._builder = load_builder(self.module, self.build_name)
        return self._builder

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        try:
            model = self.builder.build(hp)
        except UserCodeError as exc:
            raise kt.errors.FailedTrialError(str(exc)) from None
        if self.sets_rate and hp.values.get("learning_rate") is not None:
            from .tool_context import ToolRefused
            from .tool_model import settable_rate

            try:
                rate = settable_rate(model, self.spec, "search_space.learning_rate")
            except ToolRefused as exc:
                raise kt.errors.FailedTrialError(str(exc)) from None
            rate.assign(float(hp.values["learning_rate"]))
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        if self.builder.kind == "hypermodel":
            try:
                return self.builder.hypermodel.fit(hp, model, *args, **kwargs)
            except kt.errors.FatalError:
                raise
            except Exception as exc:
                if type(exc).__module__.startswith("keras_tuner"):
                    raise
                raise kt.errors.FailedTrialError(str(as_user_error(
                    exc, "model.build", self.module))) from None
        batch_size = hp.values.get("batch_size", self.batch_size)
        return model.fit(*args, batch_size=int(batch_size), **kwargs)
