"""The reports' read side, kept from the events heard on the bus.

Delivery is at least once and handlers run concurrently (several workers,
several replicas), so the events of one ticket may come twice or out of
order. The rule: **every ticket event is stored once, by the ticket stream's
own key (ticket id, version), and a ticket's metrics are always the fold of
its stored events in version order, up to the first one missing.** A late
event fills its gap and the ticket is measured again; a duplicate stores
nothing and changes nothing. A ticket is measured by its store's SLA policy
version in force when it opened; hearing a version takes the store's policy
lock alone, measuring a ticket takes it shared, so a version and a ticket
opened after it, heard at the same moment, cannot each miss the other. A ticket is measured under its lock
(``seedwork.store.lock``), so two workers never measure it at once; a
ticket about an order takes the order's lock first, as ``order.recorded``
does before it measures the order's tickets: so a ticket and its order heard
at the same moment cannot each miss the other, and the locks are always
taken in one order (rebuild, policy, orders, tickets), all of them before
any rollup row is written: no deadlock.

The rollups are sums of the tickets' contributions. Each ticket row keeps
the contributions it last made, so measuring a ticket again subtracts
exactly those and adds the new ones, in the same transaction. The rollup
rows a change touches are created if missing, then locked in one sorted
order, then written: no lost update, no deadlock.

``rebuild`` starts over from ``report_events``: the same code on the same
events, under each store's policy now (how a changed business-hours setting
reaches history: docs/reports.md).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Mapping

import psycopg
from psycopg.types.json import Jsonb

from seedwork.config import checked_name
from seedwork.envelope import Actor, Envelope
from seedwork.store import lock

from .domain import keywords
from .domain import metrics as measuring
from .domain import reasons
from .domain import rollups
from .domain.rollups import EMPTY, Measures

log = logging.getLogger(__name__)
REBUILD_BATCH = 500  # tickets measured before their rollup rows are written
LATEST = 2**62  # a position after every other: ``policy_of`` it is the store's policy now

TICKET_EVENT_PREFIXES = ("ticket.", "sla.")  # a ticket's own stream; the service's other streams are named "kind:..."


@dataclass(frozen=True, slots=True)
class HeardEvent:
    """A stored ticket event as the domain folds it."""
    type: str
    data: Mapping[str, Any]
    actor: Actor
    occurred_at: datetime
    version: int
    store_id: str
    position: int


class ReportsProjection:
    def __init__(self, schema: str, fcr_window_days: int):
        s = self.schema = checked_name(schema, "schema")
        self.fcr_window_days = fcr_window_days
        self._store_event = (
            f"INSERT INTO {s}.report_events (ticket_id, version, store_id, position, type, actor_kind, actor_id, "
            "occurred_at, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")
        self._events_of = (
            f"SELECT type, data, actor_kind, actor_id, occurred_at, version, store_id, position "
            f"FROM {s}.report_events WHERE ticket_id = %s ORDER BY version")
        self._order_of_ticket = (f"SELECT data->>'order_id' FROM {s}.report_events WHERE ticket_id = %s "
                                 "AND version = 1")
        self._metrics_of = f"SELECT contributions FROM {s}.ticket_metrics WHERE ticket_id = %s"
        self._write_metrics = (
            f"INSERT INTO {s}.ticket_metrics (ticket_id, store_id, created_at, customer_id, order_id, "
            "opened_position, metrics, contributions, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (ticket_id) DO UPDATE SET store_id = EXCLUDED.store_id, created_at = EXCLUDED.created_at, "
            "customer_id = EXCLUDED.customer_id, order_id = EXCLUDED.order_id, "
            "opened_position = EXCLUDED.opened_position, metrics = EXCLUDED.metrics, "
            "contributions = EXCLUDED.contributions, position = EXCLUDED.position")
        # The version in force when the ticket opened: the last one before it in the tickets log.
        # (or at the store's restatement, for a ticket opened before it).
        self._policy_of = (
            f"SELECT policy FROM {s}.store_policies WHERE store_id = %(store)s AND position < greatest(%(opened)s, "
            f"(SELECT position FROM {s}.store_restatements WHERE store_id = %(store)s)) "
            "ORDER BY position DESC LIMIT 1")
        self._restate = (f"INSERT INTO {s}.store_restatements (store_id, position) VALUES (%s, %s) "
                         "ON CONFLICT (store_id) DO UPDATE SET position = EXCLUDED.position")
        self._heard_head = f"SELECT coalesce(max(position), 0) + 1 FROM {s}.report_events WHERE store_id = %s"
        self._write_policy = (f"INSERT INTO {s}.store_policies (store_id, version, position, policy) "
                              "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING")
        self._opened_after = (f"SELECT ticket_id FROM {s}.ticket_metrics WHERE store_id = %s "
                              "AND opened_position > %s ORDER BY ticket_id")
        self._products_of = f"SELECT products FROM {s}.order_products WHERE store_id = %s AND order_id = %s"
        self._write_order = (
            f"INSERT INTO {s}.order_products AS o (store_id, order_id, products, ordered_at, stream_version) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (store_id, order_id) DO UPDATE SET "
            "products = EXCLUDED.products, ordered_at = EXCLUDED.ordered_at, stream_version = EXCLUDED.stream_version "
            "WHERE o.stream_version < EXCLUDED.stream_version RETURNING 1")
        self._write_availability = (
            f"INSERT INTO {s}.availability_changes (store_id, agent_id, version, changed_at, availability) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")
        self._tickets_of_order = f"SELECT ticket_id FROM {s}.ticket_metrics WHERE store_id = %s AND order_id = %s"
        self._touch_rollups = (
            f"INSERT INTO {s}.rollups (store_id, dimension, day, key, measures) "
            "SELECT %s, d, y, k, '{}'::jsonb FROM unnest(%s::text[], %s::date[], %s::text[]) AS t(d, y, k) "
            "ORDER BY d, y, k ON CONFLICT DO NOTHING")
        self._lock_rollups = (
            f"SELECT dimension, day, key, measures FROM {s}.rollups WHERE store_id = %s "
            "AND (dimension, day, key) IN (SELECT * FROM unnest(%s::text[], %s::date[], %s::text[])) "
            "ORDER BY dimension, day, key FOR UPDATE")
        self._write_rollups = (
            f"UPDATE {s}.rollups r SET measures = t.m FROM unnest(%s::text[], %s::date[], %s::text[], %s::jsonb[]) "
            "AS t(d, y, k, m) WHERE r.store_id = %s AND r.dimension = t.d AND r.day = t.y AND r.key = t.k")
        self._drop_rollups = (
            f"DELETE FROM {s}.rollups r USING unnest(%s::text[], %s::date[], %s::text[]) AS t(d, y, k) "
            "WHERE r.store_id = %s AND r.dimension = t.d AND r.day = t.y AND r.key = t.k")

    # --- hearing ------------------------------------------------------------------------

    def hear_ticket_event(self, conn: psycopg.Connection, event: Envelope) -> bool:
        """Store one tickets-service event and measure its ticket again; an
        SLA policy change is kept for the store. True if it changed anything."""
        self._beside_rebuilds(conn)
        if event.type == "sla_policy.updated":
            return self.hear_policy(conn, event)
        if event.type == "agent.profile_updated":
            return self.hear_availability(conn, event)
        if not is_ticket_event(event):
            return False
        # Stored before any lock: the key makes it once, and whoever measures
        # the ticket next (this worker, under the locks) reads it.
        stored = conn.execute(self._store_event, (
            event.stream_id, event.version, event.store_id, event.position, event.type, event.actor.kind,
            event.actor.id, event.occurred_at, Jsonb(dict(event.data)))).rowcount
        if not stored:
            return False  # heard before: its effect is already there
        self.measure_locked(conn, event.store_id, [event.stream_id])
        return True

    def _beside_rebuilds(self, conn: psycopg.Connection) -> None:
        """Hearing runs beside other hearing (a shared lock), never beside a rebuild (which takes it alone)."""
        lock(conn, f"{self.schema}:rebuild", shared=True)

    def measure_locked(self, conn: psycopg.Connection, store_id: str, ticket_ids: Iterable[str],
                       order_id: str | None = None) -> None:
        """Take the locks of the tickets' orders (if they are about one), then
        the tickets' (each in sorted order), then measure them all and move the
        rollups once: every lock before any row is written."""
        ticket_ids = sorted(set(ticket_ids))
        # Shared: tickets are measured side by side, but not while a policy
        # version is being heard (it takes the lock alone, then measures the
        # tickets opened after it: none of them can slip between).
        lock(conn, self._policy_lock(store_id), shared=True)
        orders = {order_id} if order_id else {self._order_of(conn, t) for t in ticket_ids}
        for order in sorted(o for o in orders if o):
            lock(conn, self._order_lock(store_id, order))
        for ticket_id in ticket_ids:
            lock(conn, f"{self.schema}:ticket:{ticket_id}")
        changes = [c for c in (self._remeasure(conn, t) for t in ticket_ids) if c is not None]
        self._move_rollups(conn, store_id, [(old, new) for _, old, new in changes])

    def _policy_lock(self, store_id: str) -> str:
        return f"{self.schema}:policy:{store_id}"

    def _order_lock(self, store_id: str, order_id: str) -> str:
        return f"{self.schema}:order:{store_id}:{order_id}"

    def hear_policy(self, conn: psycopg.Connection, event: Envelope) -> bool:
        """A version of the store's SLA policy. Heard in order, no ticket
        opened after it is known yet; heard late, those are measured again."""
        store_id = event.store_id or event.stream_id.split(":", 1)[1]
        lock(conn, self._policy_lock(store_id))
        if not conn.execute(self._write_policy, (store_id, event.version, event.position,
                                                 Jsonb(dict(event.data["policy"])))).rowcount:
            return False
        later = [ticket_id for (ticket_id,) in conn.execute(self._opened_after, (store_id, event.position))]
        self.measure_locked(conn, store_id, later)
        return True

    def hear_availability(self, conn: psycopg.Connection, event: Envelope) -> bool:
        """An agent's availability after a profile change (only when it changed)."""
        if "availability" not in event.data.get("changes", {}):
            return False
        return bool(conn.execute(self._write_availability, (
            event.store_id, event.data["agent_id"], event.version, event.occurred_at,
            event.data["profile"]["availability"])).rowcount)

    def hear_order(self, conn: psycopg.Connection, event: Envelope) -> bool:
        """``order.recorded``: the order's products; its tickets are measured again."""
        self._beside_rebuilds(conn)
        d = event.data
        products = sorted({product_of(item) for item in d.get("items") or () if product_of(item)})
        ordered_at = d.get("created_at") or event.occurred_at
        lock(conn, self._order_lock(event.store_id, d["order_id"]))
        if conn.execute(self._write_order, (event.store_id, d["order_id"], products, ordered_at,
                                            event.version)).fetchone() is None:
            return False
        of_order = [t for (t,) in conn.execute(self._tickets_of_order, (event.store_id, d["order_id"]))]
        self.measure_locked(conn, event.store_id, of_order, d["order_id"])
        return True

    # --- measuring ----------------------------------------------------------------------

    def measure(self, conn: psycopg.Connection, ticket_id: str) -> None:
        """Measure one ticket and move the rollups by its change. The caller holds the ticket's lock."""
        change = self._remeasure(conn, ticket_id)
        if change is not None:
            self._move_rollups(conn, change[0], [change[1:]])

    def _remeasure(self, conn: psycopg.Connection, ticket_id: str) -> tuple[str, dict, dict] | None:
        """Fold the ticket's stored events (up to the first gap) into its
        metrics row; ``(store, old contributions, new ones)``, for the caller
        to move the rollups by. The caller holds the ticket's lock."""
        events = contiguous(self._heard(conn, ticket_id))
        if not events:
            return None  # its ticket.opened has not come yet
        store_id, opened = events[0].store_id, events[0].position
        policy = self.policy_of(conn, store_id, opened)
        metrics = measuring.measure(events, policy, self.fcr_window_days)
        products = self.products_of(conn, store_id, metrics.order_id)
        new = rollups.contributions(metrics, policy["time_zone"], products, keywords.opened_terms(events[0]),
                                    reasons.self_service_reasons(events[0]))
        row = conn.execute(self._metrics_of, (ticket_id,)).fetchone()
        old = contributions_from_json(row[0]) if row else {}
        conn.execute(self._write_metrics, (
            ticket_id, store_id, metrics.created_at, metrics.customer_id, metrics.order_id, opened,
            Jsonb(measuring.to_document(metrics)), Jsonb(contributions_to_json(new)), events[-1].position))
        return store_id, old, new

    def _order_of(self, conn, ticket_id: str) -> str | None:
        row = conn.execute(self._order_of_ticket, (ticket_id,)).fetchone()
        return row[0] if row else None

    def _heard(self, conn, ticket_id: str) -> list[HeardEvent]:
        return [HeardEvent(type=t, data=d, actor=Actor(kind, actor_id), occurred_at=at, version=v, store_id=st,
                           position=p)
                for t, d, kind, actor_id, at, v, st, p in conn.execute(self._events_of, (ticket_id,))]

    def policy_of(self, conn, store_id: str, opened_position: int) -> dict:
        row = conn.execute(self._policy_of, {"store": store_id, "opened": opened_position}).fetchone()
        return row[0] if row else measuring.DEFAULT_POLICY

    def products_of(self, conn, store_id: str, order_id: str | None) -> tuple[str, ...]:
        if order_id is None:
            return ()
        row = conn.execute(self._products_of, (store_id, order_id)).fetchone()
        return tuple(row[0]) if row else ()

    def _move_rollups(self, conn, store_id: str, changes: Iterable[tuple[dict, dict]]) -> None:
        """Move the store's rollups by every (old, new) contributions of
        ``changes`` at once: the rows are created if missing, locked in one
        sorted order and written once, so two transactions never hold rows
        the other waits for (a transaction measuring several tickets writes
        all their rows together, not ticket by ticket)."""
        deltas: dict[tuple, Measures] = {}
        for old, new in changes:
            for k in old.keys() | new.keys():
                if old.get(k) != new.get(k):
                    delta = deltas.get(k, EMPTY)
                    delta = delta.subtract(old[k]) if k in old else delta
                    deltas[k] = delta.add(new[k]) if k in new else delta
        changed = sorted(k for k, delta in deltas.items() if not delta.is_empty())
        if not changed:
            return
        dims, days, keys = [k[1] for k in changed], [k[0] for k in changed], [k[2] for k in changed]
        now: dict[tuple, Measures] = {}
        while len(now) < len(changed):
            # Created if missing, then locked. A row another transaction emptied
            # and deleted between the two is missing from the lock: create it again.
            conn.execute(self._touch_rollups, (store_id, dims, days, keys))
            now = {(d, y, k): Measures.from_row(m)
                   for d, y, k, m in conn.execute(self._lock_rollups, (store_id, dims, days, keys))}
        kept, dropped = [], []
        for day, dimension, key in changed:
            total = now[(dimension, day, key)].add(deltas[(day, dimension, key)])
            (dropped if total.is_empty() else kept).append((dimension, day, key, total))
        if kept:
            conn.execute(self._write_rollups, ([k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept],
                                               [Jsonb(k[3].to_row()) for k in kept], store_id))
        if dropped:
            conn.execute(self._drop_rollups, ([k[0] for k in dropped], [k[1] for k in dropped],
                                              [k[2] for k in dropped], store_id))

    # --- rebuilding ---------------------------------------------------------------------

    def restate(self, conn: psycopg.Connection, store_id: str) -> None:
        """From now on, the store's tickets heard so far count by the policy
        in force now (its business hours changed and history should follow);
        then ``rebuild`` the store."""
        conn.execute(self._restate, (store_id, conn.execute(self._heard_head, (store_id,)).fetchone()[0]))

    def rebuild(self, conn: psycopg.Connection, store_id: str | None = None) -> int:
        """Every ticket (one store's, or all) measured again from its stored
        events: the rollups and metrics as if heard afresh."""
        s, where = self.schema, ("WHERE store_id = %s" if store_id else "")
        args = (store_id,) if store_id else ()
        lock(conn, f"{s}:rebuild")  # hearing waits until this commits, then measures on the rebuilt rows
        conn.execute(f"DELETE FROM {s}.rollups {where}", args)
        conn.execute(f"DELETE FROM {s}.ticket_metrics {where}", args)
        tickets = conn.execute(f"SELECT DISTINCT store_id, ticket_id FROM {s}.report_events {where} "
                               "ORDER BY store_id, ticket_id", args).fetchall()
        # Alone (live hearing waits for the rebuild to commit), a few hundred
        # tickets of a store at a time: their rollup rows are written once.
        for start in range(0, len(tickets), REBUILD_BATCH):
            batch = tickets[start:start + REBUILD_BATCH]
            for store in sorted({store for store, _ in batch}):
                changes = [self._remeasure(conn, t) for s_id, t in batch if s_id == store]
                self._move_rollups(conn, store, [(old, new) for _, old, new in filter(None, changes)])
        return len(tickets)


def is_ticket_event(event: Envelope) -> bool:
    return event.type.startswith(TICKET_EVENT_PREFIXES) and ":" not in event.stream_id


def contiguous(events: Iterable[HeardEvent]) -> list[HeardEvent]:
    """The events from version 1 up to the first missing version."""
    out = []
    for event in events:
        if event.version != len(out) + 1:
            break
        out.append(event)
    return out


def product_of(item: Mapping[str, Any]) -> str | None:
    """A product's key in the reports: its SKU if the store sends one, else its name."""
    value = item.get("sku") or item.get("name")
    return str(value).strip() or None if value is not None else None


def contributions_to_json(contributions: Mapping[tuple, Measures]) -> list:
    return [[day.isoformat(), dimension, key, measures.to_row()]
            for (day, dimension, key), measures in sorted(contributions.items())]


def contributions_from_json(rows: list) -> dict[tuple, Measures]:
    return {(date.fromisoformat(day), dimension, key): Measures.from_row(measures)
            for day, dimension, key, measures in rows}


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)
