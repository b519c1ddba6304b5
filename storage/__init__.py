"""Storage of runs, trials and per-epoch metrics. Imports nothing else of the project.

``Recorder`` and ``Store`` (``_contract``) are the written contract; ``Storage`` (SQLite)
implements both, ``tuning.runner.relay.RemoteStorage`` implements ``Recorder``.
"""
from __future__ import annotations

from ._contract import Recorder, Store
from ._json import frozen_json, plain_json
from ._models import Cursor, Epoch, Run, RunChanges, RunStatus, Trial, TrialStatus
from ._reads import BandPoint, BestPoint, CurveBand, TrialCounts
from ._schema import MIGRATIONS, SCHEMA_VERSION
from ._sqlite import Storage
from .errors import InvalidTransitionError, NotFoundError, StorageError

__all__ = [
    "BandPoint", "BestPoint", "CurveBand", "Cursor", "Epoch", "InvalidTransitionError",
    "MIGRATIONS", "NotFoundError", "Recorder", "Run", "RunChanges", "RunStatus", "SCHEMA_VERSION",
    "Storage", "StorageError", "Store", "Trial", "TrialCounts", "TrialStatus", "frozen_json",
    "plain_json",
]
