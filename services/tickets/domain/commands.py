"""What a customer, a staff member, the platform or the system may ask of a ticket.

Commands are frozen, keyword-only dataclasses that carry the caller's input as
it came: ``decide`` (``decisions.py``) validates and normalises it, so a
command object may hold anything. Every command names its ``actor``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from seedwork.envelope import Actor


def new_message_id() -> str:
    return str(uuid.uuid4())


class Keep:
    """The value of a field a caller left out: what the ticket has stays."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file already uploaded elsewhere; the ticket keeps its link, not its bytes."""

    filename: str
    url: str | None = None  # an external link, or None for a file uploaded to the ticket (``id``)
    content_type: str | None = None
    size: int | None = None
    id: str | None = None  # an uploaded file's record (services/tickets/files.py)
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"filename": self.filename, "url": self.url, "content_type": self.content_type, "size": self.size}
        if self.id is not None:
            out.update(id=self.id, sha256=self.sha256)
        return out


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class OpenTicket(Command):
    """A new ticket. Staff name its customer; a customer opens one for
    themselves and names nobody (``customer_id`` from a customer is refused)."""

    ticket_id: str
    store_id: str
    number: int
    subject: str
    body: str
    customer_id: str | None = None
    type: str = "general"
    priority: str = "normal"
    order_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    message_id: str = field(default_factory=new_message_id)
    channel: str | None = None  # staff name it (a phone call typed in); a shopper's ticket is the widget's
    # The opening customer's standing in the store, as the customers service
    # told the caller: a blocked shopper opens no new tickets.
    customer_blocked: bool = False
    # Set by the self-service flows (selfservice_flows.py), never by a client directly:
    handled_by: str = "store"  # "platform": the platform's review team answers it
    flow: dict[str, Any] | None = None  # {"payment": ...} | {"exchange": ...} | {"data_change": ...}
    initial_status: str = "open"  # "under_review": the order awaits the merchant's verification
    # The contact topic the shopper picked (the service layer checked it is the store's),
    # and the team that handles it: the ticket opens on that team.
    topic_id: str | None = None
    team: str | None = None


@dataclass(frozen=True, kw_only=True)
class PostReply(Command):
    """A public message: from the ticket's customer or from staff. The body
    may be empty when files are attached. Staff may add an internal ``note``,
    recorded right after the reply (a ``ticket.note_added`` of its own)."""

    body: str | None = None
    attachments: tuple[Attachment, ...] = ()
    message_id: str = field(default_factory=new_message_id)
    canned_response_id: str | None = None  # the store staff's canned response it was filled from
    automatic: str | None = None  # "tracking_link": sent by the self-service flow, not typed
    note: str | None = None
    note_id: str = field(default_factory=new_message_id)


@dataclass(frozen=True, kw_only=True)
class AddNote(Command):
    """An internal message: staff only, never shown to the customer."""

    body: str
    attachments: tuple[Attachment, ...] = ()
    message_id: str = field(default_factory=new_message_id)


@dataclass(frozen=True, kw_only=True)
class Assign(Command):
    """Sets the assignee and the team; ``None`` means nobody, and a half left
    out (``KEEP``) keeps its current value."""

    assignee_id: str | None | Keep = KEEP
    team: str | None | Keep = KEEP
    # Set by routing only (actor system/routing): the mode that decided and why (domain/routing.py).
    routed_by: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Unassign(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class SetPriority(Command):
    priority: str


@dataclass(frozen=True, kw_only=True)
class SetType(Command):
    type: str


@dataclass(frozen=True, kw_only=True)
class AddTag(Command):
    tag: str


@dataclass(frozen=True, kw_only=True)
class RemoveTag(Command):
    tag: str


@dataclass(frozen=True, kw_only=True)
class ChangeStatus(Command):
    status: str
    label: str | None = None  # only with on_hold, e.g. "waiting for the courier"


@dataclass(frozen=True, kw_only=True)
class Solve(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Close(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Reopen(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class ApproveDataChange(Command):
    """Staff accept a shopper's data-change request, after the card was updated."""

    customer_version: int


@dataclass(frozen=True, kw_only=True)
class RejectDataChange(Command):
    reason: str


@dataclass(frozen=True, kw_only=True)
class Rate(Command):
    score: int
    comment: str | None = None


# --- many tickets, and two at once (domain/bulk.py, domain/merging.py) ----------------


@dataclass(frozen=True, kw_only=True)
class EnsureStatus(ChangeStatus):
    """``ChangeStatus`` for a bulk action: a ticket already at that status
    (and label) is left as it is instead of refused."""


@dataclass(frozen=True, kw_only=True)
class MergeTicket(Command):
    """Merge the ticket into another of the same customer (staff).
    ``file_copies`` names the target's copy of each file uploaded to the
    source's messages (the service layer records the copies)."""

    file_copies: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class UnmergeTicket(Command):
    """Undo a merge within the store's window (staff)."""


@dataclass(frozen=True, kw_only=True)
class SplitTicket(Command):
    """Open a new ticket for the same customer from one public message (staff)."""

    message_id: str
    new_ticket_id: str
    number: int
    subject: str | None = None
    file_copies: dict[str, str] = field(default_factory=dict)


# --- forwarding (domain/forwarding.py) -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Forward(Command):
    """Hand the ticket to another agent and/or team, with an internal note
    saying why (the store's staff). An agent alone keeps the ticket's team; a
    team alone takes the ticket off its agent, into the team's queue."""

    note: str
    agent_id: str | None = None
    team_id: str | None = None
    note_id: str = field(default_factory=new_message_id)


@dataclass(frozen=True, kw_only=True)
class ForwardByEmail(Command):
    """Email the conversation to someone outside the store's staff, with a
    note (the store's staff). ``message_ids``: only these public messages;
    by default the latest ``forwarding.MAX_MESSAGES`` of them."""

    email: str
    note: str
    message_ids: tuple[str, ...] | None = None
