"""The ``cards`` projection: one row per customer card, read by every part
of the service (lists, groups, orders, outreach, the fraud watch).

Each write runs in the transaction of the append it reflects. A row holds the
customer's folded state (written by ``upsert_card`` with the stream version,
never moved back) plus what other streams derive: group membership
(``groups/projection.py``) and the order figures (``orders/projection.py``).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence

import psycopg
from psycopg.types.json import Jsonb

from seedwork.config import checked_name
from seedwork.instants import iso, iso_or_none

from .cards.domain import CustomerState, flags_view
from .normalise import fold_text, search_text

CARD_STATE_COLUMNS = (
    "id", "store_id", "name", "name_key", "mobile", "email", "city", "city_key", "gender", "birthday", "notes",
    "created_at", "updated_at", "registered_at", "blocked", "block_reason", "block_details", "blocked_at",
    "blocked_by", "flags", "flagged", "version", "search_text",
)
# registered_at is the card's creation until an older order moves it back.
NOT_UPDATED = ("store_id", "created_at", "registered_at")

CARD_SELECT = (
    "c.id, c.name, c.mobile, c.email, c.city, c.gender, c.birthday, c.notes, c.registered_at, c.orders_count, "
    "c.total_spent, c.blocked, c.block_reason, c.block_details, c.blocked_at, c.blocked_by, c.flagged, c.flags, "
    "c.created_at, c.updated_at, c.version, "
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name) ORDER BY g.name_key), '[]') "
    " FROM {s}.groups g WHERE g.id = ANY(c.groups) AND NOT g.deleted)"
)


def versioned_upsert(table: str, columns: Sequence[str], key: Sequence[str], kept: Sequence[str] = ()) -> str:
    """Insert a row of ``columns`` into ``table``, or update the row with the
    same ``key`` (every column but the key and ``kept``), never back to an
    older ``version``: a projection row only moves forward."""
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in (*key, *kept))
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} WHERE {table}.version < EXCLUDED.version")


def money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.2f}"


def card_view(row) -> dict:
    (cid, name, mobile, email, city, gender, birthday, notes, registered_at, orders_count, total_spent, blocked,
     block_reason, block_details, blocked_at, blocked_by, flagged, flags, created_at, updated_at, version,
     groups) = row
    return {
        "id": str(cid), "name": name, "mobile": mobile, "email": email, "city": city, "gender": gender,
        "birthday": birthday.isoformat() if birthday else None, "notes": notes,
        "registered_at": iso(registered_at), "orders_count": orders_count, "total_spent": money(total_spent),
        "groups": groups, "blocked": blocked, "block_reason": block_reason, "block_details": block_details,
        "blocked_at": iso_or_none(blocked_at), "blocked_by": blocked_by,
        "flagged": flagged, "flags": flags, "created_at": iso(created_at), "updated_at": iso(updated_at),
        "version": version,
    }


class CardsProjection:
    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        self._upsert_card = versioned_upsert(f"{s}.cards", CARD_STATE_COLUMNS, ("id",), NOT_UPDATED)
        self.card_select = CARD_SELECT.format(s=s)

    # --- cards ----------------------------------------------------------------------

    def upsert_card(self, conn: psycopg.Connection, state: CustomerState) -> None:
        flags = flags_view(state)
        blocked_by = {"type": state.blocked_by.kind, "id": state.blocked_by.id} if state.blocked_by else None
        conn.execute(self._upsert_card, (
            state.id, state.store_id, state.name, fold_text(state.name), state.mobile, state.email, state.city,
            fold_text(state.city) if state.city else None, state.gender, state.birthday, state.notes,
            state.created_at, state.updated_at, state.created_at, state.blocked, state.block_reason,
            state.block_details, state.blocked_at, Jsonb(blocked_by) if blocked_by else None, Jsonb(flags),
            bool(flags), state.version, search_text(state.name, state.mobile, state.email),
        ))

    def card(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> dict | None:
        row = conn.execute(f"SELECT {self.card_select} FROM {self.schema}.cards c "
                           "WHERE c.id = %s AND c.store_id = %s", (customer_id, store_id)).fetchone()
        return card_view(row) if row else None

    def card_by_mobile(self, conn: psycopg.Connection, store_id: str, mobile: str) -> tuple[str, int] | None:
        row = conn.execute(f"SELECT id, version FROM {self.schema}.cards WHERE store_id = %s AND mobile = %s",
                           (store_id, mobile)).fetchone()
        return (str(row[0]), row[1]) if row else None

    def cards_by_mobile(self, conn: psycopg.Connection, store_id: str, mobiles: list[str]) -> dict[str, str]:
        """mobile -> id of the store's cards with one of ``mobiles``, in one read."""
        rows = conn.execute(f"SELECT mobile, id FROM {self.schema}.cards WHERE store_id = %s AND mobile = ANY(%s)",
                            (store_id, mobiles))
        return {mobile: str(customer_id) for mobile, customer_id in rows}

    def cards_with_mobile(self, conn: psycopg.Connection, mobile: str) -> list[str]:
        """Every store's card for this mobile: a fraud flag shows on all of them."""
        rows = conn.execute(f"SELECT id FROM {self.schema}.cards WHERE mobile = %s ORDER BY id", (mobile,))
        return [str(r[0]) for r in rows]

    def mobile_of(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> str | None:
        row = conn.execute(f"SELECT mobile FROM {self.schema}.cards WHERE store_id = %s AND id = %s",
                           (store_id, customer_id)).fetchone()
        return row[0] if row else None

    def exists(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> bool:
        return conn.execute(f"SELECT 1 FROM {self.schema}.cards WHERE store_id = %s AND id = %s",
                            (store_id, customer_id)).fetchone() is not None

    def standing(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> dict | None:
        row = conn.execute(f"SELECT blocked, block_reason, flagged FROM {self.schema}.cards "
                           "WHERE store_id = %s AND id = %s", (store_id, customer_id)).fetchone()
        return None if row is None else {"blocked": row[0], "block_reason": row[1], "flagged": row[2]}
