"""Views, the queue and the SLA policy (docs/agent-operations.md). Types and
sizes only: the tickets service's domain (``domain/queues.py``,
``domain/sla.py``) checks the rules and answers 422 naming the field."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import AtLeastOneField, StrictBoolean, StrictInteger, cursor, page_limit, text
from .tickets import TicketListItem

SORTS = ("created", "-created", "updated", "-updated", "priority", "-priority")
FILTER = {"description": "the keys of GET /v1/tickets' query: status, priority and sla (lists), assignee_id "
                         "(an agent id, `me` or `none`), team (a team id, `mine` or `none`), topic_id, type, tag, "
                         "customer_id, channel"}


class ViewCreate(Schema):
    name = text(100, required=True)
    filter = fields.Dict(required=True, metadata=FILTER)
    sort = fields.String(validate=validate.OneOf(SORTS))
    columns = fields.List(fields.String(), metadata={"description": "the columns an agent's list shows"})
    shared = StrictBoolean(metadata={"description": "admins: a view for the whole store (default: your own)"})


class ViewUpdate(AtLeastOneField):
    nothing_sent = "send name, filter, sort or columns"

    name = text(100)
    filter = fields.Dict(metadata=FILTER)
    sort = fields.String(validate=validate.OneOf(SORTS))
    columns = fields.List(fields.String())


class View(Schema):
    id = fields.String()
    name = fields.String()
    filter = fields.Dict()
    sort = fields.String()
    columns = fields.List(fields.String())
    built_in = fields.Boolean()
    owner_id = fields.String(allow_none=True, metadata={"description": "the agent whose own view it is; null: the "
                                                                       "store's"})
    version = fields.Integer()
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class CountedView(View):
    count = fields.Integer(metadata={"description": "tickets in the view that the caller may see"})
    position = fields.String(metadata={"description": "every event of the store up to this position of the "
                                                      "event feed is counted"})


ViewList = Schema.from_dict({"items": fields.List(fields.Nested(CountedView)), "position": fields.String()},
                            name="ViewList")


class ViewTicketsQuery(Schema):
    sort = fields.String(validate=validate.OneOf(SORTS))
    cursor = cursor()
    limit = page_limit()


# --- the SLA policy ---------------------------------------------------------------------


# "from" is a Python keyword: these two are declared from dicts to keep the JSON names.
BusinessHours = Schema.from_dict({
    "day": fields.String(required=True, validate=validate.OneOf(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))),
    "from": fields.String(required=True, metadata={"description": "HH:MM, local time"}),
    "to": fields.String(required=True, metadata={"description": "HH:MM, local time (24:00: midnight)"}),
}, name="BusinessHours")
Holiday = Schema.from_dict({
    "from": fields.String(required=True, metadata={"description": "YYYY-MM-DD, first day"}),
    "to": fields.String(required=True, metadata={"description": "YYYY-MM-DD, last day (inclusive)"}),
}, name="Holiday")


class Targets(Schema):
    first_response_minutes = StrictInteger(allow_none=True)
    next_response_minutes = StrictInteger(allow_none=True)
    resolution_minutes = StrictInteger(allow_none=True)


TargetsByPriority = Schema.from_dict({p: fields.Nested(Targets) for p in ("urgent", "high", "normal", "low")},
                                     name="TargetsByPriority")


class SlaPolicyBody(Schema):
    time_zone = fields.String(metadata={"description": "an IANA time zone (default Asia/Riyadh)"})
    business_hours = fields.List(fields.Nested(BusinessHours), metadata={
        "description": "when the clock runs; [] means around the clock (default Sunday to Thursday 09:00-17:00)"})
    holidays = fields.List(fields.Nested(Holiday))
    pause_on = fields.List(fields.String(validate=validate.OneOf(("pending", "on_hold"))))
    targets = fields.Nested(TargetsByPriority, metadata={"description": "business minutes; null: no target"})
    warning_minutes = StrictInteger(metadata={"description": "sla.warning fires this many minutes before a due "
                                                             "moment (default 60)"})


class SlaPolicy(SlaPolicyBody):
    version = fields.Integer()
    updated_at = fields.String(allow_none=True)


ViewRef = Schema.from_dict({"id": fields.String(), "name": fields.String()}, name="ViewRef")
ViewTicketList = Schema.from_dict({
    "items": fields.List(fields.Nested(TicketListItem)), "view": fields.Nested(ViewRef),
    "next_cursor": fields.String(allow_none=True, metadata={"description": "pass as ?cursor= for the next page"}),
}, name="ViewTicketList")


# --- the agent settings -----------------------------------------------------------------

VISIBILITY = {"description": "all: every agent sees every ticket; teams: an agent sees their teams' tickets and "
                             "their own (owners and admins see all)"}
MODE = {"description": "how tickets on no team are assigned: manual, round_robin or least_loaded"}


class AgentSettingsUpdate(AtLeastOneField):
    nothing_sent = "send ticket_visibility, assignment_mode or both"

    ticket_visibility = fields.String(validate=validate.OneOf(("all", "teams")), metadata=VISIBILITY)
    assignment_mode = fields.String(validate=validate.OneOf(("manual", "round_robin", "least_loaded")),
                                    metadata=MODE)


class AgentSettings(Schema):
    ticket_visibility = fields.String(metadata=VISIBILITY)
    assignment_mode = fields.String(metadata=MODE)
    version = fields.Integer()
    updated_at = fields.String(allow_none=True)
