"""A store's self-service settings: their defaults, what a ``PATCH`` may
change, and the merge (docs/self-service.md, "Store settings"). Plain Python;
``services/tickets/selfservice_settings.py`` keeps them in their stream.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from seedwork.errors import InvalidCommand

from . import fields as rules
from .fields import echo
from .templates import placeholders

TEXT_MAX, TEMPLATE_ID_MAX, URL_MAX = 1000, 64, 2000

DEFAULT_SETTINGS: dict[str, Any] = {
    "enabled": False,
    "allow_attachments": True,
    "default_reply_template_id": None,
    "tracking_url_template": None,
    "texts": {
        "tracking_message": "مرحباً {customer_name}، طلبك رقم {order_id} في الطريق إليك. "
                            "تتبّع الشحنة من هنا: {tracking_url}",
        "order_details_message": "مرحباً {customer_name}، هذه تفاصيل طلبك رقم {order_id}:\n"
                                 "الحالة: {status}\nالمنتجات: {items}\nالإجمالي: {total} {currency}",
        "ticket_opened_message": "مرحباً {customer_name}، استلمنا طلبك وفتحنا لك تذكرة برقم {ticket_number}. "
                                 "سيتواصل معك فريق خدمة العملاء في أقرب وقت.",
    },
}
TEXT_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "tracking_message": frozenset({"order_id", "tracking_url", "customer_name"}),
    "order_details_message": frozenset({"order_id", "status", "total", "currency", "items", "customer_name"}),
    "ticket_opened_message": frozenset({"ticket_number", "customer_name"}),
}


def clean_settings_patch(patch: dict) -> dict:
    """A ``PATCH /v1/settings/self-service`` body, checked and normalised."""
    if not isinstance(patch, dict):
        raise InvalidCommand.field("settings", "must be an object")
    clean: dict[str, Any] = {}
    for key, value in patch.items():
        if key in ("enabled", "allow_attachments"):
            if not isinstance(value, bool):
                raise InvalidCommand.field(key, "must be true or false")
            clean[key] = value
        elif key == "default_reply_template_id":
            clean[key] = _template_id(value)
        elif key == "tracking_url_template":
            clean[key] = _url_template(value)
        elif key == "texts":
            clean[key] = _texts(value)
        else:
            raise InvalidCommand.field(echo(key), "unknown setting")
    return clean


def _template_id(value: Any) -> str | None:
    value = rules.identifier(value, "default_reply_template_id", optional=True)
    if value is not None and len(value) > TEMPLATE_ID_MAX:
        raise InvalidCommand.field("default_reply_template_id", f"must be at most {TEMPLATE_ID_MAX} characters")
    return value


def _url_template(value: Any) -> str | None:
    name = "tracking_url_template"
    if value is None:
        return None
    if (not isinstance(value, str) or len(value) > URL_MAX or not value.lower().startswith(("https://", "http://"))
            or re.search(r"\s", value) or "\x00" in value):
        raise InvalidCommand.field(name, f"must be an https:// or http:// URL without spaces (max {URL_MAX})")
    try:
        names = placeholders(value)
    except ValueError as error:
        raise InvalidCommand.field(name, str(error)) from None
    if names != {"order_id"}:
        raise InvalidCommand.field(name, "must contain {order_id} and no other placeholder")
    return value


def _texts(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidCommand.field("texts", "must be an object")
    clean = {}
    for key, text in value.items():
        name = f"texts.{echo(key)}"
        allowed = TEXT_PLACEHOLDERS.get(key)
        if allowed is None:
            raise InvalidCommand.field(name, f"unknown text; use one of {', '.join(TEXT_PLACEHOLDERS)}")
        text = rules.text(text, name, TEXT_MAX)  # masks card numbers before anything is checked or echoed
        try:
            unknown = sorted(placeholders(text) - allowed)
        except ValueError as error:
            raise InvalidCommand.field(name, str(error)) from None
        if unknown:
            raise InvalidCommand.field(name, f"unknown placeholder {{{unknown[0]}}}; use one of "
                                             f"{', '.join('{' + n + '}' for n in sorted(allowed))}")
        clean[key] = text
    return clean


def merge_settings(current: dict, patch: dict) -> tuple[dict, dict]:
    """``(settings, changes)``: ``patch`` (cleaned) applied to ``current``, texts
    key by key; ``changes`` keeps only what differs. Neither input is modified,
    and a setting missing from ``current`` (stored before it existed) is its default."""
    settings = copy.deepcopy(current)
    for key, default in DEFAULT_SETTINGS.items():
        settings.setdefault(key, copy.deepcopy(default))
    settings["texts"] = {**DEFAULT_SETTINGS["texts"], **settings["texts"]}
    changes: dict[str, Any] = {}
    for key, value in patch.items():
        if key == "texts":
            changed = {k: v for k, v in value.items() if settings["texts"].get(k) != v}
            settings["texts"].update(changed)
            if changed:
                changes["texts"] = changed
        elif settings.get(key) != value:
            settings[key] = changes[key] = value
    return settings, changes


def with_defaults(stored: dict) -> dict:
    """Settings as stored (``{}``: never changed), each setting added since
    they were written at its default, texts key by key."""
    settings = copy.deepcopy(DEFAULT_SETTINGS)
    settings.update({k: copy.deepcopy(v) for k, v in stored.items() if k != "texts"})
    settings["texts"].update(stored.get("texts", {}))
    return settings
