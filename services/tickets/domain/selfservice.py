"""The shopper's self-service flows (docs/self-service.md): who may use
them, and each flow's decision and wording. Plain Python: the gateway
fetches the order and the shopper's standing, ``selfservice_flows.py`` loads
the store's settings, calls these and opens the ticket or records the answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from seedwork.errors import Conflict, InvalidCommand, NotFound
from seedwork.instants import parse_instant

from . import fields as rules
from .fields import echo
from .templates import render

AUTO_TICKET_AGE = timedelta(hours=48)
PAYMENT_METHODS = ("mada", "credit_card", "apple_pay", "stc_pay", "bank_transfer", "wallet", "other")
EXCHANGE_REASONS = ("damaged", "wrong_item", "wrong_size", "not_as_described", "changed_mind", "other")
DATA_CHANGE_FIELDS = ("name", "email", "mobile", "city")
OUTCOMES = ("track_order", "ticket_opened", "ticket_available", "ticket_exists", "order_details",
            "order_in_progress", "order_cancelled", "order_returned")

PREFERRED_MAX, DETAILS_MAX, DATA_VALUE_MAX = 300, 5000, 200

# Optional wording for the caller: {status} in Arabic, and what {tracking_url}
# says when an order has no link ("the message then says so").
STATUS_LABELS = {
    "awaiting_review": "بانتظار المراجعة", "in_progress": "قيد التنفيذ", "completed": "تم التجهيز",
    "delivering": "جارٍ التوصيل", "delivered": "تم التوصيل", "cancelled": "ملغي", "refused": "مرفوض",
    "returned": "مسترجع",
}
NO_TRACKING_URL = "رابط التتبّع غير متوفر بعد، وسنرسله لك فور توفره"


UNKNOWN_NAME = "عميلنا العزيز"  # a shopper the replica has not heard of yet is greeted all the same

# What the shopper is told when nothing is sent (fixed wording; the store's
# own texts cover what is sent).
OUTCOME_MESSAGES = {
    "ticket_available": "مضى على طلبك أكثر من 48 ساعة وهو بانتظار مراجعة المتجر. يمكنك فتح تذكرة "
                        "مع التفاصيل ليتحقق التاجر منه.",
    "order_in_progress": "طلبك قيد التنفيذ لدى المتجر، وسيصلك رابط التتبّع عند شحنه.",
    "order_cancelled": "هذا الطلب ملغي. إن خُصم منك مبلغ فسيُعاد إلى وسيلة الدفع نفسها.",
    "order_returned": "هذا الطلب مسترجع. إن كان لك مبلغ مستحق فسيُعاد إلى وسيلة الدفع نفسها.",
}
CHARGED_MESSAGE = ("تم إنشاء التذكرة بنجاح (رقم {ticket_number}) وستصل إلى فريق مراجعة المدفوعات في المنصة، "
                   "وسيتم التواصل معك خلال {days} أيام.")


# --- who may use a flow ---------------------------------------------------------------


def check_may_use(settings: dict) -> None:
    """The store's switch: every flow waits for the store to turn self-service on."""
    if not settings["enabled"]:
        raise Conflict("self_service_disabled", "this store has not turned self-service on",
                       {"enabled": ["the store's self-service setting is off"]})


def shoppers_order(order: dict | None, customer_id: str | None, order_id: Any) -> dict:
    """The order a flow is about: one the gateway found, of this shopper.
    Another shopper's order is answered as an unknown one."""
    if order is None:
        raise NotFound("order_not_found", f"no order {order_id}")
    if str(order.get("customer_id")) != str(customer_id):
        raise NotFound("order_not_found", f"no order {order.get('id')}")
    return order


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
    try:
        return parse_instant(value, f"order {name}")
    except InvalidCommand:
        # The gateway passes the customers service's order: a bug, not the shopper's input.
        raise ValueError(f"order {name} is not a date-time with a UTC offset: {value!r}") from None


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
            "details": rules.text(fields.get("details"), "details", DETAILS_MAX)}


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
        "preferred_replacement": rules.text(fields.get("preferred_replacement"), "preferred_replacement",
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
            raise InvalidCommand.field("changes", f"unknown field {echo(key)!r}; use {', '.join(DATA_CHANGE_FIELDS)}")
    return {key: rules.text(changes[key], f"changes.{key}", DATA_VALUE_MAX)
            for key in DATA_CHANGE_FIELDS if key in changes}


# --- the tickets the flows open, and what the shopper is told ----------------------------


def charged_ticket(clean: dict) -> dict:
    """The ticket of ``clean_charged``'s answer: the platform's review team handles it."""
    return {"subject": charged_subject(clean["payment_method"]), "body": clean["details"],
            "type": "charged_without_order", "handled_by": "platform",
            "flow": {"payment": {"method": clean["payment_method"], "card_last4": clean["card_last4"]}}}


def delayed_ticket(order: dict, details: str | None, decision: DelayedOrderDecision) -> dict:
    status = STATUS_LABELS.get(order["status"], order["status"])
    return {"subject": f"تأخر الطلب رقم {order['id']}",
            "body": details or f"طلبي رقم {order['id']} متأخر (حالته: {status}).",
            "type": "order_delayed", "order_id": order["id"], "initial_status": decision.ticket_status}


def exchange_ticket(order: dict, details: str | None, exchange: dict) -> dict:
    item = exchange["item"]["name"]
    return {"subject": f"استبدال منتج: {item}"[:150] + f" (الطلب {order['id']})",
            "body": details or f"أرغب في استبدال «{item}» من الطلب رقم {order['id']}.",
            "type": "product_exchange", "order_id": order["id"], "flow": {"exchange": exchange}}


def data_change_ticket(changes: dict, details: str | None) -> dict:
    return {"subject": "تعديل بيانات العميل: " + "، ".join(changes),
            "body": details or "أرجو تعديل بياناتي كما في الطلب.",
            "type": "customer_data_change", "flow": {"data_change": {"fields": changes}}}


def tracking_message(settings: dict, order: dict, name: str, url: str | None) -> str:
    return render(settings["texts"]["tracking_message"], {
        "order_id": order["id"], "customer_name": name, "tracking_url": url or NO_TRACKING_URL})


def order_details_message(settings: dict, order: dict, name: str) -> str:
    return render(settings["texts"]["order_details_message"], {
        "order_id": order["id"], "customer_name": name, "total": order["total"], "currency": order["currency"],
        "items": items_text(order), "status": STATUS_LABELS.get(order["status"], order["status"])})


def ticket_opened_message(settings: dict, number: int, name: str) -> str:
    return render(settings["texts"]["ticket_opened_message"], {"ticket_number": number, "customer_name": name})


def charged_message(number: int, days: int) -> str:
    return render(CHARGED_MESSAGE, {"ticket_number": number, "days": days})
