"""Typed errors: the event store's (``ConcurrencyConflict``,
``TransactionTooLarge``) and the refusals every service raises
(``DomainError`` and its kinds). The gateway maps each kind to one HTTP
status in one table (services/gateway/http.py)."""
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


# --- domain errors: refusals a caller can act on ------------------------------
#
# Every service raises these; the gateway maps each class to one HTTP status in
# one table. The fields are the exception's args, so Nameko's RPC error
# serialisation rebuilds the same instance on the caller's side.


class DomainError(Exception):
    """A refused command. ``code`` is stable and machine-readable; ``detail`` is
    for humans; ``errors`` maps field names to lists of messages."""

    def __init__(self, code: str, detail: str, errors: dict | None = None):
        super().__init__(code, detail, *([errors] if errors else []))
        self.code = code
        self.detail = detail
        self.errors = errors or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class InvalidCommand(DomainError):
    """The command's data breaks a rule (HTTP 422); ``errors`` names the fields."""

    FIELD_CODE = "invalid_field"

    @classmethod
    def field(cls, name: str, message: str):
        """The error for one bad field: ``errors`` is ``{name: [message]}``."""
        return cls(cls.FIELD_CODE, f"{name}: {message}", {name: [message]})


class NotFound(DomainError):
    """No such object for this caller: another store's object is not found either (404)."""


class Forbidden(DomainError):
    """The caller's role may not do this (403)."""


class Conflict(DomainError):
    """The object's state forbids the command, e.g. an illegal status transition (409)."""


class PreconditionFailed(DomainError):
    """``If-Match`` named a version that is no longer current (412)."""


class IdempotencyKeyReused(DomainError):
    """The same ``Idempotency-Key`` came with a different request (422)."""


class Unauthenticated(DomainError):
    """No credentials, or ones that are not (or no longer) valid (401)."""


class ServiceUnavailable(DomainError):
    """A service did not answer in time (503): retry later. The call may
    still have run; an ``Idempotency-Key`` makes the retry safe."""


class InvalidQuery(InvalidCommand):
    """A read's parameters are malformed, e.g. a cursor from another list (400)."""

    FIELD_CODE = "invalid_request"
