"""The reports service layer: events in (``hear``), reports out
(``summary``, ``agents``, ``keywords``), the store's report settings.

Plain Python over PostgreSQL; ``service.py`` exposes it over Nameko. A
caller is a ``seedwork.caller.Caller``. Every figure is a fold of the
events the service heard (``projection.py``), read from the daily rollups.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo
from typing import Callable

from seedwork.caller import Caller
from seedwork.envelope import Envelope, utcnow
from seedwork.errors import Forbidden
from seedwork.store import EventStore

from .domain import report_query, report_settings as rules
from .domain import keywords as keyword_rules
from .domain import summary as summarising
from .domain.rollups import Measures
from .config import DEFAULTS, ReportsConfig
from .projection import LATEST, ReportsProjection
from .report_settings import ReportSettings


class Reports:
    def __init__(self, store: EventStore, config: ReportsConfig = DEFAULTS,
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        s = self.schema = store.schema
        self.settings = ReportSettings(store, clock)
        self.projection = ReportsProjection(s, config.fcr_window_days)
        self.clock = clock
        self._rows = (f"SELECT day, key, measures FROM {s}.rollups WHERE store_id = %s AND dimension = %s "
                      "AND day BETWEEN %s AND %s")
        self._own_rows = self._rows + " AND key = %s"
        self._position = f"SELECT max(position) FROM {s}.report_events WHERE store_id = %s"

    # --- events in ---------------------------------------------------------------------

    def hear(self, event: Envelope, source: str, once: Callable) -> bool:
        """Apply one event of ``source``'s log exactly once; True if it changed a report."""
        if source == "tickets":
            effect = self.projection.hear_ticket_event
        elif source == "customers" and event.type == "order.recorded":
            effect = self.projection.hear_order
        else:
            return False
        changed: list[bool] = []
        once(event, lambda conn: changed.append(effect(conn, event)))
        return bool(changed and changed[0])

    # --- reports -----------------------------------------------------------------------

    def summary(self, caller: Caller, raw_query: dict) -> dict:
        with self.store.pool.connection() as conn:
            own = self._own_only(conn, caller)
            query = report_query.summary_query(raw_query, self.today(conn, caller.store_id))
            if own and query.group_by not in report_query.OWN_GROUPINGS:
                raise Forbidden("reports_own_only", f"an agent's reports show their own figures: group by "
                                f"{', '.join(report_query.OWN_GROUPINGS)}, or ask an owner to set agents_see=store")
            dimension = report_query.dimension_of(query.group_by)
            if own:
                dimension = "agent"
            rows = self._read(conn, caller.store_id, dimension, query.start, query.end,
                              caller.id if own else None)
            position = self._position_of(conn, caller.store_id)
        items = summarising.summarise(rows, query.group_by, query.time)
        return {"items": items, "from": query.start.isoformat(), "to": query.end.isoformat(),
                "group_by": query.group_by, "time": query.time, "position": position}

    def _read(self, conn, store_id: str, dimension: str, start: date, end: date,
              key: str | None) -> list[tuple[date, str, Measures]]:
        if key is None:
            rows = conn.execute(self._rows, (store_id, dimension, start, end))
        else:
            rows = conn.execute(self._own_rows, (store_id, dimension, start, end, key))
        return [(day, k, Measures.from_row(m)) for day, k, m in rows]

    def _own_only(self, conn, caller: Caller) -> bool:
        if not caller.is_staff:
            raise Forbidden("staff_only", "reports are for the store's staff")
        return not rules.sees_whole_store(self.settings.load(conn, caller.store_id), caller.role)

    def _position_of(self, conn, store_id: str) -> int:
        return conn.execute(self._position, (store_id,)).fetchone()[0] or 0

    def today(self, conn, store_id: str) -> date:
        """Today in the store's time zone (its SLA policy's now): the rollups' days are its days."""
        zone = ZoneInfo(self.projection.policy_of(conn, store_id, LATEST)["time_zone"])
        return self.clock().astimezone(zone).date()

    # --- settings ----------------------------------------------------------------------

    def get_settings(self, caller: Caller) -> dict:
        return self.settings.current(caller)

    def update_settings(self, caller: Caller, patch: dict, expected_version: int | None = None) -> dict:
        return self.settings.update(caller, patch, expected_version)

    # --- rebuilding --------------------------------------------------------------------

    def rebuild(self, store_id: str | None = None, restate: bool = False) -> int:
        """Measure every ticket (of one store) again from the events heard;
        ``restate``: first make the store's tickets count by its policy now."""
        with self.store.transaction() as conn:
            if restate:
                self.projection.restate(conn, store_id)
            return self.projection.rebuild(conn, store_id)


def build(store: EventStore, config: ReportsConfig | None = None, clock: Callable[[], datetime] = utcnow) -> Reports:
    return Reports(store, config or DEFAULTS, clock)


__all__ = ["Reports", "build", "keyword_rules"]
