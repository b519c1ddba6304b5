"""The CNN's depth and width: what each block sees, the parameter count (exactly what
``models.build_cnn`` builds) and the launch warnings."""
from __future__ import annotations

import pytest

from tuning.spec.architecture import spec_warnings
from tuning.spec.cnn_architecture import (
    block_shapes,
    cnn_parameters,
    cnn_warnings,
    collapsed_block,
    image_shape,
)


def cnn_spec(space: dict) -> dict:
    return {"model": {"family": "cnn"}, "search_space": space}


def test_image_shapes_of_rows_images_and_refusals():
    assert image_shape((64,)) == (8, 8, 1)
    assert image_shape((28, 28)) == (28, 28, 1)
    assert image_shape((32, 32, 3)) == (32, 32, 3)
    with pytest.raises(ValueError, match="not images"):
        image_shape((10,))


def test_blocks_halve_the_image_unless_pooling_is_none():
    values = {"conv_blocks": 4, "filters": 8, "filter_growth": 2.0, "pooling": "max"}
    assert block_shapes(values, (64,)) == [(4, 4, 8), (2, 2, 16), (1, 1, 32), (1, 1, 64)]
    assert collapsed_block(values, (64,)) == 4
    assert collapsed_block({**values, "pooling": "none"}, (64,)) is None
    assert collapsed_block({**values, "conv_blocks": 3}, (64,)) is None


def test_a_healthy_default_space_on_digits_gives_no_warning():
    assert cnn_warnings(cnn_spec({"conv_blocks": {"type": "int", "min": 1, "max": 2}}),
                        (64,), 10, 1400) == []


def test_each_kind_of_warning_names_an_example_and_the_fix():
    space = {"conv_blocks": {"type": "int", "min": 1, "max": 5},
             "dense_units": {"type": "choice", "values": [4, 512]},
             "filters": {"type": "choice", "values": [64]}, "filter_growth": {"type": "fixed", "value": 4.0}}
    warnings = cnn_warnings(cnn_spec(space), (64,), 10, 200)
    assert len(warnings) == 3
    bottleneck, deep, large = warnings
    assert bottleneck.startswith("bottleneck") and "dense_units=4" in bottleneck \
        and "raise dense_units" in bottleneck
    assert deep.startswith("too deep for the image") and "8 x 8" in deep \
        and "before block 4" in deep and "pooling to none" in deep
    assert large.startswith("too large for the data") and "200 training rows" in large


def test_other_families_and_non_images_get_no_cnn_warning():
    space = {"dense_units": {"type": "choice", "values": [2]}}
    assert cnn_warnings({"model": {"family": "mlp"}, "search_space": space}, (64,), 10, 9) == []
    assert cnn_warnings(cnn_spec(space), (10,), 10, 9) == []


def test_the_launch_warnings_read_the_cnn_data_set():
    spec = {"seed": 1, "model": {"family": "cnn"},
            "data": {"source": "sklearn", "name": "digits", "validation_split": 0.2},
            "search_space": {"conv_blocks": {"type": "int", "min": 1, "max": 6}}}
    assert any(w.startswith("too deep for the image") for w in spec_warnings(spec))
    spec["search_space"] = {"conv_blocks": {"type": "int", "min": 1, "max": 2}}
    assert spec_warnings(spec) == []  # the shipped default on digits is healthy


@pytest.mark.parametrize("values", [
    {},
    {"conv_blocks": 3, "filters": 4, "filter_growth": 1.5, "kernel_size": 5,
     "batch_norm": True, "pooling": "average", "dense_units": 7},
    {"conv_blocks": 1, "pooling": "none", "batch_norm": False, "dense_units": 3},
])
def test_the_count_is_what_keras_builds(values):
    from tuning.runner.models import build_cnn  # TensorFlow: only in this test

    for sample in [(64,), (12, 10, 3)]:
        model = build_cnn(values, sample, "classification", 10)
        assert cnn_parameters(values, sample, 10) == model.count_params(), (values, sample)
