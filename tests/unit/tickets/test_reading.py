"""Read state per agent (services.tickets.domain.reading): a ticket's read
point is its last public customer message and the version that brought it;
a mark is recorded only when it moves; the fold of an agent's marks is the
furthest on each ticket, whatever order they come in."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import Actor
from services.tickets.domain import merging, reading
from services.tickets.domain.commands import (
    AddNote, ForwardByEmail, MergeTicket, OpenTicket, PostReply, UnmergeTicket,
)
from services.tickets.domain.decisions import decide
from services.tickets.domain.reading import ReadPoint, read_point
from services.tickets.domain.ticket import fold, stored

CUSTOMER = Actor("customer", "cust-1")
AGENT = Actor("agent", "agent-1")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


class Stream:
    def __init__(self, ticket_id="t-1", actor=CUSTOMER, **opening):
        self.id, self.events, self.state, self.clock = ticket_id, [], None, T0
        fields = {"customer_id": "cust-1"} if actor.kind != "customer" else {}
        self.add(decide(None, OpenTicket(actor=actor, ticket_id=ticket_id, store_id="store-1", number=1001,
                                         subject="Where is my parcel?", body="Ordered a week ago.",
                                         message_id=f"{ticket_id}-m1", **fields, **opening), T0))

    def add(self, new):
        events = stored(new, len(self.events), stream_id=self.id)
        self.state, self.events = fold(events, self.state), self.events + events
        return events

    def do(self, command):
        self.clock += timedelta(minutes=1)
        return self.add(decide(self.state, command, self.clock))

    @property
    def point(self) -> ReadPoint | None:
        return read_point(self.state, self.events)


# --- the read point ----------------------------------------------------------------------------


def test_a_shoppers_ticket_is_to_read_from_its_opening_message():
    assert Stream().point == ReadPoint(1, "t-1-m1")


def test_staff_messages_and_notes_never_move_the_read_point_the_customers_replies_do():
    ticket = Stream()
    ticket.do(PostReply(actor=AGENT, body="On it.", note="internal"))
    ticket.do(AddNote(actor=AGENT, body="more"))
    assert ticket.point == ReadPoint(1, "t-1-m1")
    [reply] = ticket.do(PostReply(actor=CUSTOMER, body="Any news?", message_id="m-5"))
    ticket.do(ForwardByEmail(actor=AGENT, email="c@example.com", note="see"))
    assert ticket.point == ReadPoint(reply.version, "m-5")


def test_a_ticket_staff_opened_for_a_shopper_has_nothing_to_read_until_the_shopper_writes():
    ticket = Stream(actor=AGENT)
    assert ticket.point is None and reading.point_version(ticket.point) == 0
    [reply] = ticket.do(PostReply(actor=CUSTOMER, body="Thanks", message_id="m-2"))
    assert ticket.point == ReadPoint(reply.version, "m-2")


def test_the_customers_messages_a_merge_brings_are_new_to_read_and_leave_with_the_unmerge():
    target, source = Stream("t-target"), Stream("t-source")
    source.do(PostReply(actor=CUSTOMER, body="Also this", message_id="m-src"))
    merged, received = merging.decide_merge(source.state, target.state, MergeTicket(actor=AGENT), T0 + timedelta(1))
    source.add(merged)
    [brought] = target.add(received)
    assert target.point == ReadPoint(brought.version, "m-src")
    unmerged, reverted = merging.decide_unmerge(source.state, target.state, UnmergeTicket(actor=AGENT),
                                                T0 + timedelta(days=1, hours=1))
    target.add(reverted)
    assert target.point == ReadPoint(1, "t-target-m1")


def test_a_ticket_the_platform_handles_has_nothing_for_the_store_to_read():
    ticket = Stream(type="charged_without_order", handled_by="platform",
                    flow={"payment": {"method": "mada", "card_last4": "4242"}})
    assert ticket.point is None


# --- marks -----------------------------------------------------------------------------------


def test_a_mark_is_recorded_when_it_moves_and_only_then():
    point = ReadPoint(4, "m-4")
    [event] = reading.decide_read("store-1", AGENT, "t-1", point, None, T0)
    assert event.type == "agent.ticket_read" and event.store_id == "store-1" and event.actor == AGENT
    assert event.data == {"agent_id": "agent-1", "ticket_id": "t-1", "version": 4, "message_id": "m-4"}
    assert reading.decide_read("store-1", AGENT, "t-1", point, 4, T0) == []  # read already: nothing
    assert reading.decide_read("store-1", AGENT, "t-1", None, None, T0) == []  # nothing to read
    assert len(reading.decide_read("store-1", AGENT, "t-1", ReadPoint(7, "m-7"), 4, T0)) == 1


def test_only_the_stores_staff_keep_marks():
    with pytest.raises(ValueError):
        reading.decide_read("store-1", CUSTOMER, "t-1", ReadPoint(1, "m"), None, T0)


@pytest.mark.parametrize("last, marked, unread", [(0, None, False), (3, None, True), (3, 2, True), (3, 3, False),
                                                  (3, 5, False)])
def test_unread_while_the_read_point_is_past_the_mark(last, marked, unread):
    assert reading.is_unread(last, marked) is unread


def test_the_fold_of_an_agents_marks_is_the_furthest_on_each_ticket_in_any_order():
    events = [
        *stored(reading.decide_read("store-1", AGENT, "t-1", ReadPoint(2, "m-2"), None, T0), 0, stream_id="r"),
        *stored(reading.decide_read("store-1", AGENT, "t-2", ReadPoint(1, "x-1"), None, T0), 1, stream_id="r"),
        *stored(reading.decide_read("store-1", AGENT, "t-1", ReadPoint(5, "m-5"), 2, T0 + timedelta(1)), 2,
                stream_id="r"),
    ]
    marks = reading.fold_marks(events)
    assert {t: (m.version, m.message_id) for t, m in marks.items()} == {"t-1": (5, "m-5"), "t-2": (1, "x-1")}
    assert reading.fold_marks(reversed(events)) == marks
    assert marks["t-1"].read_at == T0 + timedelta(1)


def test_an_agents_marks_are_a_stream_of_their_own_per_store():
    assert reading.stream_of("store-1", "agent-1") == "reads:store-1:agent-1"


# --- each topic's inbox, as counters --------------------------------------------------------------

SHOP = ("topic-1", "team-ops", "")


def entry(status="open", tags=(), topic="topic-1", team="team-ops", assignee=None, last=3, handled_by="store"):
    return reading.inbox_entry(status, handled_by, tags, topic, team, assignee, last)


def test_an_inbox_holds_the_stores_unsolved_tickets_with_a_customer_message_outside_spam():
    assert entry().cell == SHOP
    assert entry(topic=None, team=None).cell == ("", "", "")
    for outside in (entry(status="solved"), entry(status="closed"), entry(tags=("vip", "spam")), entry(last=0),
                    entry(handled_by="platform")):
        assert outside.cell is None
    for inside in ("pending", "on_hold", "under_review"):
        assert entry(status=inside).cell == SHOP


def test_a_new_ticket_adds_one_to_its_inbox_and_nobody_has_read_it():
    assert reading.inbox_changes(None, entry(), {}) == ([(SHOP, 1)], [])


def test_a_customer_reply_leaves_the_inbox_as_it_is_but_unreads_it_for_whoever_had_caught_up():
    before, after = entry(last=3), entry(last=5)
    marks = {"sara": 3, "omar": 1, "huda": 5}
    inbox, agents = reading.inbox_changes(before, after, marks)
    assert inbox == [] and agents == [("sara", SHOP, -1)]  # omar had not caught up; huda (a later mark) still has


def test_a_move_to_another_cell_moves_the_inbox_and_the_readers_counters():
    moved = entry(team="team-billing", assignee="omar")
    inbox, agents = reading.inbox_changes(entry(), moved, {"sara": 3})
    cell = ("topic-1", "team-billing", "omar")
    assert inbox == [(cell, 1), (SHOP, -1)]  # sorted by cell: writers take rows in one order
    assert agents == [("sara", cell, 1), ("sara", SHOP, -1)]


def test_solving_takes_the_ticket_out_of_the_inbox_and_its_readers_counters_and_reopening_back():
    solved = entry(status="solved")
    assert reading.inbox_changes(entry(), solved, {"sara": 3}) == ([(SHOP, -1)], [("sara", SHOP, -1)])
    assert reading.inbox_changes(solved, entry(), {"sara": 3}) == ([(SHOP, 1)], [("sara", SHOP, 1)])
    assert reading.inbox_changes(solved, entry(status="closed"), {"sara": 3}) == ([], [])


def test_a_read_counts_once_it_reaches_the_last_customer_message():
    assert reading.read_changes("sara", entry(last=3), None, 3) == [("sara", SHOP, 1)]
    assert reading.read_changes("sara", entry(last=3), 3, 3) == []  # caught up already
    assert reading.read_changes("sara", entry(last=5), 1, 3) == []  # (a stale point: still behind)
    assert reading.read_changes("sara", entry(status="solved"), None, 3) == []  # in no inbox
    assert reading.read_changes("sara", None, None, 3) == []


def test_an_agents_unread_count_is_the_inbox_less_what_they_read_over_the_cells_they_see():
    inbox = [(("t1", "ops", ""), 4), (("t1", "billing", "omar"), 2), (("", "", ""), 1)]
    read = [(("t1", "ops", ""), 1), (("t1", "billing", "omar"), 2)]
    assert reading.unread_by_topic(inbox, read, lambda team, assignee: True) == {"t1": 3, None: 1}
    only_ops = reading.unread_by_topic(inbox, read, lambda team, assignee: team == "ops")
    assert only_ops == {"t1": 3}
