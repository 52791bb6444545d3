"""Reports (docs/reports.md). Types and sizes only: the reports service
checks the period and the grouping and answers 422 naming the field."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import AtLeastOneField

GROUPINGS = ("agent", "team", "topic", "type", "tag", "channel", "product", "day", "week", "month")

# "from" is a Python keyword: the query and the answer are declared from dicts to keep the JSON names.
SummaryQuery = Schema.from_dict({
    "from": fields.Date(metadata={"description": "the first day (YYYY-MM-DD, in the store's time zone); "
                                                 "default: 29 days before `to`"}),
    "to": fields.Date(metadata={"description": "the last day, included; default: today"}),
    "group_by": fields.String(validate=validate.OneOf(GROUPINGS), metadata={"description": "default: day"}),
    "time": fields.String(validate=validate.OneOf(("business", "calendar")),
                          metadata={"description": "minutes counted in the store's business hours (its SLA "
                                                   "policy's; the default) or around the clock"}),
}, name="ReportSummaryQuery")


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
    key = fields.String(allow_none=True, metadata={"description": "the agent, team, topic, type, tag, channel or "
                                                                  "product; or the day, week (its Monday) or "
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


Summary = Schema.from_dict({
    "items": fields.List(fields.Nested(SummaryItem)),
    "from": fields.String(), "to": fields.String(), "group_by": fields.String(), "time": fields.String(),
    "position": fields.Integer(metadata={"description": "the newest position of the tickets service's event "
                                                        "log these figures reflect"}),
}, name="ReportSummary")


class ReportSettings(Schema):
    agents_see = fields.String(metadata={"description": "`own`: an agent's reports show their own figures; "
                                                        "`store`: the store's"})
    version = fields.Integer()
    updated_at = fields.String(allow_none=True)


class ReportSettingsUpdate(AtLeastOneField):
    nothing_sent = "send agents_see"

    agents_see = fields.String(validate=validate.OneOf(("own", "store")))
