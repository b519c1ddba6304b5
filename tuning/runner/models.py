"""Hypermodels: build a Keras MLP or a scikit-learn estimator from a trial's hyperparameters.

Imports Keras and KerasTuner at module level: only worker processes import this module.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner as kt

from tuning import catalog
from tuning.spec.architecture import layer_widths


def declare(hp: kt.HyperParameters, name: str, definition: Mapping[str, Any]) -> Any:
    """Register one search-space entry with KerasTuner and return its value for this trial."""
    kind = definition["type"]
    if kind == "int":
        kwargs: dict[str, Any] = {"sampling": definition.get("sampling", "linear")}
        if "step" in definition:
            kwargs["step"] = definition["step"]
        if "default" in definition:
            kwargs["default"] = definition["default"]
        return hp.Int(name, definition["min"], definition["max"], **kwargs)
    if kind == "float":
        kwargs = {"sampling": definition.get("sampling", "linear")}
        if "step" in definition:
            kwargs["step"] = definition["step"]
        if "default" in definition:
            kwargs["default"] = definition["default"]
        return hp.Float(name, definition["min"], definition["max"], **kwargs)
    if kind == "choice":
        return hp.Choice(name, list(definition["values"]), default=definition.get("default"))
    if kind == "bool":
        return hp.Boolean(name, default=definition.get("default", False))
    return hp.Fixed(name, definition["value"])


def declare_space(hp: kt.HyperParameters, space: Mapping[str, Any]) -> dict[str, Any]:
    # Every entry is declared on every build, whatever num_layers says, so the space
    # KerasTuner sees is static: grid and Bayesian oracles then know it from trial one.
    return {name: declare(hp, name, definition) for name, definition in space.items()}


def mlp_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    settings = dict(catalog.MLP_DEFAULTS)
    settings.update({k: v for k, v in values.items() if not k.startswith("tuner/")})
    return settings


def build_mlp(values: Mapping[str, Any], n_features: int, task: str,
              n_classes: int | None) -> keras.Model:
    """The dense network every MLP trial trains; ``values`` overrides ``MLP_DEFAULTS``."""
    s = mlp_settings(values)
    regularizer = keras.regularizers.l2(s["l2"]) if s["l2"] else None
    inputs = keras.Input((n_features,))
    x = inputs
    for i, units in enumerate(layer_widths(s)):
        x = keras.layers.Dense(units, activation=s["activation"], kernel_regularizer=regularizer,
                               name=f"dense_{i}")(x)
        if s["dropout"]:
            x = keras.layers.Dropout(float(s["dropout"]), name=f"dropout_{i}")(x)
    if task == "classification":
        outputs = keras.layers.Dense(int(n_classes or 2), activation="softmax", name="output")(x)
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        outputs = keras.layers.Dense(1, name="output")(x)
        loss, metrics = "mse", ["mae"]
    model = keras.Model(inputs, outputs)
    optimizer = keras.optimizers.get({"class_name": s["optimizer"],
                                      "config": {"learning_rate": float(s["learning_rate"])}})
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


class MLPHyperModel(kt.HyperModel):
    """An MLP whose batch size can be tuned too (KerasTuner tunes fit arguments in ``fit``)."""

    def __init__(self, space: Mapping[str, Any], n_features: int, task: str,
                 n_classes: int | None, batch_size: int):
        super().__init__(name="mlp", tunable=True)
        self.space = space
        self.n_features = n_features
        self.task = task
        self.n_classes = n_classes
        self.batch_size = batch_size

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        values = declare_space(hp, self.space)
        return build_mlp(values, self.n_features, self.task, self.n_classes)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        batch_size = hp.values.get("batch_size", self.batch_size)
        return model.fit(*args, batch_size=int(batch_size), **kwargs)


def estimator_class(family: str, task: str) -> type:
    path = dict(catalog.FAMILIES[family].estimators)[task]
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


class SklearnHyperModel(kt.HyperModel):
    def __init__(self, space: Mapping[str, Any], family: str, task: str, seed: int):
        super().__init__(name=family, tunable=True)
        self.space = space
        self.cls = estimator_class(family, task)
        self.seed = seed

    def build(self, hp: kt.HyperParameters) -> Any:
        values = declare_space(hp, self.space)
        params = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        if "random_state" in self.cls().get_params() and "random_state" not in params:
            params["random_state"] = self.seed
        return self.cls(**params)
