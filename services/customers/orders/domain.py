"""An order as the store platform pushes it: field rules, and the "latest
write by ``updated_at`` wins" decision. Plain Python.

Stream ``order:<store_id>:<order_id>``. Every ``order.recorded`` carries the
whole order, so the order's state is its stream's last event (the service
reads only the head, ``EventStore.latest_event``); an older or identical push
decides no event.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from seedwork.envelope import Actor, Envelope, NewEvent
from seedwork.errors import InvalidCommand
from seedwork.instants import parse_instant

STATUSES = ("awaiting_review", "in_progress", "completed", "delivering", "delivered", "cancelled", "returned",
            "refused")
PAYMENT_METHODS = ("cod", "mada", "credit_card", "apple_pay", "stc_pay", "bank_transfer", "wallet", "other")
CURRENCY = re.compile(r"^[A-Z]{3}\Z")
ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")
MAX_ITEMS = 500
MAX_TOTAL = Decimal("99999999999999.99")
REQUIRED = ("customer_id", "status", "created_at", "updated_at", "total", "currency", "payment_method", "items")


def _amount(name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InvalidCommand.field(name, "a decimal amount like 150.50")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidCommand.field(name, "a decimal amount like 150.50") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_TOTAL:
        raise InvalidCommand.field(name, "a decimal amount of zero or more")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidCommand.field(name, "at most two decimal places")
    return amount.quantize(Decimal("0.01"))


def _items(value: Any) -> list[dict]:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise InvalidCommand.field("items", f"a list of at most {MAX_ITEMS} items")
    items = []
    for n, item in enumerate(value):
        where = f"items[{n}]"
        if not isinstance(item, Mapping) or set(item) - {"name", "quantity", "price", "sku"}:
            raise InvalidCommand.field("items", f"{where}: an object with name, quantity, price?, sku?")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 300:
            raise InvalidCommand.field("items", f"{where}.name: 1 to 300 characters")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100000:
            raise InvalidCommand.field("items", f"{where}.quantity: an integer from 1")
        clean = {"name": name.strip(), "quantity": quantity}
        if item.get("price") is not None:
            clean["price"] = str(_amount("items", item["price"]))
        sku = item.get("sku")
        if sku is not None:
            if not isinstance(sku, str) or len(sku) > 100:
                raise InvalidCommand.field("items", f"{where}.sku: at most 100 characters")
            clean["sku"] = sku
        items.append(clean)
    return items


def clean_order(order_id: str, fields: Mapping[str, Any]) -> dict:
    """The order as the ``order.recorded`` event carries it (JSON-ready)."""
    if not isinstance(order_id, str) or not ORDER_ID.match(order_id):
        raise InvalidCommand.field("id", "1 to 100 letters, digits or _ . : -")
    missing = [name for name in REQUIRED if fields.get(name) is None]
    if missing:
        raise InvalidCommand("invalid_fields", f"{missing[0]}: required", {name: ["required"] for name in missing})
    if fields["status"] not in STATUSES:
        raise InvalidCommand.field("status", f"one of {', '.join(STATUSES)}")
    if fields["payment_method"] not in PAYMENT_METHODS:
        raise InvalidCommand.field("payment_method", f"one of {', '.join(PAYMENT_METHODS)}")
    currency = fields["currency"]
    if not isinstance(currency, str) or not CURRENCY.match(currency.upper()):
        raise InvalidCommand.field("currency", "an ISO 4217 code like SAR")
    created_at = parse_instant(fields["created_at"], "created_at")
    updated_at = parse_instant(fields["updated_at"], "updated_at")
    if updated_at < created_at:
        raise InvalidCommand.field("updated_at", "not before created_at")
    tracking_url = fields.get("tracking_url")
    if tracking_url is not None and (not isinstance(tracking_url, str) or len(tracking_url) > 2000
                                     or not re.match(r"^https?://[^\s]+\Z", tracking_url)):
        raise InvalidCommand.field("tracking_url", "an http or https URL")
    rated = fields.get("rated", False)
    if not isinstance(rated, bool):
        raise InvalidCommand.field("rated", "true or false")
    return {
        "order_id": order_id, "customer_id": str(fields["customer_id"]), "status": fields["status"],
        "created_at": created_at.isoformat(), "updated_at": updated_at.isoformat(),
        "total": str(_amount("total", fields["total"])), "currency": currency.upper(),
        "payment_method": fields["payment_method"], "items": _items(fields["items"]),
        "tracking_url": tracking_url, "rated": rated,
    }


COMPARED = ("customer_id", "status", "total", "currency", "payment_method", "items", "tracking_url", "rated")


def supersedes(new: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Whether ``new`` should replace ``current``: the latest ``updated_at``
    wins; an older update never overwrites a newer one, and the same update
    twice changes nothing."""
    if current is None:
        return True
    new_at, current_at = parse_instant(new["updated_at"]), parse_instant(current["updated_at"])
    if new_at != current_at:
        return new_at > current_at
    # Same instant, different content: the later write wins (the platform corrected itself).
    return (parse_instant(new["created_at"]) != parse_instant(current["created_at"])
            or any(new[k] != current[k] for k in COMPARED))


def stream_id(store_id: str, order_id: str) -> str:
    return f"order:{store_id}:{order_id}"


@dataclass(frozen=True)
class OrderState:
    order: Mapping[str, Any]  # as the stream's last order.recorded carries it
    version: int


@dataclass(frozen=True, kw_only=True)
class RecordOrder:
    actor: Actor
    store_id: str
    order: Mapping[str, Any]  # clean_order's result, its customer_id the card's id


def decide(state: OrderState | None, command: RecordOrder, now: datetime) -> list[NewEvent]:
    if state is not None and not supersedes(command.order, state.order):
        return []
    data = {**command.order, "previous_status": state.order["status"] if state else None}
    return [NewEvent("order.recorded", data, command.actor, command.store_id, occurred_at=now)]


def evolve(state: OrderState | None, event: Envelope) -> OrderState:
    """The order the event carries: whatever came before, it is the whole order."""
    if event.type != "order.recorded":
        raise ValueError(f"unknown event type {event.type!r} on an order's stream")
    return OrderState(dict(event.data), event.version)


def fold(events: Iterable[Envelope], state: OrderState | None = None) -> OrderState | None:
    for event in events:
        state = evolve(state, event)
    return state
