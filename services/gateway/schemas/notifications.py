"""The store's notification settings, webhook endpoints, the delivery log,
shoppers' preferences and template overrides (docs/notifications.md).

Types and sizes only: the notifications service owns the rules (which URLs
are safe, which event types exist, whether a template compiles) and answers
409/422 naming the field. URLs, addresses and event types are codes, not free
text: card masking would only corrupt them.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import (LOCALES, UUID, answer, AtLeastOneField, listing, no_nul, PageQuery, StrictBoolean, StrictInteger,
                     text)

MESSAGE_CHANNELS = ("email", "sms")
CHANNELS = ("email", "sms", "webhook")
DELIVERY_STATUSES = ("pending", "sending", "retrying", "sent", "dead", "skipped", "refused", "held")

MAX_QUOTA = 100_000

MAX_OVERLAP_SECONDS = 7 * 24 * 3600

COLOR = validate.Regexp(r"^#[0-9a-fA-F]{6}\Z", error="a colour as #rrggbb")

# Mail servers without SMTPUTF8 refuse other addresses: refused here, not at send time.
ASCII_ADDRESS = validate.Regexp(r"^[\x21-\x7e]+\Z", error="an email address in ASCII letters")

# Quotes, brackets and backslashes would be dropped when the email is built: refused here.
PLAIN_URL = validate.Regexp(r"^[^\s\"'<>\\]+\Z", error="a URL without spaces, quotes, brackets or backslashes")


def _quota() -> StrictInteger:
    return StrictInteger(strict=True, validate=validate.Range(min=0, max=MAX_QUOTA),
                         metadata={"description": "messages per store and hour; 0 holds every one"})


# --- settings ---------------------------------------------------------------------------


class NotificationSettingsUpdate(AtLeastOneField):
    nothing_sent = "send at least one setting"

    support_email = fields.Email(validate=[validate.Length(max=254), ASCII_ADDRESS], allow_none=True, metadata={
        "description": "where alerts and unassigned shoppers' replies go; null: the owner's email"})
    locale = fields.String(validate=validate.OneOf(LOCALES))
    brand_color = fields.String(validate=COLOR, allow_none=True, metadata={
        "description": "#rrggbb; null: the default colour"})
    logo_url = fields.Url(schemes={"https"}, validate=[validate.Length(max=2000), no_nul, PLAIN_URL], allow_none=True,
                          metadata={"description": "an https:// image shown in emails; null: none"})
    self_service_channel = fields.String(validate=validate.OneOf(MESSAGE_CHANNELS), metadata={
        "description": "how tracking links and order details reach the shopper"})
    email_quota_per_hour = _quota()
    sms_quota_per_hour = _quota()


class NotificationSettings(Schema):
    support_email = fields.String(allow_none=True, metadata={"description": "default: the owner's email"})
    locale = fields.String(metadata={"description": "ar or en (default ar)"})
    brand_color = fields.String()
    logo_url = fields.String(allow_none=True)
    self_service_channel = fields.String(metadata={"description": "email or sms"})
    email_quota_per_hour = fields.Integer()
    sms_quota_per_hour = fields.Integer()
    sms_sender_name = fields.String(allow_none=True, metadata={
        "description": "read only: the customer settings' sender name; SMS is refused without one"})
    store_name = fields.String(allow_none=True, metadata={"description": "read only: the display name of emails"})
    updated_at = fields.String(allow_none=True)


# --- webhooks ---------------------------------------------------------------------------


def _url(**kwargs) -> fields.String:
    return text(2000, masked=False, metadata={
        "description": "https:// (or http://); a host resolving to a private, loopback, link-local or metadata "
                       "address is refused (422 unsafe_url)"}, **kwargs)


def _events(**kwargs) -> fields.List:
    return fields.List(text(100, masked=False), validate=validate.Length(min=1, max=50), metadata={
        "description": "event types, or prefixes ending in * (ticket.*, *)"}, **kwargs)


class WebhookCreate(Schema):
    url = _url(required=True)
    events = _events(required=True)
    active = StrictBoolean(load_default=True)


class WebhookUpdate(AtLeastOneField):
    nothing_sent = "send at least one of url, events and active"

    url = _url()
    events = _events()
    active = StrictBoolean()


class Webhook(Schema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    status = fields.String(metadata={"description": "healthy, or failing once a delivery was dead-lettered"})
    version = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()


class WebhookCreated(Webhook):
    secret = fields.String(metadata={"description": "whsec_…: the signing secret, shown only here"})


WebhookList = listing(Webhook, "WebhookList", paged=False)


class SecretRotation(Schema):
    overlap_seconds = StrictInteger(strict=True, validate=validate.Range(min=0, max=MAX_OVERLAP_SECONDS), metadata={
        "description": "how long the previous secret keeps signing (default 86400, at most 7 days)"})


class WebhookSecret(Schema):
    id = fields.String()
    secret = fields.String(metadata={"description": "whsec_…: the new secret, shown only here"})
    previous_secret_expires_at = fields.String(allow_none=True)


class WebhookDeliveryQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


class Redelivery(Schema):
    event_id = fields.String(required=True, validate=UUID, metadata={
        "description": "any event of the store the service received in the last 30 days"})


# --- the delivery log -------------------------------------------------------------------


class DeliveryQuery(PageQuery):
    ticket_id = fields.String(validate=UUID)
    customer_id = fields.String(validate=UUID)
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    event_id = fields.String(validate=UUID)


class Delivery(Schema):
    id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    channel = fields.String(metadata={"description": "email, sms or webhook"})
    recipient = fields.String(allow_none=True, metadata={
        "description": "an SMS recipient shows only its last 4 digits; null until it is known"})
    kind = fields.String(allow_none=True, metadata={"description": "the template kind"})
    status = fields.String(metadata={"description": ", ".join(DELIVERY_STATUSES)})
    reason = fields.String(allow_none=True, metadata={
        "description": "why skipped, refused, held or dead (no_address, opted_out, sms_sender_missing, …)"})
    attempts = fields.Integer()
    ticket_id = fields.String(allow_none=True)
    customer_id = fields.String(allow_none=True)
    endpoint_id = fields.String(allow_none=True, metadata={"description": "a webhook delivery's endpoint"})
    template_fallback = fields.String(allow_none=True, metadata={
        "description": "why the store's override failed and the default template was sent; null otherwise"})
    created_at = fields.String()
    updated_at = fields.String()
    sent_at = fields.String(allow_none=True)


DeliveryList = listing(Delivery, "DeliveryList")


class DeliveryAttempt(Schema):
    attempt = fields.Integer()
    at = fields.String()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={
        "description": "sent, failed, held or gave_up; null while it runs"})


class WebhookDelivery(Delivery):
    """A delivery to a webhook endpoint, with each of its attempts."""

    last_status_code = fields.Integer(allow_none=True)
    attempts_log = fields.List(fields.Nested(DeliveryAttempt))


WebhookDeliveryList = listing(WebhookDelivery, "WebhookDeliveryList")


# --- shoppers' preferences ----------------------------------------------------------------


class NotificationPreferencesUpdate(AtLeastOneField):
    nothing_sent = "send at least one of email and sms"

    email = StrictBoolean(metadata={"description": "false opts out of email"})
    sms = StrictBoolean(metadata={"description": "false opts out of SMS"})


class NotificationPreferences(Schema):
    customer_id = fields.String()
    email = fields.Boolean()
    sms = fields.Boolean()


# --- templates ------------------------------------------------------------------------------


def _template_part(max_length: int) -> fields.String:
    # A helper, not ``text`` itself: the field named ``text`` would hide it in the class body.
    return text(max_length, required=True)


class TemplateWrite(Schema):
    """A store's override: Jinja2 (sandboxed, strict undefined, HTML autoescaped)."""

    subject = _template_part(200)
    text = _template_part(20_000)
    html = _template_part(100_000)


TemplateOverride = answer("TemplateOverride", "kind locale subject text html updated_at")


class TemplateKind(Schema):
    kind = fields.String(metadata={"description": "ticket_opened, ticket_reply, …"})
    locales = fields.List(fields.String(), metadata={"description": "ar, en"})
    variables = fields.List(fields.String(), metadata={"description": "what its templates may use"})


class TemplateCatalog(Schema):
    kinds = fields.List(fields.Nested(TemplateKind))
    overrides = fields.List(fields.Nested(TemplateOverride), metadata={"description": "the store's own"})
