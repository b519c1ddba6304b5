"""Tuning: specs, strategies, execution and reports. Nothing here imports Streamlit.

``tuning.watch(tuner)`` records a KerasTuner search run from a user's own script (see
``tuning/ingest/watch.py``). It is loaded on first use, so importing ``tuning`` (as the dashboard
does) never imports KerasTuner or TensorFlow.
"""
from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "watch":
        from tuning.ingest.watch import watch

        # The function lives in ``tuning.ingest.watch``; ``tuning.watch(...)`` is the one
        # added line in a user's script.
        globals()["watch"] = watch
        return watch
    raise AttributeError(f"module 'tuning' has no attribute {name!r}")
