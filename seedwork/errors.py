"""Typed errors the event store raises; the gateway maps them to HTTP."""
from __future__ import annotations


class ConcurrencyConflict(Exception):
    """Someone else appended to the stream first (the gateway answers 409 or 412)."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int, reason: str | None = None):
        # The fields are the exception's args: pickle and Nameko's RPC error
        # serialisation rebuild it from them (Nameko sends numbers as strings).
        super().__init__(stream_id, expected_version, actual_version, *([reason] if reason else []))
        self.stream_id = stream_id
        self.expected_version = int(expected_version)
        self.actual_version = int(actual_version)
        self.reason = reason

    def __str__(self) -> str:
        message = (f"stream {self.stream_id!r}: expected version {self.expected_version}, "
                   f"actual version {self.actual_version}")
        return f"{message} ({self.reason})" if self.reason else message


class TransactionTooLarge(Exception):
    """One transaction may append fewer than 2**20 events to one store."""
