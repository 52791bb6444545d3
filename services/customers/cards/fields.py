"""What a customer card accepts, field by field. Plain Python.

The rules live here, so the HTTP API, the CSV import and any future channel
refuse the same input with the same message. ``text`` is also the rule of a
direct message's body and subject (``outreach/domain.py``).
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Mapping

from seedwork.cards import redact_card_numbers
from seedwork.errors import InvalidCommand

from ..normalise import normalise_mobile

BLOCK_REASONS = ("non_serious_orders", "abusive_language", "fraud_suspicion", "other")
GENDERS = ("male", "female")
PROFILE_FIELDS = ("name", "mobile", "email", "city", "gender", "birthday", "notes")
LIMITS = {"name": 200, "city": 100, "notes": 2000, "details": 1000, "email": 254}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
# Control characters other than tab and newline never belong in a card.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
OLDEST_BIRTHDAY = date(1900, 1, 1)
# The free text a customers event may carry (in ``data``, or in ``data["changes"]``): card
# numbers are masked in it before it is stored (``text``), and again by the feed in older events.
FREE_TEXT = ("name", "previous_name", "city", "notes", "details", "body", "subject", "customer_name", "note")


def text(name: str, value: Any, required: bool, limit: int, multiline: bool = False, masked: bool = True) -> str | None:
    """Trimmed text (runs of spaces folded unless ``multiline``); empty is ``None``.
    A payment card number in it is masked to ``•••• •••• •••• 1234`` (not in codes: ``masked=False``):
    the gateway masks what it receives as JSON, and this also covers the CSV import."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidCommand.field(name, "required")
        return None
    if not isinstance(value, str):
        raise InvalidCommand.field(name, "must be text")
    value = (redact_card_numbers(value) if masked else value).strip()
    if not multiline:
        value = " ".join(value.split())
    if CONTROL.search(value):
        raise InvalidCommand.field(name, "must not contain control characters")
    if len(value) > limit:
        raise InvalidCommand.field(name, f"at most {limit} characters")
    return value


def _email(value: Any) -> str | None:
    value = text("email", value, False, LIMITS["email"], masked=False)
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
        return text("name", value, True, LIMITS["name"])
    if name == "mobile":
        if value is None:
            raise InvalidCommand.field("mobile", "required")
        return normalise_mobile(value, default_region)
    if name == "email":
        return _email(value)
    if name == "city":
        return text("city", value, False, LIMITS["city"])
    if name == "gender":
        return _gender(value)
    if name == "birthday":
        return _birthday(value, today)
    if name == "notes":
        return text("notes", value, False, LIMITS["notes"], multiline=True)
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


def block_details(value: Any, reason: str) -> str | None:
    """Why, in the staff's words: required when the reason is ``other``."""
    return text("details", value, reason == "other", LIMITS["details"], multiline=True)


def without_card_numbers(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """An event's ``data`` with card numbers masked in its free text: what the
    feed shows of events stored before ``text`` masked them (the same object
    when there was nothing to mask)."""
    def masked(fields: Mapping[str, Any]) -> dict:
        return {k: redact_card_numbers(v) if k in FREE_TEXT and isinstance(v, str) else v for k, v in fields.items()}
    shown = masked(data)
    if isinstance(data.get("changes"), Mapping):
        shown["changes"] = masked(data["changes"])
    return data if shown == data else shown
