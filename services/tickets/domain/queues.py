"""Views of the ticket list: the built-in ones every agent has, the filter
language saved views are written in (the same keys as ``GET /v1/tickets``),
and which views a ticket counts in. Plain Python; the counts projection and
the lists are ``services/tickets/view_counts.py`` and ``listing.py``.

A view's filter has two parts. What depends only on the ticket (status,
priority, team, tags, SLA state, ...) is ``matches``; what depends on who
looks ("assigned to me", "my teams") is a condition on the ticket's *cell*,
its (team, assignee) pair. Counts are kept per view and cell, so one stored
count serves every viewer: "mine" sums the cells assigned to the viewer, "my
teams" the cells of their teams, and a team-scoped agent sees only the cells
of their teams and their own. Each ticket sits in exactly one cell, so the
sums never count a ticket twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from seedwork.errors import InvalidCommand

from . import fields

UNSOLVED = ("open", "pending", "on_hold", "under_review")
SLA_STATES = ("none", "running", "paused", "warning", "breached", "met")
SPAM_TAG = "spam"
ME, MINE, NONE = "me", "mine", "none"  # assignee_id=me, team=mine, assignee_id/team=none

# The filter keys, as GET /v1/tickets names them; the first three take several values.
LIST_KEYS = ("status", "priority", "sla")
ONE_KEYS = ("assignee_id", "team", "topic_id", "type", "tag", "customer_id", "channel")
FILTER_KEYS = LIST_KEYS + ONE_KEYS
SORTS = ("created", "-created", "updated", "-updated", "priority", "-priority")
COLUMNS = ("number", "subject", "status", "priority", "assignee", "team", "topic", "customer", "channel",
           "sla", "tags", "created_at", "updated_at")
DEFAULT_COLUMNS = ("number", "subject", "status", "priority", "assignee", "sla", "updated_at")
NAME_MAX, MAX_SAVED_VIEWS = 100, 100


@dataclass(frozen=True)
class View:
    id: str
    name: str
    filter: Mapping[str, Any]
    sort: str = "-updated"
    columns: tuple[str, ...] = DEFAULT_COLUMNS


BUILT_IN = tuple(View(*v) for v in (
    ("mine", "Mine", {"status": list(UNSOLVED), "assignee_id": ME}, "priority"),
    ("unassigned", "Unassigned", {"status": list(UNSOLVED), "assignee_id": NONE}, "created"),
    ("my_teams", "My teams", {"status": list(UNSOLVED), "team": MINE}, "priority"),
    ("all_open", "All open", {"status": list(UNSOLVED)}),
    ("pending", "Pending on the customer", {"status": ["pending"]}),
    ("on_hold", "On hold", {"status": ["on_hold"]}),
    ("breaching_soon", "Breaching soon", {"status": list(UNSOLVED), "sla": ["warning"]}, "priority"),
    ("breached", "Breached", {"status": list(UNSOLVED), "sla": ["breached"]}, "priority"),
    ("spam", "Spam", {"tag": SPAM_TAG}),
))
BUILT_IN_BY_ID = {v.id: v for v in BUILT_IN}


@dataclass(frozen=True)
class Row:
    """What a view reads of a ticket: its ``ticket_list`` columns."""

    status: str
    priority: str
    assignee_id: str | None
    team: str | None
    topic_id: str | None
    type: str
    tags: tuple[str, ...]
    customer_id: str
    channel: str
    sla_state: str
    handled_by: str = "store"

    @property
    def cell(self) -> tuple[str, str]:
        """(team, assignee), '' for none: where the ticket is counted."""
        return self.team or "", self.assignee_id or ""


# --- the filter language ---------------------------------------------------------------


def clean_filter(raw: Any, name: str = "filter") -> dict[str, Any]:
    """A saved view's filter, checked and normalised (lists for status,
    priority and sla; strings for the rest); errors name ``filter.<key>``."""
    if not isinstance(raw, Mapping):
        raise InvalidCommand.field(name, "must be an object")
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{name}.{fields.echo(key)}"
        if key not in FILTER_KEYS:
            raise InvalidCommand.field(path, f"unknown filter; use {', '.join(FILTER_KEYS)}")
        if key in LIST_KEYS:
            allowed = {"status": fields.STATUSES, "priority": fields.PRIORITIES, "sla": SLA_STATES}[key]
            values = value.split(",") if isinstance(value, str) else value
            if not isinstance(values, (list, tuple)) or not values or any(v not in allowed for v in values):
                raise InvalidCommand.field(path, f"a list of {', '.join(allowed)}")
            clean[key] = sorted(set(values), key=list(allowed).index)
        elif key == "tag":
            clean[key] = _named(fields.tag, value, path)
        elif key == "channel":
            clean[key] = _named(fields.channel, value, path)
        elif key == "type":
            clean[key] = _named(lambda v: fields.ticket_type(v, reserved_ok=True), value, path)
        else:
            clean[key] = _named(lambda v, name=key: fields.identifier(v, name), value, path)
    return clean


def _named(check, value: Any, path: str) -> Any:
    try:
        return check(value)
    except InvalidCommand as refused:
        message = next(iter(refused.errors.values()))[0] if refused.errors else refused.detail
        raise InvalidCommand.field(path, message) from None


def clean_view(raw: Any, partial: bool = False) -> dict[str, Any]:
    """A saved view's ``{name, filter, sort, columns}``; with ``partial`` only the keys sent."""
    if not isinstance(raw, Mapping):
        raise InvalidCommand.field("body", "must be an object")
    unknown = set(raw) - {"name", "filter", "sort", "columns"}
    if unknown:
        raise InvalidCommand.field(fields.echo(sorted(unknown)[0]), "unknown field")
    clean: dict[str, Any] = {}
    if "name" in raw or not partial:
        clean["name"] = fields.text(raw.get("name"), "name", NAME_MAX)
    if "filter" in raw or not partial:
        clean["filter"] = clean_filter(raw.get("filter", {}))
    if "sort" in raw or not partial:
        sort = raw.get("sort", "-updated")
        if sort not in SORTS:
            raise InvalidCommand.field("sort", f"one of {', '.join(SORTS)}")
        clean["sort"] = sort
    if "columns" in raw or not partial:
        columns = raw.get("columns", list(DEFAULT_COLUMNS))
        if (not isinstance(columns, (list, tuple)) or not columns or len(set(columns)) != len(columns)
                or any(c not in COLUMNS for c in columns)):
            raise InvalidCommand.field("columns", f"a list of distinct columns among {', '.join(COLUMNS)}")
        clean["columns"] = list(columns)
    return clean


# --- which views a ticket is in ---------------------------------------------------------


def matches(view_filter: Mapping[str, Any], row: Row) -> bool:
    """Whether the ticket is in the view, apart from who looks (``me``,
    ``mine``: see ``viewer_condition``). Tickets the platform handles are in
    no store view; tickets tagged spam only in views that ask for the tag."""
    if row.handled_by != "store":
        return False
    f = view_filter
    if f.get("tag") != SPAM_TAG and SPAM_TAG in row.tags:
        return False
    if "status" in f and row.status not in f["status"]:
        return False
    if "priority" in f and row.priority not in f["priority"]:
        return False
    if "sla" in f and row.sla_state not in f["sla"]:
        return False
    if "tag" in f and f["tag"] not in row.tags:
        return False
    assignee = f.get("assignee_id")
    if assignee == NONE and row.assignee_id is not None:
        return False
    if assignee not in (None, NONE, ME) and row.assignee_id != assignee:
        return False
    team = f.get("team")
    if team == NONE and row.team is not None:
        return False
    if team not in (None, NONE, MINE) and row.team != team:
        return False
    return all(f[key] == getattr(row, key) for key in ("topic_id", "type", "customer_id", "channel") if key in f)


def counted_in(views: Iterable[tuple[str, Mapping[str, Any]]], row: Row | None) -> set[tuple[str, str, str]]:
    """The (view key, team, assignee) counters the ticket adds one to."""
    if row is None:
        return set()
    team, assignee = row.cell
    return {(key, team, assignee) for key, view_filter in views if matches(view_filter, row)}


def count_changes(views: Iterable[tuple[str, Mapping[str, Any]]], before: Row | None,
                  after: Row | None) -> list[tuple[str, str, str, int]]:
    """What a change of one ticket does to the counters: ``(key, team,
    assignee, +1 | -1)``, sorted (writers lock counters in one order, so two
    of them never wait on each other in a circle)."""
    views = list(views)
    was, now = counted_in(views, before), counted_in(views, after)
    return sorted([(*k, 1) for k in now - was] + [(*k, -1) for k in was - now])


# --- who looks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who asks for a view: an agent's id, their teams, and whether the store
    lets them see only their teams' tickets and their own (``scoped``)."""

    agent_id: str | None
    team_ids: frozenset[str] = frozenset()
    scoped: bool = False

    def sees_cell(self, team: str, assignee: str) -> bool:
        if not self.scoped:
            return True
        return team in self.team_ids or (self.agent_id is not None and assignee == self.agent_id)

    def sees(self, team: str | None, assignee_id: str | None) -> bool:
        """Whether this viewer may see a ticket on this team with this assignee."""
        return self.sees_cell(team or "", assignee_id or "")


def viewer_condition(view_filter: Mapping[str, Any], viewer: Viewer, team: str, assignee: str) -> bool:
    """Whether a counter cell counts for this viewer in this view."""
    if not viewer.sees_cell(team, assignee):
        return False
    if view_filter.get("assignee_id") == ME and assignee != (viewer.agent_id or "\0"):
        return False
    if view_filter.get("team") == MINE and team not in viewer.team_ids:
        return False
    return True


# --- a ticket's SLA, as views filter it -------------------------------------------------


def sla_summary(state: Any) -> tuple[str, Any]:
    """``(sla_state, earliest due moment)`` of a ticket's ``domain.sla`` state
    (None: no policy applies). ``warning`` once an ``sla.warning`` was
    emitted for a target still running; ``breached`` once any target is
    (an ``sla.breached`` emitted, or met late)."""
    if state is None or not state.targets:
        return "none", None
    running = [t for t in state.targets if t.met_at is None]
    due = min((t.due_at for t in running if t.due_at is not None), default=None)
    if any(t.breached for t in state.targets):
        return "breached", due
    warned = {(kind, cycle) for kind, cycle, event_type in state.emitted if event_type == "sla.warning"}
    if any((t.kind, t.cycle) in warned for t in running):
        return "warning", due
    if not running:
        return "met", None
    if state.paused:
        return "paused", None
    return "running", due
