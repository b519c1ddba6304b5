"""What a run may expose on the network: the chief of a distributed run serves KerasTuner's
gRPC oracle, which has no authentication, and the recording relay beside it.

Serving them on an address other than loopback is an opt-in of whoever runs the
dashboard (or the CLI), not of whoever fills in a spec: ``TUNING_ALLOW_REMOTE_CHIEF=1``.
The spec validator refuses such a ``chief_host`` without it, and the chief checks again
before it binds (a run queued earlier, a spec stored by an older version).
"""
from __future__ import annotations

import ipaddress
import os

ALLOW_REMOTE_CHIEF = "TUNING_ALLOW_REMOTE_CHIEF"

EXPOSES = ("KerasTuner's gRPC oracle has no authentication: anyone who can reach its port "
           "can read the run's search space and trials and report trials of their own")


# What the launch form says beside its "Serve the oracle on" field.
FORM_NOTE = ("127.0.0.1 keeps the oracle on this machine. Any other address serves it to "
             f"every machine that can reach it, and {EXPOSES}; it is refused unless whoever "
             f"runs the dashboard set {ALLOW_REMOTE_CHIEF}=1. To add workers on other "
             "machines, keep 127.0.0.1 and use an SSH tunnel (README: More machines).")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def remote_chief_allowed() -> bool:
    return os.environ.get(ALLOW_REMOTE_CHIEF, "").strip().lower() in ("1", "true", "yes")


def chief_host_refusal(host: str) -> str | None:
    """Why ``host`` may not serve the oracle here (the rule, for a field message), or None."""
    if is_loopback(host) or remote_chief_allowed():
        return None
    return (f"be a loopback address (127.0.0.1, localhost or ::1) unless whoever runs the "
            f"dashboard sets {ALLOW_REMOTE_CHIEF}=1: {EXPOSES}; keep it on 127.0.0.1 and reach "
            "it from other machines through an SSH tunnel (see README, More machines)")
