"""The orders snapshot the store platform pushes: field rules and the
"latest write by updated_at wins" decision. Plain Python."""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from seedwork.errors import InvalidCommand

STATUSES = ("awaiting_review", "in_progress", "completed", "delivering", "delivered", "cancelled", "returned",
            "refused")
PAYMENT_METHODS = ("cod", "mada", "credit_card", "apple_pay", "stc_pay", "bank_transfer", "wallet", "other")
CURRENCY = re.compile(r"^[A-Z]{3}\Z")
ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")
MAX_ITEMS = 500
MAX_TOTAL = Decimal("99999999999999.99")
REQUIRED = ("customer_id", "status", "created_at", "updated_at", "total", "currency", "payment_method", "items")


def moment(name: str, value: Any, error: type[InvalidCommand] = InvalidCommand) -> datetime:
    """An ISO 8601 date-time with a UTC offset; ``error`` names the field
    (``InvalidQuery`` for list filters, a 400; ``InvalidCommand`` for bodies, a 422)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise error.field(name, "an ISO 8601 date-time with a UTC offset") from None
    if parsed.tzinfo is None:
        raise error.field(name, "an ISO 8601 date-time with a UTC offset")
    return parsed


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
    created_at = moment("created_at", fields["created_at"])
    updated_at = moment("updated_at", fields["updated_at"])
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


def supersedes(new: dict, current: dict | None) -> bool:
    """Whether ``new`` should replace ``current``: the latest ``updated_at``
    wins; an older update never overwrites a newer one, and the same update
    twice changes nothing."""
    if current is None:
        return True
    new_at, current_at = datetime.fromisoformat(new["updated_at"]), datetime.fromisoformat(current["updated_at"])
    if new_at != current_at:
        return new_at > current_at
    comparable = ("customer_id", "status", "created_at", "total", "currency", "payment_method", "items",
                  "tracking_url", "rated")
    # Same instant, different content: the later write wins (the platform corrected itself).
    return any(_same(new[k]) != _same(current[k]) for k in comparable)


def _same(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value
