"""The event feed and the problem body every refusal has."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import ID, answer, StrictInteger


class EventsQuery(Schema):
    after = fields.String(load_default="0", validate=validate.Regexp(r"^[0-9]{1,19}\Z", error="a position"))
    limit = StrictInteger(load_default=100, validate=validate.Range(min=1, max=1000))
    store_id = fields.String(validate=ID, metadata={"description": "platform key only: one store's events"})


class EventPage(Schema):
    items = fields.List(fields.Dict(), metadata={"description": "CloudEvents 1.0, structured JSON"})
    next_after = fields.String(metadata={"description": "pass as ?after= to continue"})


HealthLive = answer("HealthLive", "status")
HealthReady = answer("HealthReady", "status", checks=fields.Dict(
    keys=fields.String(), values=fields.String(), metadata={"description": "database, rabbitmq: ok or error: <kind>"}))
Health = answer("Health", "status", services=fields.Dict(metadata={
    "description": "each service's own health report (its schema, its relay's role), or {error}"}))
Document = answer("Document", "openapi", info=fields.Dict(), paths=fields.Dict(), components=fields.Dict())


Problem = answer("Problem", "type title code detail request_id", status=fields.Integer(),
                 errors=fields.Dict(keys=fields.String(), values=fields.List(fields.String())))
