"""Depth and width of the shipped CNN: the image each block sees, parameter counts and
launch warnings. Pure functions, no TensorFlow.

``models.build_cnn`` builds exactly what is counted here: ``conv_blocks`` blocks of a
same-padded convolution (``filters`` times ``filter_growth`` per block), optional batch
normalisation, ReLU and a 2 x 2 same-padded pooling (none when ``pooling`` is "none");
then a flatten, a dense layer of ``dense_units`` and the output layer.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from tuning import catalog

# A convolution shares its weights across the image, so a CNN fits a data set well with
# more parameters per row than a dense network does (``architecture.PARAMS_PER_ROW``):
# the shipped default space on digits (1,437 rows) reaches about 37 per row and scores
# 0.98; warn an order of magnitude beyond the MLP's bound.
CNN_PARAMS_PER_ROW = 100

CNN_ARCHITECTURE_HPS = ("conv_blocks", "filters", "filter_growth", "kernel_size",
                        "pooling", "batch_norm", "dense_units")


def image_shape(sample: tuple[int, ...]) -> tuple[int, ...]:
    """The (height, width, channels) a CNN sees for samples of shape ``sample``: images
    as they are, a 2-D sample as one channel, a flat square row (digits' 64 pixels,
    MNIST's 784) as a square one-channel image."""
    if len(sample) == 3:
        return tuple(sample)
    if len(sample) == 2:
        return (*sample, 1)
    side = round(sample[0] ** 0.5) if len(sample) == 1 else 0
    if len(sample) == 1 and side * side == sample[0]:
        return (side, side, 1)
    raise ValueError(f"samples of shape {sample} are not images; the cnn family takes "
                     "images, or rows of a square number of pixels")


def _settings(values: Mapping[str, Any]) -> dict[str, Any]:
    return {**catalog.CNN_DEFAULTS,
            **{k: v for k, v in values.items() if not str(k).startswith("tuner/")}}


def block_shapes(values: Mapping[str, Any], sample: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """(height, width, filters) after each convolution block, first to last."""
    s = _settings(values)
    height, width, _ = image_shape(tuple(sample))
    shapes = []
    for i in range(int(s["conv_blocks"])):
        filters = max(1, round(int(s["filters"]) * float(s["filter_growth"]) ** i))
        if s["pooling"] != "none":
            height, width = -(-height // 2), -(-width // 2)
        shapes.append((height, width, filters))
    return shapes


def cnn_parameters(values: Mapping[str, Any], sample: tuple[int, ...], n_outputs: int) -> int:
    """Weights and biases (batch normalisation's four per channel included) of the CNN."""
    s = _settings(values)
    channels = image_shape(tuple(sample))[2]
    kernel = int(s["kernel_size"])
    total = 0
    for _, _, filters in block_shapes(values, sample):
        total += kernel * kernel * channels * filters
        total += 4 * filters if s["batch_norm"] else filters
        channels = filters
    height, width, filters = (block_shapes(values, sample) or [(*image_shape(sample),)])[-1]
    dense = int(s["dense_units"])
    total += height * width * filters * dense + dense
    return total + dense * int(n_outputs) + int(n_outputs)


def collapsed_block(values: Mapping[str, Any], sample: tuple[int, ...]) -> int | None:
    """The first block (1-based) that gets an image already pooled to 1 x 1, or None: the
    blocks from there on see one pixel, so their depth adds parameters and nothing else."""
    shapes = block_shapes(values, sample)
    for i in range(1, len(shapes)):
        if shapes[i - 1][:2] == (1, 1):
            return i + 1
    return None


def _ends(space: Mapping[str, Any], name: str) -> list[Any]:
    hp = space.get(name)
    if hp is None:
        return [catalog.CNN_DEFAULTS[name]]
    kind = hp.get("type")
    if kind in ("int", "float"):
        return [hp["min"], hp["max"]]
    if kind == "choice":
        return list(hp["values"])
    if kind == "bool":
        return [False, True]
    return [hp.get("value")]


def _candidates(space: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """The architectures at the edges of the space (every combination of each
    architecture hyperparameter's ends)."""
    names = [n for n in CNN_ARCHITECTURE_HPS]
    for combo in itertools.product(*(_ends(space, n) for n in names)):
        yield dict(zip(names, combo))


def _describe(candidate: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in candidate.items())


def cnn_warnings(spec: Mapping[str, Any], sample: tuple[int, ...], n_outputs: int,
                 n_rows: int) -> list[str]:
    """Warnings about the CNNs a spec's search space allows, at most one of each kind,
    each naming an example and the fix: a dense head narrower than the outputs (a
    bottleneck), blocks that only see a 1 x 1 image (too deep for the image), and more
    than ``CNN_PARAMS_PER_ROW`` parameters per training row (too large for the data).
    Empty for other families or samples that are not images."""
    if spec.get("model", {}).get("family") != "cnn":
        return []
    try:
        image_shape(tuple(sample))
    except ValueError:
        return []
    space = spec.get("search_space") or {}
    narrow = deep = large = None
    for candidate in _candidates(space):
        try:
            params = cnn_parameters(candidate, sample, n_outputs)
            collapsed = collapsed_block(candidate, sample)
        except (TypeError, ValueError):
            continue
        if narrow is None and int(candidate["dense_units"]) < n_outputs:
            narrow = (f"bottleneck: with {_describe(candidate)}, the dense head has "
                      f"{candidate['dense_units']} units, fewer than the {n_outputs} outputs "
                      "it feeds; raise dense_units")
        if deep is None and collapsed is not None:
            side = image_shape(tuple(sample))[:2]
            deep = (f"too deep for the image: with {_describe(candidate)}, a {side[0]} x "
                    f"{side[1]} image is pooled to 1 x 1 before block {collapsed}, so blocks "
                    f"{collapsed} to {candidate['conv_blocks']} see one pixel; lower "
                    "conv_blocks' maximum or set pooling to none")
        if params > CNN_PARAMS_PER_ROW * n_rows and (large is None or params > large[0]):
            large = (params, candidate)
    warnings = [w for w in (narrow, deep) if w]
    if large:
        params, candidate = large
        warnings.append(
            f"too large for the data: with {_describe(candidate)} the model has "
            f"{params:,} parameters for {n_rows:,} training rows (more than "
            f"{CNN_PARAMS_PER_ROW} per row), so it may overfit; lower filters, dense_units or "
            "conv_blocks, add dropout, or use more data")
    return warnings
