"""Reports (docs/reports.md). Types and sizes only: the reports service
checks the period and the grouping and answers 422 naming the field."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import AtLeastOneField

GROUPINGS = ("agent", "team", "topic", "type", "tag", "channel", "product", "reason", "day", "week", "month")

# "from" is a Python keyword: the queries and answers are declared from dicts to keep the JSON names.
PERIOD = {
    "from": fields.Date(metadata={"description": "the first day (YYYY-MM-DD, in the store's time zone); "
                                                 "default: 29 days before `to`"}),
    "to": fields.Date(metadata={"description": "the last day, included; default: today in the store's time zone"}),
}
TIME = fields.String(validate=validate.OneOf(("business", "calendar")),
                     metadata={"description": "minutes counted in the store's business hours (its SLA policy's; "
                                              "the default) or around the clock"})
LIMIT = fields.Integer(strict=False, validate=validate.Range(1, 100), metadata={"description": "default 20"})
SummaryQuery = Schema.from_dict({
    **PERIOD, "group_by": fields.String(validate=validate.OneOf(GROUPINGS), metadata={"description": "default: day"}),
    "time": TIME}, name="ReportSummaryQuery")
AgentsQuery = Schema.from_dict({**PERIOD, "time": TIME}, name="ReportAgentsQuery")
PeriodQuery = Schema.from_dict(dict(PERIOD), name="ReportPeriodQuery")
TopQuery = Schema.from_dict({**PERIOD, "limit": LIMIT}, name="ReportTopQuery")
PERIOD_ANSWER = {"from": fields.String(), "to": fields.String(),
                 "position": fields.Integer(metadata={"description": "the newest position of the tickets "
                                                                     "service's event log these figures reflect"})}


class Minutes(Schema):
    median_minutes = fields.Float(allow_none=True, metadata={"description": "null: nothing to measure"})
    p90_minutes = fields.Float(allow_none=True)
    count = fields.Integer(metadata={"description": "how many were measured"})


class Csat(Schema):
    average = fields.Float(allow_none=True)
    count = fields.Integer()
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(),
                               metadata={"description": "ratings by score, \"1\" to \"5\""})


class SlaFigures(Schema):
    achieved_rate = fields.Float(allow_none=True, metadata={"description": "targets met of targets decided"})
    achieved = fields.Integer()
    breached = fields.Integer()


class SummaryItem(Schema):
    key = fields.String(allow_none=True, metadata={"description": "the agent, team, topic, type, tag, channel, "
                                                                  "product or reason; or the day, week (its Monday) or "
                                                                  "month (its first day); null: none (no agent)"})
    created = fields.Integer()
    solved = fields.Integer()
    reopened = fields.Integer()
    first_response = fields.Nested(Minutes)
    resolution = fields.Nested(Minutes)
    fcr_rate = fields.Float(allow_none=True, metadata={"description": "first-contact resolution: of the tickets "
                                                                      "solved, those solved after one staff reply "
                                                                      "and not reopened within the window"})
    one_touch_rate = fields.Float(allow_none=True)
    csat = fields.Nested(Csat)
    sla = fields.Nested(SlaFigures)


Summary = Schema.from_dict({"items": fields.List(fields.Nested(SummaryItem)), "group_by": fields.String(),
                            "time": fields.String(), **PERIOD_ANSWER}, name="ReportSummary")


class AgentFigures(Schema):
    agent_id = fields.String()
    handled = fields.Integer(metadata={"description": "tickets on them solved in the period"})
    replies = fields.Integer(metadata={"description": "public replies they wrote in the period"})
    first_response = fields.Nested(Minutes)
    csat = fields.Nested(Csat)
    fcr_rate = fields.Float(allow_none=True)
    one_touch_rate = fields.Float(allow_none=True)


AgentReport = Schema.from_dict({"items": fields.List(fields.Nested(AgentFigures)), "time": fields.String(),
                                **PERIOD_ANSWER}, name="ReportAgents")


class Keyword(Schema):
    term = fields.String(metadata={"description": "folded (Arabic and Persian letters as the customer search "
                                                  "folds them), stop words left out"})
    count = fields.Integer(metadata={"description": "tickets opened in the period whose subject or first "
                                                    "message has it"})
    previous = fields.Integer(metadata={"description": "the same in the period of as many days before"})
    growth = fields.Float(allow_none=True, metadata={"description": "(count - previous) / previous; null: new"})


KeywordReport = Schema.from_dict({
    "items": fields.List(fields.Nested(Keyword)),
    "previous": fields.Dict(keys=fields.String(), values=fields.String(),
                            metadata={"description": "the period compared with: {from, to}"}),
    **PERIOD_ANSWER}, name="ReportKeywords")


class HourCell(Schema):
    weekday = fields.String(metadata={"description": "mon .. sun"})
    hour = fields.Integer(metadata={"description": "0 to 23, the store's local time"})
    created = fields.Integer()
    staff_online = fields.Float(metadata={"description": "agents online in that hour, on average over the "
                                                         "period's days"})


VolumeReport = Schema.from_dict({"items": fields.List(fields.Nested(HourCell)), "time_zone": fields.String(),
                                 **PERIOD_ANSWER}, name="ReportVolume")


class CustomerTickets(Schema):
    customer_id = fields.String()
    created = fields.Integer()


CustomerReport = Schema.from_dict({"items": fields.List(fields.Nested(CustomerTickets)), **PERIOD_ANSWER},
                                  name="ReportCustomers")


class ProductTickets(Schema):
    product = fields.String(metadata={"description": "the order item's sku, or its name"})
    tickets = fields.Integer(metadata={"description": "tickets opened in the period about an order with it"})
    orders = fields.Integer(metadata={"description": "orders with it placed in the period"})
    tickets_per_order = fields.Float(allow_none=True, metadata={"description": "null: no order of it placed"})


ProductReport = Schema.from_dict({"items": fields.List(fields.Nested(ProductTickets)), **PERIOD_ANSWER},
                                 name="ReportProducts")


class ReportSettings(Schema):
    agents_see = fields.String(metadata={"description": "`own`: an agent's reports show their own figures; "
                                                        "`store`: the store's"})
    version = fields.Integer()
    updated_at = fields.String(allow_none=True)


class ReportSettingsUpdate(AtLeastOneField):
    nothing_sent = "send agents_see"

    agents_see = fields.String(validate=validate.OneOf(("own", "store")))
