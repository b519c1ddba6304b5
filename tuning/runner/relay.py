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
import os
import secrets
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from storage import (
    Epoch,
    InvalidTransitionError,
    NotFoundError,
    Run,
    RunStatus,
    Storage,
    StorageError,
    Trial,
    TrialStatus,
    frozen_json,
    plain_json,
)

from .relay_args import MAX_TEXT, BadArgument, check_call
from .relay_http import BoundedServer, JsonHandler

MAX_BODY = 1 << 20
IDLE_S = 10.0          # one read or write on a connection
DEADLINE_S = 60.0      # one request, start to answer (a 1 MiB body on a slow link fits)
MAX_CONNECTIONS = 32   # served at once; each remote worker holds one at a time


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
    """The relay's whole surface: each call is checked to concern this run only. The
    arguments come checked by ``relay_args.check_call``."""

    def __init__(self, storage: Storage, run_id: int):
        self.storage = storage
        self.run_id = run_id

    def _own_trial(self, trial_id: int) -> None:
        if self.storage.get_trial(trial_id).run_id != self.run_id:
            raise PermissionError(f"trial {trial_id} is not part of run {self.run_id}")

    def get_run(self) -> dict[str, Any]:
        run = self.storage.get_run(self.run_id)
        return {"id": run.id, "spec": plain_json(run.spec), "status": run.status.value,
                "created_at": run.created_at}

    def begin_trial(self, trial_key: str, number: int, hyperparameters: dict,
                    bracket=None, round=None, parent_key=None, worker=None) -> dict:
        # keep_finished: a trial with a result is never trained again from the network
        # (it would lose its epochs and score); one stopped or interrupted is.
        return _trial_json(self.storage.begin_trial(
            self.run_id, trial_key, number, hyperparameters, bracket=bracket,
            round=round, parent_key=parent_key, worker=worker, keep_finished=True))

    def record_epoch(self, trial_id: int, execution: int, epoch: int, metrics: dict) -> None:
        self._own_trial(trial_id)
        self.storage.record_epoch(trial_id, execution, epoch, metrics)

    def finish_trial(self, trial_id: int, status: TrialStatus, score=None, metrics=None,
                     message=None, flags=None, hyperparameters=None) -> None:
        self._own_trial(trial_id)
        self.storage.finish_trial(trial_id, status, score=score, metrics=metrics,
                                  message=message, flags=flags,
                                  hyperparameters=hyperparameters)

    def record_trial_output(self, trial_id: int, traceback=None, log=None) -> None:
        self._own_trial(trial_id)
        self.storage.record_trial_output(int(trial_id), traceback=traceback, log=log)

    def control_flags(self, trial_id=None) -> list[bool]:
        if trial_id is not None:
            self._own_trial(trial_id)
        return list(self.storage.control_flags(self.run_id, trial_id))

    def get_trial_by_key(self, trial_key: str) -> dict:
        return _trial_json(self.storage.get_trial_by_key(self.run_id, trial_key))

    def list_trials(self) -> list[dict]:
        return [_trial_json(t) for t in self.storage.list_trials(self.run_id)]

    def list_epochs(self, trial_id=None) -> list[dict]:
        return [_epoch_json(e) for e in self.storage.list_epochs(self.run_id, trial_id)]

    def answer(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer) for one request's body."""
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            return 400, {"error": "the body must be JSON: "
                                  '{"method": "<call>", "args": {...}}'}
        if not isinstance(request, dict) or set(request) - {"method", "args"}:
            return 400, {"error": 'the body must be a JSON object with "method" and '
                                  'optionally "args", nothing else'}
        method = request.get("method")
        try:
            args = check_call(method, request.get("args", {}))
        except BadArgument as exc:
            return 400, {"error": str(exc), "argument": exc.name}
        except LookupError as exc:
            return 404, {"error": str(exc)}
        try:
            return 200, {"result": getattr(self, method)(**args)}
        except (NotFoundError, PermissionError) as exc:
            return 404, {"error": str(exc)}
        except InvalidTransitionError as exc:
            return 409, {"error": str(exc)}
        except StorageError as exc:
            return 503, {"error": f"the chief's database cannot be used now: {exc}"}
        except (TypeError, ValueError) as exc:
            return 400, {"error": f"bad request: {exc}"}


class Relay:
    """An HTTP relay for one run; ``start`` serves it on a daemon thread.

    ``idle_s``: how long one read or write on a connection may wait; ``deadline_s``: how
    long a request may take in all; ``max_connections``: how many are served at once
    (more are answered 503)."""

    def __init__(self, storage: Storage, run_id: int, host: str, port: int = 0,
                 token: str | None = None, *, idle_s: float = IDLE_S,
                 deadline_s: float = DEADLINE_S, max_connections: int = MAX_CONNECTIONS):
        self.token = token or secrets.token_urlsafe(24)
        calls = _Calls(storage, run_id)
        token_bytes = self.token.encode()
        relay = self

        class Handler(JsonHandler):
            timeout = idle_s

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                try:
                    code, body = self._respond()
                except Exception as exc:  # a fault of ours is answered too, not dropped
                    code, body = 500, {"error": f"the relay failed: {type(exc).__name__}"}
                self.answer(code, body)

            def _respond(self) -> tuple[int, dict[str, Any]]:
                if self.rfile.hit:
                    return 431, {"error": "request line and headers too large"}
                length = _content_length(self.headers)
                if isinstance(length, tuple):
                    return length
                self.rfile.left = length  # the cap now is exactly the body
                # Read before answering even a wrong token: a socket closed on unread
                # data is reset, and the peer would see no answer at all.
                body = self.rfile.read(length)
                given = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if not hmac.compare_digest(given.encode(errors="replace"), token_bytes):
                    return 403, {"error": "wrong or missing token"}
                relay.last_request_at = time.monotonic()  # a worker of the run is active
                if len(body) < length:
                    return 400, {"error": "the body is shorter than its Content-Length"}
                return calls.answer(body)

        self.last_request_at = time.monotonic()
        self.server = BoundedServer((host, port), Handler, max_connections=max_connections,
                                    deadline_s=deadline_s)
        self.host, self.port = host, self.server.server_address[1]
        # A short poll interval: stop() waits for the loop to notice, the end of the run
        # waits for stop(), and late connections are shut at each poll.
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


def _content_length(headers: Any) -> int | tuple[int, dict[str, Any]]:
    """The body's length, or the answer refusing it: a Content-Length is required (no
    chunked bodies), one only, digits only, at most ``MAX_BODY``."""
    if headers.get("Transfer-Encoding"):
        return 411, {"error": "send the body with a Content-Length, not Transfer-Encoding"}
    values = set(headers.get_all("Content-Length") or [])
    if not values:
        return 411, {"error": "a Content-Length header is required"}
    if len(values) > 1:
        return 400, {"error": "one Content-Length header, please"}
    (value,) = values
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return 400, {"error": f"Content-Length must be a number of bytes; got {value[:40]!r}"}
    if len(value) > 12 or int(value) > MAX_BODY:
        return 413, {"error": f"request too large: {value[:40]} bytes; the cap is {MAX_BODY}"}
    return int(value)


class RemoteStorage:
    """A ``storage.Recorder`` answered by a chief's ``Relay``: the storage methods the
    recording hooks use. Thread-safe: each call is its own HTTP request."""

    def __init__(self, url: str, token: str, run_id: int, timeout_s: float = 30.0,
                 retry_s: float = 10.0):
        self.url = url.rstrip("/")
        self.token = token
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.path = f"relay:{self.url}"

    def _call(self, method: str, **args: Any) -> Any:
        """One call; a busy relay (503) or a refused connection is tried again for up to
        ``retry_s`` (every call is safe to repeat), then ``RelayUnavailable``."""
        body = json.dumps({"method": method, "args": args}, default=plain_json).encode()
        deadline = time.monotonic() + self.retry_s
        pause = 0.05
        while True:
            try:
                return self._post(method, body)
            except RelayUnavailable:
                if time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)  # backing off from a busy or restarting relay
            pause = min(pause * 2, 1.0)

    def _post(self, method: str, body: bytes) -> Any:
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            except ValueError:
                detail = exc.reason
            if exc.code == 404:
                raise NotFoundError(detail) from None
            if exc.code == 503:
                raise RelayUnavailable(f"relay at {self.url} is busy: {detail}") from None
            if exc.code == 409:
                raise InvalidTransitionError(detail) from None
            raise RuntimeError(f"relay at {self.url} refused {method}: {detail}") from None
        except (urllib.error.URLError, ConnectionError) as exc:
            raise RelayUnavailable(f"relay at {self.url} cannot be reached ({exc}); is the "
                                   "run's chief still running?") from None

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
                     message=None, flags=None, hyperparameters=None) -> None:
        extra = {} if hyperparameters is None else {
            "hyperparameters": plain_json(hyperparameters)}
        self._call("finish_trial", trial_id=trial_id, status=TrialStatus(status).value,
                   score=plain_json(score), metrics=plain_json(metrics or {}), message=message,
                   flags=flags, **extra)

    def record_trial_output(self, trial_id: int, traceback: str | None = None,
                            log: str | None = None) -> None:
        def tail(value: str | None) -> str | None:  # the relay takes MAX_TEXT at most
            return None if value is None else value[-MAX_TEXT:]

        self._call("record_trial_output", trial_id=trial_id, traceback=tail(traceback),
                   log=tail(log))

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

    def requeue_for_recycle(self, run_id: int) -> None:
        """The chief owns the run: a remote worker that retires (its watchdog failed a hung
        trial, or it ran its ``recycle_every`` trials) only leaves; the run goes on."""


class RelayUnavailable(RuntimeError):
    """The relay cannot be reached, or is too busy to answer: the chief may be gone."""


def _metric(value: Any) -> float | None:
    """One metric as ``Storage.record_epoch`` reads it, non-finite values included; None
    (which the store drops) for what ``float()`` cannot read."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class ChiefWatch(threading.Thread):
    """Ends a remote worker whose chief is gone.

    KerasTuner's client waits up to an hour for an oracle that does not answer; a worker
    whose chief stopped (or whose machine went away) would sit that long. This thread asks
    the relay every ``poll_s``; once it has been unreachable for ``gone_s`` in a row, it
    says so and ends the process through ``exit`` (the chief fails the trial it held)."""

    def __init__(self, url: str, token: str, run_id: int, gone_s: float = 30.0,
                 poll_s: float = 5.0, exit: Any = None):
        super().__init__(daemon=True, name="chief-watch")
        self.storage = RemoteStorage(url, token, run_id, timeout_s=min(poll_s, 10.0),
                                     retry_s=0.0)
        self.gone_s, self.poll_s = gone_s, poll_s
        self.exit = exit or _leave
        self.done = threading.Event()

    def run(self) -> None:
        last_seen = time.monotonic()
        while not self.done.wait(self.poll_s):
            try:
                self.storage.control_flags(self.storage.run_id)
                last_seen = time.monotonic()
            except RelayUnavailable:
                if time.monotonic() - last_seen >= self.gone_s:
                    print(f"the chief's relay at {self.storage.url} has not answered for "
                          f"{self.gone_s:.0f} s: the run's chief is gone; this worker leaves",
                          file=sys.stderr, flush=True)
                    self.exit(1)
                    return
            except Exception:  # the relay answered (an error is an answer): it is there
                last_seen = time.monotonic()


def _leave(code: int) -> None:
    os._exit(code)
