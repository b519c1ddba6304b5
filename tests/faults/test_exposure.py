"""What a dashboard user can make the machine expose or keep.

- The chief's address: loopback unless whoever runs the dashboard opts in. KerasTuner's
  gRPC oracle has no authentication, so a spec (which any dashboard user can write from
  the form) must not be able to serve it to the network on its own.
- Uploads: a flood of them stays within the quota, and never costs a run its file."""
from __future__ import annotations

import copy

import pytest

from tuning.network import ALLOW_REMOTE_CHIEF, is_loopback
from tuning.spec import SpecError, validate_spec

SPEC = {"name": "parallel", "data": {"source": "sklearn", "name": "digits"},
        "model": {"family": "mlp"},
        "search_space": {"units": {"type": "int", "min": 16, "max": 64, "step": 16}},
        "strategy": {"name": "random", "max_trials": 3, "workers": 2},
        "training": {"epochs": 2}}


def _with_host(host: str) -> dict:
    doc = copy.deepcopy(SPEC)
    doc["strategy"]["chief_host"] = host
    return doc


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "203.0.113.7", "::", "my-box.lan",
                                  "localhost.example.com", "128.0.0.1"])
def test_a_chief_host_other_than_loopback_is_refused_without_the_opt_in(host, monkeypatch):
    monkeypatch.delenv(ALLOW_REMOTE_CHIEF, raising=False)
    with pytest.raises(SpecError) as caught:
        validate_spec(_with_host(host))
    (message,) = caught.value.by_field()["strategy.chief_host"]
    assert ALLOW_REMOTE_CHIEF in message and "no authentication" in message
    assert "SSH tunnel" in message and repr(host) in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "::1", "LOCALHOST"])
def test_loopback_needs_no_opt_in(host, monkeypatch):
    monkeypatch.delenv(ALLOW_REMOTE_CHIEF, raising=False)
    assert is_loopback(host)
    assert validate_spec(_with_host(host))["strategy"]["chief_host"] == host


def test_the_opt_in_of_whoever_runs_the_dashboard_allows_another_address(monkeypatch):
    monkeypatch.setenv(ALLOW_REMOTE_CHIEF, "1")
    assert validate_spec(_with_host("10.0.0.5"))["strategy"]["chief_host"] == "10.0.0.5"
    monkeypatch.setenv(ALLOW_REMOTE_CHIEF, "0")
    with pytest.raises(SpecError, match="strategy.chief_host"):
        validate_spec(_with_host("10.0.0.5"))


def test_the_chief_checks_again_before_it_binds(monkeypatch):
    """A run queued with the opt-in and started without it never serves the oracle."""
    from tuning.runner.distributed import become_chief

    monkeypatch.delenv(ALLOW_REMOTE_CHIEF, raising=False)
    monkeypatch.delenv("KERASTUNER_ORACLE_IP", raising=False)
    with pytest.raises(PermissionError, match=ALLOW_REMOTE_CHIEF):
        become_chief({"strategy": {"chief_host": "0.0.0.0", "workers": 2}})
    import os
    assert "KERASTUNER_ORACLE_IP" not in os.environ


def test_a_flood_of_uploads_stays_within_the_quota_and_keeps_the_files_runs_use(tmp_path):
    import os

    from tuning.data.uploads import Limits, store_upload

    limits = Limits(quota_bytes=5_000, max_files=20, keep_s=30 * 86400.0)
    used = store_upload(b"x,y\n1,2\n" * 50, tmp_path, set(), limits, now=1000.0)
    in_use = {os.path.realpath(used)}
    for n in range(300):
        store_upload(f"x,y\n{n},1\n".encode() * 40, tmp_path, in_use, limits, now=1001.0 + n)
        files = list(tmp_path.iterdir())
        assert sum(f.stat().st_size for f in files) <= limits.quota_bytes
        assert len(files) <= limits.max_files and used in files
