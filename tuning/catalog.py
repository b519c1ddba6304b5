"""What the product offers: data sets, model families and objectives (the strategies are
in ``tuning.strategies``, one module each).

Plain data, importable anywhere (the dashboard builds its forms from it) and free
of TensorFlow and scikit-learn imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SKLEARN_DATASETS: dict[str, str] = {
    "iris": "classification",
    "digits": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
# Keras data sets are read from the Keras cache only; nothing is downloaded.
KERAS_DATASETS: dict[str, str] = {"mnist": "classification", "fashion_mnist": "classification"}
# npz, images and python sources feed Keras families (a custom model or the CNN) only.
DATA_SOURCES = ("sklearn", "csv", "keras", "npz", "images", "python")
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TASKS = ("auto", "classification", "regression")


@dataclass(frozen=True)
class Family:
    name: str
    label: str
    kind: str  # "keras" or "sklearn"
    tasks: tuple[str, ...]
    # Estimator class per task, as "module:Class" (sklearn families only).
    estimators: tuple[tuple[str, str], ...] = ()
    # The search space the launch form starts from.
    default_space: tuple[tuple[str, dict[str, Any]], ...] = ()
    # Keras families: the hypermodel the worker builds, as "module:Class" (its
    # ``for_run(spec, dataset)`` makes one), and the inputs it takes: "flat" (one row of
    # features per sample), "image" (height x width x channels), or "any".
    hypermodel: str = ""
    inputs: str = "flat"
    # Hyperparameters the builder reads, with their defaults; None: any name (the user's
    # own model declares its own space).
    defaults: dict[str, Any] | None = None
    # The model is the user's code (``model.module`` and ``model.build``).
    user_code: bool = False
    # Transfer learning can train it (the range test and the batch-size study train any
    # Keras family: ``Strategy.any_keras_model``).
    tools: bool = False


MLP_ACTIVATIONS = ("relu", "tanh", "elu", "selu", "gelu", "sigmoid", "swish")
MLP_OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
# Hyperparameters the MLP builder reads, with the value used when the space leaves one out.
MLP_DEFAULTS: dict[str, Any] = {
    "num_layers": 2,
    "units": 64,
    "activation": "relu",
    "dropout": 0.0,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 32,
    "l2": 0.0,
    # Hidden-layer widths (tuning/spec/architecture.py): funnel, constant, or custom (units_i).
    "shape": "custom",
}
MLP_MAX_LAYERS = 16

# Hyperparameters the CNN builder reads (tuning/runner/models.py), with their defaults.
CNN_DEFAULTS: dict[str, Any] = {
    "conv_blocks": 2,
    "filters": 16,
    "filter_growth": 2.0,   # each block has this many times the filters of the one before
    "kernel_size": 3,
    "pooling": "max",       # max, average, or none
    "batch_norm": False,
    "dropout": 0.0,
    "dense_units": 64,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 32,
}
CNN_POOLINGS = ("max", "average", "none")
CNN_MAX_BLOCKS = 8

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("mlp", "Keras MLP (dense network)", "keras", ("classification", "regression"),
           hypermodel="tuning.runner.models:MLPHyperModel", defaults=MLP_DEFAULTS, tools=True,
           default_space=(
               ("num_layers", {"type": "int", "min": 1, "max": 3, "step": 1}),
               ("units", {"type": "int", "min": 32, "max": 256, "step": 32}),
               ("activation", {"type": "choice", "values": ["relu", "tanh"]}),
               ("dropout", {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1}),
               ("learning_rate", {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"}),
           )),
    Family("svm", "Support vector machine (SVC / SVR)", "sklearn",
           ("classification", "regression"),
           estimators=(("classification", "sklearn.svm:SVC"), ("regression", "sklearn.svm:SVR")),
           default_space=(
               ("C", {"type": "float", "min": 0.01, "max": 100.0, "sampling": "log"}),
               ("gamma", {"type": "choice", "values": ["scale", "auto"]}),
               ("kernel", {"type": "choice", "values": ["rbf", "linear"]}),
           )),
    Family("random_forest", "Random forest", "sklearn", ("classification", "regression"),
           estimators=(("classification", "sklearn.ensemble:RandomForestClassifier"),
                       ("regression", "sklearn.ensemble:RandomForestRegressor")),
           default_space=(
               ("n_estimators", {"type": "int", "min": 10, "max": 200, "step": 10}),
               ("max_depth", {"type": "int", "min": 2, "max": 16}),
               ("min_samples_leaf", {"type": "int", "min": 1, "max": 8}),
           )),
    Family("logistic_regression", "Logistic regression", "sklearn", ("classification",),
           estimators=(("classification", "sklearn.linear_model:LogisticRegression"),),
           default_space=(
               ("C", {"type": "float", "min": 0.001, "max": 100.0, "sampling": "log"}),
               ("max_iter", {"type": "fixed", "value": 1000}),
           )),
    Family("ridge", "Ridge regression", "sklearn", ("regression",),
           estimators=(("regression", "sklearn.linear_model:Ridge"),),
           default_space=(
               ("alpha", {"type": "float", "min": 0.001, "max": 100.0, "sampling": "log"}),
           )),
    Family("knn", "k-nearest neighbours", "sklearn", ("classification", "regression"),
           estimators=(("classification", "sklearn.neighbors:KNeighborsClassifier"),
                       ("regression", "sklearn.neighbors:KNeighborsRegressor")),
           default_space=(
               ("n_neighbors", {"type": "int", "min": 1, "max": 30}),
               ("weights", {"type": "choice", "values": ["uniform", "distance"]}),
           )),
    Family("gradient_boosting", "Gradient boosting", "sklearn", ("classification", "regression"),
           estimators=(("classification", "sklearn.ensemble:GradientBoostingClassifier"),
                       ("regression", "sklearn.ensemble:GradientBoostingRegressor")),
           default_space=(
               ("n_estimators", {"type": "int", "min": 20, "max": 200, "step": 20}),
               ("learning_rate", {"type": "float", "min": 0.01, "max": 0.5, "sampling": "log"}),
               ("max_depth", {"type": "int", "min": 1, "max": 5}),
           )),
    Family("cnn", "Keras CNN (convolutional network, for images)", "keras",
           ("classification", "regression"),
           hypermodel="tuning.runner.models:CNNHyperModel", inputs="image",
           defaults=CNN_DEFAULTS,
           default_space=(
               ("conv_blocks", {"type": "int", "min": 1, "max": 2, "step": 1}),
               ("filters", {"type": "choice", "values": [8, 16, 32]}),
               ("kernel_size", {"type": "choice", "values": [3, 5]}),
               ("batch_norm", {"type": "bool"}),
               ("dropout", {"type": "float", "min": 0.0, "max": 0.4, "step": 0.1}),
               ("dense_units", {"type": "int", "min": 32, "max": 128, "step": 32}),
               ("learning_rate", {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"}),
           )),
    Family("custom", "Your own Keras model (a Python file)", "keras",
           ("classification", "regression"),
           hypermodel="tuning.runner.custom_model:CustomHyperModel", inputs="any",
           user_code=True),
)}


HP_TYPES = ("int", "float", "choice", "bool", "fixed")
SAMPLINGS = ("linear", "log")

KERAS_METRICS = {
    "classification": ("val_accuracy", "val_loss", "accuracy", "loss"),
    "regression": ("val_loss", "val_mae", "loss", "mae"),
}
SKLEARN_SCORINGS = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted",
                       "precision_macro", "recall_macro", "roc_auc_ovr"),
    "regression": ("r2", "neg_mean_squared_error", "neg_mean_absolute_error",
                   "neg_root_mean_squared_error"),
}


def default_metric(kind: str, task: str) -> str:
    if kind == "sklearn":
        return SKLEARN_SCORINGS[task][0]
    return "val_accuracy" if task == "classification" else "val_loss"


def default_direction(metric: str) -> str:
    """Losses and errors are minimised, everything else (including sklearn's neg_* scores) maximised."""
    if metric.startswith("neg_"):
        return "max"
    lowered = metric.lower()
    return "min" if any(w in lowered for w in ("loss", "mae", "mse", "error")) else "max"


def family_defaults(family: str | None) -> dict[str, Any]:
    """The hyperparameters a family's builder reads, with their defaults ({} for a
    scikit-learn family, whose estimator declares its own, or the user's model)."""
    spec = FAMILIES.get(family or "")
    return dict(spec.defaults) if spec and spec.defaults else {}


def default_space(family: str) -> dict[str, dict[str, Any]]:
    return {name: dict(hp) for name, hp in FAMILIES[family].default_space}
