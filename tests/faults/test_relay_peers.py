"""The recording relay under what a network peer may send: the real server, over a socket.

Every refusal is a JSON answer with a 4xx status; nothing refused reaches the database,
and nothing a peer does (sending nothing, trickling, opening many connections) holds
the relay's threads for long.
"""
from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import pytest

from storage import InvalidTransitionError, Storage, TrialStatus
from tuning.runner.relay import MAX_BODY, Relay, RemoteStorage


@pytest.fixture
def db(tmp_path) -> Iterator[Storage]:
    store = Storage(tmp_path / "relay.db")
    yield store
    store.close()


def _running_run(db: Storage) -> int:
    run = db.create_run("remote", {"strategy": {"name": "random"}})
    assert db.claim_run(run.id, pid=os.getpid())
    return run.id


@pytest.fixture
def relay(db) -> Iterator[Relay]:
    server = Relay(db, _running_run(db), "127.0.0.1", idle_s=0.5, deadline_s=2.0,
                   max_connections=4).start()
    yield server
    server.stop()


def _exchange(relay: Relay, data: bytes, timeout: float = 5.0) -> tuple[int, dict]:
    """Send ``data`` as it is; read the answer to its end: (status, JSON body)."""
    with socket.create_connection((relay.host, relay.port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"application/json" in head, head
    return status, json.loads(body)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _post(relay: Relay, body: bytes, headers: dict[str, str] | None = None,
          token: bool = True) -> bytes:
    lines = ["POST / HTTP/1.1", f"Host: {relay.host}"]
    if token:
        lines.append(f"Authorization: Bearer {relay.token}")
    given = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{k}: {v}" for k, v in given.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _call(relay: Relay, method: str, **args) -> tuple[int, dict]:
    return _exchange(relay, _post(relay, json.dumps({"method": method, "args": args}).encode()))


def _remote(relay: Relay, db: Storage) -> RemoteStorage:
    return RemoteStorage(relay.url, relay.token, _run_id(db), timeout_s=5.0, retry_s=0.5)


def _run_id(db: Storage) -> int:
    return db.list_runs()[0].id


# -- arguments ----------------------------------------------------------------------------

def test_a_flags_that_is_a_number_is_refused_and_the_runs_trials_stay_readable(relay, db):
    trial = _remote(relay, db).begin_trial(_run_id(db), "0", 0, {"units": 8})
    status, body = _call(relay, "finish_trial", trial_id=trial.id, status="completed",
                         score=0.5, flags=5)
    assert status == 400 and body["argument"] == "flags", body
    assert "flags" in body["error"] and "got 5" in body["error"]
    assert db.get_trial(trial.id).status is TrialStatus.RUNNING
    assert [t.id for t in db.list_trials(_run_id(db))] == [trial.id]
    assert [t.id for t in _remote(relay, db).list_trials(_run_id(db))] == [trial.id]


BAD_ARGUMENTS = [
    ("begin_trial", {"trial_key": "0", "number": "zero", "hyperparameters": {}}, "number"),
    ("begin_trial", {"trial_key": "0", "number": 10**30, "hyperparameters": {}}, "number"),
    ("begin_trial", {"trial_key": "0", "number": True, "hyperparameters": {}}, "number"),
    ("begin_trial", {"trial_key": ["0"], "number": 0, "hyperparameters": {}}, "trial_key"),
    ("begin_trial", {"trial_key": "k" * 5000, "number": 0, "hyperparameters": {}},
     "trial_key"),
    ("begin_trial", {"trial_key": "0", "number": 0, "hyperparameters": 5}, "hyperparameters"),
    ("begin_trial", {"trial_key": "0", "number": 0, "hyperparameters": {"u": 10**400}},
     "hyperparameters.u"),
    ("begin_trial", {"trial_key": "0", "number": 0, "hyperparameters": {},
                     "worker": {"name": "x"}}, "worker"),
    ("begin_trial", {"trial_key": "0", "number": 0, "hyperparameters": {}, "bracket": -1},
     "bracket"),
    ("begin_trial", {"trial_key": "0", "number": 0}, "hyperparameters"),
    ("begin_trial", {"trial_key": "0", "number": 0, "hyperparameters": {}, "run_id": 99},
     "run_id"),
    ("record_epoch", {"trial_id": "TRIAL", "execution": 0, "epoch": 0, "metrics": {}},
     "trial_id"),
    ("record_epoch", {"trial_id": 1, "execution": 0, "epoch": 1.5, "metrics": {}}, "epoch"),
    ("record_epoch", {"trial_id": 1, "execution": 0, "epoch": 0, "metrics": {"loss": "low"}},
     "metrics.loss"),
    ("record_epoch", {"trial_id": 1, "execution": 0, "epoch": 0, "metrics": [1.0]},
     "metrics"),
    ("finish_trial", {"trial_id": 1, "status": "running"}, "status"),
    ("finish_trial", {"trial_id": 1, "status": "exploded"}, "status"),
    ("finish_trial", {"trial_id": 1, "status": "completed", "score": "high"}, "score"),
    ("finish_trial", {"trial_id": 1, "status": "completed", "score": 10**400}, "score"),
    ("finish_trial", {"trial_id": 1, "status": "completed", "message": 7}, "message"),
    ("finish_trial", {"trial_id": 1, "status": "completed", "message": "m" * 70_000},
     "message"),
    ("finish_trial", {"trial_id": 1, "status": "completed", "flags": [1]}, "flags[0]"),
    ("finish_trial", {"trial_id": 1, "status": "completed", "metrics": "all"}, "metrics"),
    ("control_flags", {"trial_id": -3}, "trial_id"),
    ("get_trial_by_key", {}, "trial_key"),
    ("list_epochs", {"trial_id": [1]}, "trial_id"),
]


@pytest.mark.parametrize("method, args, argument", BAD_ARGUMENTS,
                         ids=[f"{m}-{a}-{i}" for i, (m, _, a) in enumerate(BAD_ARGUMENTS)])
def test_every_calls_arguments_are_checked_by_type_and_size(relay, db, method, args, argument):
    trial = db.begin_trial(_run_id(db), "t", 0, {"units": 8})
    if "trial_id" in args and args["trial_id"] == 1:
        args = {**args, "trial_id": trial.id}
    before = (db.list_trials(_run_id(db)), db.list_epochs(_run_id(db)))
    status, body = _call(relay, method, **args)
    assert status == 400, body
    assert body["argument"] == argument and argument in body["error"], body
    assert (db.list_trials(_run_id(db)), db.list_epochs(_run_id(db))) == before


def test_deeply_nested_metrics_are_refused_not_stored(relay, db):
    trial = db.begin_trial(_run_id(db), "t", 0, {})
    nested: list = []
    for _ in range(50):
        nested = [nested]
    status, body = _call(relay, "finish_trial", trial_id=trial.id, status="completed",
                         metrics={"curve": nested})
    assert status == 400 and body["argument"].startswith("metrics.curve"), body
    assert db.get_trial(trial.id).status is TrialStatus.RUNNING


def test_a_body_nested_past_the_parsers_limit_is_answered(relay):
    status, body = _exchange(relay, _post(relay, b"[" * 200_000))
    assert status == 400 and "JSON" in body["error"]


# -- finished trials ---------------------------------------------------------------------

def test_a_finished_trial_cannot_be_begun_again_and_keeps_its_epochs_and_score(relay, db):
    remote = _remote(relay, db)
    trial = remote.begin_trial(_run_id(db), "0", 0, {"units": 8})
    remote.record_epoch(trial.id, 0, 0, {"loss": 0.5})
    remote.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.9)
    status, body = _call(relay, "begin_trial", trial_key="0", number=0,
                         hyperparameters={"units": 64})
    assert status == 409 and "completed" in body["error"], body
    with pytest.raises(InvalidTransitionError, match="not begun again"):
        remote.begin_trial(_run_id(db), "0", 0, {"units": 64})
    kept = db.get_trial(trial.id)
    assert (kept.status, kept.score, kept.epochs_done) == (TrialStatus.COMPLETED, 0.9, 1)
    assert dict(kept.hyperparameters) == {"units": 8}


@pytest.mark.parametrize("ending", [TrialStatus.STOPPED, TrialStatus.INTERRUPTED,
                                    TrialStatus.FAILED])
def test_a_trial_without_a_result_is_begun_again_from_nothing(relay, db, ending):
    remote = _remote(relay, db)
    trial = remote.begin_trial(_run_id(db), "0", 0, {"units": 8})
    remote.record_epoch(trial.id, 0, 0, {"loss": 0.5})
    remote.finish_trial(trial.id, ending)
    again = remote.begin_trial(_run_id(db), "0", 0, {"units": 8})
    assert again.id == trial.id and again.status is TrialStatus.RUNNING
    assert again.epochs_done == 0


def test_storage_keeps_finished_trials_only_when_asked(db):
    run_id = _running_run(db)
    trial = db.begin_trial(run_id, "0", 0, {})
    db.finish_trial(trial.id, TrialStatus.PRUNED, score=0.3)
    with pytest.raises(InvalidTransitionError):
        db.begin_trial(run_id, "0", 0, {}, keep_finished=True)
    assert db.get_trial(trial.id).score == 0.3
    # The importer and a resume rewrite a key on purpose: the default still restarts it.
    assert db.begin_trial(run_id, "0", 0, {}).status is TrialStatus.RUNNING


# -- transport -----------------------------------------------------------------------------

@pytest.mark.parametrize("length, code", [("-1", 400), ("abc", 400), ("1e3", 400),
                                          ("99999999999999", 413), (str(MAX_BODY + 1), 413),
                                          (None, 411)])
def test_content_length_cannot_bypass_the_body_cap(relay, length, code):
    """A negative length once read the body to its end (past the cap), and garbage raised
    outside the error handling; the peer keeps its socket open, as an attacker would."""
    status, body = _exchange(relay, _post(relay, b'{"method": "get_run"}',
                                          {"Content-Length": length}))
    assert status == code and body["error"], body


def test_a_body_shorter_than_its_length_is_refused_when_the_peer_stops_sending(relay):
    with socket.create_connection((relay.host, relay.port), timeout=5) as sock:
        sock.sendall(_post(relay, b"", {"Content-Length": "100"}) + b'{"method"')
        sock.shutdown(socket.SHUT_WR)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.0 400") and b"shorter" in answer


def test_a_chunked_body_is_refused(relay):
    status, body = _exchange(relay, _post(relay, b"0\r\n\r\n", {
        "Content-Length": None, "Transfer-Encoding": "chunked"}))
    assert status == 411 and "Content-Length" in body["error"]


@pytest.mark.parametrize("request_bytes, code", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    (b"\x16\x03\x01 garbage that is no request line\r\n\r\n", 400),
    (b"POST / HTTP/9.9\r\n\r\n", 505),
    (b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 431),
    (b"POST / HTTP/1.1\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 900)
                                       for i in range(40)) + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", 431),
], ids=["get", "delete", "unknown-method", "garbage", "bad-version", "long-line",
        "big-headers", "many-headers"])
def test_malformed_requests_are_answered_in_json(relay, request_bytes, code):
    status, body = _exchange(relay, request_bytes)
    assert status == code and body["error"], body


@pytest.mark.parametrize("body, code, words", [
    (b"{not json", 400, "JSON"),
    (b"[1, 2]", 400, "object"),
    (b'{"method": "get_run", "extra": 1}', 400, "object"),
    (b'{"method": "drop_everything"}', 404, "no call"),
    (b'{"method": "_own_trial", "args": {"trial_id": 1}}', 404, "no call"),
    (b'{"method": 5}', 404, "no call"),
    (b'{"method": "get_run", "args": [1]}', 400, "args"),
    (b'\xff\xfe\x00', 400, "JSON"),
])
def test_malformed_calls_are_answered_in_json(relay, body, code, words):
    status, answer = _exchange(relay, _post(relay, body))
    assert status == code and words in answer["error"], answer


def test_a_wrong_token_is_refused(relay):
    status, body = _exchange(relay, _post(relay, b"x" * 100, token=False))
    assert status == 403
    status, body = _exchange(relay, _post(relay, b"", {"Authorization": "Bearer \u00e9"},
                                          token=False))
    assert status == 403


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def test_an_idle_connection_is_closed(relay):
    with socket.create_connection((relay.host, relay.port)) as sock:
        assert _closed_within(sock, 5.0)  # idle_s is 0.5 s: nothing sent, closed


def test_a_request_trickling_in_is_cut_at_its_deadline(relay):
    """One byte each 0.2 s never trips the idle timeout; the deadline (2 s) ends it."""
    began = time.monotonic()
    with socket.create_connection((relay.host, relay.port)) as sock:
        sock.settimeout(0.2)
        head = _post(relay, b"{}")[:-4]
        closed = False
        for byte in (head * 10):
            try:
                sock.send(bytes([byte]))
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
            if time.monotonic() - began > 10:
                break
    assert closed and time.monotonic() - began < 6


def test_connections_past_the_cap_are_answered_busy_and_served_once_one_closes(relay, db):
    held = [socket.create_connection((relay.host, relay.port)) for _ in range(4)]
    try:
        deadline = time.monotonic() + 5
        while True:  # the server accepts the four in its own time
            with socket.create_connection((relay.host, relay.port), timeout=5) as extra:
                answer = _read_all(extra)
            if answer.startswith(b"HTTP/1.0 503") or time.monotonic() > deadline:
                break
        assert answer.startswith(b"HTTP/1.0 503") and b"busy" in answer
    finally:
        for sock in held:
            sock.close()
    # Freed slots serve again; the client rides out a busy moment on its own.
    assert _remote(relay, db).list_trials(_run_id(db)) == []
