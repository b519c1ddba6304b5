"""Recording for workers on other machines: a relay in the chief, a storage client in the worker.

A worker on another machine has no access to the chief's SQLite file. The chief of a
distributed run therefore serves a small JSON-over-HTTP relay next to its oracle: the
remote worker's ``RemoteStorage`` has the few storage methods the recording hooks call
(begin a trial, record an epoch, finish a trial, read stop/cancel flags, read the run),
and the relay applies them to the chief's database, so every epoch lands there as it
happens.

The relay binds where the oracle binds (loopback unless ``strategy.chief_host`` says
otherwise), answers only calls about its own run, and requires the run's random token
(``relay.json`` in the run folder holds it, with the command to start a worker).
"""
from __future__ import annotations

import hmac
import json
import secrets
import threading
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any

from storage import (
    Epoch,
    NotFoundError,
    Run,
    RunStatus,
    Storage,
    Trial,
    TrialStatus,
    frozen_json,
    plain_json,
)

MAX_BODY = 1 << 20


def _trial_json(t: Trial) -> dict[str, Any]:
    return {"id": t.id, "run_id": t.run_id, "trial_key": t.trial_key, "number": t.number,
            "status": t.status.value, "hyperparameters": plain_json(t.hyperparameters),
            "score": t.score, "metrics": plain_json(t.metrics), "message": t.message,
            "started_at": t.started_at, "finished_at": t.finished_at, "bracket": t.bracket,
            "round": t.round, "parent_key": t.parent_key, "epochs_done": t.epochs_done,
            "cancel_requested": t.cancel_requested, "worker": t.worker,
            "flags": list(t.flags), "rev": t.rev}


def _trial_from(d: Mapping[str, Any]) -> Trial:
    d = dict(d)
    d["status"] = TrialStatus(d["status"])
    d["hyperparameters"] = frozen_json(d["hyperparameters"])
    d["metrics"] = frozen_json(d["metrics"])
    d["flags"] = tuple(d["flags"])
    return Trial(**d)


def _epoch_json(e: Epoch) -> dict[str, Any]:
    return {"id": e.id, "run_id": e.run_id, "trial_id": e.trial_id, "execution": e.execution,
            "epoch": e.epoch, "metrics": dict(e.metrics), "created_at": e.created_at}


class _Calls:
    """The relay's whole surface: each call is checked to concern this run only."""

    def __init__(self, storage: Storage, run_id: int):
        self.storage = storage
        self.run_id = run_id

    def _own_trial(self, trial_id: int) -> None:
        if self.storage.get_trial(int(trial_id)).run_id != self.run_id:
            raise PermissionError(f"trial {trial_id} is not part of run {self.run_id}")

    def get_run(self) -> dict[str, Any]:
        run = self.storage.get_run(self.run_id)
        return {"id": run.id, "spec": plain_json(run.spec), "status": run.status.value,
                "created_at": run.created_at}

    def begin_trial(self, trial_key: str, number: int, hyperparameters: dict,
                    bracket=None, round=None, parent_key=None, worker=None) -> dict:
        return _trial_json(self.storage.begin_trial(
            self.run_id, str(trial_key), int(number), hyperparameters, bracket=bracket,
            round=round, parent_key=parent_key, worker=worker))

    def record_epoch(self, trial_id: int, execution: int, epoch: int, metrics: dict) -> None:
        self._own_trial(trial_id)
        self.storage.record_epoch(int(trial_id), int(execution), int(epoch), metrics)

    def finish_trial(self, trial_id: int, status: str, score=None, metrics=None, message=None,
                     flags=None) -> None:
        self._own_trial(trial_id)
        self.storage.finish_trial(int(trial_id), TrialStatus(status), score=score,
                                  metrics=metrics, message=message, flags=flags)

    def record_trial_output(self, trial_id: int, traceback=None, log=None) -> None:
        self._own_trial(trial_id)
        self.storage.record_trial_output(int(trial_id), traceback=traceback, log=log)

    def control_flags(self, trial_id=None) -> list[bool]:
        if trial_id is not None:
            self._own_trial(trial_id)
        return list(self.storage.control_flags(self.run_id, trial_id))

    def get_trial_by_key(self, trial_key: str) -> dict:
        return _trial_json(self.storage.get_trial_by_key(self.run_id, str(trial_key)))

    def list_trials(self) -> list[dict]:
        return [_trial_json(t) for t in self.storage.list_trials(self.run_id)]

    def list_epochs(self, trial_id=None) -> list[dict]:
        return [_epoch_json(e) for e in self.storage.list_epochs(self.run_id, trial_id)]


class Relay:
    """An HTTP relay for one run; ``start`` serves it on a daemon thread."""

    def __init__(self, storage: Storage, run_id: int, host: str, port: int = 0,
                 token: str | None = None):
        self.token = token or secrets.token_urlsafe(24)
        calls = _Calls(storage, run_id)
        token_bytes = self.token.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                given = self.headers.get("Authorization", "").removeprefix("Bearer ").encode()
                if not hmac.compare_digest(given, token_bytes):
                    return self._answer(403, {"error": "wrong or missing token"})
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    return self._answer(413, {"error": "request too large"})
                try:
                    request = json.loads(self.rfile.read(length))
                    method = request["method"]
                    if method.startswith("_") or not hasattr(calls, method):
                        return self._answer(404, {"error": f"no call {method!r}"})
                    result = getattr(calls, method)(**request.get("args", {}))
                except (NotFoundError, PermissionError) as exc:
                    return self._answer(404, {"error": str(exc)})
                except (KeyError, TypeError, ValueError) as exc:
                    return self._answer(400, {"error": f"bad request: {exc}"})
                self._answer(200, {"result": result})

            def _answer(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass  # one line per epoch would drown the worker log

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.host, self.port = host, self.server.server_address[1]
        # A short poll interval: stop() waits for the loop to notice, and the end of the
        # run waits for stop().
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True, name="record-relay")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Relay:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RemoteStorage:
    """A ``storage.Recorder`` answered by a chief's ``Relay``: the storage methods the
    recording hooks use. Thread-safe: each call is its own HTTP request."""

    def __init__(self, url: str, token: str, run_id: int, timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.path = f"relay:{self.url}"

    def _call(self, method: str, **args: Any) -> Any:
        body = json.dumps({"method": method, "args": args}, default=plain_json).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            if exc.code == 404:
                raise NotFoundError(detail) from None
            raise RuntimeError(f"relay at {self.url} refused {method}: {detail}") from None

    def get_run(self, run_id: int) -> Run:
        d = self._call("get_run")
        return Run(id=d["id"], name="", spec=frozen_json(d["spec"]),
                   status=RunStatus(d["status"]), created_at=d["created_at"], started_at=None,
                   finished_at=None, error=None, worker_pid=None, heartbeat_at=None,
                   stop_requested=False, max_trials=None)

    def begin_trial(self, run_id: int, trial_key: str, number: int, hyperparameters: Mapping,
                    *, bracket=None, round=None, parent_key=None, worker=None) -> Trial:
        return _trial_from(self._call("begin_trial", trial_key=trial_key, number=number,
                                      hyperparameters=plain_json(hyperparameters),
                                      bracket=bracket, round=round, parent_key=parent_key,
                                      worker=worker))

    def record_epoch(self, trial_id: int, execution: int, epoch: int, metrics: Mapping) -> None:
        # Not plain_json: JSON null would reach the chief's store as "not a number" and be
        # dropped, where a local worker's diverged (NaN) metric is kept as None. NaN and
        # inf travel as such (Python's json writes and reads them; both ends are ours).
        self._call("record_epoch", trial_id=trial_id, execution=execution, epoch=epoch,
                   metrics={k: _metric(v) for k, v in metrics.items()})

    def finish_trial(self, trial_id: int, status: TrialStatus, score=None, metrics=None,
                     message=None, flags=None) -> None:
        self._call("finish_trial", trial_id=trial_id, status=TrialStatus(status).value,
                   score=plain_json(score), metrics=plain_json(metrics or {}), message=message,
                   flags=flags)

    def record_trial_output(self, trial_id: int, traceback: str | None = None,
                            log: str | None = None) -> None:
        self._call("record_trial_output", trial_id=trial_id, traceback=traceback, log=log)

    def control_flags(self, run_id: int, trial_id: int | None = None) -> tuple[bool, bool]:
        stop, cancel = self._call("control_flags", trial_id=trial_id)
        return bool(stop), bool(cancel)

    def get_trial_by_key(self, run_id: int, trial_key: str) -> Trial:
        return _trial_from(self._call("get_trial_by_key", trial_key=trial_key))

    def list_trials(self, run_id: int) -> list[Trial]:
        return [_trial_from(d) for d in self._call("list_trials")]

    def list_epochs(self, run_id: int, trial_id: int | None = None) -> list[Epoch]:
        return [Epoch(d["id"], d["run_id"], d["trial_id"], d["execution"], d["epoch"],
                      MappingProxyType(d["metrics"]), d["created_at"])
                for d in self._call("list_epochs", trial_id=trial_id)]

    def heartbeat(self, run_id: int) -> None:
        """The chief beats for the run; a remote worker has nothing to add."""


def _metric(value: Any) -> float | None:
    """One metric as ``Storage.record_epoch`` reads it, non-finite values included; None
    (which the store drops) for what ``float()`` cannot read."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
