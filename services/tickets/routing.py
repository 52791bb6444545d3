"""Routing, the process manager: it follows the service's own events (the bus
handler in ``service.py``) and a periodic sweep, and assigns waiting tickets
to agents by their team's (or the store's) mode. The choice is
``domain.routing``'s; this module loads the queues, takes the locks and
assigns through ``TicketWrites.execute_in``, so the list row, the counts and
the SLA follow as for any assignment (docs/agent-operations/routing.md).

Correct with any number of replicas:

- Decisions of one store are serialised by the advisory lock
  ``routing:{store_id}``, taken before anything is counted: an agent's load
  is read after every earlier routing assignment committed, so two replicas
  never both give an agent their last free place. The lock is per store, not
  per team: an agent in two teams has one capacity. It is only tried (again
  shortly, by a trigger): nobody holds a connection waiting for it.
- One assignment per transaction. A ticket's stream lock is only *tried*
  (a request holding it may be waiting on rows this transaction locks), and
  the ticket is folded again under it: a ticket someone else took, closed or
  moved is passed over, never assigned twice.
- The reassignment of a reopened ticket runs once per event (``once``, the
  service's processed-events record); everything else reads the current
  state and assigns only what waits, so running it twice assigns nothing more.
"""
from __future__ import annotations

import logging
import random
import time
from collections import Counter
from typing import Callable, Iterable

import psycopg

from seedwork.caller import Caller, system
from seedwork.config import checked_name
from seedwork.envelope import Actor, Envelope
from seedwork.errors import ConcurrencyConflict, DomainError
from seedwork.store import EventStore, lock, try_lock

from .agent_profiles import AgentProfiles
from .agent_settings import AgentSettings
from .domain import routing as rules
from .domain.agent_profiles import with_defaults
from .domain.queues import SPAM_TAG, UNSOLVED
from .domain.ticket import TicketState, fold
from .read_models import awaiting_staff
from .teams import Teams
from .writes import TicketWrites

log = logging.getLogger(__name__)

ROUTER = Actor("system", "routing")
CANDIDATES = 50  # waiting tickets looked at per queue and decision, most urgent first
MAX_PER_DRAIN = 1000  # assignments in one call, before it yields (the next trigger or sweep goes on)
LOCK_WAIT_SECONDS = 5.0  # how long a trigger keeps trying while another replica decides for the store
LOCK_TIMEOUT_MS = 5000  # how long the reassignment of a reopened ticket waits for the store's lock
# A transaction that lost to a request (a lock wait cut short, a deadlock PostgreSQL broke):
# the decision is left to the next trigger or sweep.
GAVE_WAY = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected, ConcurrencyConflict)

Once = Callable[[Envelope, Callable[[psycopg.Connection], object]], bool]


def caller_of(store_id: str) -> Caller:
    return system(store_id, ROUTER.id)


class RoutingMarks:
    """The ``routing_marks`` table: each queue's agents with the sequence
    number of their last ticket from it (the round-robin pointer, and least
    loaded's tie-break)."""

    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        self._of = f"SELECT queue, agent_id, seq FROM {s}.routing_marks WHERE store_id = %s AND queue = ANY(%s)"
        self._record = (f"INSERT INTO {s}.routing_marks (store_id, queue, agent_id, seq) "
                        f"SELECT %s, %s, %s, coalesce(max(seq), 0) + 1 FROM {s}.routing_marks "
                        "WHERE store_id = %s AND queue = %s "
                        "ON CONFLICT (store_id, queue, agent_id) DO UPDATE SET seq = EXCLUDED.seq")

    def of(self, conn: psycopg.Connection, store_id: str, queues: Iterable[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for queue, agent_id, seq in conn.execute(self._of, (store_id, list(queues))).fetchall():
            found.setdefault(queue, {})[agent_id] = seq
        return found

    def record(self, conn: psycopg.Connection, store_id: str, queue: str, agent_id: str) -> None:
        """After a routing assignment, in its transaction (under the store's routing lock)."""
        conn.execute(self._record, (store_id, queue, agent_id, store_id, queue))

    def rebuild(self, conn: psycopg.Connection) -> int:
        """The table again from the log: routing's own ``ticket.assigned`` events
        to an agent, numbered per queue in position order. Live, the numbers are
        drawn under the store's routing lock, whose order is the order of the
        assignments' transactions, hence of their positions: the same numbers."""
        s = self.schema
        conn.execute(f"LOCK TABLE {s}.routing_marks IN EXCLUSIVE MODE")
        conn.execute(f"DELETE FROM {s}.routing_marks")
        seq: Counter = Counter()
        marks: dict[tuple[str, str, str], int] = {}
        rows = conn.execute(
            f"SELECT store_id, coalesce(data->>'team', ''), data->>'assignee_id' FROM {s}.events "
            "WHERE type = 'ticket.assigned' AND actor_kind = %s AND actor_id = %s "
            "AND data->>'assignee_id' IS NOT NULL ORDER BY position", (ROUTER.kind, ROUTER.id))
        for store_id, queue, agent_id in rows:
            seq[store_id, queue] += 1
            marks[store_id, queue, agent_id] = seq[store_id, queue]
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {s}.routing_marks (store_id, queue, agent_id, seq) "
                            "VALUES (%s, %s, %s, %s)", [(*key, n) for key, n in sorted(marks.items())])
        return len(marks)


class Router:
    def __init__(self, store: EventStore, writes: TicketWrites, teams: Teams, agents: AgentProfiles,
                 settings: AgentSettings):
        self.store, self.writes, self.teams, self.agents, self.settings = store, writes, teams, agents, settings
        self.marks = RoutingMarks(store.schema)
        s = store.schema
        self._lock_key = f"{s}:routing:{{}}"
        # Each open queue's most urgent waiting tickets (the queue index, team by team), merged in that order.
        columns = "ticket_id, coalesce(team, '') AS queue, type, topic_id, tags, sla_due_at, priority_rank, " \
                  "created_at, number"
        waits = (f"FROM {s}.ticket_list WHERE store_id = %(store)s AND assignee_id IS NULL AND status = 'open' "
                 "AND awaiting_staff AND handled_by = 'store' AND NOT tags @> ARRAY[%(spam)s]::text[]")
        order = "ORDER BY sla_due_at NULLS LAST, priority_rank DESC, created_at, number"
        self._waiting = (
            f"SELECT w.* FROM unnest(%(teams)s::text[]) AS q(team) CROSS JOIN LATERAL ("
            f"SELECT {columns} {waits} AND team = q.team {order} LIMIT %(n)s) AS w "
            f"UNION ALL (SELECT {columns} {waits} AND team IS NULL AND %(no_team)s {order} LIMIT %(n)s) {order}")
        self._loads = (f"SELECT assignee_id, count(*) FROM {s}.ticket_list WHERE store_id = %s "
                       "AND assignee_id = ANY(%s) AND status = ANY(%s) GROUP BY assignee_id")
        self._row = f"SELECT team, assignee_id FROM {s}.ticket_list WHERE ticket_id = %s AND store_id = %s"
        self._stores = f"SELECT DISTINCT store_id FROM {s}.agent_profiles WHERE availability = 'online'"

    # --- triggers ------------------------------------------------------------------------

    def on_event(self, event: Envelope, once: Once) -> int:
        """React to one of the service's events (``domain.routing.wakes``):
        reassign a reopened ticket whose assignee is offline (once per event),
        then assign what waits in the queues the event concerns. Returns how
        many waiting tickets were assigned."""
        wakes = rules.wakes(event, ROUTER)
        store_id = event.store_id
        if not wakes or store_id is None:
            return 0
        if any(w.what == "reopened" for w in wakes):
            once(event, lambda conn: self._reroute(conn, store_id, event.stream_id))
        with self.store.pool.connection() as conn:
            queues = self._woken(conn, store_id, event, wakes)
            # Read without the lock: when nobody can take a ticket now, whatever
            # changes that (an agent online, a ticket solved) is an event that wakes these queues.
            if not queues or not rules.anyone_available(self.queues(conn, store_id, queues).values()):
                return 0
        return self.drain(store_id, queues)

    def _woken(self, conn: psycopg.Connection, store_id: str, event: Envelope, wakes: list[rules.Wake]) -> set[str]:
        queues: set[str] = set()
        row = None
        if any(w.what == "ticket" or (w.what == "agent" and w.agent_id is None) for w in wakes):
            row = conn.execute(self._row, (event.stream_id, store_id)).fetchone()
        for wake in wakes:
            if wake.what == "ticket" and row is not None and row[1] is None:
                queues.add(row[0] or rules.NO_TEAM)
            elif wake.what == "agent":
                agent_id = wake.agent_id or (row[1] if row else None)
                if agent_id is not None:
                    queues |= set(self.teams.team_ids_of(conn, store_id, agent_id)) | {rules.NO_TEAM}
            elif wake.what == "team":
                queues.add(wake.team_id)
            elif wake.what == "no_team":
                queues.add(rules.NO_TEAM)
        return queues

    def sweep(self) -> int:
        """Every store with an agent online: assign what waits (what a missed
        or failed trigger left). A store another replica is routing is skipped."""
        with self.store.pool.connection() as conn:
            stores = [row[0] for row in conn.execute(self._stores).fetchall()]
        return sum(self.drain(store_id, None, wait=False) for store_id in stores)

    # --- assigning what waits ---------------------------------------------------------------

    def drain(self, store_id: str, queues: Iterable[str] | None = None, wait: bool = True) -> int:
        """Assign the waiting tickets of these queues (team ids, ``NO_TEAM``;
        None: all of the store's), most urgent first, one per transaction,
        until nobody can take any. While another replica decides for the
        store, ``wait`` tries again shortly (a trigger: for up to
        ``LOCK_WAIT_SECONDS``, holding no connection meanwhile); otherwise
        the store is skipped (the sweep)."""
        keys = None if queues is None else frozenset(queues)
        assigned = 0
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while assigned < MAX_PER_DRAIN:
            try:
                with self.store.transaction() as conn:
                    locked = try_lock(conn, self._lock_key.format(store_id))
                    done = locked and self._assign_next(conn, store_id, keys)
            except GAVE_WAY as why:
                log.info("routing: store %s gave way (%s); the next trigger or sweep goes on", store_id,
                         type(why).__name__)
                return assigned
            if done:
                assigned += 1
            elif locked or not wait or time.monotonic() > deadline:
                return assigned
            else:
                # The other decision may have read the queues before this trigger's change committed:
                # decide again once it is done, so nothing this trigger brought is left waiting.
                time.sleep(random.uniform(0.005, 0.025))
        return assigned

    def _lock(self, conn: psycopg.Connection, store_id: str) -> None:
        """The store's routing lock, waited for (the reopened ticket's transaction, which holds nothing else)."""
        conn.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        lock(conn, self._lock_key.format(store_id))

    def _assign_next(self, conn: psycopg.Connection, store_id: str, keys: frozenset[str] | None) -> bool:
        """One decision: the most urgent waiting ticket someone may take, to them."""
        queues = self.queues(conn, store_id, keys)
        open_queues = [q.key for q in queues.values() if any(m.available for m in q.members)]
        if not open_queues:
            return False
        teams = [key for key in open_queues if key != rules.NO_TEAM]
        rows = conn.execute(self._waiting, {"store": store_id, "spam": SPAM_TAG, "teams": teams, "n": CANDIDATES,
                                            "no_team": rules.NO_TEAM in open_queues}).fetchall()
        waiting = [rules.Waiting(id=r[0], queue=r[1], type=r[2], topic_id=r[3], tags=tuple(r[4])) for r in rows]
        for ticket, agent, queue in rules.picks(waiting, queues):
            if self._give(conn, store_id, ticket.id, queue, agent.id, rules.WAITING):
                return True
        return False

    def _give(self, conn: psycopg.Connection, store_id: str, ticket_id: str, queue: rules.Queue,
              agent_id: str | None, reason: str, assignee: str | None = None, locked: bool = False) -> bool:
        """Assign the ticket (``agent_id`` None: back to its queue) if it still
        is as routing saw it: open, on the queue, assigned to ``assignee``."""
        if not locked and not self.store.try_lock_stream(conn, ticket_id):
            return False  # a request holds it: never wait for it (it may be waiting for this transaction)
        events = self.store.load(ticket_id, conn=conn)
        state = fold(events) if events else None
        if state is None or not _still(state, store_id, queue.key, assignee, waiting=reason == rules.WAITING):
            return False
        step = ["assign", {"assignee_id": agent_id, "routed_by": queue.mode, "reason": reason}]
        try:
            self.writes.execute_in(conn, caller_of(store_id), ticket_id, [step], None, events)
        except DomainError as refused:  # (a guard: _still checked what decide checks)
            log.warning("routing: ticket %s refused %s: %s", ticket_id, reason, refused)
            return False
        if agent_id is not None:
            self.marks.record(conn, store_id, queue.key, agent_id)
        log.info("routing: ticket %s to %s (%s, %s)", ticket_id, agent_id or "its queue", queue.mode, reason)
        return True

    # --- a reopened ticket whose assignee is offline --------------------------------------------

    def _reroute(self, conn: psycopg.Connection, store_id: str, ticket_id: str) -> bool:
        """In ``once``'s transaction. The ticket's stream lock is taken first and
        waited for while this transaction holds nothing, then the store's lock:
        a decision holding that one only ever *tries* stream locks."""
        conn.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        self.store.lock_stream(conn, ticket_id)
        self._lock(conn, store_id)
        state = fold(self.store.load(ticket_id, conn=conn))
        if state is None or state.assignee_id is None or state.store_id != store_id:
            return False
        profile = self.agents.get_in(conn, store_id, state.assignee_id)
        if not rules.needs_rerouting(state.status, profile["availability"]):
            return False
        key = state.team or rules.NO_TEAM
        queue = self.queues(conn, store_id, {key}, anyone_online=False).get(key)
        if queue is None:
            return False  # assigned by hand: the reopened ticket stays with its assignee
        agent = rules.choose(queue, rules.Waiting(id=state.id, queue=queue.key, type=state.type,
                                                  topic_id=state.topic_id, tags=state.tags))
        if agent is not None:
            return self._give(conn, store_id, ticket_id, queue, agent.id, rules.REOPENED, state.assignee_id, True)
        return self._give(conn, store_id, ticket_id, queue, None, rules.ASSIGNEE_OFFLINE, state.assignee_id, True)

    # --- the queues as routing sees them ------------------------------------------------------

    def queues(self, conn: psycopg.Connection, store_id: str, keys: Iterable[str] | None = None,
               anyone_online: bool = True) -> dict[str, rules.Queue]:
        """The store's automatic queues (of ``keys`` only, if given): each one's
        mode, members with their profile, load and last routing, and pointer.
        The members of the queue of tickets on no team are the agents with a
        routing profile (the only staff the tickets service knows), by id.
        With ``anyone_online``, nothing when no agent of the store is online."""
        profiles = self.agents.for_store(conn, store_id)
        if anyone_online and not any(p["availability"] == rules.ONLINE for p in profiles.values()):
            return {}
        keys = None if keys is None else set(keys)
        modes = self.teams.modes(conn, store_id, None if keys is None else keys - {rules.NO_TEAM})
        modes = {team: mode for team, mode in modes.items() if mode in rules.AUTOMATIC}
        members = self.teams.members_of(conn, store_id, modes) if modes else {}
        if keys is None or rules.NO_TEAM in keys:
            store_mode = self.settings.load(conn, store_id)["assignment_mode"]
            if store_mode in rules.AUTOMATIC:
                modes[rules.NO_TEAM] = store_mode
                members[rules.NO_TEAM] = sorted(profiles)
        if not modes:
            return {}
        agents = sorted({a for ids in members.values() for a in ids})
        loads = dict(conn.execute(self._loads, (store_id, agents, list(UNSOLVED))).fetchall()) if agents else {}
        marks = self.marks.of(conn, store_id, modes)
        queues = {}
        for key, mode in modes.items():
            seen = marks.get(key, {})
            team = tuple(_agent(a, profiles.get(a), loads.get(a, 0), seen.get(a, 0)) for a in members.get(key, ()))
            last = max(seen, key=seen.__getitem__) if seen else None
            queues[key] = rules.Queue(key=key, mode=mode, members=team, last_agent=last)
        return queues


def _agent(agent_id: str, profile: dict | None, load: int, last_routed: int) -> rules.Agent:
    """A member as routing sees them; one never given a profile has the defaults (offline)."""
    profile = with_defaults(profile)
    return rules.Agent(id=agent_id, availability=profile["availability"], capacity=profile["capacity"],
                       skills=frozenset(profile["skills"]), load=load, last_routed=last_routed)


def _still(state: TicketState, store_id: str, queue: str, assignee: str | None, waiting: bool) -> bool:
    """The ticket is as routing decided on it (the candidates are read without locks)."""
    return (state.store_id == store_id and state.status == "open" and state.handled_by == "store"
            and state.assignee_id == assignee and (state.team or rules.NO_TEAM) == queue
            and SPAM_TAG not in state.tags and (not waiting or awaiting_staff(state)))
