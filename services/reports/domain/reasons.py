"""Why shoppers needed help: the friction points of their journey (seed
002). Plain Python.

A ticket a shopper opened with one of the self-service flows' types ("my
order is late", "charged but no order number", a product exchange, a change
of their details), from a flow or from the help widget's form, counts under
its reason: the type, and for an exchange the reason the shopper gave
(``product_exchange:wrong_size``). Staff-opened tickets and other types
have none. ``GET /v1/reports/summary?group_by=reason`` reads them.
"""
from __future__ import annotations

from typing import Any

SELF_SERVICE_TYPES = ("order_delayed", "charged_without_order", "product_exchange", "customer_data_change")


def self_service_reasons(opened: Any) -> tuple[str, ...]:
    """The reasons of a ``ticket.opened`` (none, or one)."""
    kind = opened.data.get("type")
    if opened.actor.kind != "customer" or kind not in SELF_SERVICE_TYPES:
        return ()
    why = (opened.data.get("exchange") or {}).get("reason")
    return (f"{kind}:{why}",) if kind == "product_exchange" and why else (kind,)
