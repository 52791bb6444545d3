"""The shopper's self-service flows: store settings, message templates and the
decisions of each flow (docs/self-service.md). Plain Python: the gateway
fetches the order and the settings, the tickets service calls these.

Templates use ``{name}`` placeholders with ``{{`` and ``}}`` for literal
braces. They are filled by a small parser of our own, never ``str.format``:
a stored text must not reach attributes or indexes of the values.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from seedwork.cards import redact_card_numbers
from seedwork.errors import Conflict, InvalidCommand
from services.tickets import commands

AUTO_TICKET_AGE = timedelta(hours=48)
PAYMENT_METHODS = ("mada", "credit_card", "apple_pay", "stc_pay", "bank_transfer", "wallet", "other")
EXCHANGE_REASONS = ("damaged", "wrong_item", "wrong_size", "not_as_described", "changed_mind", "other")
DATA_CHANGE_FIELDS = ("name", "email", "mobile", "city")
OUTCOMES = ("track_order", "ticket_opened", "ticket_available", "ticket_exists", "order_details",
            "order_in_progress", "order_cancelled", "order_returned")

TEXT_MAX, TEMPLATE_ID_MAX, URL_MAX, PREFERRED_MAX, DETAILS_MAX, DATA_VALUE_MAX = 1000, 64, 2000, 300, 5000, 200

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

# Optional wording for the caller: {status} in Arabic, and what {tracking_url}
# says when an order has no link ("the message then says so").
STATUS_LABELS = {
    "awaiting_review": "بانتظار المراجعة", "in_progress": "قيد التنفيذ", "completed": "تم التجهيز",
    "delivering": "جارٍ التوصيل", "delivered": "تم التوصيل", "cancelled": "ملغي", "refused": "مرفوض",
    "returned": "مسترجع",
}
NO_TRACKING_URL = "رابط التتبّع غير متوفر بعد، وسنرسله لك فور توفره"


# --- templates ----------------------------------------------------------------------

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[a-z_]+\Z")


def _parse(template: str, strict: bool) -> list[tuple[bool, str]]:
    """``template`` as ``(is_placeholder, text)`` parts. Malformed braces raise
    ``ValueError`` when ``strict``, else stay as they are. Messages never echo
    the bad token: it could hold a card number."""
    parts, cursor = [], 0
    for match in _TOKEN.finditer(template):
        parts.append((False, template[cursor:match.start()]))
        cursor = match.end()
        token, name = match.group(), match.group(1)
        where = f"at character {match.start() + 1}"
        if token in ("{{", "}}"):
            parts.append((False, token[0]))
        elif name is not None and _NAME.match(name):
            parts.append((True, name))
        elif not strict:
            parts.append((False, token))
        elif name == "":
            raise ValueError(f"empty placeholder {{}} {where}; write {{{{ and }}}} for literal braces")
        elif name is not None:
            raise ValueError(f"a placeholder {where} is not lowercase letters and _; "
                             f"write {{{{ and }}}} for literal braces")
        else:
            raise ValueError(f"unbalanced {token} {where}; write {token * 2} for a literal brace")
    parts.append((False, template[cursor:]))
    return parts


def placeholders(template: str) -> set[str]:
    """The names in ``template``; ``ValueError`` (readable) when it is malformed."""
    return {text for is_name, text in _parse(template, strict=True) if is_name}


def render(template: str, values: dict[str, object]) -> str:
    """``template`` filled from ``values``; a missing or ``None`` value is ""."""
    return "".join(_shown(values.get(text)) if is_name else text for is_name, text in _parse(template, strict=False))


def _shown(value: object) -> str:
    return "" if value is None else str(value)


def _echo(key: object) -> str:
    """A caller's key, safe to repeat in an error: card numbers masked, length capped."""
    return redact_card_numbers(str(key))[:60]


# --- settings -----------------------------------------------------------------------


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
            raise InvalidCommand.field(_echo(key), "unknown setting")
    return clean


def _template_id(value: Any) -> str | None:
    value = commands.identifier(value, "default_reply_template_id", optional=True)
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
        name = f"texts.{_echo(key)}"
        allowed = TEXT_PLACEHOLDERS.get(key)
        if allowed is None:
            raise InvalidCommand.field(name, f"unknown text; use one of {', '.join(TEXT_PLACEHOLDERS)}")
        text = commands.text(text, name, TEXT_MAX)  # masks card numbers before anything is checked or echoed
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


# --- my order is late ---------------------------------------------------------------


@dataclass(frozen=True)
class DelayedOrderDecision:
    outcome: str
    opens_ticket: bool
    ticket_status: str | None
    shares: str | None  # "tracking" | "details" | None


_TRACK = DelayedOrderDecision("track_order", False, None, "tracking")
_AVAILABLE = DelayedOrderDecision("ticket_available", False, None, None)


def decide_delayed_order(order: dict, now: datetime, open_ticket: bool) -> DelayedOrderDecision:
    """The table of docs/self-service.md; "old" means ``age >= 48h``."""
    if now.tzinfo is None:  # naive minus aware would fail with a less helpful message
        raise ValueError("now must be timezone-aware")
    status = order.get("status")
    old = now - _moment(order["created_at"], "created_at") >= AUTO_TICKET_AGE
    if status in ("delivering", "completed"):
        return DelayedOrderDecision("ticket_opened", True, "open", "tracking") if old else _TRACK
    if status == "awaiting_review":
        if not old:
            return _TRACK
        return DelayedOrderDecision("ticket_opened", True, "under_review", None) if open_ticket else _AVAILABLE
    if status == "in_progress":
        if not old:
            return DelayedOrderDecision("order_in_progress", False, None, None)
        return DelayedOrderDecision("ticket_opened", True, "open", None) if open_ticket else _AVAILABLE
    if status == "delivered":
        return DelayedOrderDecision("order_details", False, None, "details")
    if status in ("cancelled", "refused"):
        return DelayedOrderDecision("order_cancelled", False, None, None)
    if status == "returned":
        return DelayedOrderDecision("order_returned", False, None, None)
    raise ValueError(f"unknown order status {status!r}")


def _moment(value: Any, name: str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"order {name} has no UTC offset")
    return moment


def tracking_url(order: dict, settings: dict) -> str | None:
    """The order's own link, else the store's template filled with its id, else ``None``."""
    if order.get("tracking_url"):
        return order["tracking_url"]
    template = settings.get("tracking_url_template")
    if not template:
        return None
    return render(template, {"order_id": quote(str(order["id"]), safe="")})


def order_summary(order: dict) -> dict:
    """The order as its shopper may see it (no customer id, no internal fields)."""
    created_at = order.get("created_at")
    return {
        "id": order["id"], "status": order.get("status"),
        "created_at": created_at.isoformat() if isinstance(created_at, datetime) else created_at,
        "total": order.get("total"), "currency": order.get("currency"),
        "payment_method": order.get("payment_method"),
        "items": [{k: item[k] for k in ("name", "quantity", "price", "sku") if item.get(k) is not None}
                  for item in order.get("items") or []],
        "tracking_url": order.get("tracking_url"),
    }


def items_text(order: dict) -> str:
    """The ``{items}`` of a message: "2 × قميص أزرق، 1 × حزام"."""
    return "، ".join(f"{item.get('quantity', 1)} × {item['name']}" for item in order.get("items") or [])


# --- charged without an order number --------------------------------------------------

_LAST4 = re.compile(r"^[0-9]{4}\Z")


def clean_charged(fields: dict) -> dict:
    method = fields.get("payment_method")
    if not isinstance(method, str) or method not in PAYMENT_METHODS:
        raise InvalidCommand.field("payment_method", f"must be one of {', '.join(PAYMENT_METHODS)}")
    last4 = fields.get("card_last4")
    # Never echoed in the error: what was sent may be a full card number.
    if not isinstance(last4, str) or not _LAST4.match(last4):
        raise InvalidCommand.field("card_last4", "exactly the last 4 digits of the card")
    return {"payment_method": method, "card_last4": last4,
            "details": commands.text(fields.get("details"), "details", DETAILS_MAX)}


def charged_subject(method: str) -> str:
    # The card's last digits stay out of the subject: the store sees the
    # subject in its list, while the payment details are the platform's.
    return f"Charged without an order number ({method})"


def expected_contact_by(opened_at: datetime, days: int) -> datetime:
    """When the platform's review team will have answered (``PLATFORM_REVIEW_DAYS``)."""
    return opened_at + timedelta(days=days)


# --- product exchange -----------------------------------------------------------------


def clean_exchange(order: dict, fields: dict) -> dict:
    if order.get("status") != "delivered":
        raise Conflict("order_not_delivered", "only a delivered order can be exchanged",
                       {"order_id": [f"the order is {order.get('status')}, not delivered"]})
    wanted = fields.get("item")
    item = _find_item(order, wanted.strip()) if isinstance(wanted, str) and wanted.strip() else None
    if item is None:
        raise InvalidCommand.field("item", "not an item of this order")
    reason = fields.get("reason")
    if not isinstance(reason, str) or reason not in EXCHANGE_REASONS:
        raise InvalidCommand.field("reason", f"must be one of {', '.join(EXCHANGE_REASONS)}")
    return {
        "order_id": order["id"],
        "item": {"name": item["name"], "sku": item.get("sku"), "quantity": item.get("quantity")},
        "reason": reason,
        "preferred_replacement": commands.text(fields.get("preferred_replacement"), "preferred_replacement",
                                               PREFERRED_MAX, optional=True),
    }


def _find_item(order: dict, wanted: str) -> dict | None:
    items = order.get("items") or []
    # A sku names one product exactly; names are the fallback a shopper can type.
    for item in items:
        if item.get("sku") and item["sku"] == wanted:
            return item
    for item in items:
        if str(item.get("name", "")).strip() == wanted:
            return item
    return None


# --- customer data change -------------------------------------------------------------


def clean_data_change(fields: dict) -> dict:
    changes = fields.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise InvalidCommand.field("changes", f"must be an object with at least one of {', '.join(DATA_CHANGE_FIELDS)}")
    for key in changes:
        if key not in DATA_CHANGE_FIELDS:
            raise InvalidCommand.field("changes", f"unknown field {_echo(key)!r}; use {', '.join(DATA_CHANGE_FIELDS)}")
    return {key: commands.text(changes[key], f"changes.{key}", DATA_VALUE_MAX)
            for key in DATA_CHANGE_FIELDS if key in changes}
