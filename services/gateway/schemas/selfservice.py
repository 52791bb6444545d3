"""The shopper's self-service flows, the store's self-service settings, the
data-change decision, canned responses, attachments and the platform's
ticket list (docs/self-service.md).

Types and sizes only: the tickets service owns the rules (placeholders, which
order may be exchanged, what a setting may hold) and answers 409/422 naming
the field.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .fields import ID, ORDER_ID, UUID, answer, AtLeastOneField, listing, StrictBoolean, text
from .orders import Order
from .tickets import Ticket, TicketQuery

PAYMENT_METHODS = ("mada", "credit_card", "apple_pay", "stc_pay", "bank_transfer", "wallet", "other")
EXCHANGE_REASONS = ("damaged", "wrong_item", "wrong_size", "not_as_described", "changed_mind", "other")

DATA_FIELDS = ("name", "email", "mobile", "city")

ORDER = validate.Regexp(ORDER_ID, error="1 to 100 letters, digits, or . _ : -")

# Never echo what was typed here: it may be a whole card number.
LAST4 = validate.Regexp(r"^[0-9]{4}\Z", error="exactly four digits: the last four of the card")


# --- settings ---------------------------------------------------------------------------


class SelfServiceTextsUpdate(Schema):
    tracking_message = text(1000, metadata={
        "description": "placeholders {order_id}, {tracking_url}, {customer_name}"})
    order_details_message = text(1000, metadata={
        "description": "placeholders {order_id}, {status}, {total}, {currency}, {items}, {customer_name}"})
    ticket_opened_message = text(1000, metadata={"description": "placeholders {ticket_number}, {customer_name}"})


class SelfServiceSettingsUpdate(AtLeastOneField):
    nothing_sent = "send at least one setting"

    enabled = StrictBoolean()
    allow_attachments = StrictBoolean()
    default_reply_template_id = fields.String(validate=UUID, allow_none=True, metadata={
        "description": "one of the store's canned responses; null for none"})
    tracking_url_template = text(2000, allow_none=True, masked=False, metadata={
        "description": "https://…{order_id}…, for orders without a tracking_url of their own"})
    texts = fields.Nested(SelfServiceTextsUpdate, metadata={"description": "merged key by key"})


SelfServiceTexts = answer("SelfServiceTexts", "tracking_message order_details_message ticket_opened_message")


class SelfServiceSettings(Schema):
    enabled = fields.Boolean()
    allow_attachments = fields.Boolean()
    default_reply_template_id = fields.String(allow_none=True)
    tracking_url_template = fields.String(allow_none=True)
    texts = fields.Nested(SelfServiceTexts)
    version = fields.Integer()
    updated_at = fields.String(allow_none=True)


# --- the flows and the data-change decision ---------------------------------------------


class ChargedWithoutOrder(Schema):
    payment_method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    card_last4 = fields.String(required=True, validate=LAST4, metadata={
        "description": "the last four digits of the card; a full card number is refused"})
    details = text(5000, required=True)


class DelayedOrder(Schema):
    order_id = fields.String(required=True, validate=ORDER)
    details = text(5000)
    open_ticket = StrictBoolean(metadata={"description": "open a ticket when one is offered (ticket_available)"})


class ProductExchange(Schema):
    order_id = fields.String(required=True, validate=ORDER)
    item = text(300, required=True, metadata={"description": "the sku or the exact name of one of the order's items"})
    reason = fields.String(required=True, validate=validate.OneOf(EXCHANGE_REASONS))
    preferred_replacement = text(300)
    details = text(5000)


class DataChanges(Schema):
    name = text(200)
    email = text(200)
    mobile = text(200, masked=False)
    city = text(200)


class CustomerDataChange(Schema):
    changes = fields.Nested(DataChanges, required=True, metadata={
        "description": "at least one of name, email, mobile, city; checked by the customers service when applied"})
    details = text(5000)

    @validates_schema
    def some_change(self, data, **kwargs):
        if not data.get("changes"):
            raise ValidationError({"changes": [f"send at least one of {', '.join(DATA_FIELDS)}"]})


class FlowResult(Schema):
    outcome = fields.String(metadata={
        "description": "ticket_opened, ticket_exists, ticket_available, track_order, order_details, "
                       "order_in_progress, order_cancelled or order_returned"})
    message = fields.String(allow_none=True)
    ticket = fields.Nested(Ticket)
    tracking_url = fields.String(allow_none=True)
    order = fields.Nested(Order)
    expected_contact_by = fields.String()


class DataChangeReject(Schema):
    reason = text(2000, required=True)


# --- canned responses ---------------------------------------------------------------------


class CannedResponseCreate(Schema):
    title = text(100, required=True, metadata={"description": "unique in the store"})
    body = text(5000, required=True, metadata={
        "description": "placeholders {customer_name}, {order_id}, {ticket_number}, {store_name}, {agent_name}; "
                       "{{ and }} are literal braces"})


class CannedResponseUpdate(CannedResponseCreate, AtLeastOneField):
    nothing_sent = "send at least one of title and body"

    title = text(100, metadata={"description": "unique in the store"})
    body = text(5000)


CannedResponse = answer("CannedResponse", "id title body created_at updated_at", version=fields.Integer())


CannedResponseList = listing(CannedResponse, "CannedResponseList", paged=False)


# --- attachments and the platform -------------------------------------------------------


AttachmentRecord = answer("AttachmentRecord", "id ticket_id filename content_type sha256", size=fields.Integer(),
                          url=fields.String(metadata={
                              "description": "where to download it; name it in a reply as {\"id\": ...}"}))


class PlatformTicketQuery(TicketQuery):
    store_id = fields.String(validate=ID, metadata={"description": "one store's tickets"})
