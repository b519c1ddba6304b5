"""The relay's HTTP transport, bounded against whatever a network peer sends.

- Connections are counted: past ``max_connections`` a new one is answered 503 at once,
  without a thread.
- Each read or write on a connection times out (``idle_s``), and a request that has not
  been answered after ``deadline_s`` in all has its socket shut, however slowly it
  trickles in: an idle or slow peer holds a thread for seconds, not forever.
- The request line and headers are read through a cap (``MAX_HEADER_BYTES``); the body
  only up to its checked ``Content-Length``.
- Every answer, errors of http.server's own parsing included, is JSON.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_HEADER_BYTES = 16 * 1024


class CappedReader:
    """A connection's reader that hands out at most ``left`` bytes more; ``hit`` tells
    whether a read was cut short by the cap."""

    def __init__(self, raw: Any, left: int):
        self.raw, self.left, self.hit = raw, left, False

    def readline(self, size: int | None = -1) -> bytes:
        want = self.left if size is None or size < 0 else size
        allowed = min(want, self.left)
        line = self.raw.readline(allowed) if allowed > 0 else b""
        self.left -= len(line)
        if len(line) == allowed < want and not line.endswith(b"\n"):
            self.hit = True  # cut by the cap, not by the line's end or the peer's
        return line

    def read(self, size: int = -1) -> bytes:
        allowed = self.left if size < 0 else min(size, self.left)
        data = self.raw.read(allowed) if allowed > 0 else b""
        self.left -= len(data)
        return data


class JsonHandler(BaseHTTPRequestHandler):
    """Answers in JSON only; ``do_POST`` is the subclass's."""

    timeout = 10.0  # set per server: http.server applies it to the socket in setup()
    # Errors found before the request line is read are answered with a status line too
    # (http.server would answer them headerless, as to HTTP/0.9).
    default_request_version = "HTTP/1.0"

    def setup(self) -> None:
        super().setup()
        self.rfile = CappedReader(self.rfile, MAX_HEADER_BYTES)

    def answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if code == 405:
            self.send_header("Allow", "POST")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, too many or too long headers,
        an unknown method), answered in JSON like the rest."""
        self.close_connection = True
        if self.rfile.hit and code in (400, 414):
            code, message = 431, "request line and headers too large"
        short = self.responses.get(code, ("error",))[0]
        self.answer(code, {"error": message or short})

    def _wrong_method(self) -> None:
        self.answer(405, {"error": f"method {self.command} not allowed; the relay takes POST"})

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _wrong_method  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass  # one line per epoch would drown the worker log


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server with a cap on open connections and a deadline on each."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[JsonHandler], *,
                 max_connections: int, deadline_s: float):
        self.slots = threading.BoundedSemaphore(max_connections)
        self.deadline_s = deadline_s
        self.open: dict[socket.socket, float] = {}
        self.lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            _answer_busy(request)
            self.shutdown_request(request)
            return
        with self.lock:
            self.open[request] = time.monotonic()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _release(self, request: Any) -> None:
        with self.lock:
            if self.open.pop(request, None) is None:
                return
        self.slots.release()

    def service_actions(self) -> None:
        """Called by serve_forever at each poll: shut connections past their deadline
        (the handler's next read or write fails, and its thread ends)."""
        now = time.monotonic()
        with self.lock:
            late = [s for s, began in self.open.items() if now - began > self.deadline_s]
        for sock in late:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a peer that went away mid-answer: nothing to tell anyone


def _answer_busy(request: socket.socket) -> None:
    body = json.dumps({"error": "the relay is busy (too many connections); retry"}).encode()
    head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    try:
        request.settimeout(1.0)
        request.sendall(head.encode() + body)
    except OSError:
        pass
