"""Tickets: opening, the commands on a ticket, its views, the list, the history."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from .fields import (ID, UUID, answer, AtLeastOneField, cursor, FreeText, listing, no_nul, page_limit, StrictInteger,
                     text)

# Mirrors of the ticket domain's values (tests/unit/gateway/test_schemas.py checks they agree).
# Mirrors of the ticket domain's limits: the domain checks them again.
STATUSES = ("open", "pending", "on_hold", "under_review", "solved", "closed")

PRIORITIES = ("low", "normal", "high", "urgent")

SORTS = ("created", "-created", "updated", "-updated", "priority", "-priority")
TYPE = validate.Regexp(r"^[a-z][a-z0-9_]{0,49}\Z", error="lowercase letters, digits and _ (up to 50)")


# --- requests -------------------------------------------------------------------------


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
    type = fields.String(validate=TYPE)
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    order_id = fields.String(validate=ID, allow_none=True)
    customer_id = fields.String(validate=ID, metadata={"description": "staff only: the customer the ticket is for"})
    attachments = attachments()
    channel = fields.String(metadata={"description": "staff only: where it came from (widget, email, contact_form, "
                                                     "phone, chat, whatsapp, instagram, api)"})
    topic_id = fields.String(validate=ID, allow_none=True, metadata={
        "description": "a contact topic of the store (GET /v1/topics); the ticket opens on its team"})


class TicketUpdate(AtLeastOneField):
    nothing_sent = "send priority, type or both"

    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    type = fields.String(validate=TYPE)


class MessageCreate(Schema):
    """A public reply. A shopper sends ``body`` and/or ``attachments``; staff send ``body`` or
    ``canned_response_id`` (not both), and may add an internal ``note``. An empty body is no body."""

    body = FreeText(validate=[validate.Length(max=10000), no_nul],
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


class AssignRequest(AtLeastOneField):
    nothing_sent = "send agent_id, team or both (null unassigns)"

    agent_id = fields.String(validate=ID, allow_none=True)
    team = fields.String(validate=ID, allow_none=True, metadata={"description": "a team's id (GET /v1/teams)"})


class ForwardRequest(Schema):
    """To staff: ``agent_id`` and/or ``team_id``, with an internal ``note``; or by
    email: ``email`` (someone outside the store's staff) with a ``note`` for them."""

    agent_id = fields.String(validate=ID, metadata={
        "description": "staff of the store; alone, the ticket keeps its team"})
    team_id = fields.String(validate=ID, metadata={
        "description": "a team of the store (GET /v1/teams); alone, the ticket goes to the team's queue, off its "
                       "agent"})
    email = text(254, masked=False, metadata={
        "description": "forward the conversation by email to this address instead (checked by the tickets "
                       "service: 422 naming email)"})
    note = text(10000, required=True, metadata={
        "description": "to staff: an internal note saying why; by email: the note the recipient reads"})
    message_ids = fields.List(fields.String(validate=ID), validate=validate.Length(min=1, max=100), metadata={
        "description": "by email only: just these public messages (by default the latest 100)"})

    @validates_schema
    def one_way(self, data, **kwargs):
        to_staff = [name for name in ("agent_id", "team_id") if name in data]
        if "email" in data and to_staff:
            message = "forward to staff (agent_id, team_id) or by email, not both"
            raise ValidationError({name: [message] for name in ("email", *to_staff)})
        if "email" not in data and not to_staff:
            raise ValidationError("send agent_id, team_id or both, or an email", "agent_id")
        if "message_ids" in data and "email" not in data:
            raise ValidationError("only a forward by email names messages", "message_ids")


class TagRequest(Schema):
    tag = text(50, required=True)


class StatusRequest(Schema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    label = text(100, allow_none=True)


class RatingRequest(Schema):
    score = StrictInteger(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = text(2000, allow_none=True)


# --- answers --------------------------------------------------------------------------


class TicketRef(Schema):
    ticket_id = fields.String()
    number = fields.Integer()


class MergedInto(TicketRef):
    merged_at = fields.String(metadata={"description": "unmerge within MERGE_UNDO_HOURS of it"})


class SplitFrom(TicketRef):
    message_id = fields.String(metadata={"description": "the message of that ticket this one was opened from"})


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
    canned_response_id = fields.String(allow_none=True, metadata={
        "description": "the canned response it was filled from"})
    automatic = fields.String(allow_none=True, metadata={"description": "tracking_link: sent by a self-service flow"})
    created_at = fields.String()
    merged_from = fields.String(allow_none=True, metadata={
        "description": "the ticket whose merge into this one brought the message"})
    split_into = fields.Nested(TicketRef, allow_none=True, metadata={
        "description": "the ticket opened from this message (POST /v1/tickets/{id}/split)"})


class Rating(Schema):
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    rated_at = fields.String()


TicketCustomerGroup = answer("TicketCustomerGroup", "id name")


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
    team = fields.String(allow_none=True, metadata={"description": "a team's id"})
    topic_id = fields.String(allow_none=True, metadata={"description": "the contact topic it was opened on"})
    tags = fields.List(fields.String())
    handled_by = fields.String(metadata={"description": "store, or platform (charged_without_order)"})
    restricted = fields.Boolean(metadata={
        "description": "the store's view of a ticket the platform handles: no messages, no payment details"})
    unread = fields.Boolean(metadata={
        "description": "the store's staff only: a customer message on it the caller has not read yet "
                       "(POST /v1/tickets/{id}/read)"})
    version = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()


class SlaTarget(Schema):
    kind = fields.String(metadata={"description": "first_response, next_response or resolution"})
    cycle = fields.Integer()
    due_at = fields.String(allow_none=True, metadata={"description": "null while paused or once met"})
    met_at = fields.String(allow_none=True)
    breached = fields.Boolean()
    paused = fields.Boolean()
    target_minutes = fields.Integer()
    used_minutes = fields.Float()
    warning_at = fields.String(allow_none=True)


class TicketSla(Schema):
    policy_version = fields.Integer()
    paused = fields.Boolean()
    targets = fields.List(fields.Nested(SlaTarget))


class Ticket(TicketSummary):
    channel = fields.String(metadata={"description": "where the conversation came from"})
    sla = fields.Nested(TicketSla, allow_none=True, metadata={
        "description": "staff only: the SLA targets, computed from the ticket's history and the store's policy"})
    payment = fields.Dict(allow_none=True, metadata={"description": "charged_without_order: {method, card_last4}"})
    exchange = fields.Dict(allow_none=True, metadata={
        "description": "product_exchange: {order_id, item: {name, sku, quantity}, reason, preferred_replacement}"})
    data_change = fields.Dict(allow_none=True, metadata={"description": "customer_data_change: {fields, state}"})
    rating = fields.Nested(Rating, allow_none=True)
    merged_into = fields.Nested(MergedInto, allow_none=True, metadata={
        "description": "merged into that ticket (and closed by it); null otherwise"})
    split_from = fields.Nested(SplitFrom, allow_none=True, metadata={
        "description": "opened from a message of that ticket; null otherwise"})
    messages = fields.List(fields.Nested(Message))


class TicketListItem(TicketSummary):
    message_count = fields.Integer()
    store_id = fields.String(metadata={"description": "the platform's queue only: the ticket's store"})


TicketList = listing(TicketListItem, "TicketList")


class TicketQuery(Schema):
    status = fields.String(metadata={"description": "comma-separated statuses"})
    priority = fields.String(metadata={"description": "comma-separated priorities"})
    assignee_id = fields.String(validate=ID, metadata={"description": "an agent id, or `none`"})
    # An id, not free text: card-number masking would change the digits of a team's UUID.
    team = fields.String(validate=ID, metadata={"description": "a team's id"})
    type = text(50)
    tag = text(50)
    customer_id = fields.String(validate=ID)
    topic_id = fields.String(validate=ID)
    q = text(200, metadata={"description": "text in the subject or a public message"})
    unread = fields.Boolean(metadata={
        "description": "the store's staff only: true, the tickets with customer messages the caller has not "
                       "read; false, the others"})
    sort = fields.String(load_default="-created", validate=validate.OneOf(SORTS))
    cursor = cursor()
    limit = page_limit()


class TicketGetQuery(Schema):
    as_of = fields.AwareDateTime(format="iso", metadata={"description": "the ticket as it was then (ISO-8601)"})


HistoryEntry = answer("HistoryEntry", "type at", version=fields.Integer(), actor=fields.Nested(Author),
                      data=fields.Dict())


History = listing(HistoryEntry, "History", paged=False)


# --- many tickets at once, merge and split (docs/agent-operations/bulk-merge-split.md) ---------


class ValueList(fields.List):
    """A list of values, or one comma-separated string of them (as in the list's query string)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        return super()._deserialize(value, attr, data, **kwargs)


class BulkFilter(Schema):
    """The filters of ``GET /v1/tickets``, as a JSON object."""

    status = ValueList(fields.String(validate=validate.OneOf(STATUSES)), metadata={
        "description": "statuses: a list, or comma-separated"})
    priority = ValueList(fields.String(validate=validate.OneOf(PRIORITIES)), metadata={
        "description": "priorities: a list, or comma-separated"})
    assignee_id = fields.String(validate=ID, metadata={"description": "an agent id, or `none`"})
    # An id, not free text: card-number masking would change the digits of a team's UUID.
    team = fields.String(validate=ID, metadata={"description": "a team's id"})
    type = text(50)
    tag = text(50)
    customer_id = fields.String(validate=ID)
    q = text(200, metadata={"description": "text in the subject or a public message"})


class BulkAssign(AssignRequest):
    nothing_sent = "send agent_id, team or both (null clears it)"


class BulkAction(Schema):
    """Exactly one action (``BulkRequest`` checks)."""

    assign = fields.Nested(BulkAssign)
    status = fields.Nested(StatusRequest)
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    team = fields.String(validate=ID, allow_none=True, metadata={"description": "a team's id; null: no team"})
    add_tags = fields.List(text(50), validate=validate.Length(min=1, max=20))
    remove_tags = fields.List(text(50), validate=validate.Length(min=1, max=20))


class BulkRequest(Schema):
    """Exactly one of ``ids``, ``filter`` and ``view_id``, and one ``action``."""

    ids = fields.List(fields.String(validate=UUID), validate=validate.Length(min=1), metadata={
        "description": "up to 1,000 ticket ids (more: 422 naming ids)"})
    filter = fields.Nested(BulkFilter, metadata={
        "description": "every ticket the list would show: up to 1,000 (more: 422 naming filter)"})
    view_id = fields.String(validate=ID, metadata={
        "description": "every ticket of a view the caller has (GET /v1/views): up to 1,000 (more: 422 naming "
                       "filter)"})
    action = fields.Nested(BulkAction, required=True)

    @validates_schema
    def one_selection(self, data, **kwargs):
        given = [name for name in ("ids", "filter", "view_id") if name in data]
        if len(given) != 1:
            message = "send one of ids, filter and view_id, not several" if given else "send ids, filter or view_id"
            raise ValidationError({name: [message] for name in ("ids", "filter", "view_id")})

    @validates_schema
    def one_action(self, data, **kwargs):
        if "action" in data and len(data["action"]) != 1:
            raise ValidationError(f"send exactly one of {', '.join(BulkAction().fields)}", "action")


class BulkError(Schema):
    status = fields.Integer(metadata={"description": "the HTTP status the single command would have answered"})
    code = fields.String()
    detail = fields.String()


class BulkItem(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "changed, unchanged or refused"})
    version = fields.Integer(metadata={"description": "the ticket's version after the action (not when refused)"})
    error = fields.Nested(BulkError, metadata={"description": "why it was refused (only when refused)"})


BulkCounts = answer("BulkCounts", "", changed=fields.Integer(), unchanged=fields.Integer(),
                    refused=fields.Integer())


class BulkResult(Schema):
    items = fields.List(fields.Nested(BulkItem))
    counts = fields.Nested(BulkCounts)
    correlation_id = fields.String(metadata={"description": "carried by every event of the request"})


class MergeRequest(Schema):
    into = fields.String(required=True, validate=UUID, metadata={
        "description": "the ticket (of the same customer) this one is merged into"})


class SplitRequest(Schema):
    message_id = fields.String(required=True, validate=ID, metadata={
        "description": "a public message of the ticket: the new ticket opens with its body and files"})
    subject = text(200, metadata={"description": "the new ticket's; by default the message's first line"})


# --- read state per agent (docs/agent-operations/forward-and-unread.md) --------------------------


ReadUpTo = answer("ReadUpTo", "message_id read_at", version=fields.Integer(metadata={
    "description": "the ticket version that brought that customer message"}))


class ReadMark(Schema):
    ticket_id = fields.String()
    unread = fields.Boolean(metadata={"description": "always false once marked"})
    marked = fields.Boolean(metadata={
        "description": "this request moved the mark (false: nothing new from the customer since)"})
    read_up_to = fields.Nested(ReadUpTo, allow_none=True, metadata={
        "description": "the last customer message the caller has read; null: the ticket has none yet"})
