"""Contact topics: what a shopper picks when they ask for help ("Customer
service", "Technical support"; PrestaShop's "contacts"), each with a name
per locale, an optional description, support email and handling team
(docs/agent-operations.md, "Contact topics"). Plain Python; the stream and
the table are ``services/tickets/topics.py``.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from seedwork.errors import InvalidCommand

from . import fields as rules
from .fields import echo

# A language, and optionally a region or script: ar, en, fa, fr, en-US, zh-Hant.
LOCALE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
NAME_MAX, DESCRIPTION_MAX, EMAIL_MAX = 100, 1000, 254
MAX_LOCALES = 20
POSITION_MAX = 10_000
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
FIELDS = ("names", "descriptions", "team_id", "email", "position")
DEFAULTS: dict[str, Any] = {"descriptions": {}, "team_id": None, "email": None, "position": 0}
# What a shopper's help widget shows of a topic: not which team answers it.
SHOPPER_FIELDS = ("id", "names", "descriptions", "email", "position")
EVENT_TYPES = ("topic.created", "topic.updated", "topic.deleted")


def clean_topic(sent: Any, partial: bool = False) -> dict[str, Any]:
    """A topic's fields checked; with ``partial`` (a PATCH) only the keys sent,
    at least one. ``names`` and ``descriptions`` are replaced whole. That a
    ``team_id`` names a team of the store is the service layer's check, and
    that descriptions are in the names' locales is ``merge``'s."""
    if not isinstance(sent, dict):
        raise InvalidCommand.field("body", "must be an object")
    for key in sent:
        if key not in FIELDS:
            raise InvalidCommand.field(echo(key), "unknown field")
    if partial and not sent:
        raise InvalidCommand("invalid_fields", "send at least one of " + ", ".join(FIELDS),
                             {name: ["send at least one of these"] for name in FIELDS})
    clean: dict[str, Any] = {}
    if "names" in sent or not partial:
        clean["names"] = localized(sent.get("names"), "names", NAME_MAX, one_line=True, required=True)
    if "descriptions" in sent:
        clean["descriptions"] = localized(sent["descriptions"], "descriptions", DESCRIPTION_MAX)
    if "team_id" in sent:
        clean["team_id"] = rules.identifier(sent["team_id"], "team_id", optional=True)
    if "email" in sent:
        clean["email"] = email(sent["email"])
    if "position" in sent:
        clean["position"] = position(sent["position"])
    return clean if partial else {**DEFAULTS, **clean}


def locale(value: Any, name: str) -> str:
    if not isinstance(value, str) or not LOCALE.fullmatch(value):
        raise InvalidCommand.field(name, f"{echo(value)!r} is not a locale such as ar, en or en-US")
    return value


def localized(value: Any, name: str, max_len: int, *, one_line: bool = False, required: bool = False) -> dict:
    """``{locale: text}``: texts stripped, 1..max_len characters; ``None`` is none."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise InvalidCommand.field(name, "must be an object of texts by locale, e.g. {\"ar\": ..., \"en\": ...}")
    if required and not value:
        raise InvalidCommand.field(name, "give at least one locale")
    if len(value) > MAX_LOCALES:
        raise InvalidCommand.field(name, f"at most {MAX_LOCALES} locales")
    clean = {}
    for key, text in value.items():
        key = locale(key, name)
        clean[key] = rules.text(text, name, max_len)
        if one_line and ("\n" in clean[key] or "\r" in clean[key]):
            raise InvalidCommand.field(name, "each must be one line")
    return dict(sorted(clean.items()))


def email(value: Any) -> str | None:
    """A support address, or None. The domain is lower-cased; the rest is kept."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCommand.field("email", "must be an email address")
    value = value.strip()
    if len(value) > EMAIL_MAX or not EMAIL.fullmatch(value):
        raise InvalidCommand.field("email", "must be an email address such as help@example.com")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= POSITION_MAX:
        raise InvalidCommand.field("position", f"must be an integer from 0 to {POSITION_MAX}")
    return value


def merge(topic: dict[str, Any], clean: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(fields after the change, what changed)``; descriptions must be in
    locales the names have (else 422 naming ``descriptions``)."""
    merged = {key: clean.get(key, topic.get(key, DEFAULTS.get(key))) for key in FIELDS}
    check_locales(merged)
    return merged, {key: merged[key] for key in FIELDS if merged[key] != topic.get(key, DEFAULTS.get(key))}


def check_locales(topic: dict[str, Any]) -> None:
    extra = sorted(set(topic["descriptions"]) - set(topic["names"]))
    if extra:
        raise InvalidCommand.field("descriptions", f"no name in {', '.join(extra)}: give names in every locale "
                                                   "that has a description")


def shopper_view(topic: dict[str, Any]) -> dict[str, Any]:
    return {key: topic[key] for key in SHOPPER_FIELDS}


# --- the topic as the fold of its events -----------------------------------------------------


def evolve(topic: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """The topic after one stored event (None once deleted)."""
    d = event.data
    if event.type == "topic.created":
        if topic is not None:
            raise ValueError(f"topic {topic['id']} is already created")
        return {"id": d["topic_id"], "store_id": event.store_id, **{k: d.get(k, DEFAULTS.get(k)) for k in FIELDS},
                "version": event.version, "created_at": event.occurred_at, "updated_at": event.occurred_at}
    if event.type not in EVENT_TYPES:
        raise ValueError(f"unknown topic event type {event.type!r}")
    if topic is None:
        raise ValueError(f"{event.type} of a topic that does not exist")
    if event.type == "topic.deleted":
        return None
    return {**topic, **{k: d[k] for k in FIELDS if k in d}, "version": event.version, "updated_at": event.occurred_at}


def fold(events: Iterable[Any], topic: dict[str, Any] | None = None) -> dict[str, Any] | None:
    for event in events:
        topic = evolve(topic, event)
    return topic
