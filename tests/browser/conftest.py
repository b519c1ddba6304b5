"""Fixtures of the browser modules: ``server`` and ``page`` (see ``e2e``)."""
from __future__ import annotations

from e2e import page, server  # noqa: F401 - fixtures, registered by being imported here
