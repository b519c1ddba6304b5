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
from tuning.spec.cnn_architecture import image_shape


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


def _compiled(inputs: Any, x: Any, s: Mapping[str, Any], task: str,
              n_classes: int | None) -> keras.Model:
    """The output layer for ``task`` on ``x``, and the model compiled with the values'
    optimizer and learning rate: what the MLP and the CNN share."""
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
    return _compiled(inputs, x, s, task, n_classes)


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

    @classmethod
    def for_run(cls, spec: Mapping[str, Any], dataset: Any) -> MLPHyperModel:
        return cls(spec["search_space"], dataset.x_train.shape[1], dataset.task,
                   dataset.n_classes, spec["training"]["batch_size"])

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        values = declare_space(hp, self.space)
        return build_mlp(values, self.n_features, self.task, self.n_classes)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        batch_size = hp.values.get("batch_size", self.batch_size)
        return model.fit(*args, batch_size=int(batch_size), **kwargs)


def build_cnn(values: Mapping[str, Any], sample: tuple[int, ...], task: str,
              n_classes: int | None) -> keras.Model:
    """Convolution blocks (conv, optional batch normalisation, ReLU, pooling), then a
    dense head; ``values`` overrides ``catalog.CNN_DEFAULTS``."""
    s = {**catalog.CNN_DEFAULTS, **{k: v for k, v in values.items() if not k.startswith("tuner/")}}
    inputs = keras.Input(tuple(sample))
    shape = image_shape(tuple(sample))
    x = inputs if tuple(sample) == shape else keras.layers.Reshape(shape)(inputs)
    pool = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}.get(
        s["pooling"])
    for i in range(int(s["conv_blocks"])):
        filters = max(1, round(int(s["filters"]) * float(s["filter_growth"]) ** i))
        x = keras.layers.Conv2D(filters, int(s["kernel_size"]), padding="same",
                                use_bias=not s["batch_norm"], name=f"conv_{i}")(x)
        if s["batch_norm"]:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.Activation("relu")(x)
        if pool is not None:
            x = pool(2, padding="same", name=f"pool_{i}")(x)
    x = keras.layers.Flatten()(x)
    if s["dropout"]:
        x = keras.layers.Dropout(float(s["dropout"]))(x)
    x = keras.layers.Dense(int(s["dense_units"]), activation="relu", name="dense")(x)
    return _compiled(inputs, x, s, task, n_classes)


class CNNHyperModel(MLPHyperModel):
    """The shipped CNN; like the MLP its space is declared on every build and its batch
    size can be tuned."""

    @classmethod
    def for_run(cls, spec: Mapping[str, Any], dataset: Any) -> CNNHyperModel:
        model = cls(spec["search_space"], 0, dataset.task, dataset.n_classes,
                    spec["training"]["batch_size"])
        model.sample = tuple(dataset.x_train.shape[1:])
        return model

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        values = declare_space(hp, self.space)
        return build_cnn(values, self.sample, self.task, self.n_classes)


def keras_hypermodel(spec: Mapping[str, Any], dataset: Any) -> kt.HyperModel:
    """The hypermodel of the spec's Keras family (``catalog.Family.hypermodel``)."""
    module, name = catalog.FAMILIES[spec["model"]["family"]].hypermodel.split(":")
    return getattr(importlib.import_module(module), name).for_run(spec, dataset)


def preset_space(spec: Mapping[str, Any]) -> kt.HyperParameters | None:
    """For the user's own model: the entries the spec narrows or fixes, registered in
    advance (KerasTuner's ``hyperparameters=``), so the module's own declarations of
    them yield to the spec's; None for the shipped families (they declare the spec's
    space themselves)."""
    if not catalog.FAMILIES[spec["model"]["family"]].user_code or not spec["search_space"]:
        return None
    hp = kt.HyperParameters()
    declare_space(hp, spec["search_space"])
    return hp


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
