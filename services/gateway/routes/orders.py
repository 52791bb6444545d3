"""Orders as the store platform pushes them, and the store's customer settings."""
from __future__ import annotations

from ..routing import ADMIN, STAFF, Answer, route
from ..schemas import customers as schemas
from ..schemas import orders as order_schemas
from .base import RouteBase

TAGS = ("customers",)


class OrderRoutes(RouteBase):

    @route("PUT", "/v1/orders/<order_id>",
           "Record the store platform's order as it is now (201 when new); an update older than the stored one "
           "changes nothing and answers the stored order with X-Order-Applied: false", roles=ADMIN,
           body=order_schemas.OrderPut, response=order_schemas.Order, resource="order", may_create=True,
           location="/v1/orders/{id}", tags=TAGS)
    def put_order(self, call, order_id):
        result = self.customers.put_order(call.caller, order_id, call.body)
        return Answer(result, {"X-Order-Applied": "true" if result["applied"] else "false"})

    @route("GET", "/v1/orders/<order_id>", "An order", roles=STAFF, response=order_schemas.Order, tags=TAGS)
    def get_order(self, call, order_id):
        return self.customers.get_order(call.caller, order_id)

    @route("GET", "/v1/settings/customers", "The store's customer settings", roles=STAFF,
           response=schemas.CustomerSettings, tags=TAGS)
    def customer_settings(self, call):
        return self.customers.settings(call.caller)

    @route("PATCH", "/v1/settings/customers", "Change the store's customer settings", roles=ADMIN,
           body=schemas.CustomerSettingsUpdate, response=schemas.CustomerSettings, tags=TAGS)
    def update_customer_settings(self, call):
        return self.customers.update_settings(call.caller, call.body)
