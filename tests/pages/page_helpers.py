"""Helpers for the AppTest page tests: open a page, read its charts, seed runs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamlit.runtime.state.common import user_key_from_element_id
from streamlit.testing.v1 import AppTest

from storage import RunStatus, Storage, TrialStatus

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 60


def open_app(page: str | None = None, **query: str) -> AppTest:
    """The app, run once, then switched to ``page`` with ``query`` in the URL."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    if page is not None:
        at.query_params.update(query)
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def open_spec_json(at: AppTest) -> None:
    """Open the launch form's "Spec (JSON)" expander as a user would: its content is drawn
    only while it is open."""
    from pages._common import SPEC_JSON_KEY

    if not (SPEC_JSON_KEY in at.session_state and at.session_state[SPEC_JSON_KEY]):
        at.session_state[SPEC_JSON_KEY] = True
        # AppTest reruns the page it was told to open, not one the script switched to.
        at.switch_page("pages/launch.py").run()
        assert not at.exception, [e.value for e in at.exception]


def shown_spec(at: AppTest) -> dict:
    """The JSON the launch form's "Spec (JSON)" expander shows (opened first)."""
    open_spec_json(at)
    (code,) = [c for c in at.code if c.language == "json"]
    return json.loads(code.value)


def plotly_specs(at: AppTest) -> dict[str, dict[str, Any]]:
    """Every Plotly chart on the page as its figure JSON, by the chart's key."""
    charts = {}
    for el in at.get("plotly_chart"):
        key = user_key_from_element_id(el.proto.id) if el.proto.id else None
        key = key or str(len(charts))
        charts[key] = json.loads(el.proto.spec)
    return charts


SK_SPEC = {
    "name": "iris svm",
    "data": {"source": "sklearn", "name": "iris"},
    "model": {"family": "svm"},
    "search_space": {"C": {"type": "float", "min": 0.01, "max": 100.0, "sampling": "log"},
                     "kernel": {"type": "choice", "values": ["rbf", "linear"]}},
    "strategy": {"name": "random", "max_trials": 4},
}
MLP_SPEC = {
    "name": "digits mlp",
    "data": {"source": "sklearn", "name": "digits"},
    "model": {"family": "mlp"},
    "search_space": {"units": {"type": "int", "min": 16, "max": 64, "step": 16},
                     "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2,
                                       "sampling": "log"}},
    "strategy": {"name": "random", "max_trials": 3},
    "training": {"epochs": 3},
}


def seed_trials(store: Storage, run_id: int, scores: list[float | None], epochs: int = 3,
                running_last: bool = False) -> None:
    """Trials with per-epoch loss/accuracy curves, as a worker would record them."""
    assert store.claim_run(run_id, pid=1)
    for number, score in enumerate(scores):
        trial = store.begin_trial(run_id, f"t{number:02d}", number,
                                  {"units": 16 * (number + 1),
                                   "learning_rate": 10 ** -(number + 2)})
        for epoch in range(epochs):
            store.record_epoch(trial.id, 0, epoch, {
                "loss": 1.0 / (epoch + 1 + number), "val_loss": 1.2 / (epoch + 1 + number),
                "accuracy": 0.5 + 0.1 * epoch, "val_accuracy": 0.45 + 0.1 * epoch})
        if running_last and number == len(scores) - 1:
            continue
        if score is None:
            store.finish_trial(trial.id, TrialStatus.FAILED, message="out of memory")
        else:
            store.finish_trial(trial.id, TrialStatus.COMPLETED, score=score,
                               metrics={"val_accuracy": score})


def finished(store: Storage, run_id: int, status: RunStatus = RunStatus.COMPLETED) -> None:
    store.finish_run(run_id, status)


def points(array: Any) -> list[float]:
    """A trace's x or y: Plotly sends numpy arrays as ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(array, dict) and "bdata" in array:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array or [])
