"""Errors raised by the storage layer."""
from __future__ import annotations


class StorageError(Exception):
    """The database cannot be used: corrupt, too new, not ours, or unreachable."""


class NotFoundError(StorageError, LookupError):
    """A run or trial that was asked for does not exist (or was deleted)."""


class InvalidTransitionError(StorageError):
    """A control action does not apply to the run's current state (e.g. resuming a running run)."""
