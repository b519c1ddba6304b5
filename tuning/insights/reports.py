"""Downloads for one run: CSV, JSON, Markdown, a self-contained HTML report and a script
that rebuilds the best model. No Streamlit, no TensorFlow (the script imports Keras, not us).

Every string a user typed (run names, data paths, messages, choice values) is escaped
before it lands in HTML, and embedded as a ``repr`` literal in generated Python.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import pprint
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from storage import Epoch, Run, Trial, TrialStatus, plain_json
from tuning import catalog, strategies
from tuning.formatting import fmt_number
from tuning.paths import run_dir
from tuning.spec.architecture import layer_widths

from .analysis import (
    HP_PREFIX,
    best_so_far,
    best_trial,
    curves_frame,
    hp_importance,
    hyperband_table,
    hyperparameters,
    leaderboard,
    metric_names,
    top_trial_keys,
    trials_frame,
)
from .charts import (
    MAX_CURVE_TRIALS,
    best_so_far_chart,
    hyperband_chart,
    importance_chart,
    learning_curves,
    parallel_coordinates,
    slice_plots,
)
from .data_summary import data_items
from .escaping import markdown_text, spreadsheet_cell
from .stages import pruning_summary, sequential_stages

CHART_TITLES = {
    "learning_curves": "Learning curves",
    "best_so_far": "Best score so far",
    "parallel_coordinates": "Hyperparameters and score",
    "importance": "Hyperparameter importance",
    "slices": "Score by hyperparameter",
    "hyperband": "Hyperband brackets",
}
TOP_N = 10


def _objective_metric(run: Run) -> str:
    return str(run.spec.get("objective", {}).get("metric") or "")


# -- tables -------------------------------------------------------------------------


def trials_csv(run: Run, trials: Iterable[Trial]) -> str:
    """``analysis.trials_frame`` as CSV, one row per trial in trial-number order.

    Text cells and column names that a spreadsheet would run as a formula (``=1+1``,
    ``@SUM(...)``, ``-2+3``) get a leading ``'``; numbers are written as numbers."""
    frame = trials_frame(sorted(trials, key=lambda t: (t.number, t.id)))
    text = frame.select_dtypes(exclude=["number", "bool"]).columns
    frame[text] = frame[text].astype(object).map(spreadsheet_cell)
    frame.columns = [spreadsheet_cell(str(c)) for c in frame.columns]
    return frame.to_csv(index=False)


def _trial_summary(trial: Trial) -> dict[str, Any]:
    return {"trial_key": trial.trial_key, "number": trial.number, "score": trial.score,
            "hyperparameters": plain_json(hyperparameters(trial)), "metrics": plain_json(trial.metrics),
            "epochs_done": trial.epochs_done}


def best_params_json(run: Run, trials: Iterable[Trial]) -> str:
    """The run, its objective, its best trial (``null`` until one completes) and the spec."""
    best = best_trial(run, list(trials))
    doc = {
        "run": {"id": run.id, "name": run.name, "status": run.status.value,
                "strategy": run.strategy},
        "objective": plain_json(run.spec.get("objective", {})),
        "best_trial": None if best is None else _trial_summary(best),
        "spec": plain_json(run.spec),
    }
    return json.dumps(doc, indent=2, allow_nan=False, default=str)


def _md(value: Any) -> str:
    """A Markdown table cell or inline text that renders as typed (``escaping.markdown_text``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return fmt_number(value)
    return markdown_text(value)


def _status_counts(trials: list[Trial]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status.value] = counts.get(t.status.value, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _family_label(run: Run) -> str:
    family = catalog.FAMILIES.get(run.model_family)
    return family.label if family else run.model_family


def _advice(run: Run, trials: list[Trial], epochs: Iterable[Epoch] | None, advice: Any):
    if advice is not None:
        return advice
    from .advice import advise

    return advise(run, trials, list(epochs or ()))


def markdown_summary(run: Run, trials: Iterable[Trial], epochs: Iterable[Epoch] | None = None,
                     advice: Any = None) -> str:
    """A short Markdown report: what ran, how far it got, the best trial, a top-10 table
    and what to try next (``advice``, else read from ``trials`` and ``epochs``)."""
    from .advice.render import advice_markdown

    trials = list(trials)
    data = run.spec.get("data", {})
    objective = run.spec.get("objective", {})
    counts = _status_counts(trials)
    total = f" of {run.max_trials} planned" if run.max_trials else ""
    lines = [
        f"# Run {run.id}: {_md(run.name)}", "",
        f"- **Data set:** {_md(run.dataset)} ({_md(data.get('source'))}, {_md(data.get('task'))})",
        f"- **Model:** {_md(_family_label(run))}",
        f"- **Strategy:** {_md(run.strategy)}",
        f"- **Status:** {_md(run.status.value)}",
        f"- **Objective:** {_md(objective.get('metric'))} ({_md(objective.get('direction'))})",
        f"- **Trials:** {len(trials)}{total}: "
        + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none yet"), "",
        "## Best trial", "",
    ]
    best = best_trial(run, trials)
    if best is None:
        lines += ["No trial has completed yet.", ""]
    else:
        lines += [f"Trial {_md(best.trial_key)} (number {best.number}) scored "
                  f"**{fmt_number(best.score)}**.", "", "| Hyperparameter | Value |", "|---|---|"]
        lines += [f"| {_md(k)} | {_md(v)} |" for k, v in hyperparameters(best).items()]
        lines.append("")
    about_data = data_items(run)
    if about_data:
        lines += ["## Data", ""] + [f"- **{_md(k)}:** {_md(v)}" for k, v in about_data] + [""]
    lines += _manual_markdown(run, trials)
    board = leaderboard(run, trials)
    top = board[board["rank"].notna()].head(TOP_N)
    if len(top):
        hp_cols = [c for c in top.columns if c.startswith(HP_PREFIX)]
        header = ["Rank", "Trial", "Score", "Epochs"] + [c[len(HP_PREFIX):] for c in hp_cols]
        lines += [f"## Top {len(top)}", "", "| " + " | ".join(_md(h) for h in header) + " |",
                  "|" + "---|" * len(header)]
        for _, row in top.iterrows():
            cells = [row["rank"], row["trial_key"], row["score"], row["epochs_done"]]
            cells += [row[c] for c in hp_cols]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
        lines.append("")
    lines += advice_markdown(_advice(run, trials, epochs, advice))
    return "\n".join(lines)


# -- charts and HTML ----------------------------------------------------------------


def _curve_metric(run: Run, names: list[str]) -> str | None:
    metric = _objective_metric(run)
    base = metric[len("val_"):] if metric.startswith("val_") else metric
    if base in names:
        return base
    if "score" in names:  # scikit-learn runs record one "score" per CV fold
        return "score"
    return names[0] if names else None


def run_charts(run: Run, trials: Iterable[Trial], epochs: Iterable[Epoch]) -> dict[str, go.Figure]:
    """The figures of one run, keyed like ``CHART_TITLES``; ``importance`` only when enough
    trials completed, ``hyperband`` only for Hyperband runs."""
    trials = list(trials)
    space = run.spec.get("search_space", {})
    curves = curves_frame(epochs, trials)
    frame = trials_frame(trials)
    running = [t for t in trials if t.status is TrialStatus.RUNNING]
    highlight = max(running, key=lambda t: t.number).trial_key if running else None
    metric = _curve_metric(run, metric_names(curves))
    charts: dict[str, go.Figure] = {}
    if metric is not None:
        charts["learning_curves"] = learning_curves(
            curves, metric, highlight_key=highlight,
            top_keys=top_trial_keys(run, trials, MAX_CURVE_TRIALS))
    charts["best_so_far"] = best_so_far_chart({run.name: best_so_far(run, trials)},
                                              direction=run.direction)
    charts["parallel_coordinates"] = parallel_coordinates(frame, space,
                                                          direction=run.direction)
    importance = hp_importance(trials, space, run.direction, seed=int(run.spec.get("seed") or 0))
    if not importance.empty:
        charts["importance"] = importance_chart(importance)
    charts["slices"] = slice_plots(frame, space)
    if strategies.panel_of(run.strategy) == "brackets":
        charts["hyperband"] = hyperband_chart(hyperband_table(trials))
    return charts


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
dt { font-weight: 600; } dd { margin: 0 0 0.4rem 0; }
.scroll { max-height: 32rem; overflow: auto; }
"""


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _summary_html(run: Run, trials: list[Trial]) -> str:
    data = run.spec.get("data", {})
    objective = run.spec.get("objective", {})
    best = best_trial(run, trials)
    counts = ", ".join(f"{n} {s}" for s, n in _status_counts(trials).items()) or "none yet"
    items = [
        ("Data set", f"{run.dataset} ({data.get('source', '')}, {data.get('task', '')})"),
        ("Model", _family_label(run)), ("Strategy", run.strategy),
        ("Status", run.status.value + (f": {run.error}" if run.error else "")),
        ("Objective", f"{objective.get('metric', '')} ({objective.get('direction', '')})"),
        ("Trials", f"{len(trials)}" + (f" of {run.max_trials}" if run.max_trials else "")
         + f": {counts}"),
        ("Started", _when(run.started_at)), ("Finished", _when(run.finished_at)),
        ("Best", "no completed trial yet" if best is None else
         f"{best.trial_key} scored {fmt_number(best.score)} with "
         + ", ".join(f"{k}={fmt_number(v)}" for k, v in hyperparameters(best).items())),
    ]
    description = str(run.spec.get("description") or "")
    if description:
        items.insert(0, ("Description", description))
    return "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>"
                            for k, v in items if v) + "</dl>"


def _leaderboard_html(run: Run, trials: list[Trial]) -> str:
    board = leaderboard(run, trials)
    keep = ["rank", "trial_key", "status", "score", "epochs_done", "duration_s", "message",
            "flags"] + [c for c in board.columns if c.startswith(HP_PREFIX)]
    board = board[keep].rename(columns=lambda c: c[len(HP_PREFIX):] if c.startswith(HP_PREFIX)
                               else c)
    text = board.select_dtypes(include=["object", "str"]).columns
    board[text] = board[text].astype(object).where(board[text].notna(), "").map(
        lambda v: fmt_number(v) if isinstance(v, float) else v)  # floats among other values
    # to_html escapes every cell and header (escape=True is its default; said here on purpose).
    return board.to_html(index=False, escape=True, na_rep="", border=0,
                         float_format=fmt_number)


def _manual_markdown(run: Run, trials: list[Trial]) -> list[str]:
    """The stages of a sequential run and what pruning saved, when they apply."""
    lines: list[str] = []
    pruning = pruning_summary(run, trials)
    if pruning is not None:
        lines += ["## Pruning", "", pruning.describe(), ""]
    if strategies.panel_of(run.strategy) == "stages":
        stages = sequential_stages(run, trials)
        lines += ["## Stages", "", "| Stage | Hyperparameter | Values tried | Chosen | Best score |",
                  "|---|---|---|---|---|"]
        for _, row in stages.iterrows():
            lines.append("| " + " | ".join(_md(row[c]) for c in (
                "stage", "hyperparameter", "values tried", "chosen", "best score")) + " |")
        lines.append("")
    return lines


def _manual_html(run: Run, trials: list[Trial]) -> str:
    parts = []
    pruning = pruning_summary(run, trials)
    if pruning is not None:
        parts.append(f"<h2>Pruning</h2><p>{html.escape(pruning.describe())}</p>")
    if strategies.panel_of(run.strategy) == "stages":
        stages = sequential_stages(run, trials)
        parts.append("<h2>Stages</h2>" + stages.to_html(index=False, escape=True, na_rep=""))
    return "\n".join(parts)


def html_report(run: Run, trials: Iterable[Trial], epochs: Iterable[Epoch],
                advice: Any = None) -> str:
    """One HTML file that opens offline: summary, leaderboard, every chart of
    ``run_charts`` and what to try next with its charts. Plotly's JavaScript is embedded
    once, with the first figure; nothing is loaded from anywhere else."""
    from .advice.render import advice_html

    trials, epochs = list(trials), list(epochs)
    charts = run_charts(run, trials, epochs)
    title = html.escape(f"Run {run.id}: {run.name}")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>", _summary_html(run, trials),
    ]
    if data_items(run):
        parts.append("<h2>Data</h2><dl>" + "".join(
            f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in data_items(run))
            + "</dl>")
    parts += [_manual_html(run, trials),
              "<h2>Leaderboard</h2>", f'<div class="scroll">{_leaderboard_html(run, trials)}</div>']
    for i, (key, fig) in enumerate(charts.items()):
        parts.append(f"<h2>{html.escape(CHART_TITLES.get(key, key))}</h2>")
        fig.update_layout(margin={"t": 40})  # the section heading is the title
        parts.append(fig.to_html(full_html=False, include_plotlyjs=i == 0,
                                 default_height="480px" if key != "slices" else "100%"))
    parts.append(advice_html(_advice(run, trials, epochs, advice), include_plotlyjs=not charts))
    parts.append(f"<p><small>Generated {_when(dt.datetime.now().timestamp())}.</small></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


# -- files --------------------------------------------------------------------------


def best_model_path(db_path: str | os.PathLike[str], run_id: int) -> Path | None:
    """The saved best model of a run (Keras first, then scikit-learn), or None."""
    folder = run_dir(db_path, run_id)
    for name in ("best_model.keras", "best_model.joblib"):
        path = folder / name
        if path.is_file():
            return path
    return None



# -- rebuild script -----------------------------------------------------------------

_SCRIPT_HEAD = '''"""Rebuild and train the best model of a tuning run, outside the dashboard.

Generated by the tuning dashboard. Run it with the project's Python environment;
it reads the same data with the same split and seed as the run did, trains the best
trial's model and saves it in the current directory.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
'''

_SCRIPT_DATA = '''

def report_run():
    if BEST_TRIAL is None:
        print(f"run {RUN_ID} had no completed trial when this script was written: "
              "it trained the search space's defaults")
    else:
        print(f"(run {RUN_ID} scored {BEST_SCORE} on its objective with trial {BEST_TRIAL})")


def load_raw():
    """Features, target and the preprocessing to fit on the training rows (None: none)."""
    source = DATA["source"]
    if source == "sklearn":
        from sklearn import datasets

        bunch = getattr(datasets, "load_" + DATA["name"])()
        x = np.asarray(bunch.data, dtype="float64")
        if DATA["name"] == "digits":
            return x / 16.0, np.asarray(bunch.target), None  # intensities run 0..16
        return x, np.asarray(bunch.target), StandardScaler()
    if source == "csv":
        frame = pd.read_csv(DATA["path"])
        frame = frame.dropna(subset=[DATA["target"]])
        target = frame.pop(DATA["target"]).to_numpy()
        numeric = frame.select_dtypes("number").columns.tolist()
        categorical = [c for c in frame.columns if c not in numeric]
        for name in categorical:
            frame[name] = frame[name].map(str, na_action="ignore").astype(object)
        preprocess = ColumnTransformer([
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")),
                                  ("scale", StandardScaler())]), numeric),
            ("categorical", Pipeline([
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]), categorical),
        ], sparse_threshold=0.0)
        return frame, target, preprocess
    if source == "keras":
        import keras

        try:
            (x, y), _ = getattr(keras.datasets, DATA["name"]).load_data()
        except Exception as exc:  # offline and not cached: say so instead of a traceback
            sys.exit(f"Keras data set {DATA['name']} is not in the local Keras cache "
                     f"(~/.keras/datasets) and cannot be downloaded here: {exc}")
        return x.reshape(len(x), -1).astype("float32") / 255.0, np.asarray(y), None
    sys.exit(f"unknown data source {source!r}")


def resolve_task(y):
    if TASK != "auto":
        return TASK
    if not np.issubdtype(np.asarray(y).dtype, np.number):
        return "classification"
    values = np.asarray(y, dtype=float)
    integral = bool(np.all(np.mod(values, 1) == 0))
    return "classification" if integral and len(np.unique(values)) <= 20 else "regression"


def pick_rows(y, task):
    """Training and validation row indices: subsampled to max_rows, then split; both
    seeded, both stratified for classification (as the tuning run did)."""
    rows = np.arange(len(y))
    labels = y if task == "classification" else None
    max_rows = DATA.get("max_rows")
    if max_rows and max_rows < len(rows):
        counts = np.unique(labels, return_counts=True)[1] if labels is not None else None
        if labels is None or counts.min() < 2 or len(rows) - max_rows < len(counts):
            rows = np.sort(np.random.default_rng(SEED).choice(rows, max_rows, replace=False))
        else:
            rows = np.sort(train_test_split(rows, train_size=max_rows, random_state=SEED,
                                            stratify=labels)[0])
    strata = None if labels is None else labels[rows]
    return train_test_split(rows, test_size=DATA["validation_split"], random_state=SEED,
                            stratify=strata)


def load_data():
    """(task, X_train, X_val, y_train, y_val), preprocessing fitted on the training rows."""
    X, y, preprocess = load_raw()
    task = resolve_task(y)
    if task == "classification":
        y = np.unique(y.astype(str) if y.dtype == object else y, return_inverse=True)[1]
    else:
        y = np.asarray(y, dtype="float32")
    train, val = pick_rows(y, task)
    X_train = X.iloc[train] if hasattr(X, "iloc") else X[train]
    X_val = X.iloc[val] if hasattr(X, "iloc") else X[val]
    if preprocess is not None:
        X_train = preprocess.fit_transform(X_train)
        X_val = preprocess.transform(X_val)
    return (task, np.asarray(X_train, dtype="float32"), np.asarray(X_val, dtype="float32"),
            y[train], y[val])
'''

_SCRIPT_KERAS = '''

def build_model(n_features, n_classes, task, learning_rate):
    import keras

    hp = HYPERPARAMETERS
    inputs = keras.Input((n_features,))
    x = inputs
    for i in range(int(hp["num_layers"])):
        l2 = float(hp["l2"])
        x = keras.layers.Dense(
            int(hp.get(f"units_{i}", hp["units"])), activation=hp["activation"],
            kernel_regularizer=keras.regularizers.l2(l2) if l2 > 0 else None)(x)
        if float(hp["dropout"]) > 0:
            x = keras.layers.Dropout(float(hp["dropout"]))(x)
    if task == "classification":
        outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        outputs = keras.layers.Dense(1)(x)
        loss, metrics = "mse", ["mae"]
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                  "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=optimizers[hp["optimizer"]](learning_rate=learning_rate),
                  loss=loss, metrics=metrics)
    return model


def main():
    task, X_train, X_val, y_train, y_val = load_data()
    import keras

    keras.utils.set_random_seed(SEED)
    n_classes = int(max(y_train.max(), y_val.max())) + 1 if task == "classification" else 1
    learning_rate = float(HYPERPARAMETERS["learning_rate"])
    if LR_SCHEDULE == "cosine":  # from the trial's rate down to 0 at the last batch
        steps = EPOCHS * -(-len(X_train) // BATCH_SIZE)
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model = build_model(X_train.shape[1], n_classes, task, learning_rate)
    model.summary()
    callbacks = [keras.callbacks.EarlyStopping(**EARLY_STOPPING)] if EARLY_STOPPING else []
    model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=EPOCHS,
              batch_size=BATCH_SIZE, verbose=2, callbacks=callbacks)
    results = model.evaluate(X_val, y_val, verbose=0, return_dict=True)
    for name, value in results.items():
        print(f"validation {name}: {value:.4f}")
    report_run()
    model.save("best_model.keras")
    print("saved best_model.keras")


if __name__ == "__main__":
    main()
'''

_SCRIPT_SKLEARN = '''

def build_estimator(task):
    estimator = ESTIMATORS[task](**HYPERPARAMETERS)
    if "random_state" in estimator.get_params() and "random_state" not in HYPERPARAMETERS:
        estimator.set_params(random_state=SEED)
    return estimator


def main():
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    task, X_train, X_val, y_train, y_val = load_data()
    # The run cross-validated on every row (training and validation) with these folds.
    X, y = np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val])
    folds = (StratifiedKFold if task == "classification" else KFold)(
        CV_FOLDS, shuffle=True, random_state=SEED % 2**32)
    scores = cross_val_score(build_estimator(task), X, y, cv=folds, scoring=get_scorer(SCORING))
    print(f"cross-validation {SCORING}: {scores.mean():.4f} "
          f"(+/- {scores.std():.4f} over {CV_FOLDS} folds)")
    report_run()
    model = build_estimator(task).fit(X_train, y_train)
    import joblib

    joblib.dump(model, "best_model.joblib")
    print("saved best_model.joblib")


if __name__ == "__main__":
    main()
'''


CUSTOM_FAMILY = "custom"  # runs of the user's own KerasTuner code: watch.py, importer.py

_SCRIPT_CUSTOM = '''

def main():
    print(f"Run {RUN_ID} ({RUN_NAME}) tuned your own KerasTuner code ({SOURCE}): its model "
          "is built by your code, so this script cannot rebuild it.")
    if BEST_TRIAL is None:
        print("No trial had completed when this script was written.")
        return
    print(f"Best trial {BEST_TRIAL} scored {BEST_SCORE} ({OBJECTIVE}) with:")
    for name, value in HYPERPARAMETERS.items():
        print(f"  {name} = {value!r}")
    print("To get the model: reload your tuner on its project folder (overwrite=False) and "
          "call tuner.get_best_models()[0], or pass these values to your build function.")
    if PROJECT:
        print(f"KerasTuner project: {PROJECT}")


if __name__ == "__main__":
    main()
'''


def _custom_script(run: Run, best: Trial | None, spec: Mapping[str, Any]) -> str:
    data = spec.get("data", {})
    objective = spec.get("objective", {})
    constants = {
        "RUN_ID": run.id, "RUN_NAME": run.name,
        "SOURCE": "recorded by tuning.watch" if data.get("source") == "script"
        else "imported from a KerasTuner project",
        "PROJECT": data.get("project") or data.get("path"),
        "OBJECTIVE": f"{objective.get('metric')}, {objective.get('direction')}",
        "BEST_TRIAL": best.trial_key if best is not None else None,
        "BEST_SCORE": best.score if best is not None else None,
        "HYPERPARAMETERS": plain_json(hyperparameters(best)) if best is not None else {},
    }
    head = (f'"""Best hyperparameters of tuning run {run.id}. Generated by the tuning '
            'dashboard.\n\nThe run tuned custom KerasTuner code, so there is no model to '
            'rebuild here;\nrun this script to print what the best trial used.\n"""\n')
    return head + "\n" + _constants(constants) + _SCRIPT_CUSTOM


def _fixed_values(space: Mapping[str, Any]) -> dict[str, Any]:
    return {n: plain_json(hp["value"]) for n, hp in space.items() if hp.get("type") == "fixed"}


def _constants(values: Mapping[str, Any]) -> str:
    # pformat/repr of plain values is a valid Python literal, whatever text a user typed.
    return "\n".join(f"{name} = {pprint.pformat(value, width=88, sort_dicts=False)}"
                     for name, value in values.items()) + "\n"


def _space_defaults(space: Mapping[str, Any]) -> dict[str, Any]:
    return {n: plain_json(hp["default"]) for n, hp in space.items() if "default" in hp}


def rebuild_script(run: Run, trials: Iterable[Trial]) -> str:
    """A standalone Python script that loads the run's data, rebuilds the best trial's
    model with its hyperparameters, trains it and saves it (``best_model.keras`` for the
    Keras MLP; for scikit-learn the run's cross-validation score, then ``best_model.joblib``).

    Hyperparameters the trial lacks come from the search space's fixed values, then
    (MLP) ``catalog.MLP_DEFAULTS``. While no trial has completed, the script trains the
    space's fixed values and declared defaults instead, and says so when it runs.
    A run of custom KerasTuner code (``tuning.watch``, an imported project) gets a
    script that says it cannot rebuild the model and prints the best hyperparameters.
    Raises ``ValueError`` for any other model family the catalog does not know.
    """
    best = best_trial(run, list(trials))
    spec = plain_json(run.spec)
    family_name = spec.get("model", {}).get("family")
    if family_name == CUSTOM_FAMILY and spec.get("model", {}).get("module"):
        from .user_model_script import user_model_script

        space = spec.get("search_space", {})
        chosen = plain_json(hyperparameters(best)) if best is not None else _space_defaults(space)
        return user_model_script(run, best, spec, {**_fixed_values(space), **chosen})
    if family_name == CUSTOM_FAMILY:  # watched or imported: the user's script builds it
        return _custom_script(run, best, spec)
    family = catalog.FAMILIES.get(family_name)
    if family is None:
        raise ValueError(f"model.family must be one of {', '.join(catalog.FAMILIES)}; "
                         f"got {family_name!r}")
    space = spec.get("search_space", {})
    data = spec.get("data", {})
    chosen = plain_json(hyperparameters(best)) if best is not None else _space_defaults(space)
    tuned = {**_fixed_values(space), **chosen}
    constants: dict[str, Any] = {
        "RUN_ID": run.id, "RUN_NAME": run.name,
        "BEST_TRIAL": best.trial_key if best is not None else None,
        "BEST_SCORE": best.score if best is not None else None,
        "SEED": int(spec.get("seed") or 0), "DATA": data,
        "TASK": data.get("task", "auto"),
    }
    if family.kind == "keras":
        training = spec.get("training", {})
        hp = {**catalog.MLP_DEFAULTS, **tuned}
        hp.pop("batch_size", None)
        shape = hp.pop("shape", "custom")
        if shape != "custom":  # the script's builder reads units_i: spell the widths out
            widths = layer_widths({**hp, "shape": shape})
            hp.update({f"units_{i}": w for i, w in enumerate(widths)})
        constants.update({
            "HYPERPARAMETERS": hp,
            "EPOCHS": int(training.get("epochs") or 1),
            "LR_SCHEDULE": training.get("lr_schedule") or "constant",
            "EARLY_STOPPING": training.get("early_stopping") or None,
            "BATCH_SIZE": int(tuned.get("batch_size") or training.get("batch_size")
                              or catalog.MLP_DEFAULTS["batch_size"]),
        })
        return _SCRIPT_HEAD + "\n" + _constants(constants) + _SCRIPT_DATA + _SCRIPT_KERAS
    imports: dict[str, list[str]] = {}
    for _, path in family.estimators:
        module, cls = path.split(":")
        imports.setdefault(module, []).append(cls)
    import_lines = "".join(f"from {m} import {', '.join(c)}\n" for m, c in imports.items())
    estimators = ", ".join(f"{task!r}: {path.split(':')[1]}" for task, path in family.estimators)
    constants.update({
        "HYPERPARAMETERS": tuned,
        "CV_FOLDS": int(spec.get("strategy", {}).get("cv_folds") or 3),
        "SCORING": _objective_metric(run) or "accuracy",
    })
    return (_SCRIPT_HEAD + import_lines + "\n" + _constants(constants)
            + f"ESTIMATORS = {{{estimators}}}\n" + _SCRIPT_DATA + _SCRIPT_SKLEARN)
