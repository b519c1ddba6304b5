"""Frozen records returned by the storage layer.

Every value handed out by a storage is immutable: a page may cache it, pass it
between threads, or compare it with a later read without copying.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"

    def is_finished(self) -> bool:
        """True when no worker is, or will be, working on the run."""
        return self in (RunStatus.COMPLETED, RunStatus.STOPPED,
                        RunStatus.INTERRUPTED, RunStatus.FAILED)

    def is_resumable(self) -> bool:
        return self in (RunStatus.STOPPED, RunStatus.INTERRUPTED, RunStatus.FAILED)


class TrialStatus(str, enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The run was stopped or its worker died while this trial was in flight;
    # a resumed run trains it again from its first epoch.
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"

    def is_finished(self) -> bool:
        return self is not TrialStatus.RUNNING


@dataclass(frozen=True)
class Run:
    id: int
    name: str
    spec: Mapping[str, Any]
    status: RunStatus
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    worker_pid: int | None
    heartbeat_at: float | None
    stop_requested: bool
    max_trials: int | None
    trials_done: int = 0
    best_score: float | None = None
    #: The identity of the process holding the run (``worker_pid`` plus what tells that
    #: process from a later one given the same pid); None when the holder recorded none.
    worker_identity: str | None = None
    #: What the worker found when it loaded the data (``tuning.data.summarize``: rows,
    #: input shape, class names); None before a worker loaded it, and for imported runs.
    data_summary: Mapping[str, Any] | None = None

    @property
    def strategy(self) -> str:
        return str(self.spec.get("strategy", {}).get("name", ""))

    @property
    def dataset(self) -> str:
        data = self.spec.get("data", {})
        return str(data.get("name") or data.get("path") or "")

    @property
    def model_family(self) -> str:
        return str(self.spec.get("model", {}).get("family", ""))

    @property
    def direction(self) -> str:
        return str(self.spec.get("objective", {}).get("direction", "max"))

    def elapsed_s(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - self.started_at)


@dataclass(frozen=True)
class Trial:
    id: int
    run_id: int
    trial_key: str
    number: int
    status: TrialStatus
    hyperparameters: Mapping[str, Any]
    score: float | None
    metrics: Mapping[str, Any]
    message: str | None
    started_at: float | None
    finished_at: float | None
    bracket: int | None
    round: int | None
    parent_key: str | None
    epochs_done: int
    cancel_requested: bool
    worker: str | None
    flags: tuple[str, ...] = field(default_factory=tuple)
    rev: int = 0


@dataclass(frozen=True)
class Epoch:
    id: int
    run_id: int
    trial_id: int
    execution: int
    epoch: int
    metrics: Mapping[str, float]
    created_at: float


@dataclass(frozen=True)
class RunChanges:
    """What changed in one run since a cursor; see ``Storage.changes_since``."""
    run: Run
    trials: tuple[Trial, ...]
    epochs: tuple[Epoch, ...]
    cursor: Cursor


@dataclass(frozen=True)
class Cursor:
    """Position of a reader in a run's history: pass it back to read only what is new."""
    epoch_id: int = 0
    trial_rev: int = 0
