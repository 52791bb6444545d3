"""One action on many tickets: which tickets a request names, the commands
its action is on each of them, and the answer's items. Plain Python; the
service layer (``services/tickets/bulk.py``) runs each ticket's commands in
a transaction of its own, through the same path as a single command.
See docs/agent-operations/bulk-merge-split.md.
"""
from __future__ import annotations

import re
from typing import Any

from seedwork.errors import DomainError, InvalidCommand

from . import fields as rules

MAX_TICKETS = 1000
ACTIONS = ("assign", "status", "priority", "team", "add_tags", "remove_tags")
SELECTIONS = ("ids", "filter", "view_id")  # a view resolves to its filter, for the caller
# A ticket's id as the API gives it (writes.py opens tickets with uuid4):
# anything else names no ticket, and no other stream is ever loaded as one.
TICKET_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Step = list  # [command name, fields], as TicketWrites.execute takes them


def selection(request: dict) -> tuple[str, Any]:
    """``("ids", [...])``, ``("filter", {...})`` or ``("view_id", id)``: exactly one of them."""
    given = [name for name in SELECTIONS if name in request]
    if len(given) != 1:
        message = "send exactly one of " + ", ".join(SELECTIONS)
        raise InvalidCommand("invalid_fields", message, {name: [message] for name in SELECTIONS})
    name = given[0]
    if name == "ids":
        return name, ticket_ids(request["ids"])
    if name == "view_id":
        if not isinstance(request["view_id"], str) or not request["view_id"]:
            raise InvalidCommand.field("view_id", "a view's id (GET /v1/views)")
        return name, request["view_id"]
    if not isinstance(request["filter"], dict):
        raise InvalidCommand.field("filter", "an object with the keys of GET /v1/tickets' query")
    return name, dict(request["filter"])


def ticket_ids(value: Any) -> list[str]:
    """1 to ``MAX_TICKETS`` ids, each once, in the order first given."""
    if not isinstance(value, list) or not value or not all(isinstance(i, str) for i in value):
        raise InvalidCommand.field("ids", "a list of ticket ids")
    ids = list(dict.fromkeys(value))
    if len(ids) > MAX_TICKETS:
        raise InvalidCommand.field("ids", f"at most {MAX_TICKETS} tickets at once; {len(ids)} given")
    return ids


def too_many() -> InvalidCommand:
    """A filter matching more than ``MAX_TICKETS`` is refused whole: nothing is half done."""
    return InvalidCommand.field("filter", f"matches more than {MAX_TICKETS} tickets; narrow it (or send ids)")


def is_ticket_id(value: str) -> bool:
    return TICKET_ID.fullmatch(value) is not None


def steps_for(action: Any) -> list[Step]:
    """The commands the action is on each ticket (all of a ticket's, or none of them)."""
    if not isinstance(action, dict) or len(action) != 1 or next(iter(action)) not in ACTIONS:
        raise InvalidCommand.field("action", "exactly one of " + ", ".join(ACTIONS))
    [(name, value)] = action.items()
    if name == "assign":
        if not isinstance(value, dict) or not value or set(value) - {"agent_id", "team"}:
            raise InvalidCommand.field("action", "assign takes agent_id, team or both (null clears it)")
        # A half left out keeps each ticket's own value.
        fields = {"assignee_id": value["agent_id"]} if "agent_id" in value else {}
        if "team" in value:
            fields["team"] = value["team"]
        return [["assign", fields]]
    if name == "status":
        if not isinstance(value, dict) or "status" not in value or set(value) - {"status", "label"}:
            raise InvalidCommand.field("action", "status takes {status, label?}")
        return [["ensure_status", {"status": value["status"], "label": value.get("label")}]]
    if name == "priority":
        return [["set_priority", {"priority": value}]]
    if name == "team":
        return [["assign", {"team": value}]]
    if not isinstance(value, list) or not 1 <= len(value) <= rules.MAX_TAGS:
        raise InvalidCommand.field("action", f"{name} takes a list of 1 to {rules.MAX_TAGS} tags")
    command = "add_tag" if name == "add_tags" else "remove_tag"
    return [[command, {"tag": tag}] for tag in value]


# --- the answer ----------------------------------------------------------------------------


def done(ticket_id: str, changed: bool, version: int) -> dict:
    return {"id": ticket_id, "status": "changed" if changed else "unchanged", "version": version}


def refused(ticket_id: str, refusal: DomainError) -> dict:
    """A ticket the action was refused on; ``error.kind`` is the refusal's
    class (``NotFound``, ``Conflict``, ...), which the gateway turns into its
    HTTP status."""
    return {"id": ticket_id, "status": "refused",
            "error": {"kind": type(refusal).__name__, "code": refusal.code, "detail": refusal.detail}}


def answer(items: list[dict], correlation_id: str) -> dict:
    counts = {"changed": 0, "unchanged": 0, "refused": 0}
    for item in items:
        counts[item["status"]] += 1
    return {"items": items, "counts": counts, "correlation_id": correlation_id}
