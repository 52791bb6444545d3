"""Request and response shapes of the HTTP API (marshmallow).

Requests are validated here before any service sees them: unknown fields,
wrong types, missing and over-long values are 400s naming the field. Free
text has payment card numbers masked as it is loaded, so none leaves the
gateway. The OpenAPI document is generated from these same classes.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from seedwork.cards import redact_card_numbers

# Mirrors of the ticket domain's limits: the domain checks them again.
STATUSES = ("open", "pending", "on_hold", "under_review", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
ROLES = ("admin", "agent")
ID = validate.Regexp(r"^[A-Za-z0-9_.:\-]{1,64}\Z", error="1 to 64 letters, digits, or . _ : -")
SORTS = ("created", "-created", "updated", "-updated", "priority", "-priority")
UUID = validate.Regexp(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z",
                       error="an id as the API returns it: a lowercase UUID")


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


class FreeText(fields.String):
    """A string a person typed: payment card numbers in it are masked to ``•••• •••• •••• 1234``."""

    def _deserialize(self, value, attr, data, **kwargs):
        return redact_card_numbers(super()._deserialize(value, attr, data, **kwargs))


def text(max_length: int, required: bool = False, *, masked: bool = True, **kwargs) -> fields.String:
    """A string of 1..max_length characters. ``masked=False`` for codes that masking would break
    (mobiles, cursors, dates, URLs, SKUs): their own patterns keep a card out or the domain refuses it."""
    kind = FreeText if masked else fields.String
    return kind(required=required, validate=[validate.Length(min=1, max=max_length), _no_nul], **kwargs)


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


class UploadedAttachment(Schema):
    """A file uploaded to the ticket (``POST /v1/tickets/{id}/attachments``), named by its id."""

    id = fields.String(required=True, validate=UUID)


class AttachmentRef(fields.Field):
    """One attachment of a message: ``{id}`` of an upload, or a link ``{filename, url, ...}``.
    An object with an ``id`` is read as an upload; errors are named inside the item."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"oneOf": [{"$ref": "#/components/schemas/UploadedAttachment"},
                                             {"$ref": "#/components/schemas/Attachment"}]}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("expected an object: {id} of an upload, or a link {filename, url}")
        schema = UploadedAttachment() if "id" in value else Attachment()
        return schema.load(value)  # a ValidationError keeps its field messages


def message_attachments() -> fields.List:
    return fields.List(AttachmentRef(), validate=validate.Length(max=10))


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
    """A public reply. A shopper sends ``body`` and/or ``attachments``; staff send ``body`` or
    ``canned_response_id`` (not both), and may add an internal ``note``. An empty body is no body."""

    body = FreeText(validate=[validate.Length(max=10000), _no_nul],
                         metadata={"description": "may be empty when files are attached"})
    canned_response_id = fields.String(validate=UUID, metadata={
        "description": "staff only: send this canned response, its placeholders filled (instead of body)"})
    note = text(10000, metadata={"description": "staff only: an internal note recorded right after the reply"})
    attachments = message_attachments()

    @validates_schema
    def something_to_send(self, data, **kwargs):
        has_body = bool(data.get("body"))
        if has_body and "canned_response_id" in data:
            message = "send body or canned_response_id, not both"
            raise ValidationError({"body": [message], "canned_response_id": [message]})
        if not (has_body or "canned_response_id" in data or data.get("attachments")):
            # Named after body: what a client most likely left out.
            raise ValidationError("required: send a body, a canned_response_id or attachments", "body")

    @post_load
    def drop_empty_body(self, data, **kwargs):
        if data.get("body") == "":
            del data["body"]
        return data


class NoteCreate(Schema):
    """An internal note: staff only, never shown to the customer."""

    body = text(10000, required=True)
    attachments = message_attachments()


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


class MessageAttachment(Schema):
    id = fields.String(metadata={"description": "an uploaded file: download it from its url"})
    filename = fields.String()
    url = fields.String()
    content_type = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    sha256 = fields.String(metadata={"description": "an uploaded file's SHA-256"})


class Message(Schema):
    id = fields.String()
    author = fields.Nested(Author)
    body = fields.String()
    internal = fields.Boolean(metadata={"description": "an internal note: never shown to the customer"})
    attachments = fields.List(fields.Nested(MessageAttachment))
    canned_response_id = fields.String(metadata={"description": "the canned response it was filled from"})
    automatic = fields.String(metadata={"description": "tracking_link: sent by a self-service flow"})
    created_at = fields.String()


class Rating(Schema):
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    rated_at = fields.String()


class TicketCustomerGroup(Schema):
    id = fields.String()
    name = fields.String()


class TicketCustomer(Schema):
    """The ticket's customer, from the tickets service's replica of customer
    events. A shopper gets only ``id``; staff get the rest (defaults until
    the first event about the customer arrives)."""

    id = fields.String()
    name = fields.String(allow_none=True, metadata={"description": "staff only; null until known"})
    groups = fields.List(fields.Nested(TicketCustomerGroup), metadata={"description": "staff only"})
    blocked = fields.Boolean(metadata={"description": "staff only"})
    block_reason = fields.String(allow_none=True, metadata={
        "description": "staff only: non_serious_orders, abusive_language, fraud_suspicion or other"})
    flagged = fields.Boolean(metadata={"description": "staff only: an active platform fraud flag"})


class TicketSummary(Schema):
    id = fields.String()
    number = fields.Integer()
    status = fields.String()
    status_label = fields.String(allow_none=True)
    priority = fields.String()
    type = fields.String()
    subject = fields.String()
    customer_id = fields.String()
    customer = fields.Nested(TicketCustomer)
    order_id = fields.String(allow_none=True)
    assignee_id = fields.String(allow_none=True)
    team = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    handled_by = fields.String(metadata={"description": "store, or platform (charged_without_order)"})
    restricted = fields.Boolean(metadata={
        "description": "the store's view of a ticket the platform handles: no messages, no payment details"})
    version = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()


class Ticket(TicketSummary):
    payment = fields.Dict(metadata={"description": "charged_without_order: {method, card_last4}"})
    exchange = fields.Dict(metadata={
        "description": "product_exchange: {order_id, item: {name, sku, quantity}, reason, preferred_replacement}"})
    data_change = fields.Dict(metadata={"description": "customer_data_change: {fields, state}"})
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
    cursor = text(500, masked=False)
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


# --- customers --------------------------------------------------------------------
#
# Types and sizes only: the customers service's domain owns the rules (mobile
# forms, email addresses, dates, what may be cleared), so a card sent as JSON
# and a row of an imported file are judged alike (422 naming the field).

GENDERS = ("male", "female")
BLOCK_REASONS = ("non_serious_orders", "abusive_language", "fraud_suspicion", "other")
CHANNELS = ("sms", "email")
ORDER_STATUSES = ("awaiting_review", "in_progress", "completed", "delivering", "delivered", "cancelled", "returned",
                  "refused")
PAYMENT_METHODS = ("cod", "mada", "credit_card", "apple_pay", "stc_pay", "bank_transfer", "wallet", "other")
CUSTOMER_SORTS = ("registered", "-registered", "name", "-name", "orders", "-orders", "spent", "-spent")
FLAG_STATUSES = ("active", "cleared", "all")
MAX_BULK_IDS = 10_000


class StrictBoolean(fields.Boolean):
    """JSON true or false, and nothing that merely looks like one ("yes", 1)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def query_boolean(**kwargs) -> fields.Boolean:
    """``true`` or ``false`` in a query string."""
    return fields.Boolean(truthy={"true"}, falsy={"false"}, **kwargs)


class Amount(fields.String):
    """A decimal amount: a string like "150.50" (a JSON number is taken too)."""

    default_error_messages = {"invalid": "Not a valid amount: send a decimal string like \"150.50\"."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


def moment(note: str = "", **kwargs) -> fields.String:
    description = "an ISO 8601 date-time with a UTC offset" + (f"; {note}" if note else "")
    return text(40, masked=False, metadata={"description": description}, **kwargs)


class CustomerCreate(Schema):
    name = text(200, required=True)
    mobile = text(50, required=True, masked=False, metadata={
        "description": "any common form; without +/00 the store's default_country applies"})
    email = text(254, allow_none=True)
    city = text(100, allow_none=True)
    gender = fields.String(validate=validate.OneOf(GENDERS), allow_none=True)
    birthday = text(10, allow_none=True, masked=False, metadata={"description": "YYYY-MM-DD"})
    notes = text(2000, allow_none=True)


class CustomerUpdate(CustomerCreate):
    name = text(200)
    mobile = text(50, masked=False)

    @validates_schema
    def one_field(self, data, **kwargs):
        if not data:
            raise ValidationError("send at least one field; null clears an optional one", "_schema")


class CustomerGroupRef(Schema):
    id = fields.String()
    name = fields.String()


class FlagReason(Schema):
    rule = fields.String()
    count = fields.Integer()
    description = fields.String()


class CustomerFlag(Schema):
    id = fields.String()
    code = fields.String(metadata={"description": "non_serious_buyer"})
    reasons = fields.List(fields.Nested(FlagReason))
    raised_at = fields.String()


class Customer(Schema):
    id = fields.String()
    name = fields.String()
    mobile = fields.String(metadata={"description": "E.164, e.g. +966501234567"})
    email = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    gender = fields.String(allow_none=True)
    birthday = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    registered_at = fields.String()
    orders_count = fields.Integer()
    total_spent = fields.String(metadata={"description": "a decimal string, e.g. \"1250.50\""})
    groups = fields.List(fields.Nested(CustomerGroupRef))
    blocked = fields.Boolean()
    block_reason = fields.String(allow_none=True)
    block_details = fields.String(allow_none=True)
    blocked_at = fields.String(allow_none=True)
    blocked_by = fields.Nested(Author, allow_none=True)
    flagged = fields.Boolean(metadata={"description": "an active platform fraud flag"})
    flags = fields.List(fields.Nested(CustomerFlag))
    created_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()


class CustomerList(Schema):
    items = fields.List(fields.Nested(Customer))
    next_cursor = fields.String(allow_none=True)


class _CustomerSelection(Schema):
    q = text(200, metadata={"description": "words in the name, mobile, email or city"})
    group = fields.String(validate=UUID, metadata={"description": "a customer group's id"})
    city = text(100)
    registered_from = moment()
    registered_to = moment("exclusive")


class CustomerFilter(_CustomerSelection):
    """The list's filters as a JSON object (a bulk group action's selection)."""

    blocked = StrictBoolean()
    flagged = StrictBoolean()
    orders_min = StrictInteger(strict=True, validate=validate.Range(min=0))
    orders_max = StrictInteger(strict=True, validate=validate.Range(min=0))
    spent_min = Amount()
    spent_max = Amount()


class CustomerQuery(_CustomerSelection):
    blocked = query_boolean()
    flagged = query_boolean()
    orders_min = StrictInteger(validate=validate.Range(min=0))
    orders_max = StrictInteger(validate=validate.Range(min=0))
    spent_min = text(40, masked=False, metadata={"description": "a decimal amount, e.g. 150.50"})
    spent_max = text(40, masked=False, metadata={"description": "a decimal amount, e.g. 150.50"})
    sort = fields.String(load_default="-registered", validate=validate.OneOf(CUSTOMER_SORTS))
    cursor = text(500, masked=False)
    limit = StrictInteger(load_default=25, validate=validate.Range(min=1, max=100))


class PageQuery(Schema):
    cursor = text(500, masked=False)
    limit = StrictInteger(load_default=25, validate=validate.Range(min=1, max=100))


class BlockRequest(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(BLOCK_REASONS))
    details = text(1000, allow_none=True, metadata={"description": "required when reason is other"})


class NoFields(Schema):
    """No fields: an empty body or {}."""


class PaymentOptions(Schema):
    cod_allowed = fields.Boolean()
    reason = fields.String(metadata={"description": "why not: customer_blocked or flagged_non_serious_buyer"})


class CustomerRatingRequest(Schema):
    id = fields.String()
    customer_id = fields.String()
    customer_name = fields.String()
    channel = fields.String()
    to = fields.String()
    sender_name = fields.String(allow_none=True)
    order_ids = fields.List(fields.String())
    link = fields.String()


class CustomerMessageCreate(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    body = text(10000, required=True, metadata={"description": "up to 1,000 characters by SMS"})
    subject = text(200, allow_none=True, metadata={"description": "email only"})


class CustomerMessage(Schema):
    id = fields.String()
    customer_id = fields.String()
    customer_name = fields.String()
    channel = fields.String()
    to = fields.String()
    sender_name = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    body = fields.String()


class ImportRejection(Schema):
    line = fields.Integer(metadata={"description": "the line the row starts on; the header is line 1"})
    reason = fields.String()
    field = fields.String(allow_none=True)


class ImportResult(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.List(fields.Nested(ImportRejection), metadata={"description": "the first 1,000"})
    rejected_count = fields.Integer()


# --- customer groups ----------------------------------------------------------------


class GroupWrite(Schema):
    name = text(100, required=True)


class Group(Schema):
    id = fields.String()
    name = fields.String()
    members_count = fields.Integer()
    created_at = fields.String()


class GroupList(Schema):
    items = fields.List(fields.Nested(Group))


class GroupMembers(Schema):
    """Exactly one of ``customer_ids`` and ``filter``."""

    customer_ids = fields.List(fields.String(validate=UUID), validate=validate.Length(min=1, max=MAX_BULK_IDS))
    filter = fields.Nested(CustomerFilter, metadata={"description": "every customer the list would show"})

    @validates_schema
    def one_selection(self, data, **kwargs):
        if ("customer_ids" in data) == ("filter" in data):
            message = "send customer_ids or filter, not both" if data else "send customer_ids or filter"
            raise ValidationError({"customer_ids": [message], "filter": [message]})


class MembersChanged(Schema):
    changed = fields.Integer()
    group = fields.Nested(Group)


# --- orders -------------------------------------------------------------------------


class OrderItem(Schema):
    name = text(300, required=True)
    quantity = StrictInteger(required=True, strict=True, validate=validate.Range(min=1))
    price = Amount(allow_none=True)
    sku = text(100, allow_none=True, masked=False)


class OrderPut(Schema):
    customer_id = fields.String(required=True, validate=UUID)
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    created_at = moment(required=True)
    updated_at = moment("the latest updated_at wins", required=True)
    total = Amount(required=True)
    currency = fields.String(required=True, validate=validate.Length(equal=3), metadata={
        "description": "ISO 4217, e.g. SAR"})
    payment_method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    items = fields.List(fields.Nested(OrderItem), required=True, validate=validate.Length(max=500))
    tracking_url = text(2000, allow_none=True, masked=False)
    rated = StrictBoolean()


class Order(Schema):
    id = fields.String()
    customer_id = fields.String()
    status = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    total = fields.String()
    currency = fields.String()
    payment_method = fields.String()
    items = fields.List(fields.Nested(OrderItem))
    tracking_url = fields.String(allow_none=True)
    rated = fields.Boolean()
    version = fields.Integer()


class OrderList(Schema):
    items = fields.List(fields.Nested(Order))
    next_cursor = fields.String(allow_none=True)


# --- settings and platform flags ------------------------------------------------------


class CustomerSettingsUpdate(Schema):
    default_country = fields.String(validate=validate.Length(equal=2), metadata={
        "description": "ISO 3166 code of mobiles written without a country code"})
    sms_sender_name = text(11, allow_none=True)
    rating_channel = fields.String(validate=validate.OneOf(CHANNELS))
    storefront_url = text(500, allow_none=True, masked=False)
    no_cod_for_flagged = StrictBoolean()

    @validates_schema
    def one_field(self, data, **kwargs):
        if not data:
            raise ValidationError("send at least one setting", "_schema")


class CustomerSettings(Schema):
    default_country = fields.String()
    sms_sender_name = fields.String(allow_none=True)
    rating_channel = fields.String()
    storefront_url = fields.String(allow_none=True)
    no_cod_for_flagged = fields.Boolean()


class FlagQuery(Schema):
    status = fields.String(load_default="active", validate=validate.OneOf(FLAG_STATUSES))
    mobile = text(50, masked=False)
    cursor = text(500, masked=False)
    limit = StrictInteger(load_default=25, validate=validate.Range(min=1, max=100))


class FlagEvidence(Schema):
    kind = fields.String()
    store_id = fields.String()
    customer_id = fields.String(allow_none=True)
    ref = fields.String(allow_none=True)
    at = fields.String()


class PlatformFlag(Schema):
    id = fields.String()
    mobile = fields.String()
    code = fields.String()
    rule = fields.String()
    threshold = fields.Integer()
    status = fields.String()
    evidence = fields.List(fields.Nested(FlagEvidence))
    raised_at = fields.String()
    cleared_at = fields.String(allow_none=True)
    cleared_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class FlagList(Schema):
    items = fields.List(fields.Nested(PlatformFlag))
    next_cursor = fields.String(allow_none=True)


class FlagClear(Schema):
    note = text(1000, allow_none=True)
