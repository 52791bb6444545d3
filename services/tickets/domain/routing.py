"""Routing: which agent a waiting ticket goes to, and which events wake the
router (docs/agent-operations/routing.md). Plain Python; the process manager
that loads the queues, locks and assigns is ``services/tickets/routing.py``.

A *queue* is a team's waiting tickets (or the store's tickets on no team),
with its assignment mode and its members in order. An agent is *available*
when online with room under their capacity; *eligible* for a ticket when
available and they have every skill the ticket needs. A ticket needs the
labels (its type, ``topic:<topic id>``, its tags, ``lang:<language>``) that
are a skill of at least one member of its queue: skills filter, they never
leave a ticket nobody can take unless the one who can is busy or away.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .queues import UNSOLVED

AUTOMATIC = ("round_robin", "least_loaded")
ONLINE = "online"
NO_TEAM = ""  # the queue key of the tickets on no team: the store's own assignment mode
# Why routing assigned (the ``reason`` of its ``ticket.assigned``).
WAITING, REOPENED, ASSIGNEE_OFFLINE = "waiting", "reopened", "assignee_offline"
REASONS = (WAITING, REOPENED, ASSIGNEE_OFFLINE)
_NEVER = datetime.min.replace(tzinfo=timezone.utc)  # stands in for "no SLA due" in ``urgency``


@dataclass(frozen=True)
class Agent:
    """An agent as routing sees them in one queue."""

    id: str
    availability: str = "offline"
    capacity: int | None = None  # None: no limit
    skills: frozenset[str] = frozenset()
    load: int = 0  # unsolved tickets assigned to them, in every team
    last_routed: int = 0  # the queue's routing sequence number of their last ticket from it (0: never)

    @property
    def has_room(self) -> bool:
        return self.capacity is None or self.load < self.capacity

    @property
    def available(self) -> bool:
        return self.availability == ONLINE and self.has_room


@dataclass(frozen=True)
class Queue:
    """One queue's mode, members in order (a team's join order), and the agent
    routing last gave one of its tickets to (the round-robin pointer)."""

    key: str  # a team id, or NO_TEAM
    mode: str
    members: tuple[Agent, ...]
    last_agent: str | None = None

    @property
    def automatic(self) -> bool:
        return self.mode in AUTOMATIC

    @property
    def skills(self) -> frozenset[str]:
        return frozenset().union(*(m.skills for m in self.members))


@dataclass(frozen=True)
class Waiting:
    """A waiting ticket as routing reads it (a ``ticket_list`` row)."""

    id: str
    queue: str  # its team, or NO_TEAM
    type: str = "general"
    topic_id: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None


# --- a ticket's needs and who may take it ------------------------------------------------


def labels(type_: str, topic_id: str | None, tags: Iterable[str], language: str | None = None) -> frozenset[str]:
    """What a ticket could need: its type, its topic, its tags, its language."""
    found = {type_, *tags}
    if topic_id:
        found.add(f"topic:{topic_id}")
    if language:
        found.add(f"lang:{language}")
    return frozenset(found)


def needs(ticket: Waiting, queue: Queue) -> frozenset[str]:
    """The ticket's labels that some member of its queue has as a skill."""
    return labels(ticket.type, ticket.topic_id, ticket.tags, ticket.language) & queue.skills


def eligible(queue: Queue, needed: frozenset[str]) -> list[Agent]:
    """The members who may take a ticket with these needs now, in member order."""
    return [m for m in queue.members if m.available and needed <= m.skills]


def choose(queue: Queue, ticket: Waiting) -> Agent | None:
    """Who gets ``ticket`` in its queue's mode; None: nobody now (or manual)."""
    if not queue.automatic:
        return None
    pool = eligible(queue, needs(ticket, queue))
    if not pool:
        return None
    if queue.mode == "round_robin":
        return next_after(queue.members, pool, queue.last_agent)
    order = {m.id: n for n, m in enumerate(queue.members)}
    # Fewest unsolved tickets; a tie goes to who had a ticket from this queue longest ago, then member order.
    return min(pool, key=lambda m: (m.load, m.last_routed, order[m.id]))


def next_after(members: Sequence[Agent], pool: Sequence[Agent], last_agent: str | None) -> Agent:
    """Round robin: the first of ``pool`` after ``last_agent`` in member order,
    wrapping around; from the first member when the last one is not a member (any more)."""
    ids = [m.id for m in members]
    start = ids.index(last_agent) + 1 if last_agent in ids else 0
    allowed = {m.id for m in pool}
    for step in range(len(members)):
        member = members[(start + step) % len(members)]
        if member.id in allowed:
            return member
    raise ValueError("the pool is not among the members")


def picks(waiting: Iterable[Waiting], queues: Mapping[str, Queue]) -> Iterator[tuple[Waiting, Agent, Queue]]:
    """In the order of ``waiting`` (most urgent first), each ticket someone
    may take now with who takes it. A ticket nobody may take is passed over,
    never one that could be taken: the first pick is the most urgent
    assignable ticket. Each pick assumes none before it was made."""
    for ticket in waiting:
        queue = queues.get(ticket.queue)
        if queue is None:
            continue
        agent = choose(queue, ticket)
        if agent is not None:
            yield ticket, agent, queue


def anyone_available(queues: Iterable[Queue]) -> bool:
    return any(q.automatic and any(m.available for m in q.members) for q in queues)


def urgency(sla_due_at: datetime | None, priority_rank: int, created_at: datetime, number: int) -> tuple:
    """The order waiting tickets are taken in, as ``POST /v1/queue/next`` takes
    them: SLA due first (none last), then priority, then age."""
    return (sla_due_at is None, sla_due_at or _NEVER, -priority_rank, created_at, number)


# --- which events wake the router ---------------------------------------------------------


@dataclass(frozen=True)
class Wake:
    """What an event asks of the router. ``what``: ``ticket`` (route the
    ticket's queue if it waits), ``agent`` (an agent may have room: route
    their queues; ``agent_id`` None means the ticket's assignee), ``team``
    (a team's queue), ``no_team`` (the store's tickets on no team),
    ``reopened`` (reassign the ticket if its assignee is offline)."""

    what: str
    agent_id: str | None = None
    team_id: str | None = None


TRIGGER_TYPES = ("ticket.opened", "ticket.assigned", "ticket.unassigned", "ticket.status_changed",
                 "ticket.replied", "ticket.merged", "ticket.unmerged", "agent.profile_updated",
                 "team.member_added", "team.updated", "agent_settings.updated")


def wakes(event: Any, router_actor: Any) -> list[Wake]:
    """What ``event`` asks of the router (its own assignments ask nothing)."""
    if event.actor == router_actor:
        return []
    d, kind = event.data, event.type
    if kind in ("ticket.opened", "ticket.unmerged"):
        return [Wake("ticket")]
    if kind == "ticket.replied":
        return [Wake("ticket")] if event.actor.kind == "customer" else []
    if kind in ("ticket.assigned", "ticket.unassigned"):
        found = [Wake("ticket")] if d.get("assignee_id") is None else []
        previous = d.get("previous_assignee_id")
        if previous is not None and previous != d.get("assignee_id"):
            found.append(Wake("agent", agent_id=previous))
        return found
    if kind == "ticket.status_changed":
        if d["status"] == "open":
            return [Wake("reopened"), Wake("ticket")] if d.get("previous") == "solved" else [Wake("ticket")]
        if d["status"] in ("solved", "closed") and d.get("previous") in UNSOLVED:
            return [Wake("agent")]
        return []
    if kind == "ticket.merged":
        return [Wake("agent")]
    if kind == "agent.profile_updated":
        changes = d.get("changes") or {}
        if d["profile"]["availability"] == ONLINE and ({"availability", "capacity", "skills"} & changes.keys()):
            return [Wake("agent", agent_id=d["agent_id"])]
        return []
    if kind == "team.member_added" or (kind == "team.updated" and "assignment" in (d.get("changes") or {})):
        return [Wake("team", team_id=d["team_id"])]
    if kind == "agent_settings.updated" and "assignment_mode" in (d.get("changes") or {}):
        return [Wake("no_team")]
    return []


def needs_rerouting(status: str, assignee_availability: str | None) -> bool:
    """A reopened ticket goes to someone else when its assignee is offline
    (``away`` keeps it: they are coming back)."""
    return status == "open" and assignee_availability == "offline"
