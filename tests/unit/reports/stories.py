"""One ticket's stream written by hand, event by event, with the fields
docs/events.md gives each type: the reports' unit tests tell their stories
with it. Times are Riyadh's (the default policy's zone) unless given with
an offset; March 2026 starts on a Sunday, as in the SLA's tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from seedwork.envelope import Actor

RIYADH = ZoneInfo("Asia/Riyadh")
CUSTOMER = Actor("customer", "cust-1")
AGENT, OTHER_AGENT = Actor("agent", "agent-a"), Actor("agent", "agent-b")
PLATFORM, SYSTEM = Actor("platform", "reviewer-1"), Actor("system", "self-service")
WEEK = {"sun": "2026-03-01", "mon": "2026-03-02", "tue": "2026-03-03", "wed": "2026-03-04", "thu": "2026-03-05",
        "fri": "2026-03-06", "sat": "2026-03-07", "sun+": "2026-03-08", "mon+": "2026-03-09", "tue+": "2026-03-10",
        "wed+": "2026-03-11", "thu+": "2026-03-12", "fri+": "2026-03-13", "sun++": "2026-03-15"}


def at(when: str, zone=RIYADH) -> datetime:
    """``"mon 11:00"`` (that day of the week above) or ``"2026-03-05 16:00"``, in ``zone``."""
    day, clock = when.split()
    return datetime.fromisoformat(f"{WEEK.get(day, day)} {clock}").replace(tzinfo=zone)


@dataclass(frozen=True)
class Event:
    """What the reports read of a stored event (an ``Envelope`` has these and more)."""

    type: str
    data: Mapping[str, Any]
    actor: Actor
    occurred_at: datetime
    version: int
    store_id: str | None = "store-1"


@dataclass
class Story:
    events: list[Event] = field(default_factory=list)

    def add(self, when: str | datetime, type: str, data: dict, actor: Actor = AGENT) -> Story:
        moment = at(when) if isinstance(when, str) else when
        self.events.append(Event(type, data, actor, moment, len(self.events) + 1))
        return self

    # --- the ticket's life -------------------------------------------------------------

    @classmethod
    def opened(cls, when: str | datetime, by: Actor = CUSTOMER, **data) -> Story:
        fields = {"ticket_id": "t-1", "number": 1, "customer_id": "cust-1", "subject": "Where is my parcel",
                  "type": "general", "priority": "normal", "order_id": None, "channel": "widget",
                  "message": {"id": "m-0", "body": "It has not come", "attachments": []}, **data}
        return cls().add(when, "ticket.opened", fields, by)

    def reply(self, when, by: Actor = AGENT, **data) -> Story:
        return self.add(when, "ticket.replied", {"message_id": f"m-{len(self.events)}", "body": "...",
                                                 "attachments": [], **data}, by)

    def note(self, when, by: Actor = AGENT) -> Story:
        return self.add(when, "ticket.note_added", {"message_id": f"m-{len(self.events)}", "body": "(internal)",
                                                    "attachments": []}, by)

    def status(self, when, status: str, by: Actor = AGENT, reason: str | None = None) -> Story:
        previous = next((e.data["status"] for e in reversed(self.events) if e.type == "ticket.status_changed"),
                        "open")
        return self.add(when, "ticket.status_changed", {"status": status, "previous": previous, "label": None,
                                                        "reason": reason}, by)

    def solve(self, when, by: Actor = AGENT) -> Story:
        return self.status(when, "solved", by)

    def reopened_by_reply(self, when) -> Story:
        """The shopper answers a solved ticket: their reply, and the reopen it causes."""
        return self.reply(when, CUSTOMER).status(when, "open", CUSTOMER, reason="customer_reply")

    def assign(self, when, assignee_id: str | None, team: str | None, by: Actor = AGENT) -> Story:
        return self.add(when, "ticket.assigned", {"assignee_id": assignee_id, "team": team,
                                                  "previous_assignee_id": None, "previous_team": None}, by)

    def unassign(self, when, by: Actor = AGENT) -> Story:
        return self.add(when, "ticket.unassigned", {"previous_assignee_id": None, "previous_team": None}, by)

    def tag(self, when, tag: str) -> Story:
        return self.add(when, "ticket.tag_added", {"tag": tag})

    def rate(self, when, score: int) -> Story:
        return self.add(when, "ticket.rated", {"score": score, "comment": None}, CUSTOMER)

    def breach(self, when, target: str, cycle: int = 1) -> Story:
        return self.add(when, "sla.breached", {"ticket_id": "t-1", "target": target, "cycle": cycle,
                                               "due_at": "2026-03-01T00:00:00Z", "policy_version": 0,
                                               "time_zone": "Asia/Riyadh"}, Actor("system", "sla"))

    def merge(self, when, into: str = "t-2", previous_status: str = "open") -> Story:
        return self.add(when, "ticket.merged", {"into_ticket_id": into, "into_number": 2,
                                                "previous_status": previous_status, "previous_label": None})

    def unmerge(self, when, status: str = "open") -> Story:
        return self.add(when, "ticket.unmerged", {"into_ticket_id": "t-2", "into_number": 2, "status": status,
                                                  "label": None})
