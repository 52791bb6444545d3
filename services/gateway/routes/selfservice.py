"""The shopper's self-service flows, the store's self-service settings, and the
staff's decision on a customer data change (docs/self-service.md). The
tickets service decides; the gateway fetches what other services know (the
shopper's order and standing) and passes it on."""
from __future__ import annotations

from seedwork.errors import NotFound
from seedwork.store import expect_version

from ..routing import ADMIN, CUSTOMER, STAFF, WHOLE, route
from ..schemas import selfservice as schemas
from ..schemas import tickets as ticket_schemas
from .base import RouteBase

TAGS = ("self-service",)
SETTINGS = {"response": schemas.SelfServiceSettings, "resource": "settings", "etag": True, "tags": TAGS}
# A flow answers what happened (a ticket opened, a tracking link, the order's
# details...): 201 with the ticket's Location when it opened one.
FLOW = {"roles": CUSTOMER, "response": schemas.FlowResult, "resource": WHOLE, "location": "/v1/tickets/{ticket[id]}",
        "idempotent": True, "tags": TAGS}


class SelfServiceRoutes(RouteBase):

    # --- settings ---------------------------------------------------------------------

    @route("GET", "/v1/settings/self-service", "The store's self-service settings", roles=STAFF, **SETTINGS)
    def self_service_settings(self, call):
        return {"settings": self.tickets.self_service_settings(call.caller)}

    @route("PATCH", "/v1/settings/self-service", "Change the store's self-service settings (merged; texts key by key)",
           roles=ADMIN, body=schemas.SelfServiceSettingsUpdate, if_match="settings", **SETTINGS)
    def update_self_service_settings(self, call):
        return {"settings": self.tickets.update_self_service_settings(call.caller, call.body, call.if_match)}

    # --- the shopper's flows -------------------------------------------------------------

    @route("POST", "/v1/self-service/charged-without-order",
           "Charged but no order number: opens a ticket the platform's review team answers",
           body=schemas.ChargedWithoutOrder, status=201, **FLOW)
    def charged_without_order(self, call):
        return self.tickets.charged_without_order(call.caller, call.body, call.idempotency,
                                                  standing=self.standing_of(call.caller))

    @route("POST", "/v1/self-service/delayed-order",
           "My order is late: tracking, the order's details, or a ticket (201 when one is opened)",
           body=schemas.DelayedOrder, may_create=True, **FLOW)
    def delayed_order(self, call):
        standing, order = self.shopper_and_order(call.caller, call.body["order_id"])
        return self.tickets.delayed_order(call.caller, order, call.body, call.idempotency, standing=standing)

    @route("POST", "/v1/self-service/product-exchange", "Ask to exchange an item of a delivered order: opens a ticket",
           body=schemas.ProductExchange, status=201, **FLOW)
    def product_exchange(self, call):
        standing, order = self.shopper_and_order(call.caller, call.body["order_id"])
        return self.tickets.product_exchange(call.caller, order, call.body, call.idempotency, standing=standing)

    @route("POST", "/v1/self-service/customer-data-change",
           "Ask the store to change my name, email, mobile or city: opens a ticket staff approve or reject",
           body=schemas.CustomerDataChange, status=201, **FLOW)
    def customer_data_change(self, call):
        return self.tickets.customer_data_change(call.caller, call.body, call.idempotency,
                                                 standing=self.standing_of(call.caller))

    def shopper_and_order(self, caller, order_id: str) -> tuple[dict, dict | None]:
        """The shopper's standing and the order they name, asked at once; no
        such order is None: the tickets service answers the 404 after it has
        checked the store's switch and the shopper's standing."""
        standing = self.customers.standing.call_async(caller.store_id, caller.id)
        order = self.customers.get_order.call_async(caller, order_id)
        try:
            found = order.result()
        except NotFound:
            found = None
        return standing.result(), found

    # --- the data-change decision -----------------------------------------------------------

    @route("POST", "/v1/tickets/<ticket_id>/data-change/approve",
           "Approve a customer data change: the fields are applied to the customer card", roles=STAFF,
           response=ticket_schemas.Ticket, resource="ticket", etag=True, if_match="ticket", tags=TAGS)
    def approve_data_change(self, call, ticket_id):
        pending = self.tickets.pending_data_change(call.caller, ticket_id)
        # Before the card changes: a stale decision changes nothing.
        expect_version(f"ticket {ticket_id}", call.if_match, pending["version"])
        # Safe to repeat after a crash between the two calls: the same fields change nothing the second time.
        result = self.customers.update(call.caller, pending["customer_id"], pending["fields"])
        steps = [["approve_data_change", {"customer_version": result["customer"]["version"]}]]
        return self.tickets.execute(call.caller, ticket_id, steps, call.if_match, None)

    @route("POST", "/v1/tickets/<ticket_id>/data-change/reject", "Reject a customer data change, with the reason",
           roles=STAFF, body=schemas.DataChangeReject, response=ticket_schemas.Ticket, resource="ticket", etag=True,
           idempotent=True, if_match="ticket", tags=TAGS)
    def reject_data_change(self, call, ticket_id):
        steps = [["reject_data_change", {"reason": call.body["reason"]}]]
        return self.tickets.execute(call.caller, ticket_id, steps, call.if_match, call.idempotency)
