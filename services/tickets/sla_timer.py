"""The SLA timer: every tickets replica ticks it (``service.py``), and each
tick fires the warnings and breaches that fell due and recomputes a batch of
tickets whose store changed its SLA policy.

Exactly once, with any number of replicas and restarts: each due ticket is
handled in a short transaction of its own that first *tries* the ticket's
stream lock (a replica that does not get it leaves the ticket to the one that
did, or to the next tick), folds the ticket, and appends the event to the
ticket's own stream only if the fold says it was not emitted yet
(``SlaState.emitted``); a replica killed mid-way rolls back, and the timer
row is still there for the next tick. The timer never waits for a lock a
request holds, and holds no row of ``sla_timers`` while it looks: a request
rewriting a ticket's timers never waits on it, so the two cannot deadlock.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from seedwork.envelope import Actor, NewEvent
from seedwork.instants import iso
from seedwork.store import EventStore

from .domain import sla
from .domain.queues import UNSOLVED
from .domain.ticket import fold
from .read_models import ReadModels, sla_of
from .sla_policies import SlaPolicies

log = logging.getLogger(__name__)

TIMER_ACTOR = Actor("system", "sla")
BATCH = 200
MAX_BATCHES = 10  # per tick
RECOMPUTE_BATCH = 50  # tickets recomputed per transaction: their rows stay locked until it commits


class SlaTimer:
    def __init__(self, store: EventStore, read_models: ReadModels, policies: SlaPolicies,
                 clock: Callable[[], datetime]):
        self.store, self.read_models, self.policies, self.clock = store, read_models, policies, clock
        s = store.schema
        self._due = (f"SELECT ticket_id FROM {s}.sla_timers WHERE due_at <= %s GROUP BY ticket_id "
                     "ORDER BY min(due_at) LIMIT %s")
        self._still_due = f"SELECT 1 FROM {s}.sla_timers WHERE ticket_id = %s AND due_at <= %s LIMIT 1"
        self._recompute = f"SELECT store_id, policy_version FROM {s}.sla_recompute LIMIT 1 FOR UPDATE SKIP LOCKED"
        self._stale = (f"SELECT ticket_id FROM {s}.ticket_list WHERE store_id = %s AND status = ANY(%s) "
                       "AND sla_policy_version < %s LIMIT %s FOR UPDATE SKIP LOCKED")
        self._recomputed = f"DELETE FROM {s}.sla_recompute WHERE store_id = %s AND policy_version = %s"

    def tick(self) -> tuple[int, int]:
        """Fire what is due (batch after batch while they come back full, at
        most ``MAX_BATCHES``: tickets held by requests stay due), then recompute one batch."""
        total = 0
        for _ in range(MAX_BATCHES):
            due = self.fire_due()
            total += due
            if due < BATCH:
                break
        return total, self.recompute()

    def fire_due(self, limit: int = BATCH) -> int:
        """Emit ``sla.warning`` / ``sla.breached`` for the tickets with due
        timers (the most overdue first); returns how many tickets were due."""
        now = self.clock()
        due = self.due_tickets(now, limit)
        self.fire(due, now)
        return len(due)

    def due_tickets(self, now: datetime, limit: int = BATCH) -> list[str]:
        with self.store.pool.connection() as conn:
            return [ticket_id for (ticket_id,) in conn.execute(self._due, (now, limit))]

    def fire(self, ticket_ids: list[str], now: datetime) -> int:
        """Fires the tickets listed as due; returns how many this replica handled."""
        fired = 0
        for ticket_id in ticket_ids:
            with self.store.transaction() as conn:
                if not self.store.try_lock_stream(conn, ticket_id):
                    continue  # a request or another replica has it
                # The list was read before the lock: another replica may have
                # fired the ticket since. Its timers then moved on, and folding
                # it again would only project it a second time.
                if conn.execute(self._still_due, (ticket_id, now)).fetchone() is None:
                    continue
                self._fire(conn, ticket_id, now)
                fired += 1
        return fired

    def _fire(self, conn, ticket_id: str, now: datetime) -> None:
        history = self.store.load(ticket_id, conn=conn)
        state = fold(history)
        version, policy = self.policies.policy_for(conn, state)
        sla_state = sla_of(state, history, version, policy)
        due = [] if sla_state is None else sorted(
            (moment, event_type, kind, cycle) for moment, event_type, kind, cycle in sla.due_moments(sla_state)
            if moment <= now and (kind, cycle, event_type) not in sla_state.emitted)
        events = [NewEvent(event_type, {"ticket_id": ticket_id, "target": kind, "cycle": cycle,
                                        "due_at": iso(moment), "policy_version": version,
                                        # So a message can say the due moment in the store's own time.
                                        "time_zone": policy["time_zone"]},
                           actor=TIMER_ACTOR, store_id=state.store_id, occurred_at=now)
                  for moment, event_type, kind, cycle in due]
        if events:
            appended = self.store.append(ticket_id, state.version, events, conn=conn)
            state, history = fold(appended, state), history + appended
            log.info("sla: ticket %s %s", ticket_id, ", ".join(f"{e.type} {e.data['target']}" for e in events))
        # Rewrites the ticket's timers: the fired ones are gone, stale ones too.
        self.read_models.project(conn, state, history)

    def recompute(self, limit: int = RECOMPUTE_BATCH) -> int:
        """One batch of a store's unsolved tickets on an older SLA policy, computed again."""
        with self.store.transaction() as conn:
            marked = conn.execute(self._recompute).fetchone()
            if marked is None:
                return 0
            store_id, version = marked
            stale = conn.execute(self._stale, (store_id, list(UNSOLVED), version, limit)).fetchall()
            done = 0
            for (ticket_id,) in stale:
                if self.store.try_lock_stream(conn, ticket_id):
                    self.read_models.reproject(conn, ticket_id)
                    done += 1
            if not stale:
                conn.execute(self._recomputed, (store_id, version))
                log.info("sla: store %s recomputed on policy version %d", store_id, version)
            return done
