"""Customer cards: create, read, change, block, search and import; their
orders, what they may pay with, and reaching them (rating requests, messages)."""
from __future__ import annotations

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from seedwork.errors import NotFound

from .. import csvfile
from ..http import BadRequest, PayloadTooLarge, UnsupportedMediaType
from ..routing import ADMIN, CUSTOMER, STAFF, route
from ..schemas import customers as schemas
from ..schemas import orders as order_schemas
from ..schemas.fields import NoFields, PageQuery
from .base import RouteBase

TAGS = ("customers",)
CARD = {"response": schemas.Customer, "resource": "customer", "etag": True, "tags": TAGS}


class CustomerRoutes(RouteBase):

    @route("POST", "/v1/customers", "Add a customer card", roles=STAFF, body=schemas.CustomerCreate, status=201,
           location="/v1/customers/{id}", idempotent=True, **CARD)
    def create_customer(self, call):
        return self.customers.create(call.caller, call.body, call.idempotency)

    @route("GET", "/v1/customers", "List, search and filter the store's customers", roles=STAFF,
           query=schemas.CustomerQuery, response=schemas.CustomerList, tags=TAGS)
    def list_customers(self, call):
        return self.customers.list(call.caller, call.query)

    @route("GET", "/v1/customers/<customer_id>", "A customer card", roles=STAFF, **CARD)
    def get_customer(self, call, customer_id):
        return {"customer": self.customers.get(call.caller, customer_id)}

    @route("PATCH", "/v1/customers/<customer_id>", "Change a customer card's fields (null clears an optional one)",
           roles=STAFF, body=schemas.CustomerUpdate, if_match="customer", **CARD)
    def update_customer(self, call, customer_id):
        return self.customers.update(call.caller, customer_id, call.body, call.if_match, None)

    @route("POST", "/v1/customers/<customer_id>/block", "Block a customer: they cannot open new tickets",
           roles=STAFF, body=schemas.BlockRequest, idempotent=True, **CARD)
    def block_customer(self, call, customer_id):
        return self.customers.block(call.caller, customer_id, call.body, call.idempotency)

    @route("POST", "/v1/customers/<customer_id>/unblock", "Unblock a customer", roles=STAFF, body=NoFields,
           idempotent=True, **CARD)
    def unblock_customer(self, call, customer_id):
        return self.customers.unblock(call.caller, customer_id, call.idempotency)

    @route("GET", "/v1/customers/<customer_id>/orders", "The customer's orders, newest first", roles=STAFF,
           query=PageQuery, response=order_schemas.OrderList, tags=TAGS)
    def customer_orders(self, call, customer_id):
        return self.customers.orders(call.caller, customer_id, call.query)

    @route("GET", "/v1/customers/<customer_id>/payment-options",
           "Whether the customer may pay cash on delivery (staff, or the customer themself)", roles=STAFF + CUSTOMER,
           response=schemas.PaymentOptions, tags=TAGS)
    def payment_options(self, call, customer_id):
        if call.caller.is_customer and call.caller.id != customer_id:
            raise NotFound("customer_not_found", f"no customer {customer_id}")
        return self.customers.payment_options(call.caller, customer_id)

    @route("POST", "/v1/customers/<customer_id>/rating-requests",
           "Ask the customer to rate their delivered orders (sent on the store's rating channel)", roles=STAFF,
           body=NoFields, response=schemas.CustomerRatingRequest, status=202, resource="request", idempotent=True,
           tags=TAGS)
    def request_rating(self, call, customer_id):
        return self.customers.request_rating(call.caller, customer_id, call.idempotency)

    @route("POST", "/v1/customers/<customer_id>/messages", "Send the customer an SMS or an email", roles=STAFF,
           body=schemas.CustomerMessageCreate, response=schemas.CustomerMessage, status=202, resource="message",
           idempotent=True, tags=TAGS)
    def message_customer(self, call, customer_id):
        return self.customers.send_message(call.caller, customer_id, call.body, call.idempotency)

    @route("POST", "/v1/customers/import",
           "Import customers from a CSV file sent as the text/csv body (UTF-8, a header row naming the columns): "
           "a new mobile is a new card, a known one updates it", roles=ADMIN, raw_body="text/csv",
           response=schemas.ImportResult, tags=TAGS)
    def import_customers(self, call):
        limit = self.config.import_max_bytes
        stream = csv_body(call.request, limit)
        try:
            return csvfile.import_file(stream, lambda rows: self.customers.import_rows(call.caller, rows))
        except RequestEntityTooLarge:
            raise too_large(limit) from None
        except ClientDisconnected:
            raise BadRequest("incomplete_body", "the body ended before its Content-Length") from None


def csv_body(request, limit: int):
    """The import's body as a stream, after its type and declared size pass."""
    if request.mimetype != "text/csv":
        raise UnsupportedMediaType("unsupported_media_type", "send the file as the body, Content-Type: text/csv")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8", "us-ascii"):
        raise UnsupportedMediaType("unsupported_media_type", f"send the file as UTF-8, not {charset}")
    request.max_content_length = limit  # this request only: the class default stays unlimited
    if (request.content_length is None and "eventlet.input" in request.environ
            and request.headers.get("Transfer-Encoding", "").lower() == "chunked"):
        # eventlet ends a chunked body itself; without this flag werkzeug
        # would read a body of unknown length as empty.
        request.environ["wsgi.input_terminated"] = True
    try:
        return request.stream
    except RequestEntityTooLarge:  # the Content-Length says so: nothing is read
        raise too_large(limit) from None


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge("payload_too_large", f"the file is over {limit:,} bytes: split it and import each part")
