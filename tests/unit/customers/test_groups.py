"""A customer group (services.customers.groups.domain): its name and
deletion decided from its stream's last event; members named in events of
at most 1,000 ids."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor
from seedwork.errors import Conflict, InvalidCommand, NotFound
from services.customers.groups.domain import (IDS_PER_EVENT, ChangeMembers, CreateGroup, DeleteGroup, RenameGroup,
                                              decide, evolve, fold, group_id_of, group_name)

from .streams import stored

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
AGENT = Actor("agent", "ag-1")
GROUP_ID = "0b7f4c1e-2a9d-4e0b-8f3a-5d6c7e8f9a01"


class Stream:
    """A group's events so far, appended as the store would."""

    def __init__(self):
        self.events = []

    @property
    def head(self):
        return evolve(None, self.events[-1]) if self.events else None

    def run(self, command):
        new = decide(self.head, command, NOW)
        self.events += stored(new, len(self.events), GROUP_ID)
        return new


def a_group(name="VIP") -> Stream:
    stream = Stream()
    stream.run(CreateGroup(actor=AGENT, group_id=GROUP_ID, store_id="st-1", name=name))
    return stream


# --- name ---------------------------------------------------------------------------------


def test_a_group_is_created_with_its_name_tidied():
    [event] = a_group("  Gold   buyers ").events
    assert (event.type, event.store_id, event.actor, event.occurred_at) == ("customer_group.created", "st-1",
                                                                           AGENT, NOW)
    assert event.data == {"group_id": GROUP_ID, "name": "Gold buyers"}


@pytest.mark.parametrize("name", ["", "   ", None, 7, "x" * 101])
def test_a_group_needs_a_name_of_at_most_100_characters(name):
    with pytest.raises(InvalidCommand) as refused:
        group_name(name)
    assert "name" in refused.value.errors


def test_renaming_records_the_previous_name_and_the_same_name_is_no_event():
    group = a_group()
    assert group.run(RenameGroup(actor=AGENT, name=" VIP ")) == []
    [event] = group.run(RenameGroup(actor=AGENT, name="Gold"))
    assert event.data == {"group_id": GROUP_ID, "name": "Gold", "previous_name": "VIP"}
    assert (group.head.name, group.head.version) == ("Gold", 2)


def test_a_group_that_exists_cannot_be_created_again():
    with pytest.raises(Conflict):
        a_group().run(CreateGroup(actor=AGENT, group_id=GROUP_ID, store_id="st-1", name="Again"))


# --- members ------------------------------------------------------------------------------


def test_members_are_named_sorted_in_events_of_at_most_a_thousand_ids():
    group = a_group()
    ids = [f"{n:05}" for n in range(2 * IDS_PER_EVENT + 1)][::-1]
    events = group.run(ChangeMembers(actor=AGENT, op="add", customer_ids=ids))
    assert [len(e.data["customer_ids"]) for e in events] == [1000, 1000, 1]
    assert [i for e in events for i in e.data["customer_ids"]] == sorted(ids)
    assert {(e.type, e.data["name"]) for e in events} == {("customer_group.members_added", "VIP")}
    [removed] = group.run(ChangeMembers(actor=AGENT, op="remove", customer_ids=["00001"]))
    assert removed.type == "customer_group.members_removed"


def test_nobody_to_change_is_no_event_and_the_op_is_add_or_remove():
    group = a_group()
    assert group.run(ChangeMembers(actor=AGENT, op="add", customer_ids=[])) == []
    with pytest.raises(InvalidCommand) as refused:
        group.run(ChangeMembers(actor=AGENT, op="swap", customer_ids=["1"]))
    assert "op" in refused.value.errors


# --- deletion and the state from the head -------------------------------------------------


def test_a_deleted_group_is_a_group_that_does_not_exist():
    group = a_group()
    [event] = group.run(DeleteGroup(actor=AGENT))
    assert event.data == {"group_id": GROUP_ID, "name": "VIP"} and group.head.deleted
    for command in (RenameGroup(actor=AGENT, name="X"), DeleteGroup(actor=AGENT),
                    ChangeMembers(actor=AGENT, op="add", customer_ids=["1"])):
        with pytest.raises(NotFound):
            group.run(command)


def test_the_last_event_alone_gives_the_state_the_whole_stream_folds_into():
    group = a_group()
    group.run(ChangeMembers(actor=AGENT, op="add", customer_ids=["1", "2"]))
    group.run(RenameGroup(actor=AGENT, name="Gold"))
    group.run(ChangeMembers(actor=AGENT, op="remove", customer_ids=["2"]))
    for n in range(1, len(group.events) + 1):
        assert fold(group.events[:n]) == evolve(None, group.events[n - 1])
    assert fold(group.events).name == "Gold" and fold(group.events).version == 4


def test_another_aggregates_event_is_no_group_and_a_bad_id_no_group():
    group = a_group()
    with pytest.raises(ValueError):
        evolve(None, replace(group.events[0], type="order.recorded"))
    with pytest.raises(NotFound):
        group_id_of("not-a-group")
