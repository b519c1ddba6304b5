"""Storage of runs, trials and per-epoch metrics. Imports nothing else of the project."""
from __future__ import annotations

from ._json import frozen_json, plain_json
from ._models import Cursor, Epoch, Run, RunChanges, RunStatus, Trial, TrialStatus
from ._schema import SCHEMA_VERSION
from ._sqlite import Storage
from .errors import InvalidTransitionError, NotFoundError, StorageError

__all__ = [
    "Cursor", "Epoch", "InvalidTransitionError", "NotFoundError", "Run",
    "RunChanges", "RunStatus", "SCHEMA_VERSION", "Storage", "StorageError", "Trial",
    "TrialStatus", "frozen_json", "plain_json",
]
