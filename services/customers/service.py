"""Customers service entrypoints: thin RPC methods and bus handlers over the
applications in ``application.Customers``, built once per process.

The gateway calls the RPC methods with the caller it resolved from a token
(a dict, made a ``Caller`` here); the fraud watch consumes this service's
own order and block events and the tickets service's ``ticket.opened``,
across every store.
"""

from seedwork.caller import Caller
from seedwork.context import RequestContext
from seedwork.nameko_ext import Application, EventSourcing, bus_handler, rpc

from .application import Customers
from .config import CustomersConfig


class CustomersService:
    name = "customers"

    db = EventSourcing()
    # FRAUD_RULES and STOREFRONT_BASE_URL are read when the service starts: a bad value stops it.
    customers = Application(Customers, config=CustomersConfig.from_env)
    request_id = RequestContext()

    @rpc
    def health(self):
        return self.db.health()

    # --- cards ----------------------------------------------------------------------

    @rpc
    def create(self, caller, fields, idempotency=None):
        return self.customers.cards.create(Caller.of(caller), fields, idempotency)

    @rpc
    def get(self, caller, customer_id):
        return self.customers.cards.get(Caller.of(caller), customer_id)

    @rpc
    def update(self, caller, customer_id, fields, expected_version=None, idempotency=None):
        return self.customers.cards.update(Caller.of(caller), customer_id, fields, expected_version, idempotency)

    @rpc
    def list(self, caller, query):
        return self.customers.cards.list(Caller.of(caller), query)

    @rpc
    def block(self, caller, customer_id, fields, idempotency=None):
        return self.customers.cards.block(Caller.of(caller), customer_id, fields, idempotency)

    @rpc
    def unblock(self, caller, customer_id, idempotency=None):
        return self.customers.cards.unblock(Caller.of(caller), customer_id, idempotency)

    @rpc
    def standing(self, store_id, customer_id):
        return self.customers.cards.standing(store_id, customer_id)

    @rpc
    def import_rows(self, caller, rows):
        return self.customers.cards.import_rows(Caller.of(caller), rows)

    @rpc
    def payment_options(self, caller, customer_id):
        return self.customers.cards.payment_options(Caller.of(caller), customer_id)

    # --- orders ---------------------------------------------------------------------

    @rpc
    def put_order(self, caller, order_id, fields):
        return self.customers.orders.put(Caller.of(caller), order_id, fields)

    @rpc
    def get_order(self, caller, order_id):
        return self.customers.orders.get(Caller.of(caller), order_id)

    @rpc
    def orders(self, caller, customer_id, query):
        return self.customers.orders.of_customer(Caller.of(caller), customer_id, query)

    # --- reaching the customer --------------------------------------------------------

    @rpc
    def request_rating(self, caller, customer_id, idempotency=None):
        return self.customers.outreach.request_rating(Caller.of(caller), customer_id, idempotency)

    @rpc
    def send_message(self, caller, customer_id, fields, idempotency=None):
        return self.customers.outreach.send_message(Caller.of(caller), customer_id, fields, idempotency)

    # --- groups ---------------------------------------------------------------------

    @rpc
    def create_group(self, caller, fields, idempotency=None):
        return self.customers.groups.create(Caller.of(caller), fields, idempotency)

    @rpc
    def list_groups(self, caller):
        return self.customers.groups.list(Caller.of(caller))

    @rpc
    def get_group(self, caller, group_id):
        return self.customers.groups.get(Caller.of(caller), group_id)

    @rpc
    def rename_group(self, caller, group_id, fields):
        return self.customers.groups.rename(Caller.of(caller), group_id, fields)

    @rpc
    def delete_group(self, caller, group_id):
        return self.customers.groups.delete(Caller.of(caller), group_id)

    @rpc
    def change_members(self, caller, group_id, op, selection):
        return self.customers.groups.change_members(Caller.of(caller), group_id, op, selection)

    # --- settings -------------------------------------------------------------------

    @rpc
    def settings(self, caller):
        return self.customers.settings.get(Caller.of(caller))

    @rpc
    def update_settings(self, caller, fields):
        return self.customers.settings.update(Caller.of(caller), fields)

    # --- fraud flags (platform) -------------------------------------------------------

    @rpc
    def list_flags(self, query):
        return self.customers.fraud.list_flags(query)

    @rpc
    def clear_flag(self, caller, flag_id, fields):
        return self.customers.fraud.clear_flag(Caller.of(caller), flag_id, fields)

    @rpc
    def events(self, store_id, after, limit):
        return self.customers.events(store_id, int(after), int(limit))

    @bus_handler("customers", "customer.blocked", "customer.unblocked", "order.recorded")
    def watch_own_events(self, event):
        self.db.once(event, lambda conn: self.customers.fraud.observe(conn, event))

    @bus_handler("tickets", "ticket.opened")
    def watch_tickets(self, event):
        self.db.once(event, lambda conn: self.customers.fraud.observe(conn, event))
