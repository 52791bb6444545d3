"""A customer group as an aggregate: its name and whether it was deleted.
Plain Python.

Stream id: the group id. Every event of the stream names the group, so the
state after any event is what that event says: folding the whole stream and
reading only its last event give the same group (the service reads the head,
``EventStore.latest_event``). Who is in the group is not part of this state:
membership is a projection on the cards (``groups/projection.py``), because
one bulk action changes up to 10,000 cards in one statement; the
``members_added``/``members_removed`` events record who joined or left.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from seedwork.envelope import Actor, Envelope, NewEvent
from seedwork.errors import Conflict, InvalidCommand

from ..ids import StreamIds

NAME_LIMIT = 100
# A group event names at most this many customers; a bulk action writes several.
IDS_PER_EVENT = 1000
EVENT_TYPES = ("customer_group.created", "customer_group.renamed", "customer_group.deleted",
               "customer_group.members_added", "customer_group.members_removed")


GROUP_IDS = StreamIds("group")
not_found = GROUP_IDS.not_found
group_id_of = GROUP_IDS.of  # anything but a UUID is a group that does not exist


def group_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand.field("name", "required")
    value = " ".join(value.split())
    if len(value) > NAME_LIMIT:
        raise InvalidCommand.field("name", f"at most {NAME_LIMIT} characters")
    return value


def member_op(value: Any) -> str:
    if value not in ("add", "remove"):
        raise InvalidCommand.field("op", "add or remove")
    return value


def chunks(ids: Sequence[str], size: int = IDS_PER_EVENT):
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


@dataclass(frozen=True)
class GroupState:
    """A customer group's name; its members live in the projection, each change an event."""

    id: str
    store_id: str
    name: str
    deleted: bool = False
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: Actor


@dataclass(frozen=True, kw_only=True)
class CreateGroup(Command):
    group_id: str
    store_id: str
    name: Any


@dataclass(frozen=True, kw_only=True)
class RenameGroup(Command):
    name: Any


@dataclass(frozen=True, kw_only=True)
class DeleteGroup(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class ChangeMembers(Command):
    """``add`` the given customers (not in the group yet) or ``remove`` them (in it)."""

    op: str
    customer_ids: Sequence[str]


def _event(state: GroupState, command: Command, event_type: str, data: dict, now: datetime) -> NewEvent:
    return NewEvent(event_type, {"group_id": state.id, "name": state.name, **data}, command.actor, state.store_id,
                    occurred_at=now)


def decide(state: GroupState | None, command: Command, now: datetime) -> list[NewEvent]:
    if isinstance(command, CreateGroup):
        if state is not None:
            raise Conflict("group_exists", f"group {command.group_id} already exists")
        return [NewEvent("customer_group.created", {"group_id": command.group_id, "name": group_name(command.name)},
                         command.actor, command.store_id, occurred_at=now)]
    if state is None or state.deleted:
        raise not_found(state.id if state else "(none)")
    if isinstance(command, RenameGroup):
        name = group_name(command.name)
        if name == state.name:
            return []
        return [NewEvent("customer_group.renamed", {"group_id": state.id, "name": name, "previous_name": state.name},
                         command.actor, state.store_id, occurred_at=now)]
    if isinstance(command, DeleteGroup):
        return [_event(state, command, "customer_group.deleted", {}, now)]
    if isinstance(command, ChangeMembers):
        event_type = ("customer_group.members_added" if member_op(command.op) == "add"
                      else "customer_group.members_removed")
        return [_event(state, command, event_type, {"customer_ids": ids}, now)
                for ids in chunks(sorted(command.customer_ids))]
    raise TypeError(f"unknown command {type(command).__name__}")


def evolve(state: GroupState | None, event: Envelope) -> GroupState:
    """The group as ``event`` names it (whatever came before: see the module's docstring)."""
    if event.type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event.type!r} on a group's stream")
    return GroupState(id=event.data["group_id"], store_id=event.store_id, name=event.data["name"],
                      deleted=event.type == "customer_group.deleted", version=event.version)


def fold(events: Iterable[Envelope], state: GroupState | None = None) -> GroupState | None:
    for event in events:
        state = evolve(state, event)
    return state
