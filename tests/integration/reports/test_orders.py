"""The products of a ticket's order, heard from the customers service
before or after the ticket: the ticket counts under each product either way."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from seedwork.caller import Caller
from seedwork.envelope import Actor, Envelope

from .conftest import once_for, reports_on
from .test_projection import every_event


def order_recorded(store_id: str, order_id: str, items: list[dict], at, version: int = 1) -> Envelope:
    return Envelope(event_id=uuid.uuid4(), type="order.recorded", schema_version=1,
                    stream_id=f"order:{store_id}:{order_id}", version=version, position=version, store_id=store_id,
                    actor=Actor("agent", "ow_1"), correlation_id=None, causation_id=None, occurred_at=at,
                    data={"order_id": order_id, "customer_id": "cu_1", "status": "delivered",
                          "previous_status": None, "created_at": at.isoformat(), "updated_at": at.isoformat(),
                          "total": "10.00", "currency": "SAR", "payment_method": "mada", "items": items,
                          "tracking_url": None, "rated": False})


@pytest.mark.parametrize("order_first", [True, False])
def test_a_ticket_counts_under_its_orders_products_whichever_is_heard_first(pool, tickets, clock, reports_schema,
                                                                            order_first):
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    owner = Caller("agent", "ow_1", store_id, "owner")
    shopper = Caller("customer", "cu_1", store_id, "customer")
    tickets.writes.open(shopper, {"subject": "Broken bottle", "body": "The perfume broke", "order_id": "o-1"})
    reports = reports_on(pool, reports_schema, clock)
    order = order_recorded(store_id, "o-1", [{"name": "Oud", "sku": "OUD-50", "quantity": 1},
                                             {"name": "Dates", "quantity": 2}], clock.now - timedelta(days=1))
    ticket_events = every_event(tickets)
    heard = [order, *ticket_events] if order_first else [*ticket_events, order]
    for event in heard:
        source = "customers" if event.type == "order.recorded" else "tickets"
        reports.hear(event, source, once_for(reports, f"reports.{source}"))

    period = {"from": (clock.now - timedelta(days=2)).date().isoformat(), "to": clock.now.date().isoformat()}
    by_product = {i["key"]: i for i in reports.summary(owner, {**period, "group_by": "product"})["items"]}
    assert set(by_product) == {"OUD-50", "Dates"} and by_product["Dates"]["created"] == 1
    products = reports.products(owner, period)["items"]
    assert {(p["product"], p["tickets"], p["orders"]) for p in products} == {("OUD-50", 1, 1), ("Dates", 1, 1)}
