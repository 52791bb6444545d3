"""The groups' read side: the ``groups`` table (one row per group) and
membership, which lives on the cards (``cards.groups``, an array of group ids).

``apply`` writes what stored group events say, in the transaction that
appended them; the members of consecutive ``members_added`` (or
``members_removed``) events change in one statement. The reads answer the
group views and which customers a bulk selection would change.
"""
from __future__ import annotations

from typing import Iterable

import psycopg

from seedwork.config import checked_name
from seedwork.envelope import Envelope
from seedwork.errors import Conflict
from seedwork.instants import iso

from ..normalise import fold_text

MEMBER_EVENTS = ("customer_group.members_added", "customer_group.members_removed")


def name_taken(name: str) -> Conflict:
    return Conflict("group_name_taken", f"the store already has a group named {name!r}",
                    {"name": ["the store already has a group with this name"]})


def _runs(events: Iterable[Envelope]) -> list[tuple[Envelope, list[str]]]:
    """Each event, with the customer ids of a run of same-type member events merged into its first."""
    runs: list[tuple[Envelope, list[str]]] = []
    for event in events:
        if event.type in MEMBER_EVENTS and runs and runs[-1][0].type == event.type:
            runs[-1][1].extend(event.data["customer_ids"])
        else:
            runs.append((event, list(event.data.get("customer_ids", ()))))
    return runs


class GroupsProjection:
    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        self._member = {
            "customer_group.members_added":
                f"UPDATE {s}.cards SET groups = array_append(groups, %(group)s::uuid) WHERE store_id = %(store)s "
                "AND id = ANY(%(ids)s::uuid[]) AND NOT (groups @> ARRAY[%(group)s]::uuid[])",
            "customer_group.members_removed":
                f"UPDATE {s}.cards SET groups = array_remove(groups, %(group)s::uuid) WHERE store_id = %(store)s "
                "AND id = ANY(%(ids)s::uuid[]) AND groups @> ARRAY[%(group)s]::uuid[]",
        }

    # --- writing --------------------------------------------------------------------

    def apply(self, conn: psycopg.Connection, events: list[Envelope]) -> None:
        s = self.schema
        for event, ids in _runs(events):
            group, store, name = event.data["group_id"], event.store_id, event.data["name"]
            if event.type == "customer_group.created":
                self._named(conn, name, f"INSERT INTO {s}.groups (id, store_id, name, name_key, created_at, version) "
                                        "VALUES (%s, %s, %s, %s, %s, %s)",
                            (group, store, name, fold_text(name), event.occurred_at, event.version))
            elif event.type == "customer_group.renamed":
                self._named(conn, name, f"UPDATE {s}.groups SET name = %s, name_key = %s WHERE id = %s",
                            (name, fold_text(name), group))
            elif event.type == "customer_group.deleted":
                conn.execute(f"UPDATE {s}.groups SET deleted = true WHERE id = %s", (group,))
                conn.execute(f"UPDATE {s}.cards SET groups = array_remove(groups, %s::uuid) "
                             "WHERE store_id = %s AND groups @> ARRAY[%s]::uuid[]", (group, store, group))
            else:
                conn.execute(self._member[event.type], {"group": group, "store": store, "ids": ids})
        if events:
            last = events[-1]
            conn.execute(f"UPDATE {s}.groups SET version = %s WHERE id = %s AND version < %s",
                         (last.version, last.data["group_id"], last.version))

    @staticmethod
    def _named(conn: psycopg.Connection, name: str, statement: str, params: tuple) -> None:
        # Two live groups of one store never share a folded name (a unique index).
        try:
            with conn.transaction():
                conn.execute(statement, params)
        except psycopg.errors.UniqueViolation:
            raise name_taken(name) from None

    # --- reading --------------------------------------------------------------------

    def group(self, conn: psycopg.Connection, store_id: str, group_id: str) -> dict | None:
        row = conn.execute(
            f"SELECT g.id, g.name, g.created_at, (SELECT count(*) FROM {self.schema}.cards c "
            "  WHERE c.store_id = g.store_id AND c.groups @> ARRAY[g.id]) "
            f"FROM {self.schema}.groups g WHERE g.id = %s AND g.store_id = %s AND NOT g.deleted",
            (group_id, store_id)).fetchone()
        return _view(row) if row else None

    def groups(self, conn: psycopg.Connection, store_id: str) -> list[dict]:
        rows = conn.execute(
            f"SELECT g.id, g.name, g.created_at, (SELECT count(*) FROM {self.schema}.cards c "
            "  WHERE c.store_id = g.store_id AND c.groups @> ARRAY[g.id]) "
            f"FROM {self.schema}.groups g WHERE g.store_id = %s AND NOT g.deleted ORDER BY g.name_key, g.id",
            (store_id,)).fetchall()
        return [_view(r) for r in rows]

    def selected(self, conn: psycopg.Connection, group_id: str, op: str, where: list[str], params: list) -> list[str]:
        """The customers matching ``where`` (over ``cards c``) that ``op`` would change: not yet members
        to add, members to remove."""
        membership = "NOT (c.groups @> ARRAY[%s]::uuid[])" if op == "add" else "c.groups @> ARRAY[%s]::uuid[]"
        rows = conn.execute(f"SELECT c.id FROM {self.schema}.cards c WHERE {' AND '.join(where)} AND {membership}",
                            [*params, group_id]).fetchall()
        return sorted(str(r[0]) for r in rows)

    def missing_cards(self, conn: psycopg.Connection, store_id: str, ids: list[str]) -> list[str]:
        """The ids (sorted) that are no card of the store."""
        found = {str(r[0]) for r in conn.execute(
            f"SELECT id FROM {self.schema}.cards WHERE store_id = %s AND id = ANY(%s::uuid[])", (store_id, ids))}
        return [i for i in ids if i not in found]


def _view(row) -> dict:
    group_id, name, created_at, members = row
    return {"id": str(group_id), "name": name, "members_count": members, "created_at": iso(created_at)}
