"""Depth and width of the MLP: layer widths from hyperparameters, parameter counts, launch
warnings, and search-space templates. Pure functions, no TensorFlow.

The MLP builder (``models.build_mlp``) takes its hidden-layer widths from ``layer_widths``,
so what the dashboard counts and warns about is exactly what trains.

Shapes:

* ``funnel``: the first hidden layer has ``units``; each next one is ``FUNNEL_FACTOR``
  times narrower (never below ``MIN_WIDTH``).
* ``constant``: every hidden layer has ``units``.
* ``custom`` (the default, and what specs without a shape always meant): hidden layer
  ``i`` has ``units_i`` where the search space names it, else ``units``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tuning import catalog

SHAPES = ("funnel", "constant", "custom")
FUNNEL_FACTOR = 2
MIN_WIDTH = 1
SHARP_NARROWING = 4.0      # consecutive layers narrowing by more than this is a bottleneck
PARAMS_PER_ROW = 10        # more parameters than this many per training row: too large

ARCHITECTURE_HPS = ("num_layers", "units", "shape")


def layer_widths(values: Mapping[str, Any]) -> list[int]:
    """Widths of the hidden layers, first to last; missing values take ``MLP_DEFAULTS``."""
    settings = {**catalog.MLP_DEFAULTS, **values}
    shape = settings.get("shape", "custom")
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")
    layers, units = int(settings["num_layers"]), int(settings["units"])
    if shape == "constant":
        return [units] * layers
    if shape == "funnel":
        return [max(MIN_WIDTH, round(units / FUNNEL_FACTOR ** i)) for i in range(layers)]
    return [int(settings.get(f"units_{i}", units)) for i in range(layers)]


def count_parameters(widths: Iterable[int], n_features: int, n_outputs: int) -> int:
    """Weights and biases of a dense network: inputs, hidden ``widths``, ``n_outputs``."""
    total, fan_in = 0, int(n_features)
    for width in [*widths, int(n_outputs)]:
        total += fan_in * int(width) + int(width)
        fan_in = int(width)
    return total


def output_width(task: str, n_classes: int | None) -> int:
    """Units of the MLP's output layer (``build_mlp``: softmax over classes, or one value)."""
    return int(n_classes or 2) if task == "classification" else 1


# -- launch warnings ----------------------------------------------------------------


def _numbers(hp: Mapping[str, Any]) -> list[Any]:
    """The values worth checking: a range's ends, every listed value."""
    kind = hp.get("type")
    if kind == "fixed":
        return [hp.get("value")]
    if kind == "choice":
        return list(hp.get("values") or [])
    if kind in ("int", "float"):
        return [hp.get("min"), hp.get("max")]
    return []


def _ends(space: Mapping[str, Any], name: str) -> tuple[Any, Any]:
    values = [v for v in _numbers(space[name]) if isinstance(v, (int, float))] \
        if name in space else []
    default = catalog.MLP_DEFAULTS.get(name, catalog.MLP_DEFAULTS["units"])
    return (min(values), max(values)) if values else (default, default)


def _width_names(layers: int) -> list[str]:
    return [f"units_{i}" for i in range(layers)]


def _candidates(space: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Concrete architectures at the edges of the space: for every shape and depth, all
    widths at their narrowest, all at their widest, and each pair of consecutive
    independently tuned widths pulled apart (wide, then narrow)."""
    shapes = [s for s in _numbers(space["shape"]) if s in SHAPES] if "shape" in space \
        else ["custom"]
    depths = sorted({int(v) for v in (_numbers(space["num_layers"]) if "num_layers" in space
                                      else [catalog.MLP_DEFAULTS["num_layers"]])
                     if isinstance(v, (int, float)) and 1 <= v <= catalog.MLP_MAX_LAYERS})
    for shape in shapes:
        for layers in depths:
            names = [n for n in _width_names(layers) if n in space]
            if shape != "custom" or len(names) < layers:
                names.insert(0, "units")
            for end in (0, 1):
                yield {"shape": shape, "num_layers": layers,
                       **{n: _ends(space, n)[end] for n in names}}
            if shape != "custom":
                continue
            for i in range(layers - 1):
                upper = f"units_{i}" if f"units_{i}" in space else "units"
                lower = f"units_{i + 1}" if f"units_{i + 1}" in space else "units"
                if upper != lower:  # widths that follow one hyperparameter are always equal
                    yield {"shape": shape, "num_layers": layers,
                           upper: _ends(space, upper)[1], lower: _ends(space, lower)[0]}


def _describe(candidate: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in candidate.items() if k != "shape"]
    return ", ".join(parts + [f"shape={candidate['shape']}"])


def architecture_warnings(spec: Mapping[str, Any], n_features: int, n_outputs: int,
                          n_rows: int) -> list[str]:
    """Warnings about the MLP architectures a spec's search space allows, at most one of
    each kind, each naming an example architecture and the fix:

    * a bottleneck: a hidden layer narrower than the output layer;
    * a sharp narrowing: a hidden layer more than ``SHARP_NARROWING`` times narrower
      than the one before it;
    * too large for the data: more than ``PARAMS_PER_ROW`` parameters per training row.

    Empty for other model families. ``n_rows`` counts training rows.
    """
    if spec.get("model", {}).get("family") != "mlp":
        return []
    space = spec.get("search_space") or {}
    narrow = sharp = large = None
    for candidate in _candidates(space):
        widths = layer_widths(candidate)
        if narrow is None:
            i = min(range(len(widths)), key=widths.__getitem__)
            if widths[i] < n_outputs:
                narrow = (
                    f"bottleneck: with {_describe(candidate)}, hidden layer {i + 1} has "
                    f"{widths[i]} units, fewer than the {n_outputs} outputs it feeds; raise "
                    "units, use fewer layers or a constant shape")
        if sharp is None:
            for i in range(len(widths) - 1):
                ratio = widths[i] / max(widths[i + 1], 1)
                if ratio > SHARP_NARROWING:
                    sharp = (
                        f"bottleneck: with {_describe(candidate)}, hidden layer {i + 1} "
                        f"({widths[i]} units) feeds layer {i + 2} ({widths[i + 1]} units), "
                        f"{ratio:.0f}x narrower (more than {SHARP_NARROWING:.0f}x); narrow "
                        "more gradually, for example with the funnel shape")
                    break
        params = count_parameters(widths, n_features, n_outputs)
        if params > PARAMS_PER_ROW * n_rows and (large is None or params > large[0]):
            large = (params, candidate)
    warnings = [w for w in (narrow, sharp) if w]
    if large:
        params, candidate = large
        warnings.append(
            f"too large for the data: with {_describe(candidate)} the model has "
            f"{params:,} parameters for {n_rows:,} training rows (more than "
            f"{PARAMS_PER_ROW} per row), so it may overfit; lower units or num_layers, "
            "add dropout, or use more data")
    return warnings


def spec_warnings(spec: Mapping[str, Any]) -> list[str]:
    """``architecture_warnings`` (or, for the CNN, ``cnn_architecture.cnn_warnings``) for a
    normalised spec, reading its data set for the sizes
    (no TensorFlow). A data set that cannot be read gives no warnings here: the spec
    validator and the run report that problem themselves."""
    family = spec.get("model", {}).get("family")
    if family not in ("mlp", "cnn"):
        return []
    from tuning.data import DataError, load_dataset

    try:
        data = load_dataset(dict(spec["data"]), int(spec.get("seed", 42)))
    except (DataError, KeyError, ValueError):
        return []
    outputs = output_width(data.task, data.n_classes)
    if family == "cnn":
        from .cnn_architecture import cnn_warnings

        return cnn_warnings(spec, tuple(data.x_train.shape[1:]), outputs, len(data.x_train))
    return architecture_warnings(spec, data.x_train.shape[1], outputs, len(data.x_train))


# -- search-space templates ---------------------------------------------------------


def template_space(shape: str, max_layers: int = 3,
                   max_units: int = 512) -> dict[str, dict[str, Any]]:
    """A depth-and-width search space for ``shape``, to merge into a run's search space.

    funnel and constant tune ``num_layers`` (1 to ``max_layers``) and ``units`` (up to
    ``max_units``); custom tunes a width per layer (up to half of it) for ``max_layers``
    layers. Check the result with ``architecture_warnings`` against the data's size.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")
    if not 1 <= max_layers <= catalog.MLP_MAX_LAYERS:
        raise ValueError(f"max_layers must be between 1 and {catalog.MLP_MAX_LAYERS}; "
                         f"got {max_layers}")
    if shape == "custom":
        return {"num_layers": {"type": "fixed", "value": max_layers},
                "shape": {"type": "fixed", "value": "custom"},
                **{f"units_{i}": {"type": "int", "min": 16, "max": max(16, max_units // 2),
                                  "step": 16}
                   for i in range(max_layers)}}
    # A funnel's last layer is units / 2**(layers - 1): start wide enough to stay useful.
    low = 32 * FUNNEL_FACTOR ** (max_layers - 1) if shape == "funnel" else 32
    return {"num_layers": {"type": "int", "min": 1, "max": max_layers, "step": 1},
            "units": {"type": "int", "min": low, "max": max(max_units, low), "step": 32},
            "shape": {"type": "fixed", "value": shape}}
