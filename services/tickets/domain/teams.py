"""Teams (departments) of a store: what a team may be called, how its
tickets are assigned, and its state as the fold of its ``team.*`` events
(docs/agent-operations.md, "Teams"). Plain Python; the stream and the tables
are ``services/tickets/teams.py``.
"""
from __future__ import annotations

from typing import Any, Iterable

from seedwork.errors import InvalidCommand

from . import fields as rules
from .fields import echo

MODES = ("manual", "round_robin", "least_loaded")
NAME_MAX, DESCRIPTION_MAX = 100, 500
MAX_MEMBERS = 500
FIELDS = ("name", "description", "assignment")
EVENT_TYPES = ("team.created", "team.updated", "team.member_added", "team.member_removed", "team.deleted")


# --- what may be saved ----------------------------------------------------------------


def clean_team(sent: Any, partial: bool = False) -> dict[str, Any]:
    """``{name, description?, assignment?: {mode}}`` checked; with ``partial``
    (a PATCH) only the keys sent, at least one. A new team is assigned by hand
    unless it says otherwise."""
    if not isinstance(sent, dict):
        raise InvalidCommand.field("body", "must be an object")
    for key in sent:
        if key not in FIELDS:
            raise InvalidCommand.field(echo(key), "unknown field")
    if partial and not sent:
        raise InvalidCommand("invalid_fields", "send name, description or assignment",
                             {name: ["send at least one of these"] for name in FIELDS})
    clean: dict[str, Any] = {}
    if "name" in sent or not partial:
        clean["name"] = name(sent.get("name"))
    if "description" in sent or not partial:
        clean["description"] = rules.text(sent.get("description"), "description", DESCRIPTION_MAX, optional=True)
    if "assignment" in sent or not partial:
        clean["assignment"] = assignment(sent.get("assignment", {"mode": "manual"}))
    return clean


def name(value: Any) -> str:
    text = rules.text(value, "name", NAME_MAX)
    if "\n" in text or "\r" in text:  # a team's name is one line in every list and menu
        raise InvalidCommand.field("name", "must be one line")
    return text


def assignment(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"mode"}:
        raise InvalidCommand.field("assignment", "must be an object {mode}")
    mode = value.get("mode", "manual")
    if mode not in MODES:
        raise InvalidCommand.field("assignment", f"mode must be one of {', '.join(MODES)}")
    return {"mode": mode}


def member(value: Any) -> str:
    return rules.identifier(value, "agent_id")


def changes(team: dict[str, Any], clean: dict[str, Any]) -> dict[str, Any]:
    """What of ``clean`` differs from the team (nothing: the PATCH writes nothing)."""
    return {key: value for key, value in clean.items() if team[key] != value}


# --- the team as the fold of its events ---------------------------------------------------


def evolve(team: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """The team after one stored event (None once deleted). Trusts the events:
    they were checked when recorded."""
    d = event.data
    if event.type == "team.created":
        if team is not None:
            raise ValueError(f"team {team['id']} is already created")
        return {"id": d["team_id"], "store_id": event.store_id, "name": d["name"], "description": d.get("description"),
                "assignment": dict(d.get("assignment") or {"mode": "manual"}), "members": [],
                "version": event.version, "created_at": event.occurred_at, "updated_at": event.occurred_at}
    if event.type not in EVENT_TYPES:
        raise ValueError(f"unknown team event type {event.type!r}")
    if team is None:
        raise ValueError(f"{event.type} of a team that does not exist")
    if event.type == "team.deleted":
        return None
    team = {**team, "version": event.version, "updated_at": event.occurred_at}
    if event.type == "team.updated":
        team.update({key: d[key] for key in FIELDS if key in d})
    elif event.type == "team.member_added":
        team["members"] = [*team["members"], d["agent_id"]]
    else:  # team.member_removed
        team["members"] = [m for m in team["members"] if m != d["agent_id"]]
    return team


def fold(events: Iterable[Any], team: dict[str, Any] | None = None) -> dict[str, Any] | None:
    for event in events:
        team = evolve(team, event)
    return team
