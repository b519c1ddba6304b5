"""What a run's data was, in words, from the summary its worker stored when it loaded the
data (``Run.data_summary``, ``tuning.data.summarize``): the reports' and the live page's
"Data" lines. Reads nothing but the run; None before a worker loaded the data."""
from __future__ import annotations

from typing import Any

from storage import Run

NAMES_SHOWN = 30  # class or feature names listed before "and N more"


def _names(names: list[Any], total: int, counts: list[Any] | None = None) -> str:
    shown = [str(n) if counts is None or i >= len(counts) else f"{n} ({counts[i]})"
             for i, n in enumerate(names[:NAMES_SHOWN])]
    more = total - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def data_items(run: Run) -> list[tuple[str, str]]:
    """(label, text) pairs: rows, one sample's shape, classes with their training counts,
    features, warnings. Empty when the run has no stored summary."""
    s = run.data_summary
    if not s:
        return []
    items = [("Rows", f"{s.get('train_rows', 0):,} for training, "
                      f"{s.get('val_rows', 0):,} for validation")]
    shape = [int(d) for d in s.get("input_shape") or ()]
    if len(shape) > 1:
        items.append(("One sample", " × ".join(str(d) for d in shape)))
    if s.get("class_names") is not None:
        items.append(("Classes", f"{s.get('classes', len(s['class_names']))}: " + _names(
            list(s["class_names"]), int(s.get("classes", 0)),
            list(s.get("train_class_counts") or ()))))
    if s.get("feature_names"):
        items.append(("Features", f"{s.get('features')}: "
                      + _names(list(s["feature_names"]), int(s.get("features", 0)))))
    for warning in s.get("warnings") or ():
        items.append(("Note", str(warning)))
    return items
