"""The event envelope: one immutable record per thing that happened.

Type names are stable strings (``ticket.opened``), never module paths, so
stored history and published messages survive any refactoring. Each type has
a schema version; old stored payloads are upgraded on read by upcasters, so
history is never rewritten.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from .errors import DomainError
from .instants import iso, parse_instant

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z")  # \Z: "$" accepts a trailing newline
ACTOR_KINDS = ("customer", "agent", "system", "platform")


class InvalidEvent(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused the event: a shopper, a store's staff member, the platform, or the system."""

    kind: str
    id: str | None = None

    def __post_init__(self):
        if self.kind not in ACTOR_KINDS:
            raise InvalidEvent(f"actor kind must be one of {ACTOR_KINDS}, got {self.kind!r}")


SYSTEM = Actor("system")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended; the store gives it its stream version and position."""

    type: str
    data: Mapping[str, Any]
    actor: Actor = SYSTEM
    store_id: str | None = None
    schema_version: int = 1
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    occurred_at: datetime = field(default_factory=utcnow)

    def __post_init__(self):
        if not EVENT_TYPE.match(self.type):
            raise InvalidEvent(f"event type {self.type!r} must be a dotted lowercase name like 'ticket.opened'")
        if self.schema_version < 1:
            raise InvalidEvent("schema_version starts at 1")
        if self.occurred_at.tzinfo is None:
            raise InvalidEvent("occurred_at must be timezone-aware")

    def caused_by(self, cause: "Envelope") -> "NewEvent":
        """The same event, linked to the event that led to it (same correlation chain)."""
        return replace(self, causation_id=cause.event_id, correlation_id=cause.correlation_id or cause.event_id)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A stored event. ``position`` orders every event of one event store."""

    event_id: uuid.UUID
    type: str
    schema_version: int
    stream_id: str
    version: int
    position: int
    store_id: str | None
    actor: Actor
    correlation_id: uuid.UUID | None
    causation_id: uuid.UUID | None
    occurred_at: datetime
    data: Mapping[str, Any]


# --- schema evolution --------------------------------------------------------

Upcaster = Callable[[dict], dict]


class Upcasters:
    """Functions that lift a stored payload from schema version N to N+1.

    Register one per step; reading applies the chain up to the newest version.
    """

    def __init__(self):
        self._steps: dict[tuple[str, int], Upcaster] = {}
        self._latest: dict[str, int] = {}

    def register(self, event_type: str, from_version: int, step: Upcaster) -> None:
        key = (event_type, from_version)
        if key in self._steps:
            raise ValueError(f"upcaster for {event_type} v{from_version} already registered")
        self._steps[key] = step
        self._latest[event_type] = max(self._latest.get(event_type, 1), from_version + 1)

    def latest_version(self, event_type: str) -> int:
        return self._latest.get(event_type, 1)

    @property
    def event_types(self) -> frozenset[str]:
        """The types that have upcasters: readers skip the rest cheaply."""
        return frozenset(self._latest)

    def upcast(self, event_type: str, version: int, data: dict) -> tuple[int, dict]:
        latest = self._latest.get(event_type)
        if latest is None or version >= latest:
            return version, data
        while version < latest:
            step = self._steps.get((event_type, version))
            if step is None:
                raise ValueError(f"no upcaster for {event_type} v{version}")
            data = step(data)
            version += 1
        return version, data


NO_UPCASTERS = Upcasters()


# --- CloudEvents 1.0 (structured JSON mode) ----------------------------------

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


def source_for(service: str) -> str:
    return f"/seed/{service}"


def to_cloudevent(event: Envelope, service: str) -> dict[str, Any]:
    """The published message body. Extension attribute names are lowercase
    alphanumerics, as the CloudEvents spec requires."""
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(event.event_id),
        "source": source_for(service),
        "type": event.type,
        "subject": event.stream_id,
        "time": iso(event.occurred_at),
        "datacontenttype": "application/json",
        "dataschemaversion": event.schema_version,
        "streamversion": event.version,
        # A String: positions (xid << 20) outgrow the CloudEvents Integer (int32).
        "position": str(event.position),
        "actorkind": event.actor.kind,
        "data": event.data,
    }
    optional = {
        "storeid": event.store_id,
        "actorid": event.actor.id,
        "correlationid": event.correlation_id and str(event.correlation_id),
        "causationid": event.causation_id and str(event.causation_id),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def from_cloudevent(body: Mapping[str, Any]) -> Envelope:
    """Rebuild the envelope from a published message (what consumers receive)."""
    try:
        if body["specversion"] != "1.0":
            raise InvalidEvent(f"unsupported specversion {body['specversion']!r}")
        try:
            occurred_at = parse_instant(body["time"], "time")
        except DomainError:
            raise InvalidEvent(f"time {body['time']!r} is not a date-time with a UTC offset (RFC 3339)") from None
        return Envelope(
            event_id=uuid.UUID(body["id"]),
            type=body["type"],
            schema_version=int(body["dataschemaversion"]),
            stream_id=body["subject"],
            version=int(body["streamversion"]),
            position=int(body["position"]),
            store_id=body.get("storeid"),
            actor=Actor(body["actorkind"], body.get("actorid")),
            correlation_id=_uuid_or_none(body.get("correlationid")),
            causation_id=_uuid_or_none(body.get("causationid")),
            occurred_at=occurred_at,
            data=body.get("data") or {},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidEvent(f"not a Seed CloudEvent: {exc}") from exc


def _uuid_or_none(value):
    return uuid.UUID(value) if value else None
