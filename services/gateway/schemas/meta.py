"""The event feed and the problem body every refusal has."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ..event_feed import ALL, SOURCES
from .fields import ID, StrictInteger, answer, cursor


class EventsQuery(Schema):
    source = fields.String(validate=validate.OneOf((*SOURCES, ALL)), metadata={"description": (
        "whose events: one service's (default tickets, paged with after), or all of them merged (paged with "
        "cursor; a cursor alone means all)")})
    after = fields.String(validate=validate.Regexp(r"^[0-9]{1,19}\Z", error="a position"), metadata={
        "description": "one source's feed: the next_after of the previous page (default 0, the beginning)"})
    cursor = cursor("source=all: the next_cursor of the previous page (none: the beginning)")
    limit = StrictInteger(load_default=100, validate=validate.Range(min=1, max=1000))
    store_id = fields.String(validate=ID, metadata={"description": "platform key only: one store's events"})

    @validates_schema
    def one_way_to_page(self, data, **kwargs):
        source = data.get("source")
        if "cursor" in data and source not in (None, ALL):
            raise ValidationError("the whole feed's cursor: send it without source, or with source=all", "cursor")
        if "after" in data and (source == ALL or "cursor" in data):
            raise ValidationError("a position of one source: the whole feed pages with cursor", "after")

    @post_load
    def defaults(self, data, **kwargs):
        source = data.setdefault("source", ALL if "cursor" in data else "tickets")
        if source != ALL:
            data.setdefault("after", "0")
        return data


class EventPage(Schema):
    items = fields.List(fields.Dict(), metadata={"description": "CloudEvents 1.0, structured JSON"})
    next_after = fields.String(metadata={"description": "one source's feed: pass as ?after= to continue"})
    next_cursor = fields.String(metadata={"description": (
        "source=all: pass as ?cursor= to continue; the same cursor as sent means nothing new yet")})


HealthLive = answer("HealthLive", "status")
HealthReady = answer("HealthReady", "status", checks=fields.Dict(
    keys=fields.String(), values=fields.String(), metadata={"description": "database, rabbitmq: ok or error: <kind>"}))
Health = answer("Health", "status", services=fields.Dict(metadata={
    "description": "each service's own health report (its schema, its relay's role), or {error}"}))
Document = answer("Document", "openapi", info=fields.Dict(), paths=fields.Dict(), components=fields.Dict())


Problem = answer("Problem", "type title code detail request_id", status=fields.Integer(),
                 errors=fields.Dict(keys=fields.String(), values=fields.List(fields.String())))
