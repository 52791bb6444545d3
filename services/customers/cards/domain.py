"""The customer card as an aggregate: state, commands, ``decide``, ``evolve``, ``fold``.

Plain Python: no database, no Nameko. ``decide(state, command, now)``
validates the command against the card as it is and returns the events to
append (an empty list when nothing changes); ``evolve`` applies one stored
event. The field rules are in ``fields.py``. The card's stream (stream id:
the customer id) also records the outreach sent to the customer
(``outreach/domain.py``): those events move the version, not the fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from seedwork.envelope import Actor, Envelope, NewEvent
from seedwork.errors import Conflict, InvalidCommand, NotFound

from ..ids import StreamIds
from .fields import PROFILE_FIELDS, block_details, block_reason, clean_fields

SCHEMA_VERSION = 1
# Recorded on the card's stream by outreach; they change no field of the card.
OUTREACH_EVENTS = ("customer.rating_requested", "customer.message_requested")


CUSTOMER_IDS = StreamIds("customer")
not_found = CUSTOMER_IDS.not_found
customer_id_of = CUSTOMER_IDS.of  # anything but a UUID is a customer that does not exist


# --- state ------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerState:
    """A customer card as its stream folds it: the profile, the block and the platform's flags on its mobile."""

    id: str
    store_id: str
    name: str
    mobile: str
    email: str | None = None
    city: str | None = None
    gender: str | None = None
    birthday: str | None = None  # YYYY-MM-DD
    notes: str | None = None
    blocked: bool = False
    block_reason: str | None = None
    block_details: str | None = None
    blocked_at: datetime | None = None
    blocked_by: Actor | None = None
    # flag id -> {"code", "reasons", "raised_at"}: the store-safe copy of platform flags.
    flags: Mapping[str, dict] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    def profile(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PROFILE_FIELDS}


# --- commands ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class CreateCustomer(Command):
    customer_id: str
    store_id: str
    fields: Mapping[str, Any]
    default_region: str = "SA"
    source: str = "api"


@dataclass(frozen=True, kw_only=True)
class UpdateCustomer(Command):
    """Only the fields present change; ``None`` clears an optional one."""

    fields: Mapping[str, Any]
    default_region: str = "SA"


@dataclass(frozen=True, kw_only=True)
class BlockCustomer(Command):
    reason: Any
    details: Any = None


@dataclass(frozen=True, kw_only=True)
class UnblockCustomer(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class ApplyFlag(Command):
    """The platform flagged this card's mobile; the card shows it."""

    flag_id: str
    code: str
    reasons: tuple[dict, ...]
    raised_at: str


@dataclass(frozen=True, kw_only=True)
class LiftFlag(Command):
    flag_id: str


# --- decide -----------------------------------------------------------------------


def _event(store_id: str, actor: Actor, event_type: str, data: dict, now: datetime) -> NewEvent:
    return NewEvent(type=event_type, data=data, actor=actor, store_id=store_id, schema_version=SCHEMA_VERSION,
                    occurred_at=now)


def decide(state: CustomerState | None, command: Command, now: datetime) -> list[NewEvent]:
    today = now.astimezone(timezone.utc).date()  # a birthday is at most today
    if isinstance(command, CreateCustomer):
        if state is not None:
            raise Conflict("customer_exists", f"customer {command.customer_id} already exists")
        profile = {name: None for name in PROFILE_FIELDS}
        profile.update(clean_fields(command.fields, command.default_region, today))
        return [_event(command.store_id, command.actor, "customer.created",
                       {"customer_id": command.customer_id, **profile, "source": command.source}, now)]
    if state is None:
        raise NotFound("customer_not_found", f"{type(command).__name__} needs an existing customer")
    actor = command.actor
    if isinstance(command, UpdateCustomer):
        for name in ("name", "mobile"):
            if name in command.fields and command.fields[name] is None:
                raise InvalidCommand.field(name, "required: it cannot be cleared")
        cleaned = clean_fields(command.fields, command.default_region, today, required=())
        changes = {k: v for k, v in cleaned.items() if getattr(state, k) != v}
        if not changes:
            return []
        return [_event(state.store_id, actor, "customer.updated", {"customer_id": state.id, "changes": changes}, now)]
    if isinstance(command, BlockCustomer):
        reason = block_reason(command.reason)
        details = block_details(command.details, reason)
        if state.blocked and (state.block_reason, state.block_details) == (reason, details):
            return []  # blocking twice for the same reason changes nothing
        return [_event(state.store_id, actor, "customer.blocked",
                       {"customer_id": state.id, "reason": reason, "details": details}, now)]
    if isinstance(command, UnblockCustomer):
        if not state.blocked:
            raise Conflict("not_blocked", f"customer {state.id} is not blocked")
        return [_event(state.store_id, actor, "customer.unblocked",
                       {"customer_id": state.id, "previous_reason": state.block_reason}, now)]
    if isinstance(command, ApplyFlag):
        if command.flag_id in state.flags:
            return []
        return [_event(state.store_id, actor, "customer.flagged", {
            "customer_id": state.id, "flag_id": command.flag_id, "code": command.code,
            "reasons": list(command.reasons), "raised_at": command.raised_at}, now)]
    if isinstance(command, LiftFlag):
        if command.flag_id not in state.flags:
            return []
        return [_event(state.store_id, actor, "customer.flag_cleared",
                       {"customer_id": state.id, "flag_id": command.flag_id}, now)]
    raise TypeError(f"unknown command {type(command).__name__}")


# --- evolve -----------------------------------------------------------------------


def evolve(state: CustomerState | None, event: Envelope) -> CustomerState:
    """The card after ``event``. A broken stream (an unknown type, anything
    before ``customer.created``, a second one) raises ``ValueError``."""
    data = event.data
    if event.type == "customer.created":
        if state is not None:
            raise ValueError(f"customer.created at version {event.version} of a card that exists")
        profile = {name: data.get(name) for name in PROFILE_FIELDS}
        return CustomerState(id=data["customer_id"], store_id=event.store_id, **profile,
                             created_at=event.occurred_at, updated_at=event.occurred_at, version=event.version)
    if state is None:
        raise ValueError(f"{event.type} before customer.created")
    state = replace(state, updated_at=event.occurred_at, version=event.version)
    if event.type == "customer.updated":
        return replace(state, **{k: v for k, v in data["changes"].items() if k in PROFILE_FIELDS})
    if event.type == "customer.blocked":
        return replace(state, blocked=True, block_reason=data["reason"], block_details=data.get("details"),
                       blocked_at=event.occurred_at, blocked_by=event.actor)
    if event.type == "customer.unblocked":
        return replace(state, blocked=False, block_reason=None, block_details=None, blocked_at=None, blocked_by=None)
    if event.type == "customer.flagged":
        flags = dict(state.flags)
        flags[data["flag_id"]] = {"code": data["code"], "reasons": data["reasons"], "raised_at": data["raised_at"]}
        return replace(state, flags=flags)
    if event.type == "customer.flag_cleared":
        return replace(state, flags={k: v for k, v in state.flags.items() if k != data["flag_id"]})
    if event.type in OUTREACH_EVENTS:
        return state
    raise ValueError(f"unknown event type {event.type!r} on a customer's stream")


def fold(events: Iterable[Envelope], state: CustomerState | None = None) -> CustomerState | None:
    for event in events:
        state = evolve(state, event)
    return state


def flags_view(state: CustomerState) -> list[dict]:
    return [{"id": flag_id, **flag} for flag_id, flag in sorted(state.flags.items(), key=lambda f: f[1]["raised_at"])]
