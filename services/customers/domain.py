"""The customer card as an aggregate: commands, ``decide``, ``evolve``, ``fold``.

Plain Python: no database, no Nameko. ``decide(state, command)`` validates the
command against the card as it is and returns the events to append (an empty
list when nothing changes); ``evolve`` applies one stored event. Field rules
live here, so the HTTP API, the CSV import and any future channel refuse the
same input with the same message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from seedwork.envelope import Actor, Envelope, NewEvent
from seedwork.errors import Conflict, InvalidCommand

from .normalise import normalise_mobile

SCHEMA_VERSION = 1
BLOCK_REASONS = ("non_serious_orders", "abusive_language", "fraud_suspicion", "other")
GENDERS = ("male", "female")
PROFILE_FIELDS = ("name", "mobile", "email", "city", "gender", "birthday", "notes")
OPTIONAL_FIELDS = ("email", "city", "gender", "birthday", "notes")
CHANNELS = ("sms", "email")
LIMITS = {"name": 200, "city": 100, "notes": 2000, "details": 1000, "email": 254, "subject": 200}
MESSAGE_LIMITS = {"sms": 1000, "email": 10000}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
# Control characters other than tab and newline never belong in a card.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
OLDEST_BIRTHDAY = date(1900, 1, 1)


# --- state ------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerState:
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


# --- field rules ------------------------------------------------------------------


def _text(name: str, value: Any, required: bool, limit: int, multiline: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidCommand.field(name, "required")
        return None
    if not isinstance(value, str):
        raise InvalidCommand.field(name, "must be text")
    value = value.strip()
    if not multiline:
        value = " ".join(value.split())
    if CONTROL.search(value):
        raise InvalidCommand.field(name, "must not contain control characters")
    if len(value) > limit:
        raise InvalidCommand.field(name, f"at most {limit} characters")
    return value


def _email(value: Any) -> str | None:
    value = _text("email", value, False, LIMITS["email"])
    if value is None:
        return None
    if not EMAIL.match(value):
        raise InvalidCommand.field("email", "not an email address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _gender(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() not in GENDERS:
        raise InvalidCommand.field("gender", f"one of {', '.join(GENDERS)}")
    return value.strip().lower()


def _birthday(value: Any, today: date) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidCommand.field("birthday", "a date as YYYY-MM-DD") from None
    if not OLDEST_BIRTHDAY <= day <= today:
        raise InvalidCommand.field("birthday", f"between {OLDEST_BIRTHDAY.isoformat()} and today")
    return day.isoformat()


def clean_field(name: str, value: Any, default_region: str, today: date) -> Any:
    """One profile field, validated and normalised (``InvalidCommand`` naming it)."""
    if name == "name":
        return _text("name", value, True, LIMITS["name"])
    if name == "mobile":
        if value is None:
            raise InvalidCommand.field("mobile", "required")
        return normalise_mobile(value, default_region)
    if name == "email":
        return _email(value)
    if name == "city":
        return _text("city", value, False, LIMITS["city"])
    if name == "gender":
        return _gender(value)
    if name == "birthday":
        return _birthday(value, today)
    if name == "notes":
        return _text("notes", value, False, LIMITS["notes"], multiline=True)
    raise InvalidCommand.field(name, "not a field of a customer card")


def clean_fields(fields: Mapping[str, Any], default_region: str, today: date, required=("name", "mobile")) -> dict:
    """Every given field cleaned; all field errors reported together."""
    cleaned, errors = {}, {}
    for name in required:
        if name not in fields:
            errors[name] = ["required"]
    for name, value in fields.items():
        try:
            cleaned[name] = clean_field(name, value, default_region, today)
        except InvalidCommand as exc:
            for key, messages in exc.errors.items():
                errors.setdefault(key, []).extend(messages)
    if errors:
        first = next(iter(errors))
        raise InvalidCommand("invalid_fields", f"{first}: {errors[first][0]}", errors)
    return cleaned


def block_reason(value: Any) -> str:
    if value not in BLOCK_REASONS:
        raise InvalidCommand.field("reason", f"one of {', '.join(BLOCK_REASONS)}")
    return value


def message_fields(channel: Any, body: Any, subject: Any) -> dict:
    """A direct message to a customer: channel, body and (email) subject."""
    if channel not in CHANNELS:
        raise InvalidCommand.field("channel", f"one of {', '.join(CHANNELS)}")
    body = _text("body", body, True, MESSAGE_LIMITS[channel], multiline=True)
    subject = _text("subject", subject, False, LIMITS["subject"])
    if channel == "sms" and subject is not None:
        raise InvalidCommand.field("subject", "an SMS has no subject")
    return {"channel": channel, "body": body, "subject": subject}


# --- decide -----------------------------------------------------------------------


def _event(state_or_store: str, actor: Actor, event_type: str, data: dict) -> NewEvent:
    return NewEvent(type=event_type, data=data, actor=actor, store_id=state_or_store, schema_version=SCHEMA_VERSION)


def decide(state: CustomerState | None, command: Command, today: date) -> list[NewEvent]:
    if isinstance(command, CreateCustomer):
        if state is not None:
            raise Conflict("customer_exists", f"customer {command.customer_id} already exists")
        profile = {name: None for name in PROFILE_FIELDS}
        profile.update(clean_fields(command.fields, command.default_region, today))
        return [_event(command.store_id, command.actor, "customer.created",
                       {"customer_id": command.customer_id, **profile, "source": command.source})]
    if state is None:
        raise ValueError("every command but CreateCustomer needs an existing customer")
    actor = command.actor
    if isinstance(command, UpdateCustomer):
        for name in ("name", "mobile"):
            if name in command.fields and command.fields[name] is None:
                raise InvalidCommand.field(name, "required: it cannot be cleared")
        cleaned = clean_fields(command.fields, command.default_region, today, required=())
        changes = {k: v for k, v in cleaned.items() if getattr(state, k) != v}
        if not changes:
            return []
        return [_event(state.store_id, actor, "customer.updated", {"customer_id": state.id, "changes": changes})]
    if isinstance(command, BlockCustomer):
        reason = block_reason(command.reason)
        details = _text("details", command.details, reason == "other", LIMITS["details"], multiline=True)
        if state.blocked and (state.block_reason, state.block_details) == (reason, details):
            return []  # blocking twice for the same reason changes nothing
        return [_event(state.store_id, actor, "customer.blocked",
                       {"customer_id": state.id, "reason": reason, "details": details})]
    if isinstance(command, UnblockCustomer):
        if not state.blocked:
            raise Conflict("not_blocked", f"customer {state.id} is not blocked")
        return [_event(state.store_id, actor, "customer.unblocked",
                       {"customer_id": state.id, "previous_reason": state.block_reason})]
    if isinstance(command, ApplyFlag):
        if command.flag_id in state.flags:
            return []
        return [_event(state.store_id, actor, "customer.flagged", {
            "customer_id": state.id, "flag_id": command.flag_id, "code": command.code,
            "reasons": list(command.reasons), "raised_at": command.raised_at})]
    if isinstance(command, LiftFlag):
        if command.flag_id not in state.flags:
            return []
        return [_event(state.store_id, actor, "customer.flag_cleared",
                       {"customer_id": state.id, "flag_id": command.flag_id})]
    raise TypeError(f"unknown command {type(command).__name__}")


# --- evolve -----------------------------------------------------------------------


def evolve(state: CustomerState | None, event: Envelope) -> CustomerState:
    data = event.data
    if event.type == "customer.created":
        profile = {name: data.get(name) for name in PROFILE_FIELDS}
        return CustomerState(id=data["customer_id"], store_id=event.store_id, **profile,
                             created_at=event.occurred_at, updated_at=event.occurred_at, version=event.version)
    assert state is not None, f"{event.type} before customer.created"
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
    # Messages and rating requests are recorded on the stream but change no field.
    return state


def fold(events: Iterable[Envelope], state: CustomerState | None = None) -> CustomerState | None:
    for event in events:
        state = evolve(state, event)
    return state


def flags_view(state: CustomerState) -> list[dict]:
    return [{"id": flag_id, **flag} for flag_id, flag in sorted(state.flags.items(), key=lambda f: f[1]["raised_at"])]
