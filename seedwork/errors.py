"""Typed errors the event store raises; the gateway maps them to HTTP."""
from __future__ import annotations


class ConcurrencyConflict(Exception):
    """Someone else appended to the stream first (the gateway answers 409 or 412)."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int, reason: str | None = None):
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        self.reason = reason
        message = f"stream {stream_id!r}: expected version {expected_version}, actual version {actual_version}"
        super().__init__(f"{message} ({reason})" if reason else message)

    def __reduce__(self):  # keep the fields when pickled or sent over RPC
        return (type(self), (self.stream_id, self.expected_version, self.actual_version, self.reason))


class TransactionTooLarge(Exception):
    """One transaction may append fewer than 2**20 events to one store."""
