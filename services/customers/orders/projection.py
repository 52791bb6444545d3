"""The orders' read side: the ``orders`` table (one row per order, as its
last ``order.recorded`` says) and the figures it gives the customer's card
(orders count, total spent, registration date)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from seedwork.config import checked_name
from seedwork.envelope import Envelope
from seedwork.instants import iso

from ..projection import money, versioned_upsert

ORDER_COLUMNS = ("order_id", "customer_id", "status", "created_at", "updated_at", "total", "currency",
                 "payment_method", "items", "tracking_url", "rated", "version")
# Statuses whose money the store did not keep: they do not count as spent.
NOT_SPENT = ("cancelled", "returned", "refused")


def order_view(row) -> dict:
    values = dict(zip(ORDER_COLUMNS, row))
    return {
        "id": values["order_id"], "customer_id": str(values["customer_id"]), "status": values["status"],
        "created_at": iso(values["created_at"]), "updated_at": iso(values["updated_at"]),
        "total": money(values["total"]), "currency": values["currency"],
        "payment_method": values["payment_method"], "items": values["items"],
        "tracking_url": values["tracking_url"], "rated": values["rated"], "version": values["version"],
    }


class OrdersProjection:
    def __init__(self, schema: str):
        self.schema = s = checked_name(schema, "schema")
        self._select = f"SELECT {', '.join(ORDER_COLUMNS)} FROM {s}.orders "
        self._upsert = versioned_upsert(f"{s}.orders", ("store_id", *ORDER_COLUMNS), ("store_id", "order_id"))

    # --- writing --------------------------------------------------------------------

    def apply(self, conn: psycopg.Connection, event: Envelope) -> None:
        """An ``order.recorded``: the order's row, then the figures of its customer
        (and of the customer it belonged to before, if the platform moved it)."""
        data, store_id = event.data, event.store_id
        before = conn.execute(f"SELECT customer_id FROM {self.schema}.orders WHERE store_id = %s AND order_id = %s",
                              (store_id, data["order_id"])).fetchone()
        conn.execute(self._upsert, [
            store_id, data["order_id"], data["customer_id"], data["status"], data["created_at"], data["updated_at"],
            Decimal(data["total"]), data["currency"], data["payment_method"], Jsonb(data["items"]),
            data["tracking_url"], data["rated"], event.version])
        for customer_id in sorted({data["customer_id"], *([str(before[0])] if before else [])}):
            self._refresh_figures(conn, store_id, customer_id)

    def _refresh_figures(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> None:
        s = self.schema
        conn.execute(
            f"UPDATE {s}.cards c SET orders_count = o.n, total_spent = o.spent, "
            f"registered_at = LEAST(c.created_at, coalesce(o.first, c.created_at)) "
            f"FROM (SELECT count(*) AS n, coalesce(sum(total) FILTER (WHERE status <> ALL(%s)), 0) AS spent, "
            f"      min(created_at) AS first FROM {s}.orders WHERE store_id = %s AND customer_id = %s) o "
            f"WHERE c.id = %s AND c.store_id = %s",
            (list(NOT_SPENT), store_id, customer_id, customer_id, store_id),
        )

    # --- reading --------------------------------------------------------------------

    def order(self, conn: psycopg.Connection, store_id: str, order_id: str) -> dict | None:
        row = conn.execute(self._select + "WHERE store_id = %s AND order_id = %s", (store_id, order_id)).fetchone()
        return order_view(row) if row else None

    def customer_orders(self, conn: psycopg.Connection, store_id: str, customer_id: str,
                        after: tuple[datetime, str] | None, limit: int) -> list[tuple]:
        """Up to ``limit`` rows (for ``order_view``), newest first, after the cursor's ``(created_at, order_id)``."""
        where, params = ["store_id = %s", "customer_id = %s"], [store_id, customer_id]
        if after is not None:
            where.append("(created_at, order_id) < (%s, %s)")
            params += list(after)
        return conn.execute(self._select + f"WHERE {' AND '.join(where)} ORDER BY created_at DESC, order_id DESC "
                            "LIMIT %s", params + [limit]).fetchall()

    def unrated_delivered(self, conn: psycopg.Connection, store_id: str, customer_id: str, limit: int) -> list[str]:
        """The customer's delivered orders nobody rated yet, newest first."""
        return [r[0] for r in conn.execute(
            f"SELECT order_id FROM {self.schema}.orders WHERE store_id = %s AND customer_id = %s "
            "AND status = 'delivered' AND NOT rated ORDER BY created_at DESC, order_id LIMIT %s",
            (store_id, customer_id, limit))]
