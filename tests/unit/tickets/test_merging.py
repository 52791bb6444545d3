"""Merge, unmerge and split (services.tickets.domain.merging), told as
stories: two tickets' states in, both streams' events out, each ticket's
state the fold of its own stream."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import Actor
from seedwork.errors import Conflict, Forbidden, InvalidCommand, NotFound
from services.tickets.domain import merging
from services.tickets.domain.commands import (
    AddNote, Attachment, ChangeStatus, MergeTicket, OpenTicket, PostReply, Rate, SplitTicket, UnmergeTicket,
)
from services.tickets.domain.decisions import decide
from services.tickets.domain.ticket import TicketState, fold, stored
from services.tickets.views import to_view

CUSTOMER = Actor("customer", "cust-1")
AGENT = Actor("agent", "agent-1")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
HASH = "b" * 64
RECEIPT = Attachment(filename="receipt.png", id="file-1", sha256=HASH, content_type="image/png", size=10)


class Stream:
    """One ticket's stream as the service layer keeps it."""

    def __init__(self, ticket_id: str, customer: Actor = CUSTOMER, store_id: str = "store-1", number: int = 1001,
                 at: datetime = T0, **opening):
        self.id, self.events, self.state = ticket_id, [], None
        self.add(decide(None, OpenTicket(actor=customer, ticket_id=ticket_id, store_id=store_id, number=number,
                                         subject="Where is my parcel?", body="Ordered a week ago.", **opening), at))

    def add(self, new_events) -> list:
        stored_events = stored(new_events, len(self.events), stream_id=self.id)
        self.state = fold(stored_events, self.state)
        self.events += stored_events
        return stored_events

    def do(self, command, at: datetime) -> list:
        return self.add(decide(self.state, command, at))


def merge(source: Stream, target: Stream, at: datetime = T0 + timedelta(hours=1), **fields):
    merged, received = merging.decide_merge(source.state, target.state, MergeTicket(actor=AGENT, **fields), at)
    return source.add(merged), target.add(received)


def unmerge(source: Stream, target: Stream, at: datetime, **kw):
    unmerged, reverted = merging.decide_unmerge(source.state, target.state, UnmergeTicket(actor=AGENT), at, **kw)
    return source.add(unmerged), target.add(reverted)


@pytest.fixture
def pair() -> tuple[Stream, Stream]:
    """The same shopper's duplicate (#1002, with a note and a file) and the ticket it duplicates (#1001)."""
    target = Stream("t-target", number=1001, at=T0)
    source = Stream("t-source", number=1002, at=T0 + timedelta(minutes=5), attachments=(RECEIPT,))
    source.do(AddNote(actor=AGENT, body="Same parcel as #1001."), T0 + timedelta(minutes=6))
    target.do(PostReply(actor=AGENT, body="Checking with the courier."), T0 + timedelta(minutes=10))
    return source, target


# --- merge ------------------------------------------------------------------------------------


def test_a_merge_closes_the_duplicate_with_a_pointer_and_moves_its_messages(pair):
    source, target = pair
    [merged], [received] = merge(source, target, file_copies={"file-1": "file-1-copy"})

    assert merged.type == "ticket.merged" and merged.data == {
        "into_ticket_id": "t-target", "into_number": 1001, "previous_status": "open", "previous_label": None}
    assert source.state.status == "closed" and source.state.closed_at == merged.occurred_at
    assert source.state.merged_into["ticket_id"] == "t-target"
    # The source keeps its own messages: its history is its own.
    assert len(source.state.messages) == 2

    assert received.type == "ticket.merge_received"
    assert (received.data["from_ticket_id"], received.data["from_number"]) == ("t-source", 1002)
    opening, note = received.data["messages"]
    assert opening["author"] == {"type": "customer", "id": "cust-1"} and opening["internal"] is False
    assert opening["created_at"] == "2024-05-01T09:05:00Z"
    assert opening["attachments"][0]["id"] == "file-1-copy"  # the target's record of the same file
    assert note["author"] == {"type": "agent", "id": "agent-1"} and note["internal"] is True
    # The target's fold holds them, marked, as they were written.
    moved = [m for m in target.state.messages if m.merged_from == "t-source"]
    assert [m.id for m in moved] == [m["id"] for m in received.data["messages"]]
    assert moved[0].created_at == T0 + timedelta(minutes=5) and moved[0].author_kind == "customer"
    assert fold(target.events) == target.state and fold(source.events) == source.state


def test_the_target_view_orders_its_messages_by_when_they_were_written(pair):
    source, target = pair
    merge(source, target)
    staff = to_view(target.state, viewer_is_staff=True)
    assert [m["created_at"] for m in staff["messages"]] == [
        "2024-05-01T09:00:00Z", "2024-05-01T09:05:00Z", "2024-05-01T09:06:00Z", "2024-05-01T09:10:00Z"]
    assert [m["merged_from"] for m in staff["messages"]] == [None, "t-source", "t-source", None]
    # The shopper sees the moved public message, never the moved note.
    shopper = to_view(target.state, viewer_is_staff=False)
    assert [m["internal"] for m in shopper["messages"]] == [False, False, False]
    assert to_view(source.state, viewer_is_staff=False)["merged_into"] == {
        "ticket_id": "t-target", "number": 1001, "merged_at": "2024-05-01T10:00:00Z"}


def test_a_merged_ticket_refuses_what_a_closed_one_refuses_and_its_rating(pair):
    source, target = pair
    merge(source, target)
    with pytest.raises(Conflict) as closed:
        decide(source.state, PostReply(actor=CUSTOMER, body="hello?"), T0 + timedelta(hours=2))
    assert closed.value.code == "ticket_closed"
    with pytest.raises(Conflict) as rated:
        decide(source.state, Rate(actor=CUSTOMER, score=5), T0 + timedelta(hours=2))
    assert rated.value.code == "ticket_merged"


@pytest.mark.parametrize("status", ["pending", "on_hold", "solved"])
def test_the_merge_remembers_the_status_it_closed(pair, status):
    source, target = pair
    label = "courier" if status == "on_hold" else None
    source.do(ChangeStatus(actor=AGENT, status=status, label=label), T0 + timedelta(minutes=30))
    solved_at = source.state.solved_at
    [merged], _ = merge(source, target)
    assert (merged.data["previous_status"], merged.data["previous_label"]) == (status, label)
    assert source.state.solved_at == solved_at  # kept through the close, as a close keeps it


def refused(source: Stream, target: Stream, error: type, code: str, actor: Actor = AGENT) -> Exception:
    before = (source.state, target.state)
    with pytest.raises(error) as info:
        merging.decide_merge(source.state, target.state, MergeTicket(actor=actor), T0 + timedelta(hours=1))
    assert info.value.code == code
    assert (source.state, target.state) == before
    return info.value


def test_only_staff_merge(pair):
    refused(*pair, Forbidden, "staff_only", actor=CUSTOMER)
    refused(*pair, Forbidden, "forbidden", actor=Actor("platform"))


def test_a_ticket_is_not_merged_into_itself(pair):
    source, _ = pair
    assert "into" in refused(source, source, InvalidCommand, "invalid_field").errors


def test_tickets_of_two_customers_are_not_merged(pair):
    source, _ = pair
    other = Stream("t-other", customer=Actor("customer", "cust-2"), number=1003)
    assert "into" in refused(source, other, Conflict, "different_customer").errors


def test_another_stores_ticket_is_not_found(pair):
    source, _ = pair
    elsewhere = Stream("t-elsewhere", store_id="store-2")
    refused(source, elsewhere, NotFound, "ticket_not_found")


def test_closed_tickets_are_not_merged(pair):
    source, target = pair
    target.do(ChangeStatus(actor=AGENT, status="closed"), T0 + timedelta(minutes=20))
    refused(source, target, Conflict, "ticket_closed")
    refused(target, source, Conflict, "ticket_closed")


def test_a_merged_ticket_is_neither_merged_again_nor_a_target(pair):
    source, target = pair
    third = Stream("t-third", number=1003)
    merge(source, target)
    refused(source, third, Conflict, "already_merged")
    refused(third, source, Conflict, "target_merged")


def test_the_platform_handles_its_tickets_alone():
    platform = Stream("t-p", flow={"payment": {"method": "mada", "card_last4": "1234"}}, type="charged_without_order",
                      handled_by="platform")
    refused(platform, Stream("t-s"), Forbidden, "handled_by_platform")


# --- unmerge ----------------------------------------------------------------------------------


def test_unmerge_restores_both_and_keeps_what_the_target_got_since(pair):
    source, target = pair
    source.do(ChangeStatus(actor=AGENT, status="on_hold", label="courier"), T0 + timedelta(minutes=30))
    before_source = source.state
    merge(source, target)
    target.do(PostReply(actor=CUSTOMER, body="Thanks, waiting."), T0 + timedelta(hours=2))

    [unmerged], [reverted] = unmerge(source, target, T0 + timedelta(hours=3))

    assert unmerged.data == {"into_ticket_id": "t-target", "into_number": 1001, "status": "on_hold",
                             "label": "courier"}
    assert (source.state.status, source.state.status_label) == ("on_hold", "courier")
    assert source.state.merged_into is None and source.state.closed_at is None
    assert source.state.messages == before_source.messages
    assert reverted.data["from_ticket_id"] == "t-source" and len(reverted.data["message_ids"]) == 2
    assert [m.body for m in target.state.messages] == [
        "Ordered a week ago.", "Checking with the courier.", "Thanks, waiting."]
    assert fold(target.events) == target.state and fold(source.events) == source.state
    # And it may be merged again: the same messages come back.
    merge(source, target, at=T0 + timedelta(hours=4))
    assert len(target.state.messages) == 5


@pytest.mark.parametrize("after, allowed", [
    (timedelta(hours=72), True),
    (timedelta(hours=72, microseconds=1), False),
])
def test_unmerge_is_possible_within_the_window(pair, after, allowed):
    source, target = pair
    [merged], _ = merge(source, target)
    if allowed:
        unmerge(source, target, merged.occurred_at + after)
        assert source.state.merged_into is None
    else:
        with pytest.raises(Conflict) as late:
            unmerge(source, target, merged.occurred_at + after)
        assert late.value.code == "unmerge_window_passed" and "72 hours" in late.value.detail


def test_the_window_is_the_stores_setting(pair):
    source, target = pair
    [merged], _ = merge(source, target)
    with pytest.raises(Conflict) as late:
        unmerge(source, target, merged.occurred_at + timedelta(hours=2), window=timedelta(hours=1))
    assert late.value.code == "unmerge_window_passed"


def test_only_a_merged_ticket_is_unmerged(pair):
    source, target = pair
    with pytest.raises(Conflict) as not_merged:
        merging.decide_unmerge(source.state, None, UnmergeTicket(actor=AGENT), T0)
    assert not_merged.value.code == "not_merged"
    merge(source, target)
    with pytest.raises(Forbidden):
        merging.decide_unmerge(source.state, target.state, UnmergeTicket(actor=CUSTOMER), T0 + timedelta(hours=2))


def test_a_closed_target_keeps_the_merge(pair):
    source, target = pair
    merge(source, target)
    target.do(ChangeStatus(actor=AGENT, status="closed"), T0 + timedelta(hours=2))
    with pytest.raises(Conflict) as closed:
        unmerge(source, target, T0 + timedelta(hours=3))
    assert closed.value.code == "ticket_closed"


def test_merges_chain_and_unwind_in_order(pair):
    a, b = pair
    c = Stream("t-c", number=1003)
    merge(a, b)
    merge(b, c, at=T0 + timedelta(hours=2))
    # c holds b's messages, a's among them, each as coming from b.
    assert {m.merged_from for m in c.state.messages[1:]} == {"t-target"} and len(c.state.messages) == 5
    with pytest.raises(Conflict) as first:
        unmerge(a, b, T0 + timedelta(hours=3))
    assert first.value.code == "target_merged"
    unmerge(b, c, T0 + timedelta(hours=3))
    unmerge(a, b, T0 + timedelta(hours=3))
    assert len(c.state.messages) == 1 and len(b.state.messages) == 2
    assert (a.state.status, b.state.status) == ("open", "open")


# --- the undo window's setting -------------------------------------------------------------------


def test_the_undo_window_is_read_once_from_the_environment():
    from services.tickets.config import TicketsConfig

    assert TicketsConfig.from_env({}).merge_undo_hours == 72
    assert TicketsConfig.from_env({"MERGE_UNDO_HOURS": " 24 "}).merge_undo_hours == 24
    for bad in ("0", "-1", "1.5", "a day"):
        with pytest.raises(ValueError, match="MERGE_UNDO_HOURS"):
            TicketsConfig.from_env({"MERGE_UNDO_HOURS": bad})


# --- split ------------------------------------------------------------------------------------


def test_a_split_opens_a_ticket_for_the_same_customer_from_one_message(pair):
    _, target = pair
    target.do(PostReply(actor=CUSTOMER, body="Also: my other order 77\nnever came.", attachments=(RECEIPT,)),
              T0 + timedelta(minutes=20))
    message = target.state.messages[-1]
    command = SplitTicket(actor=AGENT, message_id=message.id, new_ticket_id="t-new", number=1009,
                          file_copies={"file-1": "file-1-new"})

    [marked], [opened] = merging.decide_split(target.state, command, T0 + timedelta(hours=1))

    assert marked.type == "ticket.split" and marked.data == {"message_id": message.id, "new_ticket_id": "t-new",
                                                             "new_number": 1009}
    assert opened.type == "ticket.opened" and opened.actor == AGENT
    assert opened.data["customer_id"] == "cust-1" and opened.data["number"] == 1009
    assert opened.data["subject"] == "Also: my other order 77"
    assert opened.data["message"]["body"] == message.body and opened.data["message"]["id"] != message.id
    assert opened.data["message"]["attachments"][0]["id"] == "file-1-new"
    assert opened.data["split_from"] == {"ticket_id": "t-target", "number": 1001, "message_id": message.id,
                                         "author": {"type": "customer", "id": "cust-1"}}
    new = fold(stored([opened], 0, stream_id="t-new"))
    # The shopper wrote it; the agent opened the ticket.
    assert (new.messages[0].author_kind, new.messages[0].author_id) == ("customer", "cust-1")
    assert new.split_from == {"ticket_id": "t-target", "number": 1001, "message_id": message.id}
    original = fold(stored([marked], target.state.version), target.state)
    assert original.messages[-1].id == message.id
    assert original.messages[-1].split_into == {"ticket_id": "t-new", "number": 1009}


def test_a_split_takes_the_subject_it_is_given_or_makes_one():
    original = Stream("t-1")
    original.do(PostReply(actor=CUSTOMER, body="x" * 300), T0 + timedelta(minutes=1))
    original.do(PostReply(actor=CUSTOMER, body="", attachments=(RECEIPT,)), T0 + timedelta(minutes=2))
    long_one, files_only = original.state.messages[1:]
    _, [opened] = merging.decide_split(original.state, SplitTicket(
        actor=AGENT, message_id=long_one.id, new_ticket_id="n", number=2), T0)
    assert len(opened.data["subject"]) == 200 and opened.data["subject"].endswith("…")
    _, [opened] = merging.decide_split(original.state, SplitTicket(
        actor=AGENT, message_id=files_only.id, new_ticket_id="n", number=2), T0)
    assert opened.data["subject"] == opened.data["message"]["body"] == "Where is my parcel?"
    _, [opened] = merging.decide_split(original.state, SplitTicket(
        actor=AGENT, message_id=files_only.id, new_ticket_id="n", number=2, subject=" The receipt "), T0)
    assert opened.data["subject"] == opened.data["message"]["body"] == "The receipt"


def split_refused(state: TicketState, message_id: str, error: type, code: str, actor: Actor = AGENT):
    with pytest.raises(error) as info:
        merging.decide_split(state, SplitTicket(actor=actor, message_id=message_id, new_ticket_id="n", number=2), T0)
    assert info.value.code == code
    return info.value


def test_what_cannot_be_split(pair):
    source, target = pair
    note = source.state.messages[1]
    assert "message_id" in split_refused(source.state, note.id, Conflict, "internal_message").errors
    assert "message_id" in split_refused(source.state, "nope", NotFound, "message_not_found").errors
    alone = Stream("t-alone")
    split_refused(alone.state, alone.state.messages[0].id, Conflict, "only_message")
    split_refused(target.state, target.state.messages[0].id, Forbidden, "staff_only", actor=CUSTOMER)
    # With another public message the opening one may go: it stays here too.
    [marked], _ = merging.decide_split(target.state, SplitTicket(
        actor=AGENT, message_id=target.state.messages[0].id, new_ticket_id="n", number=2), T0)
    target.add([marked])
    split_refused(target.state, target.state.messages[0].id, Conflict, "already_split")
    target.do(ChangeStatus(actor=AGENT, status="closed"), T0 + timedelta(hours=1))
    split_refused(target.state, target.state.messages[1].id, Conflict, "ticket_closed")
