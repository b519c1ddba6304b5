"""A keras_tuner.HyperModel subclass whose fit tunes the batch size, as KerasTuner allows.

    "model": {"family": "custom", "module": "examples/models/batch_size_hypermodel.py",
              "build": "DigitsModel"}
"""
import keras
import keras_tuner as kt


class DigitsModel(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 16, 64, step=16), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1e-2,
                                                                sampling="log")),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32, 128]), **kwargs)
