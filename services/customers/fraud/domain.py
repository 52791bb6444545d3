"""A platform fraud flag as an aggregate: raised once by the fraud watch,
cleared once by the platform's review team. Plain Python.

Stream id: the flag id; events ``shopper.flagged`` (everything the flag is)
and ``shopper.flag_cleared``. Both are platform-wide (``store_id`` null):
they name other stores' customers. When a rule fires is ``rules.py``'s
business; this module only turns its ``Decision`` into the flag.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable

from seedwork.envelope import SYSTEM, Actor, Envelope, NewEvent
from seedwork.errors import Conflict, InvalidCommand, NotFound

from ..ids import StreamIds
from .rules import FLAG_CODE, Decision, full_evidence

NOTE_LIMIT = 1000


FLAG_IDS = StreamIds("flag")
not_found = FLAG_IDS.not_found
flag_id_of = FLAG_IDS.of  # anything but a UUID is a flag that does not exist


@dataclass(frozen=True)
class FlagState:
    """A fraud flag on a mobile, across stores: raised by a rule, cleared by the platform."""

    id: str
    mobile: str
    code: str
    rule: str
    threshold: int
    evidence: list[dict]  # as shopper.flagged carries it: every store's ids
    raised_at: datetime
    status: str = "active"  # active | cleared
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    note: str | None = None
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class RaiseFlag:
    flag_id: str
    mobile: str
    decision: Decision


@dataclass(frozen=True, kw_only=True)
class ClearFlag:
    actor: Actor
    note: str | None = None


def clean_note(value: Any) -> str | None:
    """What the reviewer wrote down: optional text."""
    if value is not None and (not isinstance(value, str) or len(value) > NOTE_LIMIT):
        raise InvalidCommand.field("note", f"text of at most {NOTE_LIMIT} characters")
    return value


def decide(state: FlagState | None, command: RaiseFlag | ClearFlag, now: datetime) -> list[NewEvent]:
    if isinstance(command, RaiseFlag):
        if state is not None:
            raise Conflict("flag_exists", f"flag {command.flag_id} was already raised")
        rule = command.decision.rule
        return [NewEvent("shopper.flagged", {
            "flag_id": command.flag_id, "mobile": command.mobile, "code": FLAG_CODE, "rule": rule.code,
            "threshold": rule.threshold, "evidence": full_evidence(command.decision)}, SYSTEM, None, occurred_at=now)]
    if isinstance(command, ClearFlag):
        if state is None:
            raise NotFound("flag_not_found", "only a raised flag can be cleared")
        if state.status != "active":
            raise Conflict("flag_already_cleared", f"flag {state.id} was already cleared")
        return [NewEvent("shopper.flag_cleared", {"flag_id": state.id, "mobile": state.mobile,
                                                  "note": clean_note(command.note)},
                         command.actor, None, occurred_at=now)]
    raise TypeError(f"unknown command {type(command).__name__}")


def evolve(state: FlagState | None, event: Envelope) -> FlagState:
    data = event.data
    if event.type == "shopper.flagged":
        if state is not None:
            raise ValueError("shopper.flagged twice on one flag's stream")
        return FlagState(id=data["flag_id"], mobile=data["mobile"], code=data["code"], rule=data["rule"],
                         threshold=data["threshold"], evidence=list(data["evidence"]), raised_at=event.occurred_at,
                         version=event.version)
    if state is None:
        raise ValueError(f"{event.type} before shopper.flagged")
    if event.type == "shopper.flag_cleared":
        # The platform's review team has no id of its own: it is "platform".
        return replace(state, status="cleared", cleared_at=event.occurred_at,
                       cleared_by=event.actor.id or event.actor.kind, note=data.get("note"), version=event.version)
    raise ValueError(f"unknown event type {event.type!r} on a flag's stream")


def fold(events: Iterable[Envelope], state: FlagState | None = None) -> FlagState | None:
    for event in events:
        state = evolve(state, event)
    return state
