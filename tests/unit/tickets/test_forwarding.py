"""Forwarding a ticket (services.tickets.domain.forwarding), told as stories:
to another agent or team with an internal note saying why (an assignment and
a note, in that order), or by email to someone outside the store's staff,
with the conversation as it was sent and never an internal note."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import Actor, Envelope
from seedwork.errors import Conflict, DomainError, Forbidden, InvalidCommand
from services.tickets.domain import forwarding
from services.tickets.domain.commands import (
    AddNote, Assign, Attachment, Close, Forward, ForwardByEmail, OpenTicket, PostReply,
)
from services.tickets.domain.decisions import decide
from services.tickets.domain.ticket import TicketState, fold, stored
from services.tickets.views import history_entry

CUSTOMER = Actor("customer", "cust-1")
AGENT = Actor("agent", "agent-1")
PLATFORM = Actor("platform")
SYSTEM = Actor("system", "self-service")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
CARD = "4111 1111 1111 1111"  # a test Visa number: passes the Luhn check
RECEIPT = Attachment(filename="receipt.png", id="file-1", sha256="a" * 64, content_type="image/png", size=10)
LINK = Attachment(filename="waybill.pdf", url="https://files.example.test/waybill.pdf")


class Ticket:
    def __init__(self, **opening):
        self.events: list[Envelope] = []
        self.state: TicketState | None = None
        self.clock = T0
        self.do(OpenTicket(actor=CUSTOMER, ticket_id="t-1", store_id="store-1", number=1042,
                           subject="Where is my parcel?", body="Ordered a week ago.", **opening))

    def do(self, command) -> list[Envelope]:
        self.clock += timedelta(minutes=1)
        new = stored(decide(self.state, command, self.clock), len(self.events), stream_id="t-1")
        self.state = fold(new, self.state)
        self.events += new
        return new

    def refuses(self, command, error: type[DomainError], code: str | None = None) -> DomainError:
        before = self.state
        with pytest.raises(error) as info:
            self.do(command)
        assert code is None or info.value.code == code
        assert self.state is before
        return info.value


def forward(**fields) -> Forward:
    return Forward(actor=AGENT, note=fields.pop("note", "Billing question: yours"), **fields)


def by_email(**fields) -> ForwardByEmail:
    return ForwardByEmail(actor=AGENT, email=fields.pop("email", "courier@example.com"),
                          note=fields.pop("note", "Could you check this parcel?"), **fields)


# --- to staff: the assignment, then the note that says why ------------------------------------


def test_a_forward_to_an_agent_assigns_and_records_why_in_that_order():
    ticket = Ticket()
    ticket.do(Assign(actor=AGENT, assignee_id="agent-1", team="team-ops"))

    assigned, noted = ticket.do(forward(agent_id="agent-2", note_id="n-1"))

    assert (assigned.type, noted.type) == ("ticket.assigned", "ticket.note_added")
    assert assigned.data == {"assignee_id": "agent-2", "team": "team-ops", "previous_assignee_id": "agent-1",
                             "previous_team": "team-ops", "note_id": "n-1"}
    assert noted.data == {"message_id": "n-1", "body": "Billing question: yours", "attachments": []}
    # The agent alone keeps the team; the note is internal, written by whoever forwarded.
    assert (ticket.state.assignee_id, ticket.state.team) == ("agent-2", "team-ops")
    note = ticket.state.messages[-1]
    assert note.internal and note.author_id == "agent-1" and note.body == "Billing question: yours"


def test_a_forward_to_a_team_takes_the_ticket_off_its_agent_into_the_teams_queue():
    ticket = Ticket()
    ticket.do(Assign(actor=AGENT, assignee_id="agent-1", team="team-ops"))
    ticket.do(forward(team_id="team-billing"))
    assert (ticket.state.assignee_id, ticket.state.team) == (None, "team-billing")


def test_a_forward_to_an_agent_and_a_team_sets_both():
    ticket = Ticket()
    ticket.do(forward(agent_id="agent-2", team_id="team-billing"))
    assert (ticket.state.assignee_id, ticket.state.team) == ("agent-2", "team-billing")


def test_a_forward_to_where_the_ticket_already_is_is_refused_and_records_no_note():
    ticket = Ticket()
    ticket.do(forward(agent_id="agent-2", team_id="team-ops"))
    refusal = ticket.refuses(forward(agent_id="agent-2"), Conflict, "already_assigned")
    assert list(refusal.errors) == ["agent_id"]
    refusal = ticket.refuses(Forward(actor=AGENT, note="again", team_id="team-ops", agent_id="agent-2"), Conflict,
                             "already_assigned")
    assert list(refusal.errors) == ["agent_id"]
    ticket.do(forward(team_id="team-ops"))  # the same team, off the agent: a change
    assert ticket.refuses(forward(team_id="team-ops"), Conflict).errors == {"team_id": ["already assigned there"]}


def test_a_forward_names_someone_and_says_why():
    ticket = Ticket()
    refusal = ticket.refuses(forward(), InvalidCommand)
    assert list(refusal.errors) == ["agent_id"]
    for note in ("", "   ", None, 42):
        assert list(ticket.refuses(forward(agent_id="agent-2", note=note), InvalidCommand).errors) == ["note"]
    assert list(ticket.refuses(forward(agent_id="agent-2", note="x" * 10_001), InvalidCommand).errors) == ["note"]
    assert list(ticket.refuses(forward(team_id=7), InvalidCommand).errors) == ["team_id"]


def test_a_forward_note_has_card_numbers_masked():
    ticket = Ticket()
    ticket.do(forward(agent_id="agent-2", note=f"Customer read out {CARD} on the phone"))
    assert ticket.state.messages[-1].body == "Customer read out •••• •••• •••• 1111 on the phone"


def test_only_the_stores_staff_forward_and_never_a_closed_ticket():
    ticket = Ticket()
    for actor in (CUSTOMER, SYSTEM):
        ticket.refuses(Forward(actor=actor, note="n", agent_id="agent-2"), Forbidden)
    ticket.do(Close(actor=AGENT))
    ticket.refuses(forward(agent_id="agent-2"), Conflict, "ticket_closed")


def test_a_forward_note_id_already_on_the_ticket_is_refused():
    ticket = Ticket()
    ticket.do(AddNote(actor=AGENT, body="first", message_id="n-1"))
    ticket.refuses(forward(agent_id="agent-2", note_id="n-1"), Conflict, "duplicate_message")


# --- by email: the conversation as sent, never a note -------------------------------------------


def test_a_forward_by_email_carries_the_public_conversation_and_the_note_never_a_note():
    ticket = Ticket(attachments=(RECEIPT,))
    ticket.do(AddNote(actor=AGENT, body="INTERNAL: fraud suspect"))
    ticket.do(PostReply(actor=AGENT, body="We asked the courier.", attachments=(LINK,)))

    [event] = ticket.do(by_email(email="Courier@Example.COM"))

    data = event.data
    assert event.type == "ticket.forwarded_by_email"
    assert data["email"] == "Courier@example.com"  # the domain lower-cased, the rest as typed
    assert data["note"] == "Could you check this parcel?" and data["subject"] == "Where is my parcel?"
    public = [m for m in ticket.state.messages if not m.internal]
    assert data["message_ids"] == [m.id for m in public] and data["left_out"] == 0
    assert [m["body"] for m in data["messages"]] == ["Ordered a week ago.", "We asked the courier."]
    assert "INTERNAL" not in str(data)
    first, second = data["messages"]
    assert first["author"] == {"type": "customer", "id": "cust-1"} and first["created_at"].endswith("Z")
    # An uploaded file goes by its name (its link is the store's API); an external link keeps its url.
    assert first["attachments"] == [{"filename": "receipt.png", "url": None}]
    assert second["attachments"] == [{"filename": "waybill.pdf", "url": "https://files.example.test/waybill.pdf"}]
    assert second["author"] == {"type": "agent", "id": "agent-1"}


def test_a_forward_by_email_changes_nothing_of_the_ticket_but_its_version():
    ticket = Ticket()
    before = ticket.state
    ticket.do(by_email())
    after = ticket.state
    assert after.version == before.version + 1 and after.updated_at > before.updated_at
    assert after.messages == before.messages and (after.assignee_id, after.status) == (None, "open")


def test_the_timeline_shows_where_and_why_but_not_the_copy_of_the_messages():
    ticket = Ticket()
    [event] = ticket.do(by_email())
    entry = history_entry(event)
    assert set(entry["data"]) == {"email", "note", "subject", "message_ids", "left_out"}
    assert entry["data"]["email"] == "courier@example.com"


def test_a_long_conversation_sends_its_latest_messages_and_says_how_many_were_left_out():
    ticket = Ticket()
    for n in range(forwarding.MAX_MESSAGES + 4):
        ticket.do(PostReply(actor=CUSTOMER if n % 2 else AGENT, body=f"message {n}"))
    [event] = ticket.do(by_email())
    assert len(event.data["messages"]) == forwarding.MAX_MESSAGES and event.data["left_out"] == 5
    assert event.data["messages"][-1]["body"] == f"message {forwarding.MAX_MESSAGES + 3}"


def test_named_messages_are_sent_alone_in_the_order_they_were_written():
    ticket = Ticket()
    ticket.do(PostReply(actor=AGENT, body="second", message_id="m-2"))
    ticket.do(PostReply(actor=CUSTOMER, body="third", message_id="m-3"))
    ticket.do(AddNote(actor=AGENT, body="a note", message_id="n-1"))
    [event] = ticket.do(by_email(message_ids=("m-3", "m-2", "m-3")))
    assert event.data["message_ids"] == ["m-2", "m-3"] and event.data["left_out"] == 0
    # A note, or a message that is not there, is no public message of the ticket.
    for ids in (("n-1",), ("m-9",), ()):
        assert list(ticket.refuses(by_email(message_ids=ids), InvalidCommand).errors) == ["message_ids"]


@pytest.mark.parametrize("email", ["", "courier", "courier@", "@example.com", "a b@example.com",
                                   "courier@example", "Courier <c@example.com>", "c@example.com, d@example.com",
                                   "c@-example.com", None, 42, "x" * 250 + "@example.com",
                                   "4111111111111111@example.com"])
def test_an_address_that_is_not_one_plain_email_is_refused_naming_email(email):
    refusal = Ticket().refuses(by_email(email=email), InvalidCommand)
    assert list(refusal.errors) == ["email"]


def test_the_note_for_the_recipient_is_checked_and_card_numbers_masked():
    ticket = Ticket()
    assert list(ticket.refuses(by_email(note=" "), InvalidCommand).errors) == ["note"]
    [event] = ticket.do(by_email(note=f"Card {CARD}"))
    assert event.data["note"] == "Card •••• •••• •••• 1111"


def test_only_the_stores_staff_forward_by_email_even_a_closed_ticket():
    ticket = Ticket()
    for actor in (CUSTOMER, PLATFORM, SYSTEM):
        ticket.refuses(ForwardByEmail(actor=actor, email="c@example.com", note="n"), Forbidden)
    ticket.do(Close(actor=AGENT))
    [event] = ticket.do(by_email())  # the record of what was sent: a closed conversation may go too
    assert event.type == "ticket.forwarded_by_email" and ticket.state.status == "closed"
