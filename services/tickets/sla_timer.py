"""The SLA timer: every tickets replica ticks it (``service.py``), and each
tick fires the warnings and breaches that fell due and recomputes a batch of
tickets whose store changed its SLA policy.

Exactly once, with any number of replicas and restarts: a due row of
``sla_timers`` is claimed with ``FOR UPDATE SKIP LOCKED`` (two replicas never
take the same one); the event is appended to the ticket's own stream under
its stream lock, after the ticket's fold said it was not emitted yet
(``SlaState.emitted``); a replica killed mid-way rolls back, and the row is
claimed again. The timer only *tries* a ticket's lock: a request holding it
may be waiting on the timer's rows, so waiting back could deadlock; the
ticket is simply fired on the next tick.
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


class SlaTimer:
    def __init__(self, store: EventStore, read_models: ReadModels, policies: SlaPolicies,
                 clock: Callable[[], datetime]):
        self.store, self.read_models, self.policies, self.clock = store, read_models, policies, clock
        s = store.schema
        self._due = (f"SELECT ticket_id, kind, cycle, event_type FROM {s}.sla_timers WHERE due_at <= %s "
                     "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED")
        self._recompute = f"SELECT store_id, policy_version FROM {s}.sla_recompute LIMIT 1 FOR UPDATE SKIP LOCKED"
        self._stale = (f"SELECT ticket_id FROM {s}.ticket_list WHERE store_id = %s AND status = ANY(%s) "
                       "AND sla_policy_version < %s LIMIT %s FOR UPDATE SKIP LOCKED")
        self._recomputed = f"DELETE FROM {s}.sla_recompute WHERE store_id = %s AND policy_version = %s"

    def tick(self) -> tuple[int, int]:
        """Fire what is due (until a batch comes back short), then recompute one batch."""
        fired = total = self.fire_due()
        while fired == BATCH:
            fired = self.fire_due()
            total += fired
        return total, self.recompute()

    def fire_due(self, limit: int = BATCH) -> int:
        """Emit ``sla.warning`` / ``sla.breached`` for the due timers; returns how many rows were claimed."""
        now = self.clock()
        with self.store.transaction() as conn:
            rows = conn.execute(self._due, (now, limit)).fetchall()
            for ticket_id in dict.fromkeys(r[0] for r in rows):
                if not self.store.try_lock_stream(conn, ticket_id):
                    continue  # a request holds it: the next tick fires it
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
        return len(rows)

    def recompute(self, limit: int = BATCH) -> int:
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
