"""A store's hourly quota per channel: every send counts in the window of
its hour, counted in one atomic step, so replicas sending at once never pass
the quota together. Over it, the delivery is held until the next window,
and the store is told once per window (``notification.quota_reached`` and
an email to its support address, which counts in no quota). A send that did
not happen gives its place back."""
from __future__ import annotations

from datetime import datetime, timedelta

from seedwork.envelope import NewEvent
from seedwork.store import ANY_VERSION, EventStore

from .deliveries import Deliveries


class Quotas:
    def __init__(self, store: EventStore, deliveries: Deliveries):
        self.store, self.s = store, store.schema
        self.deliveries = deliveries

    def reserve(self, delivery: dict, quota: int, now: datetime) -> datetime | None:
        """Count this send: the window it counts in, or None: held (recorded here)."""
        window = now.replace(minute=0, second=0, microsecond=0)
        store_id, channel = delivery["store_id"], delivery["channel"]
        with self.store.transaction() as conn:
            row = None
            if quota > 0:
                row = conn.execute(
                    f"INSERT INTO {self.s}.quota_windows (store_id, channel, window_start, sent) "
                    "VALUES (%s, %s, %s, 1) ON CONFLICT (store_id, channel, window_start) DO UPDATE "
                    "SET sent = quota_windows.sent + 1 WHERE quota_windows.sent < %s RETURNING sent",
                    (store_id, channel, window, quota)).fetchone()
            if row is not None:
                return window
            conn.execute(f"INSERT INTO {self.s}.quota_windows (store_id, channel, window_start, sent) "
                         "VALUES (%s, %s, %s, 0) ON CONFLICT DO NOTHING", (store_id, channel, window))
            if not self.deliveries.finish(conn, delivery, "held", reason="quota_exceeded",
                                          next_attempt_at=window + timedelta(hours=1), outcome="held",
                                          error="over the store's hourly quota", fresh_tries=True):
                return None
            alerted = conn.execute(
                f"UPDATE {self.s}.quota_windows SET alerted = true WHERE store_id = %s AND channel = %s "
                "AND window_start = %s AND NOT alerted RETURNING 1", (store_id, channel, window)).fetchone()
            if alerted:
                data = {"channel": channel, "window_start": window.isoformat(), "quota": quota}
                [stored] = self.store.append(f"quota:{store_id}:{channel}", ANY_VERSION, [NewEvent(
                    "notification.quota_reached", data, store_id=store_id)], conn=conn)
                self.deliveries.alert(conn, store_id, str(stored.event_id), "notification.quota_reached",
                                      {"alert": "quota_reached", **data})
        return None

    def release(self, delivery: dict, window: datetime | None) -> None:
        """A send that failed is not a send: give its place in the quota back."""
        if window is None:
            return
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE {self.s}.quota_windows SET sent = sent - 1 WHERE store_id = %s AND channel = %s "
                         "AND window_start = %s AND sent > 0", (delivery["store_id"], delivery["channel"], window))
