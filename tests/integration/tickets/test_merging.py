"""Merge, unmerge, split and bulk actions in the tickets service layer, on
the real PostgreSQL, in process, with a clock the test moves: the undo
window to the microsecond, files copied to the other ticket, both list rows
and their rebuild, one correlation id per request. The same through HTTP is
in tests/e2e/test_bulk_merge.py."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from seedwork.caller import Caller
from seedwork.errors import Conflict, InvalidCommand, NotFound
from services.tickets.application import build
from services.tickets.config import TicketsConfig
from services.tickets.projection import COLUMNS

from .conftest import T0

HASH = "c" * 64


@pytest.fixture
def tickets(store, clock):
    return build(store, TicketsConfig(merge_undo_hours=2), clock=clock)


@pytest.fixture
def people():
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    customer_id = str(uuid.uuid4())
    return (Caller("agent", "ag_1", store_id, "agent"), Caller("customer", customer_id, store_id, "customer"))


def open_ticket(tickets, who, subject):
    return tickets.writes.open(who, {"subject": subject, "body": f"{subject}: details"})["ticket"]


def rows(store, ticket_ids):
    with store.pool.connection() as conn:
        return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {store.schema}.ticket_list "
                            "WHERE ticket_id = ANY(%s) ORDER BY ticket_id", (list(ticket_ids),)).fetchall()


def test_the_undo_window_is_the_configured_hours_to_the_microsecond(tickets, clock, people):
    agent, shopper = people
    target, source = open_ticket(tickets, shopper, "First"), open_ticket(tickets, shopper, "Again")
    merged = tickets.merges.merge(agent, source["id"], target["id"])["ticket"]
    assert merged["status"] == "closed" and merged["merged_into"]["ticket_id"] == target["id"]

    clock.now = T0 + timedelta(hours=2, microseconds=1)
    with pytest.raises(Conflict) as late:
        tickets.merges.unmerge(agent, source["id"])
    assert late.value.code == "unmerge_window_passed"

    clock.now = T0 + timedelta(hours=2)
    assert tickets.merges.unmerge(agent, source["id"])["ticket"]["status"] == "open"


def test_files_on_moved_messages_are_the_other_tickets_copies(tickets, people):
    agent, shopper = people
    target, source = open_ticket(tickets, shopper, "First"), open_ticket(tickets, shopper, "Again")
    upload = tickets.files.register(shopper, source["id"], {"filename": "r.png", "content_type": "image/png",
                                                            "size": 3, "sha256": HASH})
    tickets.writes.execute(shopper, source["id"], [["reply", {"body": "the receipt",
                                                              "attachments": [{"id": upload["id"]}]}]])
    tickets.merges.merge(agent, source["id"], target["id"])

    moved = [m for m in tickets.reads.get(agent, target["id"])["messages"] if m["attachments"]]
    [copy] = moved[0]["attachments"]
    assert copy["id"] != upload["id"] and copy["sha256"] == HASH
    assert copy["url"] == f"/v1/tickets/{target['id']}/attachments/{copy['id']}"
    # Staff and the shopper who uploaded it download the copy from the target.
    for who in (agent, shopper):
        assert tickets.files.download(who, target["id"], copy["id"])["sha256"] == HASH

    # A split of that message: the new ticket has its own copy too.
    new = tickets.merges.split(agent, target["id"], {"message_id": moved[0]["id"]})
    assert new["created"] is True
    [own] = new["ticket"]["messages"][0]["attachments"]
    assert own["id"] not in (copy["id"], upload["id"])
    assert tickets.files.download(shopper, new["ticket"]["id"], own["id"])["sha256"] == HASH


def test_both_list_rows_follow_and_rebuild_the_same(tickets, store, people):
    agent, shopper = people
    target, source = open_ticket(tickets, shopper, "First"), open_ticket(tickets, shopper, "Again")
    tickets.writes.execute(shopper, source["id"], [["reply", {"body": "more words"}]])
    tickets.merges.merge(agent, source["id"], target["id"])
    split = tickets.merges.split(agent, target["id"], {"message_id": tickets.reads.get(
        agent, target["id"])["messages"][1]["id"], "subject": "Split off"})["ticket"]
    ids = [target["id"], source["id"], split["id"]]
    live = rows(store, ids)
    by_id = {r[0]: dict(zip(COLUMNS, r)) for r in live}
    assert by_id[source["id"]]["status"] == "closed"
    assert by_id[target["id"]]["message_count"] == 3  # its own, and the merged ticket's two
    assert "more words" in by_id[target["id"]]["search_text"]

    tickets.read_models.rebuild()

    assert rows(store, ids) == live


def test_every_event_of_one_request_carries_one_correlation_id(tickets, store, people):
    agent, shopper = people
    a, b = open_ticket(tickets, shopper, "A"), open_ticket(tickets, shopper, "B")
    answer = tickets.bulk.run(agent, {"ids": [a["id"], b["id"]], "action": {"add_tags": ["x", "y"]}})
    events = [e for t in (a, b) for e in store.load(t["id"]) if e.type == "ticket.tag_added"]
    assert len(events) == 4 and {str(e.correlation_id) for e in events} == {answer["correlation_id"]}

    tickets.merges.merge(agent, b["id"], a["id"])
    merge_events = [store.load(t["id"])[-1] for t in (a, b)]
    assert {e.type for e in merge_events} == {"ticket.merged", "ticket.merge_received"}
    assert len({e.correlation_id for e in merge_events}) == 1 and merge_events[0].correlation_id is not None


def test_a_bulk_filter_matching_more_than_the_limit_is_refused_whole(tickets, people, monkeypatch):
    from services.tickets.domain import bulk

    agent, shopper = people
    opened = [open_ticket(tickets, shopper, f"T{n}") for n in range(4)]
    monkeypatch.setattr(bulk, "MAX_TICKETS", 3)
    with pytest.raises(InvalidCommand) as refused:
        tickets.bulk.run(agent, {"filter": {"status": "open"}, "action": {"priority": "high"}})
    assert "filter" in refused.value.errors
    assert {tickets.reads.get(agent, t["id"])["priority"] for t in opened} == {"normal"}
    # Narrowed, it runs, in ticket-number order.
    answer = tickets.bulk.run(agent, {"filter": {"status": ["open"], "q": "T1"}, "action": {"priority": "high"}})
    assert [i["id"] for i in answer["items"]] == [opened[1]["id"]]


def test_the_target_of_a_merge_is_named_when_it_is_not_found(tickets, people):
    agent, shopper = people
    source = open_ticket(tickets, shopper, "Again")
    elsewhere = Caller("agent", "ag_x", "st_other", "agent")
    foreign = open_ticket(tickets, Caller("customer", str(uuid.uuid4()), "st_other", "customer"), "Theirs")
    for into in (foreign["id"], str(uuid.uuid4())):
        with pytest.raises(NotFound) as missing:
            tickets.merges.merge(agent, source["id"], into)
        assert missing.value.code == "ticket_not_found" and "into" in missing.value.errors
    with pytest.raises(NotFound):
        tickets.merges.merge(elsewhere, source["id"], foreign["id"])
