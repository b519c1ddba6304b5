"""A small convolutional network of your own, for 8 x 8 one-channel images
(examples/data/digits_images.npz: scikit-learn's digits as images).

    "model": {"family": "custom", "module": "examples/models/small_cnn.py",
              "build": "build_model"}
"""
import keras
from keras import layers


def build_model(hp):
    inputs = keras.Input((8, 8, 1))
    x = inputs
    for i in range(hp.Int("conv_blocks", 1, 2)):
        x = layers.Conv2D(hp.Choice(f"filters_{i}", [8, 16]), 3, padding="same",
                          activation="relu")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(hp.Float("dropout", 0.0, 0.4, step=0.2))(x)
    x = layers.Dense(hp.Int("dense_units", 16, 64, step=16), activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 3e-2, sampling="log")),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
