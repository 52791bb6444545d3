"""Through HTTP, the gateway passes the tickets service's replica of
customers on as is: staff see the customer's name, groups and block on every
ticket, the shopper only their own id (the replica itself is tested in
tests/integration/tickets/test_customer_replica.py)."""
from __future__ import annotations

import itertools
import uuid

from seedwork.bus import ConfirmingPublisher, event_message, exchange_name
from tests.integration.tickets.test_customer_replica import INTERNAL, event
from tests.support.api import ok, ticket_path
from tests.support.polling import eventually


def test_through_the_api_staff_see_the_customer_and_the_shopper_does_not(api, http_system):
    store = api.new_store()
    staff = api.new_agent(store)["token"]
    customer_id, me = api.customer_token(store)
    ticket = ok(api.post("/v1/tickets", me, json={"subject": "Charged twice", "body": "Two charges."}), 201)
    assert ticket["customer"] == {"id": customer_id}

    # Versions far above the customers service's own: where the system runs it,
    # whatever it publishes about this card cannot overtake these.
    versions = itertools.count(1000)
    group_id = str(uuid.uuid4())
    publisher = ConfirmingPublisher(http_system.env["AMQP_URI"])
    try:
        events = [
            event("customer.updated", customer_id, next(versions), store.id, customer_id=customer_id,
                  changes={"name": "Huda", "mobile": "+966501234567"}),
            event("customer.blocked", customer_id, next(versions), store.id, customer_id=customer_id,
                  reason="abusive_language", details=None),
            event("customer_group.members_added", group_id, 2, store.id, group_id=group_id, name="Wholesale",
                  customer_ids=[customer_id]),
        ]
        publisher.publish([(exchange_name("seed", "customers"), e.type, event_message(e, "customers"))
                           for e in events])
    finally:
        publisher.close()

    seen = eventually(lambda: ok(api.get(ticket_path(ticket), staff))["customer"],
                      lambda c: c["name"] == "Huda" and c["groups"] and c["blocked"], 20, "the replicated customer")
    assert seen == {"id": customer_id, "name": "Huda", "groups": [{"id": group_id, "name": "Wholesale"}],
                    "blocked": True, "block_reason": "abusive_language", "flagged": False}
    assert ok(api.get("/v1/tickets", staff))["items"][0]["customer"] == seen

    mine = ok(api.get(ticket_path(ticket), me))
    assert mine["customer"] == {"id": customer_id}
    assert not INTERNAL & mine["customer"].keys()
    assert ok(api.get("/v1/tickets", me))["items"][0]["customer"] == {"id": customer_id}
