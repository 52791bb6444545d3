"""Bulk actions' rules (services.tickets.domain.bulk): what a request selects,
the commands an action is on each ticket, the answer; and ``EnsureStatus``,
the status change that leaves a ticket already there as it is."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor
from seedwork.errors import Conflict, Forbidden, InvalidCommand, NotFound
from services.tickets.domain import bulk
from services.tickets.domain.commands import ChangeStatus, EnsureStatus, OpenTicket
from services.tickets.domain.decisions import decide
from services.tickets.domain.ticket import fold, stored

AGENT = Actor("agent", "agent-1")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


# --- what a request selects ----------------------------------------------------------------


def test_a_request_names_its_tickets_by_ids_by_a_filter_or_by_a_view():
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert bulk.selection({"ids": ids + ids[:1]}) == ("ids", ids)  # each once, in the order given
    assert bulk.selection({"filter": {"status": ["open"]}}) == ("filter", {"status": ["open"]})
    assert bulk.selection({"view_id": "mine"}) == ("view_id", "mine")
    for neither_or_both in ({}, {"ids": ids, "filter": {}}, {"view_id": "mine", "ids": ids}):
        with pytest.raises(InvalidCommand) as refused:
            bulk.selection(neither_or_both)
        assert set(refused.value.errors) == {"ids", "filter", "view_id"}
    with pytest.raises(InvalidCommand) as refused:
        bulk.selection({"view_id": ""})
    assert "view_id" in refused.value.errors


def test_at_most_a_thousand_tickets_at_once():
    assert len(bulk.ticket_ids([str(uuid.uuid4()) for _ in range(bulk.MAX_TICKETS)])) == 1000
    with pytest.raises(InvalidCommand) as refused:
        bulk.ticket_ids([str(uuid.uuid4()) for _ in range(bulk.MAX_TICKETS + 1)])
    assert "ids" in refused.value.errors and "1001 given" in refused.value.detail
    assert "filter" in bulk.too_many().errors
    with pytest.raises(InvalidCommand):
        bulk.ticket_ids([])


def test_only_ids_shaped_like_a_ticket_name_one():
    assert bulk.is_ticket_id(str(uuid.uuid4()))
    for other in ("canned:" + str(uuid.uuid4()), "self-service-settings:st-1", str(uuid.uuid4()).upper(), ""):
        assert not bulk.is_ticket_id(other)


# --- the commands of each action ---------------------------------------------------------------


@pytest.mark.parametrize("action, steps", [
    ({"assign": {"agent_id": "ag-1"}}, [["assign", {"assignee_id": "ag-1"}]]),
    ({"assign": {"agent_id": None, "team": "t-1"}}, [["assign", {"assignee_id": None, "team": "t-1"}]]),
    ({"team": None}, [["assign", {"team": None}]]),
    ({"status": {"status": "on_hold", "label": "courier"}},
     [["ensure_status", {"status": "on_hold", "label": "courier"}]]),
    ({"priority": "high"}, [["set_priority", {"priority": "high"}]]),
    ({"add_tags": ["a", "b"]}, [["add_tag", {"tag": "a"}], ["add_tag", {"tag": "b"}]]),
    ({"remove_tags": ["a"]}, [["remove_tag", {"tag": "a"}]]),
])
def test_each_action_is_the_commands_of_a_single_ticket(action, steps):
    assert bulk.steps_for(action) == steps


@pytest.mark.parametrize("action", [
    None, {}, {"priority": "high", "team": None}, {"close": True}, {"assign": {}}, {"assign": {"who": 1}},
    {"status": {"label": "x"}}, {"add_tags": []}, {"add_tags": ["t"] * 21},
])
def test_exactly_one_action_of_a_known_shape(action):
    with pytest.raises(InvalidCommand) as refused:
        bulk.steps_for(action)
    assert "action" in refused.value.errors


# --- the answer --------------------------------------------------------------------------------


def test_the_answer_counts_each_outcome():
    items = [bulk.done("a", True, 3), bulk.done("b", False, 2), bulk.refused("c", NotFound("ticket_not_found", "no"))]
    answer = bulk.answer(items, "corr")
    assert answer["counts"] == {"changed": 1, "unchanged": 1, "refused": 1}
    assert [i["status"] for i in answer["items"]] == ["changed", "unchanged", "refused"]
    assert answer["items"][2]["error"] == {"kind": "NotFound", "code": "ticket_not_found", "detail": "no"}
    assert answer["correlation_id"] == "corr"


# --- EnsureStatus --------------------------------------------------------------------------------


def ticket(status: str = "open", label: str | None = None):
    events = stored(decide(None, OpenTicket(actor=AGENT, ticket_id="t-1", store_id="s-1", number=1, subject="s",
                                            body="b", customer_id="c-1"), T0), 0)
    state = fold(events)
    if status != "open":
        state = fold(stored(decide(state, ChangeStatus(actor=AGENT, status=status, label=label), T0), 1), state)
    return state


def test_a_ticket_already_at_the_status_is_left_as_it_is():
    assert decide(ticket("pending"), EnsureStatus(actor=AGENT, status="pending"), T0) == []
    assert decide(ticket("closed"), EnsureStatus(actor=AGENT, status="closed"), T0) == []
    [changed] = decide(ticket("open"), EnsureStatus(actor=AGENT, status="pending"), T0)
    assert changed.data == {"status": "pending", "previous": "open", "label": None, "reason": None}


def test_everything_else_is_a_status_change_as_ever():
    held = ticket("on_hold", "courier")
    assert decide(held, EnsureStatus(actor=AGENT, status="on_hold", label=" courier "), T0) == []
    with pytest.raises(Conflict) as relabel:
        decide(held, EnsureStatus(actor=AGENT, status="on_hold", label="bank"), T0)
    assert relabel.value.code == "illegal_transition"
    with pytest.raises(Conflict) as closed:
        decide(ticket("closed"), EnsureStatus(actor=AGENT, status="open"), T0)
    assert closed.value.code == "ticket_closed"
    with pytest.raises(Forbidden):
        decide(ticket(), EnsureStatus(actor=Actor("customer", "c-1"), status="open"), T0)
    with pytest.raises(InvalidCommand):
        decide(ticket(), EnsureStatus(actor=AGENT, status="gone"), T0)

