"""The store's customer settings as an aggregate: defaults, field rules,
``decide``, ``evolve``. Plain Python.

Stream ``customer-settings:<store_id>``; each ``customer_settings.updated``
carries only the settings that changed. The state is the defaults with every
change laid over them in order; a store that never changed anything has no
stream and the defaults.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

import phonenumbers

from seedwork.envelope import Actor, Envelope, NewEvent
from seedwork.errors import InvalidCommand

DEFAULTS = {
    # The country of mobiles typed without a country code.
    "default_country": "SA",
    # SMS goes out under this sender name; without one a store cannot send SMS.
    "sms_sender_name": None,
    # The channel rating requests go out on: the one the merchant set up.
    "rating_channel": "email",
    # Where the shopper's "rate your orders" page lives; see README for the fallback.
    "storefront_url": None,
    # "No cash on delivery for flagged customers": the store's choice, off until it turns it on.
    "no_cod_for_flagged": False,
}
SENDER = re.compile(r"^[A-Za-z0-9 .&-]{2,11}\Z")  # what SMS gateways accept as an alphanumeric sender


def stream_id(store_id: str) -> str:
    return f"customer-settings:{store_id}"


def clean_settings(fields: Mapping[str, Any]) -> dict:
    changes = {}
    for name, value in fields.items():
        if name not in DEFAULTS:
            raise InvalidCommand.field(name, "not a setting")
        if name == "default_country":
            if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise InvalidCommand.field(name, "an ISO 3166 country code like SA")
            value = value.upper()
        elif name == "sms_sender_name":
            if value is not None and (not isinstance(value, str) or not SENDER.match(value.strip())):
                raise InvalidCommand.field(name, "2 to 11 letters, digits, spaces or . & -")
            value = value.strip() if value else None
        elif name == "rating_channel":
            if value not in ("sms", "email"):
                raise InvalidCommand.field(name, "sms or email")
        elif name == "storefront_url":
            if value is not None and (not isinstance(value, str) or len(value) > 500
                                      or not re.match(r"^https?://[^\s?#]+\Z", value)):
                raise InvalidCommand.field(name, "an http or https URL without query")
            value = value.rstrip("/") if value else None
        elif name == "no_cod_for_flagged":
            if not isinstance(value, bool):
                raise InvalidCommand.field(name, "true or false")
        changes[name] = value
    return changes


@dataclass(frozen=True)
class SettingsState:
    store_id: str
    values: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULTS))
    version: int = 0  # 0: never changed, the defaults


@dataclass(frozen=True, kw_only=True)
class UpdateSettings:
    actor: Actor
    fields: Mapping[str, Any]


def decide(state: SettingsState, command: UpdateSettings, now: datetime) -> list[NewEvent]:
    """One event with the settings that differ from the current ones; none if nothing does."""
    changes = {k: v for k, v in clean_settings(command.fields).items() if state.values[k] != v}
    if not changes:
        return []
    return [NewEvent("customer_settings.updated", {"changes": changes}, command.actor, state.store_id,
                     occurred_at=now)]


def evolve(state: SettingsState, event: Envelope) -> SettingsState:
    if event.type != "customer_settings.updated":
        raise ValueError(f"unknown event type {event.type!r} on a store's settings stream")
    return SettingsState(state.store_id, {**state.values, **event.data["changes"]}, event.version)


def fold(events: Iterable[Envelope], state: SettingsState) -> SettingsState:
    """``state`` (``SettingsState(store_id)`` for the defaults) after ``events``."""
    for event in events:
        state = evolve(state, event)
    return state
