"""Stand-ins for the tickets service, as the notifications service asks it
over RPC. The rule of what a store sees of a ticket the platform handles is
the tickets service's (services/tickets/domain/policy.py, tested there); this
stand-in answers the cases these tests send."""
from __future__ import annotations

STORE_SEES_OF_AN_OPENING = ("ticket_id", "number", "customer_id", "type", "handled_by")


class FakeTickets:
    """``ticket_basics`` (what it was told, else None) and ``store_view_of_event``."""

    def __init__(self):
        self.known: dict[tuple[str, str], dict] = {}
        self.asked: list[tuple[str, str]] = []
        self.views: list[str] = []

    def ticket_basics(self, store_id: str, ticket_id: str) -> dict | None:
        self.asked.append((store_id, ticket_id))
        return self.known.get((store_id, ticket_id))

    def store_view_of_event(self, cloudevent: dict) -> dict | None:
        self.views.append(cloudevent["type"])
        if cloudevent["type"] == "ticket.status_changed":
            return cloudevent
        if cloudevent["type"] == "ticket.opened":
            return {**cloudevent, "data": {k: v for k, v in cloudevent["data"].items()
                                           if k in STORE_SEES_OF_AN_OPENING}}
        return None
