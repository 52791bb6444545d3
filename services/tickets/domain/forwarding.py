"""Forwarding a ticket (PrestaShop's "forward this message"): to another agent
or team of the store, with an internal note saying why, or by email to
someone outside the store's staff ("someone else"), with a note for them.
Plain Python: ``decide`` (``decisions.py``) calls these for the two commands.
See docs/agent-operations/forward-and-unread.md.

Forwarding to staff is the ordinary ``ticket.assigned`` followed by the
ordinary ``ticket.note_added`` in one transaction, the assignment naming the
note (``note_id``): everything that already reads assignments (the new
assignee's email, views, counts, routing, the SLA) reads a forward too.
Forwarding by email is a ``ticket.forwarded_by_email`` of its own, carrying
the messages as they were sent: the record of what left the store.
"""
from __future__ import annotations

import re
from typing import Any

from seedwork.cards import contains_card_number
from seedwork.errors import Conflict, Forbidden, InvalidCommand
from seedwork.instants import iso

from . import fields as rules
from . import policy
from .commands import Forward, ForwardByEmail
from .ticket import Message, TicketState

MAX_MESSAGES = 100  # the latest public messages an email forward carries, unless some are named
EMAIL_MAX = 254
# An address every mail server takes: no quoting, no comments, no display name, a dotted domain.
EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                   r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
FORWARDED_BY_EMAIL = "ticket.forwarded_by_email"

Change = tuple[str, dict[str, Any]]


def _store_staff(actor: Any) -> None:
    # The store's own staff: the platform's review team and the system forward nothing.
    if not policy.is_store_staff(actor):
        raise Forbidden("staff_only", "only the store's staff forward tickets")


def forward(s: TicketState, c: Forward) -> list[Change]:
    """A forward to staff: the assignment, then the note that says why."""
    _store_staff(c.actor)
    if s.status == "closed":
        raise Conflict("ticket_closed", f"ticket {s.id} is closed")
    agent_id = rules.identifier(c.agent_id, "agent_id", optional=True)
    team_id = rules.identifier(c.team_id, "team_id", optional=True)
    if agent_id is None and team_id is None:
        raise InvalidCommand.field("agent_id", "forward to an agent_id, a team_id or both")
    note = rules.text(c.note, "note", rules.BODY_MAX)
    note_id = rules.identifier(c.note_id, "note_id")
    if any(m.id == note_id for m in s.messages):
        raise Conflict("duplicate_message", f"message {note_id} is already on the ticket")
    # An agent alone keeps the team; a team alone goes to the team's queue, off its agent.
    assignee_id, team = (agent_id, team_id if team_id is not None else s.team) if agent_id else (None, team_id)
    if (assignee_id, team) == (s.assignee_id, s.team):
        raise Conflict("already_assigned", "the ticket is already with that agent and team",
                       {"agent_id" if agent_id else "team_id": ["already assigned there"]})
    return [("ticket.assigned", {"assignee_id": assignee_id, "team": team, "previous_assignee_id": s.assignee_id,
                                 "previous_team": s.team, "note_id": note_id}),
            ("ticket.note_added", {"message_id": note_id, "body": note, "attachments": []})]


def forward_by_email(s: TicketState, c: ForwardByEmail) -> list[Change]:
    """The conversation as it is sent: subject, the public messages (never a
    note), each file by name (and link, for an external one), and the note."""
    _store_staff(c.actor)
    email = email_address(c.email)
    note = rules.text(c.note, "note", rules.BODY_MAX)
    chosen, left_out = chosen_messages(s, c.message_ids)
    return [(FORWARDED_BY_EMAIL, {
        "email": email, "note": note, "subject": s.subject, "message_ids": [m.id for m in chosen],
        "messages": [message_record(m) for m in chosen], "left_out": left_out})]


def email_address(value: Any) -> str:
    """The address to send to: a plain ``name@example.com`` (the domain lower-cased)."""
    if not isinstance(value, str) or len(value.strip()) > EMAIL_MAX or not EMAIL.fullmatch(value.strip()):
        raise InvalidCommand.field("email", "must be an email address such as name@example.com")
    local, _, domain = value.strip().rpartition("@")
    if len(local) > 64 or contains_card_number(local):
        raise InvalidCommand.field("email", "must be an email address such as name@example.com")
    return f"{local}@{domain.lower()}"


def chosen_messages(s: TicketState, message_ids: Any) -> tuple[list[Message], int]:
    """The public messages to send, in the order they were written, and how
    many earlier ones were left out (only when none are named)."""
    public = sorted(s.public_messages(), key=lambda m: m.created_at)
    if message_ids is None:
        return public[-MAX_MESSAGES:], max(len(public) - MAX_MESSAGES, 0)
    if not isinstance(message_ids, (list, tuple)) or not 1 <= len(message_ids) <= MAX_MESSAGES:
        raise InvalidCommand.field("message_ids", f"a list of 1 to {MAX_MESSAGES} message ids")
    wanted = {rules.identifier(m, "message_ids") for m in message_ids}
    by_id = {m.id for m in public}
    unknown = sorted(wanted - by_id)
    if unknown:
        raise InvalidCommand.field("message_ids", f"not a public message of this ticket: {rules.echo(unknown[0])}")
    return [m for m in public if m.id in wanted], 0


def message_record(m: Message) -> dict[str, Any]:
    """A message as the forward carries it. An uploaded file goes by its name:
    its link is the store's API, which the recipient cannot use."""
    return {"id": m.id, "author": {"type": m.author_kind, "id": m.author_id}, "body": m.body,
            "created_at": iso(m.created_at),
            "attachments": [{"filename": a.get("filename"), "url": None if a.get("id") else a.get("url")}
                            for a in m.attachments]}

