"""The ticket domain (services.tickets.domain), told as stories: commands in, events out."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from seedwork.cards import redact_card_numbers
from seedwork.envelope import Actor, Envelope, NewEvent
from seedwork.errors import Conflict, DomainError, Forbidden, InvalidCommand
from services.tickets.domain.commands import (
    AddNote, AddTag, ApproveDataChange, Assign, Attachment, ChangeStatus, Close, OpenTicket, PostReply, Rate,
    RejectDataChange, RemoveTag, Reopen, SetPriority, SetType, Solve, Unassign,
)
from services.tickets.domain import merging
from services.tickets.domain.commands import ForwardByEmail, MergeTicket, SplitTicket, UnmergeTicket
from services.tickets.domain.decisions import TRANSITIONS, decide
from services.tickets.domain.fields import PRIORITIES, PRIORITY_RANK, STATUSES
from services.tickets.domain.policy import is_visible_to_customer
from services.tickets.domain.ticket import CLOCK_EVENTS, EVENT_TYPES, TicketState, evolve, fold, stored
from services.tickets.views import to_view

CUSTOMER = Actor("customer", "cust-1")
OTHER_CUSTOMER = Actor("customer", "cust-2")
AGENT = Actor("agent", "agent-1")
AGENT_2 = Actor("agent", "agent-2")
SYSTEM = Actor("system")
PLATFORM = Actor("platform")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
CARD = "4111 1111 1111 1111"  # a test Visa number: passes the Luhn check


class Ticket:
    """One ticket's stream, the way the service layer keeps it: decide, store, fold."""

    def __init__(self):
        self.events: list[Envelope] = []
        self.state: TicketState | None = None
        self.clock = T0

    def do(self, command) -> list[Envelope]:
        self.clock += timedelta(minutes=1)
        new = stored(decide(self.state, command, self.clock), len(self.events), stream_id="t-1")
        self.state = fold(new, self.state)
        self.events += new
        return new

    def refuses(self, command, error: type[DomainError], code: str) -> DomainError:
        before, count = self.state, len(self.events)
        with pytest.raises(error) as info:
            self.do(command)
        assert info.value.code == code
        assert self.state is before and len(self.events) == count  # nothing happened
        return info.value

    def types(self, events) -> list[str]:
        return [e.type for e in events]


def open_command(actor=CUSTOMER, **overrides) -> OpenTicket:
    """The customer cust-1's ticket: opened by them, or by staff naming them."""
    fields = dict(actor=actor, ticket_id="t-1", store_id="store-1", number=1001,
                  subject="Where is my parcel?", body="Ordered a week ago, nothing yet.")
    if actor.kind != "customer":
        fields["customer_id"] = "cust-1"
    fields.update(overrides)
    return OpenTicket(**fields)


def opened(**overrides) -> Ticket:
    ticket = Ticket()
    ticket.do(open_command(**overrides))
    return ticket


def in_status(status: str) -> Ticket:
    ticket = opened()
    if status != "open":
        ticket.do(ChangeStatus(actor=AGENT, status=status))
    return ticket


def one_of_each(actor: Actor) -> list:
    """A command of every kind that acts on an existing ticket."""
    return [
        PostReply(actor=actor, body="hi"), AddNote(actor=actor, body="note"), Assign(actor=actor, assignee_id="a"),
        Unassign(actor=actor), SetPriority(actor=actor, priority="high"), SetType(actor=actor, type="refund"),
        AddTag(actor=actor, tag="vip"), RemoveTag(actor=actor, tag="vip"),
        ChangeStatus(actor=actor, status="pending"), Solve(actor=actor), Close(actor=actor), Reopen(actor=actor),
        Rate(actor=actor, score=5),
    ]


# --- opening a ticket -----------------------------------------------------------------


def test_a_ticket_records_its_channel_staff_name_it_and_a_shoppers_is_the_widgets():
    assert Ticket().do(open_command())[0].data["channel"] == "widget"
    ticket = Ticket()
    ticket.do(open_command(actor=AGENT, channel="phone"))
    assert ticket.state.channel == "phone"
    assert Ticket().do(open_command(actor=AGENT))[0].data["channel"] == "api"
    with pytest.raises(Forbidden) as refused:
        Ticket().do(open_command(channel="email"))
    assert "channel" in refused.value.errors
    with pytest.raises(InvalidCommand) as refused:
        Ticket().do(open_command(actor=AGENT, channel="fax"))
    assert "channel" in refused.value.errors


def test_a_ticket_opened_before_channels_were_recorded_gets_the_default_of_its_opener():
    [event] = Ticket().do(open_command(actor=AGENT))
    old = stored([replace(event, data={k: v for k, v in event.data.items() if k != "channel"})], 0)
    assert fold(old).channel == "api"


def test_sla_clock_events_move_the_version_but_not_the_last_change():
    ticket = Ticket()
    ticket.do(open_command())
    opened = ticket.state
    [warning] = stored([NewEvent("sla.warning", {"ticket_id": "t-1", "target": "first_response", "cycle": 1,
                                                 "due_at": "2024-05-01T09:30:00Z", "policy_version": 1},
                                 actor=SYSTEM, store_id="store-1", occurred_at=T0 + timedelta(minutes=5))], 1)
    after = fold([warning], opened)
    assert after.version == 2 and after.updated_at == opened.updated_at


def test_a_customer_opens_a_ticket_for_themselves():
    ticket = Ticket()
    photo = Attachment("photo.jpg", "https://cdn.example/p.jpg", "image/jpeg", 2048)
    [event] = ticket.do(open_command(order_id="order-77", priority="high", type="shipping",
                                     attachments=(photo,), message_id="m-1"))

    assert event.type == "ticket.opened" and event.actor == CUSTOMER and event.store_id == "store-1"
    assert event.data == {
        "ticket_id": "t-1", "number": 1001, "customer_id": "cust-1", "subject": "Where is my parcel?",
        "type": "shipping", "priority": "high", "order_id": "order-77", "channel": "widget",
        "message": {"id": "m-1", "body": "Ordered a week ago, nothing yet.", "attachments": [
            {"filename": "photo.jpg", "url": "https://cdn.example/p.jpg", "content_type": "image/jpeg", "size": 2048}]},
    }
    state = ticket.state
    assert (state.id, state.store_id, state.number, state.status, state.version) == ("t-1", "store-1", 1001, "open", 1)
    assert state.created_at == state.updated_at == event.occurred_at
    assert state.assignee_id is None and state.tags == () and state.rating is None
    [message] = state.messages
    assert (message.id, message.author_kind, message.author_id) == ("m-1", "customer", "cust-1")
    assert message.internal is False and message.attachments == (photo.to_dict(),)


def test_opening_has_defaults_and_strips_text():
    ticket = opened(subject="  Broken mug \n", body="\n It arrived in pieces. ")
    assert (ticket.state.type, ticket.state.priority, ticket.state.order_id) == ("general", "normal", None)
    assert ticket.state.subject == "Broken mug"
    assert ticket.state.messages[0].body == "It arrived in pieces."
    assert ticket.state.messages[0].id  # a fresh uuid unless given


@pytest.mark.parametrize("actor", [AGENT, SYSTEM])
def test_staff_open_a_ticket_on_behalf_of_any_customer(actor):
    ticket = opened(actor=actor, customer_id="cust-9")
    assert ticket.state.customer_id == "cust-9"
    assert ticket.state.messages[0].author_kind == actor.kind


def test_a_customer_opens_tickets_for_themselves_and_names_nobody():
    error = Ticket().refuses(open_command(customer_id="cust-2"), Forbidden, "field_not_allowed")
    assert error.errors == {"customer_id": ["only staff may set this field"]}
    Ticket().refuses(open_command(customer_id="cust-1"), Forbidden, "field_not_allowed")  # even their own id
    Ticket().refuses(open_command(actor=Actor("customer")), Forbidden, "forbidden")  # a shopper with no id


def test_staff_name_the_customer_they_open_a_ticket_for():
    error = Ticket().refuses(open_command(actor=AGENT, customer_id=None), InvalidCommand, "invalid_field")
    assert list(error.errors) == ["customer_id"]


def test_a_blocked_customer_opens_no_new_ticket():
    error = Ticket().refuses(open_command(customer_blocked=True), Forbidden, "customer_blocked")
    assert "your open tickets stay open" in error.detail


def test_naming_a_customer_is_refused_before_the_block_is_mentioned():
    Ticket().refuses(open_command(customer_id="cust-1", customer_blocked=True), Forbidden, "field_not_allowed")


@pytest.mark.parametrize("actor", [AGENT, SYSTEM])
def test_staff_still_open_tickets_for_a_blocked_customer(actor):
    assert opened(actor=actor, customer_blocked=True).state.customer_id == "cust-1"


def test_the_platform_cannot_open_tickets():
    Ticket().refuses(open_command(actor=PLATFORM), Forbidden, "forbidden")


def test_decide_stamps_the_events_with_the_time_it_is_given():
    at = datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    [event] = decide(None, open_command(), at)
    assert event.occurred_at == at
    with pytest.raises(TypeError):
        decide(None, open_command(), at.replace(tzinfo=None))  # a naive clock is a bug


def test_a_ticket_opens_once():
    opened().refuses(open_command(), Conflict, "already_opened")


@pytest.mark.parametrize("command", one_of_each(AGENT), ids=lambda c: type(c).__name__)
def test_nothing_happens_to_a_ticket_that_was_never_opened(command):
    Ticket().refuses(command, Conflict, "not_opened")


@pytest.mark.parametrize("field, value", [
    ("subject", ""), ("subject", "   "), ("subject", "x" * 201), ("subject", None), ("subject", 42),
    ("body", ""), ("body", "x" * 10_001), ("body", "nul \x00 byte"),
    ("type", "Refund"), ("type", "1st"), ("type", "a" * 51), ("type", ""),
    ("priority", "critical"), ("priority", None),
    ("number", 0), ("number", True), ("number", "1001"),
    ("customer_id", ""), ("order_id", ""), ("ticket_id", None), ("store_id", ""), ("message_id", ""),
])
def test_opening_refuses_bad_fields_and_names_them(field, value):
    actor = AGENT if field == "customer_id" else CUSTOMER
    error = Ticket().refuses(open_command(actor=actor, **{field: value}), InvalidCommand, "invalid_field")
    assert list(error.errors) == [field]


def test_text_at_its_limits_is_accepted():
    ticket = opened(subject="s" * 200, body="b" * 10_000, type="a" * 50)
    assert len(ticket.state.subject) == 200


@pytest.mark.parametrize("attachments", [
    tuple(Attachment(f"f{i}.png", "https://cdn.example/f.png") for i in range(11)),
    (Attachment("", "https://cdn.example/f.png"),),
    (Attachment("f" * 256, "https://cdn.example/f.png"),),
    (Attachment("f.png", "ftp://cdn.example/f.png"),),
    (Attachment("f.png", "javascript:alert(1)"),),
    (Attachment("f.png", "https://"),),
    (Attachment("f.png", "https://cdn.example/" + "x" * 2000),),
    (Attachment("f.png", "https://cdn.example/f.png", size=-1),),
    (Attachment("f.png", "https://cdn.example/f.png", size=True),),
    (Attachment("f.png", "https://cdn.example/f.png", size="12"),),
    ({"filename": "f.png", "url": "https://cdn.example/f.png"},),
])
def test_attachments_are_checked(attachments):
    error = Ticket().refuses(open_command(attachments=attachments), InvalidCommand, "invalid_field")
    assert list(error.errors) == ["attachments"]


def test_ten_attachments_over_http_or_https_are_fine():
    files = tuple(Attachment(f"f{i}.png", "http://cdn.example/f.png", size=0) for i in range(10))
    assert len(opened(attachments=files).state.messages[0].attachments) == 10


# --- who may act on a ticket ------------------------------------------------------------


@pytest.mark.parametrize("command", one_of_each(OTHER_CUSTOMER), ids=lambda c: type(c).__name__)
def test_another_customer_cannot_touch_the_ticket(command):
    in_status("solved").refuses(command, Forbidden, "forbidden")


@pytest.mark.parametrize("command", one_of_each(PLATFORM), ids=lambda c: type(c).__name__)
def test_the_platform_does_nothing_on_tickets(command):
    in_status("solved").refuses(command, Forbidden, "forbidden")


@pytest.mark.parametrize("command", [
    AddNote(actor=CUSTOMER, body="psst"), Assign(actor=CUSTOMER, assignee_id="me"), Unassign(actor=CUSTOMER),
    SetPriority(actor=CUSTOMER, priority="urgent"), SetType(actor=CUSTOMER, type="refund"),
    AddTag(actor=CUSTOMER, tag="vip"), RemoveTag(actor=CUSTOMER, tag="vip"),
    ChangeStatus(actor=CUSTOMER, status="pending"), ChangeStatus(actor=CUSTOMER, status="under_review"),
    ChangeStatus(actor=CUSTOMER, status="on_hold", label="x"), ChangeStatus(actor=CUSTOMER, status="bogus"),
], ids=lambda c: type(c).__name__)
def test_the_customer_cannot_do_staff_work(command):
    opened().refuses(command, Forbidden, "staff_only")


def test_the_system_acts_like_staff():
    ticket = opened()
    ticket.do(AddNote(actor=SYSTEM, body="auto-triaged"))
    ticket.do(AddTag(actor=SYSTEM, tag="auto"))
    ticket.do(Close(actor=SYSTEM))
    assert ticket.state.status == "closed" and ticket.state.tags == ("auto",)


# --- replies and notes --------------------------------------------------------------------


def test_customer_and_staff_reply_in_public():
    ticket = opened()
    [staff] = ticket.do(PostReply(actor=AGENT, body="It left our warehouse today.", message_id="m-2"))
    [customer] = ticket.do(PostReply(actor=CUSTOMER, body="Thanks!",
                                     attachments=(Attachment("r.pdf", "https://cdn.example/r.pdf"),)))
    assert staff.data == {"message_id": "m-2", "body": "It left our warehouse today.", "attachments": []}
    assert customer.data["attachments"] == [
        {"filename": "r.pdf", "url": "https://cdn.example/r.pdf", "content_type": None, "size": None}]
    authors = [(m.author_kind, m.author_id, m.internal) for m in ticket.state.messages]
    assert authors == [("customer", "cust-1", False), ("agent", "agent-1", False), ("customer", "cust-1", False)]
    assert ticket.state.status == "open" and ticket.state.version == 3


@pytest.mark.parametrize("status", ["pending", "solved"])
def test_a_customer_reply_reopens_a_pending_or_solved_ticket(status):
    ticket = in_status(status)
    reply, change = ticket.do(PostReply(actor=CUSTOMER, body="Still nothing."))
    assert (reply.type, change.type) == ("ticket.replied", "ticket.status_changed")
    assert change.data == {"status": "open", "previous": status, "label": None, "reason": "customer_reply"}
    assert change.actor == CUSTOMER and change.occurred_at == reply.occurred_at
    assert ticket.state.status == "open" and ticket.state.solved_at is None


@pytest.mark.parametrize("status", ["on_hold", "under_review"])
def test_a_customer_reply_leaves_other_statuses_alone(status):
    ticket = in_status(status)
    assert ticket.types(ticket.do(PostReply(actor=CUSTOMER, body="Any news?"))) == ["ticket.replied"]
    assert ticket.state.status == status


@pytest.mark.parametrize("status", ["pending", "solved", "on_hold"])
def test_a_staff_reply_never_changes_the_status(status):
    ticket = in_status(status)
    assert ticket.types(ticket.do(PostReply(actor=AGENT, body="Update: on its way."))) == ["ticket.replied"]
    assert ticket.state.status == status


def test_staff_notes_are_internal_and_hidden_from_the_customer():
    ticket = opened()
    [note] = ticket.do(AddNote(actor=AGENT, body="Courier lost it; refund.", message_id="n-1"))
    ticket.do(PostReply(actor=AGENT, body="We are refunding you."))
    assert note.type == "ticket.note_added"
    assert note.data == {"message_id": "n-1", "body": "Courier lost it; refund.", "attachments": []}
    assert [m.internal for m in ticket.state.messages] == [False, True, False]
    assert [m.id for m in ticket.state.public_messages()] == [ticket.state.messages[0].id, ticket.state.messages[2].id]

    staff_view, customer_view = to_view(ticket.state, True), to_view(ticket.state, False)
    assert [m["internal"] for m in staff_view["messages"]] == [False, True, False]
    assert [m["body"] for m in customer_view["messages"]] == ["Ordered a week ago, nothing yet.",
                                                              "We are refunding you."]


def test_tags_are_staff_labels_the_customer_does_not_see():
    ticket = opened()
    ticket.do(AddTag(actor=AGENT, tag="fraud-suspect"))
    assert to_view(ticket.state, True)["tags"] == ["fraud-suspect"]
    assert to_view(ticket.state, False)["tags"] == []


def test_staff_reply_with_an_internal_note_in_one_command():
    ticket = opened()
    reply, note = ticket.do(PostReply(actor=AGENT, body="On its way.", message_id="m-2", note="  courier called ",
                                      note_id="n-2"))
    assert (reply.type, note.type) == ("ticket.replied", "ticket.note_added")
    assert reply.data == {"message_id": "m-2", "body": "On its way.", "attachments": []}
    assert note.data == {"message_id": "n-2", "body": "courier called", "attachments": []}
    assert note.occurred_at == reply.occurred_at and note.actor == AGENT
    assert [m.internal for m in ticket.state.messages] == [False, False, True]


def test_a_reply_with_a_note_records_what_a_reply_then_a_note_would():
    one, two = opened(), opened()
    together = one.do(PostReply(actor=AGENT, body="hi", message_id="m-2", note="psst", note_id="n-2"))
    apart = two.do(PostReply(actor=AGENT, body="hi", message_id="m-2")) + two.do(
        AddNote(actor=AGENT, body="psst", message_id="n-2"))
    assert [(e.type, e.data, e.actor) for e in together] == [(e.type, e.data, e.actor) for e in apart]
    def messages(ticket):
        return [(m.id, m.author_kind, m.body, m.internal) for m in ticket.state.messages]
    assert messages(one)[1:] == messages(two)[1:]


def test_notes_are_internal_so_only_staff_send_one_with_a_reply():
    error = opened().refuses(PostReply(actor=CUSTOMER, body="hi", note="let me in"), Forbidden, "field_not_allowed")
    assert error.errors == {"note": ["only staff may send this field"]}


def test_a_note_with_a_reply_follows_the_note_rules():
    ticket = opened(message_id="m-1")
    assert list(ticket.refuses(PostReply(actor=AGENT, body="hi", note="  "), InvalidCommand,
                               "invalid_field").errors) == ["note"]
    ticket.refuses(PostReply(actor=AGENT, body="hi", note="x" * 10_001), InvalidCommand, "invalid_field")
    ticket.refuses(PostReply(actor=AGENT, body="hi", note="n", note_id="m-1"), Conflict, "duplicate_message")
    ticket.refuses(PostReply(actor=AGENT, body="hi", message_id="m-9", note="n", note_id="m-9"), Conflict,
                   "duplicate_message")
    in_status("closed").refuses(PostReply(actor=AGENT, body="hi", note="n"), Conflict, "ticket_closed")


def test_canned_responses_are_the_stores_staffs():
    ticket = opened()
    [reply] = ticket.do(PostReply(actor=AGENT, body="Filled in.", canned_response_id="c-1"))
    assert reply.data["canned_response_id"] == "c-1" and ticket.state.messages[-1].canned_response_id == "c-1"
    for actor in (CUSTOMER, SYSTEM):
        error = ticket.refuses(PostReply(actor=actor, body="x", canned_response_id="c-1"), Forbidden,
                               "field_not_allowed")
        assert error.errors == {"canned_response_id": ["only staff may send this field"]}


def test_the_platform_writes_notes_but_sends_no_canned_response_on_the_tickets_it_handles():
    ticket = opened(type="charged_without_order", handled_by="platform",
                    flow={"payment": {"method": "mada", "card_last4": "1234"}})
    assert ticket.types(ticket.do(PostReply(actor=PLATFORM, body="checking", note="bank asked"))) == [
        "ticket.replied", "ticket.note_added"]
    ticket.refuses(PostReply(actor=PLATFORM, body="x", canned_response_id="c-1"), Forbidden, "field_not_allowed")


def test_only_staff_send_automatic_replies():
    opened().refuses(PostReply(actor=CUSTOMER, body="x", automatic="tracking_link"), Forbidden, "staff_only")
    assert opened().do(PostReply(actor=SYSTEM, body="x", automatic="tracking_link"))[0].data["automatic"] == \
        "tracking_link"


def test_a_reply_needs_a_body_and_a_fresh_message_id():
    ticket = opened(message_id="m-1")
    ticket.refuses(PostReply(actor=AGENT, body="   "), InvalidCommand, "invalid_field")
    ticket.refuses(AddNote(actor=AGENT, body=None), InvalidCommand, "invalid_field")
    ticket.refuses(PostReply(actor=AGENT, body="hi", message_id="m-1"), Conflict, "duplicate_message")
    ticket.refuses(PostReply(actor=AGENT, body="hi", attachments=(Attachment("a", "ftp://x"),)),
                   InvalidCommand, "invalid_field")


# --- assignment, priority, type ---------------------------------------------------------------


def test_assigning_sets_assignee_and_team_together():
    ticket = opened()
    [first] = ticket.do(Assign(actor=AGENT, assignee_id="agent-1", team="billing"))
    assert first.data == {"assignee_id": "agent-1", "team": "billing",
                          "previous_assignee_id": None, "previous_team": None}
    [second] = ticket.do(Assign(actor=AGENT_2, assignee_id="agent-2", team=None))
    assert second.data == {"assignee_id": "agent-2", "team": None,
                           "previous_assignee_id": "agent-1", "previous_team": "billing"}
    assert (ticket.state.assignee_id, ticket.state.team) == ("agent-2", None)


def test_assigning_only_an_agent_keeps_the_team_and_the_other_way_round():
    ticket = opened()
    ticket.do(Assign(actor=AGENT, assignee_id="agent-1", team="billing"))
    [agent] = ticket.do(Assign(actor=AGENT, assignee_id="agent-2"))
    assert (agent.data["assignee_id"], agent.data["team"]) == ("agent-2", "billing")
    [team] = ticket.do(Assign(actor=AGENT, team="shipping"))
    assert (team.data["assignee_id"], team.data["team"]) == ("agent-2", "shipping")
    assert ticket.do(Assign(actor=AGENT)) == []  # nothing sent: nothing changes


def test_assigning_what_is_already_assigned_changes_nothing():
    ticket = opened()
    ticket.do(Assign(actor=AGENT, assignee_id=None, team="billing"))
    assert ticket.do(Assign(actor=AGENT, team="billing")) == []
    assert ticket.do(Assign(actor=AGENT, assignee_id=None, team="billing")) == []
    assert ticket.state.version == 2


def test_unassigning():
    ticket = opened()
    assert ticket.do(Unassign(actor=AGENT)) == []  # nobody to unassign
    ticket.do(Assign(actor=AGENT, assignee_id="agent-1", team="billing"))
    [event] = ticket.do(Unassign(actor=AGENT))
    assert event.type == "ticket.unassigned"
    assert event.data == {"previous_assignee_id": "agent-1", "previous_team": "billing"}
    assert (ticket.state.assignee_id, ticket.state.team) == (None, None)


def test_assigning_nobody_is_an_unassignment():
    ticket = opened()
    ticket.do(Assign(actor=AGENT, assignee_id="agent-1"))
    assert ticket.types(ticket.do(Assign(actor=AGENT, assignee_id=None))) == ["ticket.unassigned"]  # no team kept
    ticket.do(Assign(actor=AGENT, assignee_id="agent-1", team="billing"))
    assert ticket.types(ticket.do(Assign(actor=AGENT, assignee_id=None, team=None))) == ["ticket.unassigned"]


def test_assignment_ids_are_checked():
    ticket = opened()
    assert list(ticket.refuses(Assign(actor=AGENT, assignee_id=""), InvalidCommand, "invalid_field").errors) == [
        "assignee_id"]
    assert list(ticket.refuses(Assign(actor=AGENT, team=7), InvalidCommand, "invalid_field").errors) == ["team"]


@pytest.mark.parametrize("command, field, value, default, misspelt", [
    (SetPriority, "priority", "urgent", "normal", "URGENT"),
    (SetType, "type", "return_request", "general", "return request"),
])
def test_priority_and_type_changes_record_the_previous_one(command, field, value, default, misspelt):
    ticket = opened()
    [event] = ticket.do(command(actor=AGENT, **{field: value}))
    assert event.data == {field: value, "previous": default}
    assert ticket.do(command(actor=AGENT, **{field: value})) == []
    ticket.refuses(command(actor=AGENT, **{field: misspelt}), InvalidCommand, "invalid_field")


def test_priorities_rank_from_low_to_urgent():
    assert [PRIORITY_RANK[p] for p in PRIORITIES] == [0, 1, 2, 3]


# --- tags ----------------------------------------------------------------------------------


def test_tags_are_normalised_and_kept_in_order():
    ticket = opened()
    ticket.do(AddTag(actor=AGENT, tag="  VIP "))
    ticket.do(AddTag(actor=AGENT, tag="refund:pending"))
    assert ticket.do(AddTag(actor=AGENT, tag="vip")) == []  # already there
    assert ticket.state.tags == ("vip", "refund:pending")
    [event] = ticket.do(RemoveTag(actor=AGENT, tag="VIP"))
    assert (event.type, event.data) == ("ticket.tag_removed", {"tag": "vip"})
    assert ticket.do(RemoveTag(actor=AGENT, tag="vip")) == []  # no longer there
    assert ticket.state.tags == ("refund:pending",)


@pytest.mark.parametrize("tag", ["", "  ", "-vip", "two words", "ü", "x" * 51, None, "4111-1111-1111-1111"])
def test_bad_tags_are_refused(tag):
    ticket = opened()
    assert list(ticket.refuses(AddTag(actor=AGENT, tag=tag), InvalidCommand, "invalid_field").errors) == ["tag"]
    ticket.refuses(RemoveTag(actor=AGENT, tag=tag), InvalidCommand, "invalid_field")


def test_a_ticket_has_at_most_twenty_tags():
    ticket = opened()
    for n in range(20):
        ticket.do(AddTag(actor=AGENT, tag=f"t{n}"))
    ticket.refuses(AddTag(actor=AGENT, tag="t20"), InvalidCommand, "invalid_field")
    assert ticket.do(AddTag(actor=AGENT, tag="t3")) == []  # present: still no change, not an error
    ticket.do(RemoveTag(actor=AGENT, tag="t0"))
    ticket.do(AddTag(actor=AGENT, tag="t20"))
    assert len(ticket.state.tags) == 20


# --- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_staff_follow_the_transition_table(current, target):
    ticket = in_status(current)
    command = ChangeStatus(actor=AGENT, status=target)
    if current == "closed":
        ticket.refuses(command, Conflict, "ticket_closed")
    elif target in TRANSITIONS[current]:
        [event] = ticket.do(command)
        assert event.data == {"status": target, "previous": current, "label": None, "reason": None}
        assert ticket.state.status == target
    else:
        error = ticket.refuses(command, Conflict, "illegal_transition")
        assert current in error.detail and target in error.detail


def test_the_transition_table():
    assert set(TRANSITIONS) == set(STATUSES)
    assert all(status not in targets for status, targets in TRANSITIONS.items())
    assert TRANSITIONS["solved"] == {"open", "closed"} and TRANSITIONS["closed"] == frozenset()


def test_an_unknown_status_is_refused():
    error = opened().refuses(ChangeStatus(actor=AGENT, status="archived"), InvalidCommand, "invalid_field")
    assert list(error.errors) == ["status"]


def test_on_hold_carries_a_label_and_loses_it_afterwards():
    ticket = opened()
    [event] = ticket.do(ChangeStatus(actor=AGENT, status="on_hold", label="  waiting for the courier "))
    assert event.data["label"] == "waiting for the courier"
    assert ticket.state.status_label == "waiting for the courier"
    ticket.do(ChangeStatus(actor=AGENT, status="pending"))
    assert ticket.state.status_label is None


def test_a_label_only_goes_with_on_hold_and_is_short():
    ticket = opened()
    assert list(ticket.refuses(ChangeStatus(actor=AGENT, status="pending", label="why"),
                               InvalidCommand, "invalid_field").errors) == ["label"]
    ticket.refuses(ChangeStatus(actor=AGENT, status="on_hold", label="x" * 101), InvalidCommand, "invalid_field")
    ticket.do(ChangeStatus(actor=AGENT, status="on_hold", label="x" * 100))


def test_solving_and_closing_stamp_the_time():
    ticket = opened()
    [solved] = ticket.do(Solve(actor=AGENT))
    assert ticket.state.solved_at == solved.occurred_at and ticket.state.closed_at is None
    [closed] = ticket.do(Close(actor=AGENT))
    assert ticket.state.closed_at == closed.occurred_at
    assert ticket.state.solved_at == solved.occurred_at  # still when it was solved


def test_the_customer_may_mark_the_ticket_solved_and_reopen_it():
    ticket = in_status("pending")
    [solved] = ticket.do(Solve(actor=CUSTOMER))
    assert solved.data == {"status": "solved", "previous": "pending", "label": None, "reason": None}
    [reopened] = ticket.do(Reopen(actor=CUSTOMER))
    assert reopened.data["status"] == "open" and ticket.state.status == "open"
    ticket.do(ChangeStatus(actor=CUSTOMER, status="solved"))
    ticket.do(ChangeStatus(actor=CUSTOMER, status="open"))
    assert ticket.state.status == "open"


@pytest.mark.parametrize("command", [Close(actor=CUSTOMER), ChangeStatus(actor=CUSTOMER, status="closed")],
                         ids=["Close", "ChangeStatus"])
@pytest.mark.parametrize("status", ["open", "pending", "solved"])
def test_the_customer_may_close_their_ticket_once_done(command, status):
    # The help widget's "close the ticket" (seeds/000): the shopper is done with it.
    ticket = in_status(status)
    [closed] = ticket.do(command)
    assert closed.data["status"] == "closed" and ticket.state.status == "closed"
    ticket.refuses(PostReply(actor=CUSTOMER, body="one more thing"), Conflict, "ticket_closed")


def test_the_customer_reopens_only_a_solved_ticket():
    ticket = in_status("pending")
    ticket.refuses(ChangeStatus(actor=CUSTOMER, status="open"), Forbidden, "staff_only")
    ticket.refuses(Reopen(actor=CUSTOMER), Conflict, "illegal_transition")


@pytest.mark.parametrize("status", ["open", "pending", "on_hold", "under_review"])
def test_reopen_is_only_for_solved_tickets(status):
    in_status(status).refuses(Reopen(actor=AGENT), Conflict, "illegal_transition")


def test_solving_a_solved_ticket_is_illegal():
    in_status("solved").refuses(Solve(actor=CUSTOMER), Conflict, "illegal_transition")


@pytest.mark.parametrize("command", one_of_each(AGENT)[:-1] + one_of_each(CUSTOMER)[:1] + [
    Solve(actor=CUSTOMER), Reopen(actor=CUSTOMER)], ids=lambda c: f"{type(c).__name__}-{c.actor.kind}")
def test_a_closed_ticket_refuses_everything_but_a_rating(command):
    in_status("closed").refuses(command, Conflict, "ticket_closed")


# --- rating --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["solved", "closed"])
def test_the_customer_rates_a_solved_or_closed_ticket_once(status):
    ticket = in_status(status)
    [event] = ticket.do(Rate(actor=CUSTOMER, score=4, comment="  Quick, thanks. "))
    assert event.data == {"score": 4, "comment": "Quick, thanks."}
    assert ticket.state.rating == {"score": 4, "comment": "Quick, thanks.", "rated_at": event.occurred_at}
    assert to_view(ticket.state, False)["rating"] == {"score": 4, "comment": "Quick, thanks.",
                                                      "rated_at": "2024-05-01T09:03:00Z"}
    ticket.refuses(Rate(actor=CUSTOMER, score=5), Conflict, "already_rated")


def test_a_rating_survives_reopening_and_is_not_repeated():
    ticket = in_status("solved")
    ticket.do(Rate(actor=CUSTOMER, score=2))
    ticket.do(PostReply(actor=CUSTOMER, body="Actually it broke again."))
    ticket.do(Solve(actor=AGENT))
    assert ticket.state.rating["score"] == 2
    ticket.refuses(Rate(actor=CUSTOMER, score=5), Conflict, "already_rated")


@pytest.mark.parametrize("status", ["open", "pending", "on_hold", "under_review"])
def test_an_unsolved_ticket_cannot_be_rated(status):
    in_status(status).refuses(Rate(actor=CUSTOMER, score=5), Conflict, "not_solved")


@pytest.mark.parametrize("actor", [AGENT, SYSTEM])
def test_only_the_customer_rates(actor):
    in_status("solved").refuses(Rate(actor=actor, score=5), Forbidden, "customer_only")


@pytest.mark.parametrize("score, comment, field", [
    (0, None, "score"), (6, None, "score"), (True, None, "score"), ("5", None, "score"), (4.0, None, "score"),
    (None, None, "score"), (5, "x" * 2001, "comment"), (5, 3, "comment"),
])
def test_a_rating_is_checked(score, comment, field):
    error = in_status("solved").refuses(Rate(actor=CUSTOMER, score=score, comment=comment),
                                        InvalidCommand, "invalid_field")
    assert list(error.errors) == [field]


def test_an_empty_rating_comment_is_no_comment():
    ticket = in_status("solved")
    [event] = ticket.do(Rate(actor=CUSTOMER, score=1, comment="   "))
    assert event.data == {"score": 1, "comment": None}


# --- card numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("written", [
    "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "4111 1111-1111 1111",
    "5500 0055 5555 5559", "3782 822463 10005", "4222222222222", "6011000990139424",
])
def test_card_numbers_are_masked_to_their_last_four_digits(written):
    last4 = written.replace(" ", "").replace("-", "")[-4:]
    assert redact_card_numbers(f"My card is {written}, please refund.") == \
        f"My card is •••• •••• •••• {last4}, please refund."


@pytest.mark.parametrize("text", [
    "Order 1234567890123456 is late",  # 16 digits, fails the Luhn check: an order number
    "Call me on +1 415 555 2671",
    "Tracking 4111 1111 1111",  # 12 digits: too short for a card
    "Twenty digits 41111111111111111111",  # longer than any card
    "Two spaces 4111  1111  1111  1111",  # groups two spaces apart are separate numbers
    "Dates 2024-05-01 and 2024-06-01",
])
def test_other_numbers_are_left_alone(text):
    assert redact_card_numbers(text) == text


def test_a_card_followed_by_more_digits_is_still_masked():
    assert redact_card_numbers("4111 1111 1111 1111 123") == "•••• •••• •••• 1111 123"


def test_text_around_a_card_in_any_script_is_kept():
    assert redact_card_numbers("سلام، شماره کارت من 4111-1111-1111-1111 است. ممنون") == \
        "سلام، شماره کارت من •••• •••• •••• 1111 است. ممنون"
    assert redact_card_numbers("مرحبا، بطاقتي 5500005555555559 شكرا") == "مرحبا، بطاقتي •••• •••• •••• 5559 شكرا"


def test_a_card_in_persian_digits_is_masked_too():
    persian = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    card = "6037 9975 9999 9993".translate(persian)
    assert redact_card_numbers(f"کارت {card} است") == f"کارت •••• •••• •••• {'9993'.translate(persian)} است"
    assert redact_card_numbers("سفارش ۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶") == "سفارش ۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶"  # not Luhn-valid


def test_card_numbers_never_reach_an_event():
    ticket = opened(subject=f"Charged twice on {CARD}", body=f"Card {CARD}, expiry 12/27",
                    attachments=(Attachment(f"statement {CARD}.pdf", "https://cdn.example/s.pdf"),))
    ticket.do(PostReply(actor=CUSTOMER, body="Also tried 5500-0055-5555-5559"))
    ticket.do(AddNote(actor=AGENT, body=f"Customer pasted {CARD}"))
    [hold] = ticket.do(ChangeStatus(actor=AGENT, status="on_hold", label=f"bank check {CARD}"))
    ticket.do(Solve(actor=AGENT))
    ticket.do(Rate(actor=CUSTOMER, score=3, comment=f"refund to {CARD} please"))
    ticket.refuses(SetType(actor=AGENT, type="card4111111111111111"), InvalidCommand, "invalid_field")

    everything = repr([e.data for e in ticket.events])
    for digits in ("4111111111111111", "5500005555555559"):
        assert digits not in everything.replace(" ", "").replace("-", "")
    assert ticket.state.subject == "Charged twice on •••• •••• •••• 1111"
    assert hold.data["label"] == "bank check •••• •••• •••• 1111"
    assert ticket.state.messages[0].attachments[0]["filename"] == "statement •••• •••• •••• 1111.pdf"


# --- the view, history and the fold ---------------------------------------------------------


def test_the_view_is_ready_for_json():
    ticket = opened(message_id="m-1")
    ticket.do(AddTag(actor=AGENT, tag="vip"))
    ticket.do(Assign(actor=AGENT, assignee_id="agent-1", team="billing"))
    view = to_view(ticket.state, viewer_is_staff=True)
    assert view == {
        "id": "t-1", "number": 1001, "status": "open", "status_label": None, "priority": "normal",
        "type": "general", "subject": "Where is my parcel?", "customer_id": "cust-1", "order_id": None,
        # Not known to the tickets service's customer replica yet.
        "customer": {"id": "cust-1", "name": None, "groups": [], "blocked": False, "block_reason": None,
                     "flagged": False},
        "assignee_id": "agent-1", "team": "billing", "topic_id": None, "tags": ["vip"], "version": 3,
        "created_at": "2024-05-01T09:01:00Z", "updated_at": "2024-05-01T09:03:00Z", "rating": None,
        "handled_by": "store", "restricted": False, "payment": None, "exchange": None, "data_change": None,
        "channel": "widget", "sla": None,
        "merged_into": None, "split_from": None,
        "messages": [{"id": "m-1", "author": {"type": "customer", "id": "cust-1"},
                      "body": "Ordered a week ago, nothing yet.", "internal": False, "attachments": [],
                      "created_at": "2024-05-01T09:01:00Z", "canned_response_id": None, "automatic": None,
                      "merged_from": None, "split_into": None}],
    }


def test_customers_see_only_public_history():
    hidden = {"ticket.note_added", "ticket.assigned", "ticket.unassigned", "ticket.tag_added",
              "ticket.tag_removed", "ticket.priority_changed", "ticket.type_changed",
              # The target's side of a merge carries the source's notes (or their ids).
              "ticket.merge_received", "ticket.merge_reverted",
              "sla.warning", "sla.breached",
              # Where staff sent the conversation, and their note to that person.
              "ticket.forwarded_by_email"}
    assert {t for t in EVENT_TYPES if not is_visible_to_customer(t)} == hidden
    assert is_visible_to_customer("ticket.replied") and is_visible_to_customer("ticket.status_changed")
    assert not is_visible_to_customer("ticket.something_new")


def test_the_state_is_the_fold_of_the_stream():
    ticket = opened()
    ticket.do(PostReply(actor=AGENT, body="On it."))
    ticket.do(ChangeStatus(actor=AGENT, status="pending"))
    ticket.do(PostReply(actor=CUSTOMER, body="Any news?"))  # two events
    assert [e.version for e in ticket.events] == [1, 2, 3, 4, 5]
    assert fold(ticket.events) == ticket.state
    assert fold(ticket.events[2:], fold(ticket.events[:2])) == ticket.state
    assert ticket.state.version == 5 and ticket.state.updated_at == ticket.events[-1].occurred_at
    assert fold([]) is None


def test_every_event_type_has_an_evolve_step():
    ticket = opened()
    for command in [PostReply(actor=AGENT, body="a"), AddNote(actor=AGENT, body="b"),
                    Assign(actor=AGENT, assignee_id="x"), Unassign(actor=AGENT),
                    SetPriority(actor=AGENT, priority="low"), SetType(actor=AGENT, type="bug"),
                    AddTag(actor=AGENT, tag="t"), RemoveTag(actor=AGENT, tag="t"),
                    ForwardByEmail(actor=AGENT, email="courier@example.com", note="Please check"),
                    Solve(actor=AGENT), Rate(actor=CUSTOMER, score=5)]:
        ticket.do(command)
    types = {e.type for e in ticket.events}
    for decision in (ApproveDataChange(actor=AGENT, customer_version=2), RejectDataChange(actor=AGENT, reason="no")):
        change = opened(type="customer_data_change", flow={"data_change": {"fields": {"city": "Jeddah"}}})
        types |= {e.type for e in change.do(decision)}
    # Merge, unmerge and split decide on two tickets (tests/unit/tickets/test_merging.py tells them).
    source, target = opened(), opened(ticket_id="t-2")
    source.do(PostReply(actor=AGENT, body="A second message."))
    for pair in (merging.decide_merge(source.state, target.state, MergeTicket(actor=AGENT), T0 + timedelta(hours=1)),
                 merging.decide_split(source.state, SplitTicket(actor=AGENT, message_id=source.state.messages[1].id,
                                                                new_ticket_id="t-3", number=1003), T0)):
        types |= {e.type for events in pair for e in events}
    merged = fold(stored(merging.decide_merge(source.state, target.state, MergeTicket(actor=AGENT), T0)[0], 2),
                  source.state)
    types |= {e.type for events in merging.decide_unmerge(merged, target.state, UnmergeTicket(actor=AGENT), T0)
              for e in events}
    # The SLA timer's events are not decided on commands (test_sla_clock_events_move_the_version...).
    assert types == set(EVENT_TYPES) - set(CLOCK_EVENTS)


def test_evolve_refuses_a_broken_stream():
    ticket = opened()
    reply = ticket.do(PostReply(actor=AGENT, body="a"))[0]
    with pytest.raises(ValueError):
        evolve(None, reply)  # nothing before ticket.opened
    with pytest.raises(ValueError):
        evolve(ticket.state, ticket.events[0])  # opened twice
    with pytest.raises(ValueError):
        evolve(ticket.state, SimpleNamespace(type="ticket.exploded", data={}, actor=AGENT, occurred_at=T0, version=3))


def test_decide_is_pure():
    ticket = in_status("pending")
    before = fold(ticket.events)
    decide(ticket.state, PostReply(actor=CUSTOMER, body="x"), T0)
    assert ticket.state == before  # deciding changes nothing; only evolve makes a new state


def test_stored_numbers_events_after_the_current_version():
    ticket = opened()
    new = stored(decide(ticket.state, PostReply(actor=CUSTOMER, body="x"), T0), 7)
    assert [(e.version, e.stream_id) for e in new] == [(8, "ticket")]
    first = stored(decide(None, open_command(ticket_id="t-9"), T0), 0)
    assert (first[0].stream_id, first[0].version, first[0].store_id) == ("t-9", 1, "store-1")
