"""The request id, from the HTTP request to every service's log lines.

The gateway puts ``request_id`` into Nameko's context data; Nameko carries it
in the headers of every RPC call. ``RequestContext`` makes it the current
worker's, and ``RequestIdFilter`` stamps it on each log record.
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
