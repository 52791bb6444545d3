"""The reports' reads: rollup rows of one dimension over a period, and the
few reports that read the per-ticket or per-order rows (the customers with
the most tickets, tickets per order sold, the staff's availability).
Every read is one store's."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from seedwork.config import checked_name


Row = tuple[date, str, dict]  # a rollup row's measures as stored (rollups.Measures.to_row)


class ReportReads:
    def __init__(self, schema: str):
        s = checked_name(schema, "schema")
        self._rows = (f"SELECT day, key, measures FROM {s}.rollups WHERE store_id = %s AND dimension = %s "
                      "AND day BETWEEN %s AND %s")
        self._own_rows = self._rows + " AND key = %s"
        self._position = f"SELECT max(position) FROM {s}.report_events WHERE store_id = %s"
        self._customers = (f"SELECT customer_id, count(*) AS tickets FROM {s}.ticket_metrics WHERE store_id = %s "
                           "AND created_at >= %s AND created_at < %s GROUP BY customer_id "
                           "ORDER BY tickets DESC, customer_id LIMIT %s")
        self._orders_sold = (f"SELECT product, count(*) FROM {s}.order_products, unnest(products) AS product "
                             "WHERE store_id = %s AND ordered_at >= %s AND ordered_at < %s GROUP BY product")
        self._availability_before = (
            f"SELECT DISTINCT ON (agent_id) agent_id, availability FROM {s}.availability_changes "
            "WHERE store_id = %s AND changed_at < %s ORDER BY agent_id, changed_at DESC, version DESC")
        self._availability_changes = (
            f"SELECT agent_id, changed_at, availability FROM {s}.availability_changes "
            "WHERE store_id = %s AND changed_at >= %s AND changed_at < %s ORDER BY changed_at, agent_id, version")

    def rows(self, conn: psycopg.Connection, store_id: str, dimension: str, start: date, end: date,
             key: str | None = None) -> list[Row]:
        if key is None:
            found = conn.execute(self._rows, (store_id, dimension, start, end))
        else:
            found = conn.execute(self._own_rows, (store_id, dimension, start, end, key))
        return [(day, k, m) for day, k, m in found]  # as stored: summary.Sum adds them sparsely

    def position(self, conn: psycopg.Connection, store_id: str) -> int:
        return conn.execute(self._position, (store_id,)).fetchone()[0] or 0

    def top_customers(self, conn: psycopg.Connection, store_id: str, start: date, end: date, zone: ZoneInfo,
                      limit: int) -> list[dict]:
        since, until = instants(start, end, zone)
        return [{"customer_id": customer_id, "created": tickets}
                for customer_id, tickets in conn.execute(self._customers, (store_id, since, until, limit))]

    def orders_sold(self, conn: psycopg.Connection, store_id: str, start: date, end: date,
                    zone: ZoneInfo) -> dict[str, int]:
        since, until = instants(start, end, zone)
        return dict(conn.execute(self._orders_sold, (store_id, since, until)).fetchall())

    def availability(self, conn: psycopg.Connection, store_id: str, start: date, end: date,
                     zone: ZoneInfo) -> tuple[dict[str, str], list[tuple[str, datetime, str]]]:
        """Each agent's availability when the period began, and its changes within it."""
        since, until = instants(start, end, zone)
        before = dict(conn.execute(self._availability_before, (store_id, since)).fetchall())
        changes = [tuple(r) for r in conn.execute(self._availability_changes, (store_id, since, until))]
        return before, changes


def instants(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local days ``start``..``end`` (both included) as [since, until) instants."""
    return datetime.combine(start, time(), zone), datetime.combine(end + timedelta(days=1), time(), zone)
