"""Orders as the store platform pushes them, and as the API shows them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import answer, UUID, Amount, StrictBoolean, StrictInteger, listing, moment, text

ORDER_STATUSES = ("awaiting_review", "in_progress", "completed", "delivering", "delivered", "cancelled", "returned",
                  "refused")

PAYMENT_METHODS = ("cod", "mada", "credit_card", "apple_pay", "stc_pay", "bank_transfer", "wallet", "other")


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


Order = answer("Order", "id customer_id status created_at updated_at total currency payment_method",
               items=fields.List(fields.Nested(OrderItem)), tracking_url=fields.String(allow_none=True),
               rated=fields.Boolean(), version=fields.Integer())


OrderList = listing(Order, "OrderList")
