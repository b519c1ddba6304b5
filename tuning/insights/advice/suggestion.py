"""What a rule hands back: a ``Suggestion`` with its evidence, its confidence, its chart's
data and the change it proposes to the spec (``Change`` rows, one per spec field)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage import plain_json


class _Removed:
    """The ``new`` of a change that deletes a field (``REMOVED``); JSON shows it as absent."""

    def __repr__(self) -> str:
        return "REMOVED"


REMOVED = _Removed()


@dataclass(frozen=True)
class Change:
    """One spec field, by its path (``("search_space", "lr", "max")``), from ``old`` to
    ``new``. ``old`` is ``REMOVED`` for a field the spec lacks, ``new`` for one it drops."""
    path: tuple[str, ...]
    old: Any
    new: Any

    @property
    def field(self) -> str:
        return ".".join(self.path)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "path": list(self.path)}
        if self.old is not REMOVED:
            out["old"] = plain_json(self.old)
        if self.new is not REMOVED:
            out["new"] = plain_json(self.new)
        return out


@dataclass(frozen=True)
class Chart:
    """The data a suggestion's chart draws, plain enough for JSON and a text plot.

    ``kind``: ``scatter`` (``points``: one ``{"trial", "x", "y", "marked"}`` per trial),
    ``lines`` (``series``: ``{"name", "x": [...], "y": [...], "marked"}``) or ``bars``
    (``points``: ``{"x": label, "y": value, "marked"}``). ``x_log`` puts x on a log axis;
    ``bounds`` are vertical guides (``{"x", "label"}``: a range's ends, the proposal).
    """
    kind: str
    x_label: str
    y_label: str
    points: tuple[dict[str, Any], ...] = ()
    series: tuple[dict[str, Any], ...] = ()
    x_log: bool = False
    bounds: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return plain_json({"kind": self.kind, "x_label": self.x_label, "y_label": self.y_label,
                           "points": list(self.points), "series": list(self.series),
                           "x_log": self.x_log, "bounds": list(self.bounds)})


@dataclass(frozen=True)
class Suggestion:
    """One thing to try next.

    ``rule``: the registered rule that made it; ``title``: one line; ``evidence``: the
    numbers behind it, one sentence each; ``trials``: the keys of the trials it rests on;
    ``confidence`` in [0, 1] with ``confidence_reason`` (why it is not higher);
    ``changes``: the spec patch, one ``Change`` per field; ``chart``: what to draw;
    ``impact``: how much this one matters among its rule's (an edge of an important
    hyperparameter more than of a minor one); ``priority``: its rule's weight, set by
    ``advise``. Suggestions rank by confidence × priority × impact.
    """
    rule: str
    title: str
    evidence: tuple[str, ...]
    confidence: float
    confidence_reason: str
    changes: tuple[Change, ...]
    chart: Chart | None = None
    trials: tuple[str, ...] = field(default_factory=tuple)
    priority: float = 1.0
    impact: float = 1.0

    @property
    def rank_key(self) -> float:
        return self.confidence * self.priority * self.impact

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.changes)

    @property
    def confidence_label(self) -> str:
        return "high" if self.confidence >= 0.7 else "medium" if self.confidence >= 0.4 else "low"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "title": self.title, "evidence": list(self.evidence),
                "trials": list(self.trials),
                "confidence": round(float(self.confidence), 3),
                "confidence_label": self.confidence_label,
                "confidence_reason": self.confidence_reason,
                "patch": [c.to_json() for c in self.changes],
                "chart": None if self.chart is None else self.chart.to_json()}


def evidence_confidence(n: int, strength: float, enough: int = 20) -> tuple[float, str]:
    """A confidence from how many trials back a rule (``n``, against ``enough``) and how
    clear its signal is (``strength`` in [0, 1]), with the reason it is not higher."""
    size = min(1.0, n / enough)
    confidence = max(0.05, min(0.95, 0.35 + 0.6 * size * strength))
    if n < enough:
        reason = f"only {n} trials (confident from about {enough})"
    elif strength < 0.8:
        reason = "the signal is moderate"
    else:
        reason = "one search's evidence; a second run would confirm it"
    return round(confidence, 3), reason
