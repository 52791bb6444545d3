"""The reports service layer: events in (``hear``), reports out
(``summary``, ``agents``, ``keywords``, ``volume``, ``customers``,
``products``), the store's report settings.

Plain Python over PostgreSQL; ``service.py`` exposes it over Nameko. A
caller is a ``seedwork.caller.Caller``. Every figure is a fold of the
events the service heard (``projection.py``), read from the daily rollups
(``reading.py``). Every answer names the position of the tickets log it
reflects.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable
from zoneinfo import ZoneInfo

from seedwork import feed
from seedwork.caller import Caller
from seedwork.envelope import Envelope, utcnow
from seedwork.errors import Forbidden
from seedwork.store import EventStore

from .config import DEFAULTS, ReportsConfig
from .domain import keywords as keyword_rules
from .domain import report_query
from .domain import report_settings as rules
from .domain import staffing
from .domain import summary as summarising
from .projection import LATEST, ReportsProjection
from .reading import ReportReads
from .report_settings import ReportSettings


class Reports:
    def __init__(self, store: EventStore, config: ReportsConfig = DEFAULTS,
                 clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.settings = ReportSettings(store, clock)
        self.projection = ReportsProjection(store.schema, config.fcr_window_days)
        self.reads = ReportReads(store.schema)
        self.clock = clock

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
                raise own_only(f"group by {', '.join(report_query.OWN_GROUPINGS)}")
            dimension = "agent" if own else report_query.dimension_of(query.group_by)
            rows = self.reads.rows(conn, caller.store_id, dimension, query.start, query.end,
                                   caller.id if own else None)
            position = self.reads.position(conn, caller.store_id)
        return {"items": summarising.summarise(rows, query.group_by, query.time), **period_of(query),
                "group_by": query.group_by, "time": query.time, "position": position}

    def agents(self, caller: Caller, raw_query: dict) -> dict:
        """Agent performance; an agent who sees only their own gets their own row."""
        with self.store.pool.connection() as conn:
            own = self._own_only(conn, caller)
            query = report_query.summary_query({**raw_query, "group_by": "agent"},
                                               self.today(conn, caller.store_id))
            rows = self.reads.rows(conn, caller.store_id, "agent", query.start, query.end,
                                   caller.id if own else None)
            position = self.reads.position(conn, caller.store_id)
        return {"items": summarising.agents(rows, query.time), **period_of(query), "time": query.time,
                "position": position}

    def keywords(self, caller: Caller, raw_query: dict) -> dict:
        """The most frequent terms of the tickets opened in the period, against the period before."""
        with self.store.pool.connection() as conn:
            self._whole_store(conn, caller, "keywords")
            start, end = report_query.period(raw_query, self.today(conn, caller.store_id))
            limit = report_query.limit(raw_query)
            before_start, before_end = keyword_rules.previous_period(start, end)
            current = keyword_rules.term_counts(self.reads.rows(conn, caller.store_id, "term", start, end))
            previous = keyword_rules.term_counts(self.reads.rows(conn, caller.store_id, "term", before_start,
                                                                 before_end))
            position = self.reads.position(conn, caller.store_id)
        return {"items": keyword_rules.trends(current, previous, limit), "from": start.isoformat(),
                "to": end.isoformat(), "previous": {"from": before_start.isoformat(), "to": before_end.isoformat()},
                "position": position}

    def volume(self, caller: Caller, raw_query: dict) -> dict:
        """Tickets opened in each hour of the week (the store's time), beside the staff online in it."""
        with self.store.pool.connection() as conn:
            self._whole_store(conn, caller, "volume")
            start, end = report_query.period(raw_query, self.today(conn, caller.store_id))
            zone_name = self.time_zone_of(conn, caller.store_id)
            cells = summarising.volume_by_hour(self.reads.rows(conn, caller.store_id, "hour", start, end))
            before, changes = self.reads.availability(conn, caller.store_id, start, end, ZoneInfo(zone_name))
            position = self.reads.position(conn, caller.store_id)
        online = staffing.online_by_hour(changes, before, start, end, zone_name, self.clock())
        weekdays = summarising.WEEKDAYS
        items = [{**cell, "staff_online": online[(weekdays.index(cell["weekday"]), cell["hour"])]} for cell in cells]
        return {"items": items, "from": start.isoformat(), "to": end.isoformat(), "time_zone": zone_name,
                "position": position}

    def customers(self, caller: Caller, raw_query: dict) -> dict:
        """The customers who opened the most tickets in the period."""
        with self.store.pool.connection() as conn:
            self._whole_store(conn, caller, "customers")
            start, end = report_query.period(raw_query, self.today(conn, caller.store_id))
            zone = ZoneInfo(self.time_zone_of(conn, caller.store_id))
            items = self.reads.top_customers(conn, caller.store_id, start, end, zone, report_query.limit(raw_query))
            position = self.reads.position(conn, caller.store_id)
        return {"items": items, "from": start.isoformat(), "to": end.isoformat(), "position": position}

    def products(self, caller: Caller, raw_query: dict) -> dict:
        """Per product: tickets opened about its orders, orders of it placed, and their ratio."""
        with self.store.pool.connection() as conn:
            self._whole_store(conn, caller, "products")
            start, end = report_query.period(raw_query, self.today(conn, caller.store_id))
            zone = ZoneInfo(self.time_zone_of(conn, caller.store_id))
            tickets = keyword_rules.term_counts(self.reads.rows(conn, caller.store_id, "product", start, end))
            sold = self.reads.orders_sold(conn, caller.store_id, start, end, zone)
            position = self.reads.position(conn, caller.store_id)
        items = report_query.per_order_sold(tickets, sold, report_query.limit(raw_query))
        return {"items": items, "from": start.isoformat(), "to": end.isoformat(), "position": position}

    def _own_only(self, conn, caller: Caller) -> bool:
        if not caller.is_staff:
            raise Forbidden("staff_only", "reports are for the store's staff")
        return not rules.sees_whole_store(self.settings.load(conn, caller.store_id), caller.role)

    def _whole_store(self, conn, caller: Caller, report: str) -> None:
        if self._own_only(conn, caller):
            raise own_only(f"the {report} report is the store's")

    def time_zone_of(self, conn, store_id: str) -> str:
        return self.projection.policy_of(conn, store_id, LATEST)["time_zone"]

    def today(self, conn, store_id: str) -> date:
        """Today in the store's time zone (its SLA policy's now): the rollups' days are its days."""
        return self.clock().astimezone(ZoneInfo(self.time_zone_of(conn, store_id))).date()

    def events(self, store_id: str | None, after: int, limit: int) -> dict:
        """The service's own events (the report settings) in global order, as CloudEvents."""
        return feed.page(self.store, "reports", after, limit, store_id)

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


def own_only(what: str) -> Forbidden:
    return Forbidden("reports_own_only", f"an agent's reports show their own figures ({what}); an owner or "
                     "admin can let agents see the store's: PATCH /v1/settings/reports {\"agents_see\": \"store\"}")


def period_of(query: report_query.SummaryQuery) -> dict:
    return {"from": query.start.isoformat(), "to": query.end.isoformat()}


def build(store: EventStore, config: ReportsConfig | None = None, clock: Callable[[], datetime] = utcnow) -> Reports:
    return Reports(store, config or DEFAULTS, clock)
