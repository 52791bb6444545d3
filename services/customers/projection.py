"""The customers read side: SQL over the projection tables.

Each write runs in the transaction of the append it reflects. Card rows hold
the customer's folded state (written by ``upsert_card`` with the stream
version, never moved back) plus what other streams derive: group membership
(group events) and the order figures (order events).
"""
from __future__ import annotations

from decimal import Decimal

from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg
from psycopg.types.json import Jsonb

from seedwork.config import checked_name
from seedwork.envelope import iso

from .domain import CustomerState, flags_view
from .normalise import fold_text, search_text

# Statuses whose money the store did not keep: they do not count as spent.
NOT_SPENT = ("cancelled", "returned", "refused")

CARD_STATE_COLUMNS = (
    "id", "store_id", "name", "name_key", "mobile", "email", "city", "city_key", "gender", "birthday", "notes",
    "created_at", "updated_at", "registered_at", "blocked", "block_reason", "block_details", "blocked_at",
    "blocked_by", "flags", "flagged", "version", "search_text",
)
# registered_at is the card's creation until an older order moves it back.
NOT_UPDATED = ("id", "store_id", "created_at", "registered_at")

CARD_SELECT = (
    "c.id, c.name, c.mobile, c.email, c.city, c.gender, c.birthday, c.notes, c.registered_at, c.orders_count, "
    "c.total_spent, c.blocked, c.block_reason, c.block_details, c.blocked_at, c.blocked_by, c.flagged, c.flags, "
    "c.created_at, c.updated_at, c.version, "
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name) ORDER BY g.name_key), '[]') "
    " FROM {s}.groups g WHERE g.id = ANY(c.groups) AND NOT g.deleted)"
)

ORDER_COLUMNS = ("order_id", "customer_id", "status", "created_at", "updated_at", "total", "currency",
                 "payment_method", "items", "tracking_url", "rated", "version")


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
        "blocked_at": iso(blocked_at) if blocked_at else None, "blocked_by": blocked_by,
        "flagged": flagged, "flags": flags, "created_at": iso(created_at), "updated_at": iso(updated_at),
        "version": version,
    }


def order_view(row) -> dict:
    values = dict(zip(ORDER_COLUMNS, row))
    return {
        "id": values["order_id"], "customer_id": str(values["customer_id"]), "status": values["status"],
        "created_at": iso(values["created_at"]), "updated_at": iso(values["updated_at"]),
        "total": money(values["total"]), "currency": values["currency"],
        "payment_method": values["payment_method"], "items": values["items"],
        "tracking_url": values["tracking_url"], "rated": values["rated"], "version": values["version"],
    }


class Projection:
    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CARD_STATE_COLUMNS if c not in NOT_UPDATED)
        self._upsert_card = (
            f"INSERT INTO {s}.cards ({', '.join(CARD_STATE_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(CARD_STATE_COLUMNS))}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates} WHERE {s}.cards.version < EXCLUDED.version"
        )
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

    def cards_with_mobile(self, conn: psycopg.Connection, mobile: str) -> list[str]:
        """Every store's card for this mobile: a fraud flag shows on all of them."""
        rows = conn.execute(f"SELECT id FROM {self.schema}.cards WHERE mobile = %s ORDER BY id", (mobile,))
        return [str(r[0]) for r in rows]

    def mobile_of(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> str | None:
        row = conn.execute(f"SELECT mobile FROM {self.schema}.cards WHERE store_id = %s AND id = %s",
                           (store_id, customer_id)).fetchone()
        return row[0] if row else None

    def refresh_order_figures(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> None:
        """Orders count, total spent and registration date, from the store's orders."""
        s = self.schema
        conn.execute(
            f"UPDATE {s}.cards c SET orders_count = o.n, total_spent = o.spent, "
            f"registered_at = LEAST(c.created_at, coalesce(o.first, c.created_at)) "
            f"FROM (SELECT count(*) AS n, coalesce(sum(total) FILTER (WHERE status <> ALL(%s)), 0) AS spent, "
            f"      min(created_at) AS first FROM {s}.orders WHERE store_id = %s AND customer_id = %s) o "
            f"WHERE c.id = %s AND c.store_id = %s",
            (list(NOT_SPENT), store_id, customer_id, customer_id, store_id),
        )

    # --- orders ---------------------------------------------------------------------

    def order_row(self, conn: psycopg.Connection, store_id: str, order_id: str):
        return conn.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM {self.schema}.orders "
                            "WHERE store_id = %s AND order_id = %s", (store_id, order_id)).fetchone()

    def upsert_order(self, conn: psycopg.Connection, store_id: str, data: dict, version: int) -> None:
        values = [data["order_id"], data["customer_id"], data["status"], data["created_at"], data["updated_at"],
                  Decimal(data["total"]), data["currency"], data["payment_method"], Jsonb(data["items"]),
                  data["tracking_url"], data["rated"], version]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS[1:])
        conn.execute(
            f"INSERT INTO {self.schema}.orders (store_id, {', '.join(ORDER_COLUMNS)}) "
            f"VALUES (%s, {', '.join(['%s'] * len(ORDER_COLUMNS))}) "
            f"ON CONFLICT (store_id, order_id) DO UPDATE SET {updates} "
            f"WHERE {self.schema}.orders.version < EXCLUDED.version",
            [store_id, *values],
        )
