"""What the store's webhooks may get of an event (Notifications.as_the_store_sees):
its own events as they are; of a ticket the platform handles, what the
tickets service says (asked only then). Later events of such a ticket read
the replica: tests/integration/notifications/test_dispatch.py."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

from seedwork.envelope import Actor, Envelope, to_cloudevent
from services.notifications.application import Notifications

SHOPPER = Actor("customer", "cu-1")


def envelope(event_type: str, data: dict, stream_id: str = "t-1") -> Envelope:
    return Envelope(uuid.uuid4(), event_type, 1, stream_id, 1, 1 << 20, "st_1", SHOPPER, None, None,
                    datetime(2026, 1, 2, 9, 0, tzinfo=timezone.utc), data)


class Tickets:
    """The tickets service's ``store_view_of_event``: records what it is asked."""

    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def __call__(self, cloudevent: dict) -> dict | None:
        self.asked.append(cloudevent)
        return self.answer


def notifications() -> Notifications:
    return Notifications(SimpleNamespace(schema="t_unit", pool=None))  # these cases read no table


def test_a_stores_own_ticket_is_seen_as_it_is_and_the_tickets_service_is_not_asked():
    opened = envelope("ticket.opened", {"ticket_id": "t-1", "handled_by": "store", "message": {"body": "hi"}})
    tickets = Tickets(answer=None)
    assert notifications().as_the_store_sees(opened, "tickets", tickets) == to_cloudevent(opened, "tickets")
    assert tickets.asked == []


def test_the_opening_of_a_ticket_the_platform_handles_is_what_the_tickets_service_says():
    opened = envelope("ticket.opened", {"ticket_id": "t-1", "handled_by": "platform",
                                        "payment": {"method": "mada", "card_last4": "1234"}})
    trimmed = {"id": str(opened.event_id), "data": {"ticket_id": "t-1"}}
    tickets = Tickets(answer=trimmed)
    assert notifications().as_the_store_sees(opened, "tickets", tickets) is trimmed
    assert tickets.asked == [to_cloudevent(opened, "tickets")]


def test_events_of_other_services_are_seen_as_they_are():
    created = envelope("customer.created", {"customer_id": "cu-1", "name": "نورة"}, stream_id="cu-1")
    tickets = Tickets(answer=None)
    assert notifications().as_the_store_sees(created, "customers", tickets) == to_cloudevent(created, "customers")
    assert tickets.asked == []
