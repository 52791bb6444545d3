"""Who a delivery goes to, and what its template sees, found when it is sent.

A delivery names its recipient by reference (``customer:<id>``,
``ticket_assignee:<ticket id>``, ...: see ``planning``). Events from other
services arrive in any order, so the reference is resolved only now, from
the replicas: the address known by the time of sending is the one that
counts. A recipient not heard of yet is ``Waiting`` (tried again later);
one without an address is a ``Skip``.
"""
from __future__ import annotations

from typing import Any

from .planning import STAFF_GROUP, staff_of_ticket
from .replicas import Replicas


class Waiting(Exception):
    """The recipient is not known yet: try again later."""


class Skip(Exception):
    """Nothing to send: the delivery ends with ``status`` and ``reason``."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


# Every variable some kind's template names: absent ones arrive as None.
CONTEXT_KEYS = ("body", "tracking_url", "order", "order_id", "link", "message", "subject", "order_ids", "team",
                "alert", "target", "due_at", "time_zone", "note", "messages", "left_out")


class Recipients:
    def __init__(self, schema: str):
        self.replicas = Replicas(schema)

    def resolve(self, conn, delivery: dict, settings: dict) -> tuple[str, str | None, dict]:
        """(address, customer id, names) for the delivery's recipient reference."""
        ref_kind, _, ref = delivery["recipient_ref"].partition(":")
        store_id, field = delivery["store_id"], ("email" if delivery["channel"] == "email" else "mobile")
        people: dict[str, Any] = {}
        if ref_kind == "ticket_customer":
            ref_kind, ref = "customer", self._ticket(conn, ref, with_customer=True)["customer_id"]
        if ref_kind == "customer":
            contact = self._known(self.replicas.contact(conn, store_id, ref))
            people["customer_name"] = contact["name"]
            return _present(contact[field]), ref, people
        if ref_kind == "ticket_assignee":
            ticket = self._ticket(conn, ref)
            if ticket["customer_id"]:
                contact = self.replicas.contact(conn, store_id, ticket["customer_id"])
                people["customer_name"] = contact and contact["name"]
            if ticket["assignee_id"] is None:
                return _present(settings["support_email"]), ticket["customer_id"], people
            ref_kind, ref = "agent", ticket["assignee_id"]
        if ref_kind == "agent":
            agent = self._known(self.replicas.agent(conn, store_id, ref))
            people["agent_name"] = agent["name"]
            return _present(agent["email"]), delivery["customer_id"], people
        if ref_kind == "address":
            people["customer_name"] = delivery["context"].get("customer_name")
            return _present(ref), delivery["customer_id"], people
        if ref_kind == "store_support":
            return _present(settings["support_email"]), None, people
        raise ValueError(f"unknown recipient reference {delivery['recipient_ref']!r}")

    def staff(self, conn, group: dict) -> list[str]:
        """The references a group delivery (``ticket_staff:<ticket id>``)
        stands for now: the ticket's assignee and its team's members, else the
        store's support address (``planning.staff_of_ticket``)."""
        ref_kind, _, ticket_id = group["recipient_ref"].partition(":")
        if ref_kind != STAFF_GROUP:
            raise ValueError(f"not a group reference {group['recipient_ref']!r}")
        ticket = self.replicas.ticket(conn, ticket_id) or {}
        team = self.replicas.team(conn, group["store_id"], ticket.get("team"))
        return staff_of_ticket(ticket.get("assignee_id"), team)

    def context(self, conn, delivery: dict, settings: dict, people: dict) -> dict:
        """What the template sees: the planned context, the names found, the store's branding, the ticket."""
        planned = dict(delivery["context"])
        if planned.get("order_id") and not planned.get("order"):  # a tracking link names just the order
            planned["order"] = {"id": planned["order_id"], "tracking_url": planned.get("tracking_url")}
        ticket = self.replicas.ticket(conn, delivery["ticket_id"] or planned.get("ticket_id"))
        if delivery["kind"] == "ticket_forwarded":
            people = {**people, **self._forwarded(conn, delivery["store_id"], ticket, planned)}
        return {
            **{key: None for key in CONTEXT_KEYS},
            **planned,
            **{key: None for key in ("customer_name", "agent_name")}, **people,
            "store": {"name": settings["store_name"] or "", "brand_color": settings["brand_color"],
                      "logo_url": settings["logo_url"]},
            "ticket": ticket and {"id": ticket["ticket_id"], "number": ticket["number"],
                                  "subject": ticket.get("subject"), "team": self._team_name(conn, ticket)},
        }

    def _forwarded(self, conn, store_id: str, ticket: dict | None, planned: dict) -> dict:
        """A forwarded conversation's names, as the replicas know them now: the
        shopper, who forwarded it, each message's author (never an address)."""
        contact = ticket and ticket.get("customer_id") and self.replicas.contact(conn, store_id, ticket["customer_id"])
        customer_name = contact["name"] if contact else None

        def agent_name(agent_id) -> str | None:
            agent = agent_id and self.replicas.agent(conn, store_id, agent_id)
            return agent["name"] if agent else None

        names: dict = {}
        messages = []
        for m in planned.get("messages") or ():
            author = m.get("author") or {}
            kind, author_id = author.get("type"), author.get("id")
            if kind == "customer":
                name = customer_name
            else:
                name = names[author_id] if author_id in names else names.setdefault(author_id, agent_name(author_id))
            messages.append({"author": kind, "author_name": name, "body": m.get("body"),
                             "created_at": m.get("created_at"), "attachments": m.get("attachments") or []})
        planned["messages"] = messages
        return {"customer_name": customer_name, "agent_name": agent_name(planned.get("forwarded_by"))}

    def _team_name(self, conn, ticket: dict) -> str | None:
        team = self.replicas.team(conn, ticket["store_id"], ticket.get("team"))
        return team and team["name"]

    def _ticket(self, conn, ticket_id: str, with_customer: bool = False) -> dict:
        ticket = self._known(self.replicas.ticket(conn, ticket_id))
        if with_customer and ticket["customer_id"] is None:
            raise Waiting()
        return ticket

    @staticmethod
    def _known(row: dict | None) -> dict:
        if row is None:
            raise Waiting()
        return row


def _present(address: str | None) -> str:
    if not address:
        raise Skip("skipped", "no_address")
    return address
