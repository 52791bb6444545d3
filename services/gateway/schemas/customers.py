"""Customer cards, their search, groups, what a store may send them, its
customer settings, and the platform's fraud flags.

Types and sizes only: the customers service's domain owns the rules (mobile
forms, email addresses, dates, what may be cleared), so a card sent as JSON
and a row of an imported file are judged alike (422 naming the field).
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .fields import (UUID, Amount, answer, AtLeastOneField, cursor, listing, moment, page_limit, query_boolean,
                     StrictBoolean, StrictInteger, text)
from .tickets import Author

GENDERS = ("male", "female")

BLOCK_REASONS = ("non_serious_orders", "abusive_language", "fraud_suspicion", "other")

CHANNELS = ("sms", "email")

CUSTOMER_SORTS = ("registered", "-registered", "name", "-name", "orders", "-orders", "spent", "-spent")

FLAG_STATUSES = ("active", "cleared", "all")

MAX_BULK_IDS = 10_000


# --- cards ------------------------------------------------------------------------------


class CustomerCreate(Schema):
    name = text(200, required=True)
    mobile = text(50, required=True, masked=False, metadata={
        "description": "any common form; without +/00 the store's default_country applies"})
    email = text(254, allow_none=True)
    city = text(100, allow_none=True)
    gender = fields.String(validate=validate.OneOf(GENDERS), allow_none=True)
    birthday = text(10, allow_none=True, masked=False, metadata={"description": "YYYY-MM-DD"})
    notes = text(2000, allow_none=True)


class CustomerUpdate(CustomerCreate, AtLeastOneField):
    nothing_sent = "send at least one field; null clears an optional one"

    name = text(200)
    mobile = text(50, masked=False)


CustomerGroupRef = answer("CustomerGroupRef", "id name")


FlagReason = answer("FlagReason", "rule description", count=fields.Integer())


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


CustomerList = listing(Customer, "CustomerList")


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
    cursor = cursor()
    limit = page_limit()


class BlockRequest(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(BLOCK_REASONS))
    details = text(1000, allow_none=True, metadata={"description": "required when reason is other"})


class PaymentOptions(Schema):
    cod_allowed = fields.Boolean()
    reason = fields.String(metadata={"description": "why not: customer_blocked or flagged_non_serious_buyer"})


CustomerRatingRequest = answer("CustomerRatingRequest", "id customer_id customer_name channel to link",
                               sender_name=fields.String(allow_none=True), order_ids=fields.List(fields.String()))


class CustomerMessageCreate(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    body = text(10000, required=True, metadata={"description": "up to 1,000 characters by SMS"})
    subject = text(200, allow_none=True, metadata={"description": "email only"})


CustomerMessage = answer("CustomerMessage", "id customer_id customer_name channel to body",
                         sender_name=fields.String(allow_none=True), subject=fields.String(allow_none=True))


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


# --- groups -----------------------------------------------------------------------------


class GroupWrite(Schema):
    name = text(100, required=True)


Group = answer("Group", "id name created_at", members_count=fields.Integer())


GroupList = listing(Group, "GroupList", paged=False)


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


# --- settings and the platform's flags --------------------------------------------------


class CustomerSettingsUpdate(AtLeastOneField):
    nothing_sent = "send at least one setting"

    default_country = fields.String(validate=validate.Length(equal=2), metadata={
        "description": "ISO 3166 code of mobiles written without a country code"})
    sms_sender_name = text(11, allow_none=True)
    rating_channel = fields.String(validate=validate.OneOf(CHANNELS))
    storefront_url = text(500, allow_none=True, masked=False)
    no_cod_for_flagged = StrictBoolean()


CustomerSettings = answer("CustomerSettings", "default_country rating_channel",
                          sms_sender_name=fields.String(allow_none=True), storefront_url=fields.String(allow_none=True),
                          no_cod_for_flagged=fields.Boolean())


class FlagQuery(Schema):
    status = fields.String(load_default="active", validate=validate.OneOf(FLAG_STATUSES))
    mobile = text(50, masked=False)
    cursor = cursor()
    limit = page_limit()


FlagEvidence = answer("FlagEvidence", "kind store_id at", customer_id=fields.String(allow_none=True),
                      ref=fields.String(allow_none=True))


PlatformFlag = answer("PlatformFlag", "id mobile code rule status raised_at", threshold=fields.Integer(),
                      evidence=fields.List(fields.Nested(FlagEvidence)), cleared_at=fields.String(allow_none=True),
                      cleared_by=fields.String(allow_none=True), note=fields.String(allow_none=True))


FlagList = listing(PlatformFlag, "FlagList")


class FlagClear(Schema):
    note = text(1000, allow_none=True)
