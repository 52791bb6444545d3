"""Reports and KPIs (docs/reports.md): the reports service folds every
figure from the events; these routes ask it, scoped to the caller's store
and role, and answer JSON or, with ``Accept: text/csv``, the same rows as CSV."""
from __future__ import annotations

from ..routing import ADMIN, STAFF, route
from ..schemas import reports as schemas
from .base import RouteBase

TAGS = ("reports",)
SUMMARY_COLUMNS = ("key", "created", "solved", "reopened", "first_response_median_minutes",
                   "first_response_p90_minutes", "resolution_median_minutes", "resolution_p90_minutes",
                   "fcr_rate", "one_touch_rate", "csat_average", "csat_count", "sla_achieved_rate", "sla_breached")


def summary_rows(answer: dict) -> tuple[list[str], list[list]]:
    rows = [[item["key"], item["created"], item["solved"], item["reopened"],
             item["first_response"]["median_minutes"], item["first_response"]["p90_minutes"],
             item["resolution"]["median_minutes"], item["resolution"]["p90_minutes"],
             item["fcr_rate"], item["one_touch_rate"], item["csat"]["average"], item["csat"]["count"],
             item["sla"]["achieved_rate"], item["sla"]["breached"]] for item in answer["items"]]
    return list(SUMMARY_COLUMNS), rows


def over_rpc(query: dict) -> dict:
    """Dates as ISO text: RPC carries JSON."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in query.items()}


class ReportRoutes(RouteBase):

    @route("GET", "/v1/reports/summary", "Tickets created and solved, first response and resolution times, "
           "first-contact resolution, CSAT and SLA, grouped by agent, team, topic, type, tag, channel, product, "
           "day, week or month", roles=STAFF, query=schemas.SummaryQuery, response=schemas.Summary,
           csv=summary_rows, tags=TAGS)
    def report_summary(self, call):
        return self.reports.summary(call.caller, over_rpc(call.query))

    @route("GET", "/v1/settings/reports", "What agents see of the reports", roles=STAFF,
           response=schemas.ReportSettings, resource="settings", etag=True, tags=TAGS)
    def report_settings(self, call):
        return {"settings": self.reports.settings(call.caller)}

    @route("PATCH", "/v1/settings/reports", "Change the report settings (owner, admin)", roles=ADMIN,
           body=schemas.ReportSettingsUpdate, response=schemas.ReportSettings, resource="settings", etag=True,
           if_match="settings", tags=TAGS)
    def update_report_settings(self, call):
        return {"settings": self.reports.update_settings(call.caller, call.body, call.if_match)}
