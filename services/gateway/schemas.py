"""Request and response shapes of the HTTP API (marshmallow).

Requests are validated here before any service sees them: unknown fields,
wrong types, missing and over-long values are 400s naming the field. The
OpenAPI document is generated from these same classes.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

# Mirrors of the ticket domain's limits: the domain checks them again.
STATUSES = ("open", "pending", "on_hold", "under_review", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
ROLES = ("admin", "agent")
ID = validate.Regexp(r"^[A-Za-z0-9_.:\-]{1,64}\Z", error="1 to 64 letters, digits, or . _ : -")
SORTS = ("created", "-created", "updated", "-updated", "priority", "-priority")


class StrictInteger(fields.Integer):
    """An integer, and not a boolean (JSON true is not 1)."""

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


def _no_nul(value: str) -> None:
    # PostgreSQL text cannot hold NUL: refuse it here, naming the field.
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")


def text(max_length: int, required: bool = False, **kwargs) -> fields.String:
    return fields.String(required=required, validate=[validate.Length(min=1, max=max_length), _no_nul], **kwargs)


# --- identity ---------------------------------------------------------------------


class StoreCreate(Schema):
    name = text(100, required=True)
    owner_name = text(100)
    owner_email = fields.Email(validate=validate.Length(max=254))


class Store(Schema):
    id = fields.String()
    name = fields.String()
    owner_id = fields.String()
    owner_token = fields.String(metadata={"description": "Bearer token of the store's owner; shown once"})


class StoreView(Schema):
    id = fields.String()
    name = fields.String()
    created_at = fields.String()


class AgentCreate(Schema):
    name = text(100, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class Agent(Schema):
    id = fields.String()
    store_id = fields.String()
    name = fields.String()
    email = fields.String()
    role = fields.String()
    token = fields.String(metadata={"description": "Bearer token of the new staff member; shown once"})
    created_at = fields.String()


class AgentList(Schema):
    items = fields.List(fields.Nested(Agent))


class SessionCreate(Schema):
    """No fields yet: the customer is named in the path."""


class Session(Schema):
    customer_id = fields.String()
    store_id = fields.String()
    token = fields.String()
    expires_at = fields.String()


# --- tickets ----------------------------------------------------------------------


class Attachment(Schema):
    filename = text(255, required=True)
    url = fields.Url(required=True, schemes={"http", "https"}, validate=validate.Length(max=2000))
    content_type = text(255, allow_none=True)
    size = StrictInteger(strict=True, validate=validate.Range(min=0), allow_none=True)


def attachments() -> fields.List:
    return fields.List(fields.Nested(Attachment), validate=validate.Length(max=10))


class TicketCreate(Schema):
    subject = text(200, required=True)
    body = text(10000, required=True)
    type = fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,49}\Z",
                                                  error="lowercase letters, digits and _ (up to 50)"))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    order_id = fields.String(validate=ID, allow_none=True)
    customer_id = fields.String(validate=ID, metadata={"description": "staff only: the customer the ticket is for"})
    attachments = attachments()


class TicketUpdate(Schema):
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    type = fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,49}\Z",
                                                  error="lowercase letters, digits and _ (up to 50)"))

    @validates_schema
    def one_field(self, data, **kwargs):
        if not data:
            raise ValidationError("send priority, type or both", "_schema")


class MessageCreate(Schema):
    body = text(10000, required=True)
    attachments = attachments()


class AssignRequest(Schema):
    agent_id = fields.String(validate=ID, allow_none=True)
    team = fields.String(validate=ID, allow_none=True, metadata={"description": "a team's slug, e.g. payments"})

    @validates_schema
    def one_field(self, data, **kwargs):
        if "agent_id" not in data and "team" not in data:
            raise ValidationError("send agent_id, team or both (null unassigns)", "_schema")


class TagRequest(Schema):
    tag = text(50, required=True)


class StatusRequest(Schema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    label = text(100, allow_none=True)


class RatingRequest(Schema):
    score = StrictInteger(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = text(2000, allow_none=True)


class Author(Schema):
    type = fields.String(metadata={"description": "customer, agent or system"})
    id = fields.String(allow_none=True)


class Message(Schema):
    id = fields.String()
    author = fields.Nested(Author)
    body = fields.String()
    internal = fields.Boolean(metadata={"description": "an internal note: never shown to the customer"})
    attachments = fields.List(fields.Nested(Attachment))
    created_at = fields.String()


class Rating(Schema):
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    rated_at = fields.String()


class TicketSummary(Schema):
    id = fields.String()
    number = fields.Integer()
    status = fields.String()
    status_label = fields.String(allow_none=True)
    priority = fields.String()
    type = fields.String()
    subject = fields.String()
    customer_id = fields.String()
    order_id = fields.String(allow_none=True)
    assignee_id = fields.String(allow_none=True)
    team = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    version = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()


class Ticket(TicketSummary):
    rating = fields.Nested(Rating, allow_none=True)
    messages = fields.List(fields.Nested(Message))


class TicketListItem(TicketSummary):
    message_count = fields.Integer()


class TicketList(Schema):
    items = fields.List(fields.Nested(TicketListItem))
    next_cursor = fields.String(allow_none=True)


class TicketQuery(Schema):
    status = fields.String(metadata={"description": "comma-separated statuses"})
    priority = fields.String(metadata={"description": "comma-separated priorities"})
    assignee_id = fields.String(validate=ID, metadata={"description": "an agent id, or `none`"})
    team = text(50)
    type = text(50)
    tag = text(50)
    customer_id = fields.String(validate=ID)
    q = text(200, metadata={"description": "text in the subject or a public message"})
    sort = fields.String(load_default="-created", validate=validate.OneOf(SORTS))
    cursor = text(500)
    limit = StrictInteger(load_default=25, validate=validate.Range(min=1, max=100))


class TicketGetQuery(Schema):
    as_of = fields.AwareDateTime(format="iso", metadata={"description": "the ticket as it was then (ISO-8601)"})


class HistoryEntry(Schema):
    version = fields.Integer()
    type = fields.String()
    at = fields.String()
    actor = fields.Nested(Author)
    data = fields.Dict()


class History(Schema):
    items = fields.List(fields.Nested(HistoryEntry))


# --- events -----------------------------------------------------------------------


class EventsQuery(Schema):
    after = fields.String(load_default="0", validate=validate.Regexp(r"^[0-9]{1,19}\Z", error="a position"))
    limit = StrictInteger(load_default=100, validate=validate.Range(min=1, max=1000))
    store_id = fields.String(validate=ID, metadata={"description": "platform key only: one store's events"})


class EventPage(Schema):
    items = fields.List(fields.Dict(), metadata={"description": "CloudEvents 1.0, structured JSON"})
    next_after = fields.String(metadata={"description": "pass as ?after= to continue"})


class Problem(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    code = fields.String()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    request_id = fields.String()
