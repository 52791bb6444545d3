"""Reports and KPIs (docs/reports.md): the reports service folds every
figure from the events; these routes ask it, scoped to the caller's store
and role, and answer JSON or, with ``Accept: text/csv``, the same rows as CSV."""
from __future__ import annotations

from typing import Any, Callable

from ..routing import ADMIN, STAFF, route
from ..schemas import reports as schemas
from .base import RouteBase

TAGS = ("reports",)
FIGURES = ("first_response_median_minutes", "first_response_p90_minutes", "first_response_count")


def flat(item: dict, prefix: str = "") -> dict[str, Any]:
    """``{"csat": {"average": 4.5}}`` as ``{"csat_average": 4.5}``: one CSV column per figure."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}_"))
        else:
            out[name] = value
    return out


def csv_of(*columns: str) -> Callable[[dict], tuple[list[str], list[list]]]:
    """The CSV of a report's items: these columns, in this order."""
    def rows(answer: dict) -> tuple[list[str], list[list]]:
        return list(columns), [[flat(item).get(c) for c in columns] for item in answer["items"]]
    return rows


SUMMARY_CSV = csv_of("key", "created", "solved", "reopened", "first_response_median_minutes",
                     "first_response_p90_minutes", "first_response_count", "resolution_median_minutes",
                     "resolution_p90_minutes", "resolution_count", "fcr_rate", "one_touch_rate", "csat_average",
                     "csat_count", "sla_achieved_rate", "sla_achieved", "sla_breached")
AGENTS_CSV = csv_of("agent_id", "handled", "replies", *FIGURES, "csat_average", "csat_count", "fcr_rate",
                    "one_touch_rate")


def over_rpc(query: dict) -> dict:
    """Dates as ISO text: RPC carries JSON."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in query.items()}


class ReportRoutes(RouteBase):

    @route("GET", "/v1/reports/summary", "Tickets created and solved, first response and resolution times, "
           "first-contact resolution, CSAT and SLA, grouped by agent, team, topic, type, tag, channel, product, "
           "self-service reason, day, week or month", roles=STAFF, query=schemas.SummaryQuery, response=schemas.Summary,
           csv=SUMMARY_CSV, tags=TAGS)
    def report_summary(self, call):
        return self.reports.summary(call.caller, over_rpc(call.query))

    @route("GET", "/v1/reports/agents", "Agent performance: tickets handled, replies, first response, CSAT, "
           "first-contact resolution", roles=STAFF, query=schemas.AgentsQuery, response=schemas.AgentReport,
           csv=AGENTS_CSV, tags=TAGS)
    def report_agents(self, call):
        return self.reports.agents(call.caller, over_rpc(call.query))

    @route("GET", "/v1/reports/keywords", "The most frequent terms of the tickets opened in the period, with "
           "their growth against the period before", roles=STAFF, query=schemas.TopQuery,
           response=schemas.KeywordReport, csv=csv_of("term", "count", "previous", "growth"), tags=TAGS)
    def report_keywords(self, call):
        return self.reports.keywords(call.caller, over_rpc(call.query))

    @route("GET", "/v1/reports/volume", "Tickets opened in each hour of the week (the store's time), beside the "
           "staff online in it", roles=STAFF, query=schemas.PeriodQuery, response=schemas.VolumeReport,
           csv=csv_of("weekday", "hour", "created", "staff_online"), tags=TAGS)
    def report_volume(self, call):
        return self.reports.volume(call.caller, over_rpc(call.query))

    @route("GET", "/v1/reports/customers", "The customers who opened the most tickets", roles=STAFF,
           query=schemas.TopQuery, response=schemas.CustomerReport, csv=csv_of("customer_id", "created"),
           tags=TAGS)
    def report_customers(self, call):
        return self.reports.customers(call.caller, over_rpc(call.query))

    @route("GET", "/v1/reports/products", "The products with the most tickets per order sold", roles=STAFF,
           query=schemas.TopQuery, response=schemas.ProductReport,
           csv=csv_of("product", "tickets", "orders", "tickets_per_order"), tags=TAGS)
    def report_products(self, call):
        return self.reports.products(call.caller, over_rpc(call.query))

    @route("GET", "/v1/settings/reports", "What agents see of the reports", roles=STAFF,
           response=schemas.ReportSettings, resource="settings", etag=True, tags=TAGS)
    def report_settings(self, call):
        return {"settings": self.reports.settings(call.caller)}

    @route("PATCH", "/v1/settings/reports", "Change the report settings (owner, admin)", roles=ADMIN,
           body=schemas.ReportSettingsUpdate, response=schemas.ReportSettings, resource="settings", etag=True,
           if_match="settings", tags=TAGS)
    def update_report_settings(self, call):
        return {"settings": self.reports.update_settings(call.caller, call.body, call.if_match)}
