"""The model a deep-learning tool (range test, batch-size study) trains, for every Keras
family: the shipped MLP or CNN, or the user's own builder.

``build_tool_model(spec, dataset, values)`` builds it once at ``values`` (the tool's
fixed hyperparameters: ``_tools.fixed_values``). For ``"family": "custom"`` the user's
builder is called as a custom run calls it: the spec's search-space entries are
registered first (``models.preset_space``) and held at ``values``; entries only the
module declares keep their own defaults. A HyperModel's own ``fit`` is not used: the
tools fit the model themselves.

``settable_rate(model, spec)`` is the compiled optimizer's learning-rate variable, or a
``ToolRefused`` naming the user's builder when there is none (not compiled, a rate
schedule, a callable): the tools set the rate through it.

Imports Keras: worker processes only.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from .tool_context import ToolRefused


def build_tool_model(spec: Mapping[str, Any], dataset: Any, values: Mapping[str, Any]
                     ) -> keras.Model:
    from .models import build_cnn, build_mlp

    family = spec["model"]["family"]
    if family == "mlp":
        return build_mlp(values, dataset.x_train.shape[1], dataset.task, dataset.n_classes)
    if family == "cnn":
        return build_cnn(values, tuple(dataset.x_train.shape[1:]), dataset.task,
                         dataset.n_classes)
    return _build_custom(spec, dataset, values)


def _build_custom(spec: Mapping[str, Any], dataset: Any, values: Mapping[str, Any]
                  ) -> keras.Model:
    import keras_tuner as kt

    from .custom_model import check_input_shape, load_builder
    from .models import preset_space

    module, name = spec["model"]["module"], spec["model"]["build"]
    hp = preset_space(spec) or kt.HyperParameters()
    for key, value in values.items():
        if key in spec["search_space"]:
            hp.values[key] = value
    model = load_builder(module, name).build(hp)  # UserCodeError: the user's own error
    check_input_shape(model, dataset.x_train.shape[1:], module, name)
    return model


def builder_name(spec: Mapping[str, Any]) -> str:
    model = spec["model"]
    if model.get("module"):
        return f"{model['build']} in {model['module']}"
    return f"the shipped {model['family']} builder"


def settable_rate(model: keras.Model, spec: Mapping[str, Any], tool: str) -> Any:
    """The variable holding the compiled optimizer's learning rate."""
    optimizer = getattr(model, "optimizer", None)
    who = builder_name(spec)
    if optimizer is None:
        raise ToolRefused(f"{tool} needs a compiled model, and {who} returned one without "
                             "an optimizer; call model.compile(optimizer=..., loss=...) in it")
    rate = getattr(optimizer, "learning_rate", None)
    if not isinstance(rate, keras.Variable):
        raise ToolRefused(f"{tool} sets the learning rate itself, but the optimizer "
                             f"{type(optimizer).__name__} that {who} compiles has no settable "
                             "learning rate (a schedule or a function sets it); compile it "
                             "with a number, e.g. keras.optimizers.Adam(learning_rate=1e-3)")
    return rate


def compiled_rate(model: keras.Model) -> float | None:
    """The compiled optimizer's learning rate when it is settable, else None."""
    rate = getattr(getattr(model, "optimizer", None), "learning_rate", None)
    return float(keras.ops.convert_to_numpy(rate)) if isinstance(rate, keras.Variable) else None
