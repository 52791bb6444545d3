"""A webhook endpoint on loopback for integration tests and the bench.

A threaded HTTP server on 127.0.0.1 (a free port) that records every POST
(path, headers, body, time, the status it answered) and answers from a
programmable sequence::

    receiver = WebhookReceiver(statuses=[500, 500]).start()   # fails twice, then 200
    receiver = WebhookReceiver(then=503).start()              # always 503
    receiver.respond(then=200)                                # healthy again, mid-test
    first, = receiver.wait_for(1, timeout=10)
    first.verify(secret)                                      # standardwebhooks' check
    receiver.stop()

Like the SMTP sink, it can be stopped and started again on the same port.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable


@dataclass(frozen=True)
class Delivery:
    """One POST as the receiver got it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    received_at: float  # time.time()
    status: int  # what the receiver answered

    def json(self):
        return json.loads(self.body)

    def verify(self, secret: str) -> dict:
        """The payload if its Standard Webhooks signature checks out with ``secret``.

        Raises ``standardwebhooks.webhooks.WebhookVerificationError`` otherwise.
        """
        from standardwebhooks.webhooks import Webhook

        return Webhook(secret).verify(self.body, self.headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart on the same port, past TIME_WAIT


class WebhookReceiver:
    def __init__(self, statuses: Iterable[int] = (), then: int = 200, delay: float = 0.0,
                 host: str = "127.0.0.1", port: int = 0):
        """Answer ``statuses`` in turn, then ``then`` forever; wait ``delay`` s before each answer."""
        self.host, self.port = host, port
        self._statuses: deque[int] = deque(statuses)
        self._then, self.delay = then, delay
        self._deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> "WebhookReceiver":
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self._handler_class())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"webhook-receiver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- programming and reading -------------------------------------------------

    def respond(self, statuses: Iterable[int] = (), then: int | None = None, delay: float | None = None) -> None:
        """Replace what the next requests are answered with."""
        with self._changed:
            self._statuses = deque(statuses)
            if then is not None:
                self._then = then
            if delay is not None:
                self.delay = delay

    def _next_status(self) -> int:
        with self._changed:
            return self._statuses.popleft() if self._statuses else self._then

    def _record(self, delivery: Delivery) -> None:
        with self._changed:
            self._deliveries.append(delivery)
            self._changed.notify_all()

    @property
    def deliveries(self) -> list[Delivery]:
        with self._changed:
            return list(self._deliveries)

    def clear(self) -> None:
        with self._changed:
            self._deliveries.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """The first ``count`` deliveries (all of them if more came); TimeoutError if fewer arrive in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._deliveries)} of {count} webhook deliveries after {timeout} s "
                                       f"(statuses answered: {[d.status for d in self._deliveries]})")
                self._changed.wait(left)
            return list(self._deliveries)

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received_at = time.time()
                status = receiver._next_status()
                # Recorded before answering: a sender that gives up waiting still counts as delivered to.
                receiver._record(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body, received_at, status))
                if receiver.delay:
                    time.sleep(receiver.delay)
                answer = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):  # quiet: tests read deliveries, not logs
                pass

        return Handler
