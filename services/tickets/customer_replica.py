"""What tickets keeps about customers: a local replica of the customers
service's events, so a ticket shows its customer's name, groups, block and
flags without calling the customers service back (docs/customers.md).

Delivery is at least once and handlers run concurrently, so events of one
customer stream can arrive twice or out of order. The rule is the same
everywhere: **a row remembers the stream version of the event that last wrote
it, and an event writes only if its version is higher.** Each independent
part of the state has its own version:

- the customer's name (``customer.created``, and ``customer.updated`` when
  ``name`` changed): ``name_version``;
- the block (``customer.blocked`` / ``customer.unblocked``): ``block_version``;
- each platform flag, by ``flag_id`` (``customer.flagged`` /
  ``customer.flag_cleared``);
- each (group, customer) membership (``customer_group.members_added`` /
  ``members_removed``), by the *group* stream's version;
- each group's name (every group event carries it), with ``deleted`` sticky.

So an update that overtakes its ``customer.created`` writes a partial row
(name at version 3), and the late ``created`` (version 1) leaves the name
alone; a removal or clear leaves a tombstone row, so a late add or flag
cannot bring it back. Since each part has one writer event per version,
applying events in any order, any number of times, ends in the state of
applying them once in order. (``self.db.once`` also drops exact duplicates;
the versions are what make reordering safe.)

A group's members are not copied per customer: ``for_ticket`` joins the
membership and group tables, so one ``customer_group.renamed`` renames the
group on every member's tickets, and a deleted group disappears from them.

Only what a ticket shows is kept: no mobile, email, notes or block details.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import psycopg

from seedwork.config import checked_name
from seedwork.envelope import Envelope

log = logging.getLogger(__name__)

# Each kept event type and the method that applies it. The service's queue
# binds EVENT_TYPES, so what it hears and what it handles cannot drift apart.
HANDLERS = {
    "customer.created": "_created",
    "customer.updated": "_updated",
    "customer.blocked": "_blocked",
    "customer.unblocked": "_unblocked",
    "customer.flagged": "_flagged",
    "customer.flag_cleared": "_flag_cleared",
    "customer_group.members_added": "_members_added",
    "customer_group.members_removed": "_members_removed",
    "customer_group.renamed": "_group_event",
    "customer_group.deleted": "_group_deleted",
}
EVENT_TYPES = tuple(HANDLERS)


class CustomerSummaries:
    """``apply(conn, event)`` one customers-service event; ``for_ticket`` reads."""

    def __init__(self, schema: str):
        s = checked_name(schema, "schema")
        self.schema = s
        self._handlers = {event_type: getattr(self, name) for event_type, name in HANDLERS.items()}
        self._name = (
            f"INSERT INTO {s}.customer_summaries AS c (store_id, customer_id, name, name_version) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (store_id, customer_id) DO UPDATE "
            "SET name = EXCLUDED.name, name_version = EXCLUDED.name_version "
            "WHERE c.name_version < EXCLUDED.name_version"
        )
        self._block = (
            f"INSERT INTO {s}.customer_summaries AS c (store_id, customer_id, blocked, block_reason, block_version) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (store_id, customer_id) DO UPDATE "
            "SET blocked = EXCLUDED.blocked, block_reason = EXCLUDED.block_reason, "
            "block_version = EXCLUDED.block_version "
            "WHERE c.block_version < EXCLUDED.block_version"
        )
        # Every customer heard of has a summary row, whatever event came first.
        self._known = (
            f"INSERT INTO {s}.customer_summaries (store_id, customer_id) "
            "SELECT %s, c FROM unnest(%s::text[]) AS c ON CONFLICT DO NOTHING"
        )
        self._flag = (
            f"INSERT INTO {s}.customer_summary_flags AS f (store_id, customer_id, flag_id, active, version) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (store_id, customer_id, flag_id) DO UPDATE "
            "SET active = EXCLUDED.active, version = EXCLUDED.version WHERE f.version < EXCLUDED.version"
        )
        self._group = (
            f"INSERT INTO {s}.customer_summary_groups AS g (store_id, group_id, name, version, deleted) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (store_id, group_id) DO UPDATE SET "
            "name = CASE WHEN g.version < EXCLUDED.version THEN EXCLUDED.name ELSE g.name END, "
            "version = GREATEST(g.version, EXCLUDED.version), deleted = g.deleted OR EXCLUDED.deleted "
            "RETURNING deleted"
        )
        # DISTINCT: one statement may not update the same row twice.
        self._members = (
            f"INSERT INTO {s}.customer_summary_members AS m (store_id, group_id, customer_id, member, version) "
            "SELECT DISTINCT %s, %s, c, %s, %s FROM unnest(%s::text[]) AS c "
            "ON CONFLICT (store_id, group_id, customer_id) DO UPDATE "
            "SET member = EXCLUDED.member, version = EXCLUDED.version WHERE m.version < EXCLUDED.version"
        )
        self._read = (
            "SELECT c.customer_id, c.name, c.blocked, c.block_reason, "
            f"EXISTS (SELECT 1 FROM {s}.customer_summary_flags f WHERE f.store_id = c.store_id "
            "         AND f.customer_id = c.customer_id AND f.active), "
            "COALESCE((SELECT json_agg(json_build_object('id', g.group_id, 'name', g.name) "
            "                   ORDER BY g.name, g.group_id) "
            f"          FROM {s}.customer_summary_members m JOIN {s}.customer_summary_groups g "
            "           ON g.store_id = m.store_id AND g.group_id = m.group_id "
            "          WHERE m.store_id = c.store_id AND m.customer_id = c.customer_id AND m.member "
            "            AND NOT g.deleted), '[]'::json) "
            f"FROM {s}.customer_summaries c WHERE c.store_id = %s AND c.customer_id = ANY(%s::text[])"
        )

    # --- writes -------------------------------------------------------------------

    def apply(self, conn: psycopg.Connection, event: Envelope) -> bool:
        """Apply one event in the caller's transaction; False if it is not one
        this replica keeps (another type, or no store)."""
        handler = self._handlers.get(event.type)
        if handler is None:
            return False
        if event.store_id is None:
            log.warning("%s %s has no store_id: ignored", event.type, event.event_id)
            return False
        handler(conn, event.store_id, event.data, event.version)
        return True

    def _created(self, conn, store_id: str, d: dict, version: int) -> None:
        conn.execute(self._name, (store_id, d["customer_id"], d.get("name"), version))

    def _updated(self, conn, store_id: str, d: dict, version: int) -> None:
        changes = d.get("changes") or {}
        if "name" in changes:  # mobile, email, notes...: not ours to keep
            conn.execute(self._name, (store_id, d["customer_id"], changes["name"], version))

    def _blocked(self, conn, store_id: str, d: dict, version: int) -> None:
        conn.execute(self._block, (store_id, d["customer_id"], True, d.get("reason"), version))

    def _unblocked(self, conn, store_id: str, d: dict, version: int) -> None:
        conn.execute(self._block, (store_id, d["customer_id"], False, None, version))

    def _flagged(self, conn, store_id: str, d: dict, version: int) -> None:
        conn.execute(self._known, (store_id, [d["customer_id"]]))
        conn.execute(self._flag, (store_id, d["customer_id"], d["flag_id"], True, version))

    def _flag_cleared(self, conn, store_id: str, d: dict, version: int) -> None:
        conn.execute(self._known, (store_id, [d["customer_id"]]))
        conn.execute(self._flag, (store_id, d["customer_id"], d["flag_id"], False, version))

    def _group_event(self, conn, store_id: str, d: dict, version: int, deleted: bool = False) -> bool:
        """Record the group's name (every group event carries it); True if the group is deleted."""
        return conn.execute(self._group, (store_id, d["group_id"], d["name"], version, deleted)).fetchone()[0]

    def _members_added(self, conn, store_id: str, d: dict, version: int) -> None:
        self._membership(conn, store_id, d, version, member=True)

    def _members_removed(self, conn, store_id: str, d: dict, version: int) -> None:
        self._membership(conn, store_id, d, version, member=False)

    def _membership(self, conn, store_id: str, d: dict, version: int, member: bool) -> None:
        if self._group_event(conn, store_id, d, version):
            return  # a late event of a deleted group: reads hide the group anyway
        ids = list(d["customer_ids"])
        conn.execute(self._known, (store_id, ids))
        conn.execute(self._members, (store_id, d["group_id"], member, version, ids))

    def _group_deleted(self, conn, store_id: str, d: dict, version: int) -> None:
        self._group_event(conn, store_id, d, version, deleted=True)
        # Housekeeping only: reads already skip a deleted group's rows.
        conn.execute(f"DELETE FROM {self.schema}.customer_summary_members WHERE store_id = %s AND group_id = %s",
                     (store_id, d["group_id"]))

    # --- reads --------------------------------------------------------------------

    def for_ticket(self, conn: psycopg.Connection, store_id: str, customer_ids: Iterable[str]) -> dict[str, dict]:
        """``{customer_id: summary}`` for the customers this replica knows of
        (one query, however many ids); an unknown id is left out."""
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        return {row[0]: summary(*row) for row in conn.execute(self._read, (store_id, ids)).fetchall()}


def summary(customer_id: str, name: str | None, blocked: bool, block_reason: str | None, flagged: bool,
            groups: list[dict[str, Any]]) -> dict[str, Any]:
    """A customer as a staff member's ticket view shows it."""
    return {"id": customer_id, "name": name, "groups": [dict(g) for g in groups], "blocked": bool(blocked),
            "block_reason": block_reason if blocked else None, "flagged": bool(flagged)}
