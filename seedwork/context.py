"""The request id, from the HTTP request to every service's log lines, and
refusals logged as what they are.

The gateway puts ``request_id`` into Nameko's context data; Nameko carries it
in the headers of every RPC call. ``RequestContext`` makes it the current
worker's, and ``RequestIdFilter`` stamps it on each log record.

A refused command (a ``DomainError``: a 404, a 409, a field a client got
wrong) is an expected answer, not a fault: entrypoints declare it expected
(``nameko_ext.rpc``, the gateway's routes), and ``RefusalsAsInfo`` turns
Nameko's "(expected) error handling worker" warning with its traceback into
one INFO line.
"""
from __future__ import annotations

import logging
import threading

from nameko.extensions import DependencyProvider

# Under eventlet, threading.local is patched to be per green thread: per worker.
_current = threading.local()


def current_request_id() -> str | None:
    return getattr(_current, "request_id", None)


class RequestIdFilter(logging.Filter):
    """Adds ``%(request_id)s`` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


class RequestContext(DependencyProvider):
    """``self.request_id`` in a worker; also set for its log lines."""

    def worker_setup(self, worker_ctx):
        _current.request_id = worker_ctx.context_data.get("request_id")

    def worker_teardown(self, worker_ctx):
        _current.request_id = None

    def get_dependency(self, worker_ctx):
        return worker_ctx.context_data.get("request_id")


class RefusalsAsInfo(logging.Filter):
    """On the ``nameko.containers`` logger: an expected refusal is one INFO
    line, without a traceback; real errors pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith("(expected) error handling worker"):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.exc_info, record.exc_text = "refused %s: %s", None, None
        return True

