"""A KerasTuner build function as the article's readers write it, tuned from the dashboard.

    "model": {"family": "custom", "module": "examples/models/digits_dense.py",
              "build": "build_model"}

The dashboard calls ``build_model`` on an empty ``keras_tuner.HyperParameters`` (in a
process of its own) to show its search space; each trial then calls it with that
trial's values. ``load_data`` is the spec's Python data loader (``"source": "python"``).
"""
import keras
import numpy as np
from keras import layers


def build_model(hp):
    model = keras.Sequential()
    model.add(keras.Input((64,)))
    for i in range(hp.Int("num_layers", 1, 2)):
        model.add(layers.Dense(hp.Int(f"units_{i}", min_value=16, max_value=64, step=16),
                               activation=hp.Choice("activation", ["relu", "tanh"])))
    dropout = hp.Boolean("dropout")
    with hp.conditional_scope("dropout", [True]):  # dropout_rate exists only with dropout
        rate = hp.Float("dropout_rate", 0.1, 0.5, step=0.1)
    if dropout:
        model.add(layers.Dropout(rate))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load_data():
    """scikit-learn's digits, 8 x 8 pixels as 64 features in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(len(x) * 0.8)
    return x[:cut], y[:cut], x[cut:], y[cut:]
