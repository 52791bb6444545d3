"""Customers service entrypoints: thin RPC methods and bus handlers over
``application.Customers``.

The gateway calls the RPC methods with the caller it resolved from a token;
the fraud watch consumes this service's own order and block events and the
tickets service's ``ticket.opened``, across every store.
"""
import os

from nameko.rpc import rpc

from seedwork.context import RequestContext
from seedwork.nameko_ext import EventSourcing, bus_handler

from . import fraud
from .application import Customers

# Read once at start-up: a bad FRAUD_RULES stops the service with a clear error.
RULES = fraud.load_rules(os.environ.get("FRAUD_RULES"))


class CustomersService:
    name = "customers"

    db = EventSourcing()
    request_id = RequestContext()

    @property
    def customers(self) -> Customers:
        return Customers(self.db.store, RULES)

    @rpc
    def health(self):
        return self.db.health()

    # --- cards ----------------------------------------------------------------------

    @rpc
    def create(self, caller, fields, idempotency=None):
        return self.customers.create(caller, fields, idempotency)

    @rpc
    def get(self, caller, customer_id):
        return self.customers.get(caller, customer_id)

    @rpc
    def update(self, caller, customer_id, fields, expected_version=None, idempotency=None):
        return self.customers.update(caller, customer_id, fields, expected_version, idempotency)

    @rpc
    def list(self, caller, query):
        return self.customers.list(caller, query)

    @rpc
    def block(self, caller, customer_id, fields, idempotency=None):
        return self.customers.block(caller, customer_id, fields, idempotency)

    @rpc
    def unblock(self, caller, customer_id, idempotency=None):
        return self.customers.unblock(caller, customer_id, idempotency)

    @rpc
    def standing(self, store_id, customer_id):
        return self.customers.standing(store_id, customer_id)

    @rpc
    def import_rows(self, caller, rows):
        return self.customers.import_rows(caller, rows)

    # --- orders, payment options, reaching the customer -------------------------------

    @rpc
    def put_order(self, caller, order_id, fields):
        return self.customers.put_order(caller, order_id, fields)

    @rpc
    def get_order(self, caller, order_id):
        return self.customers.get_order(caller, order_id)

    @rpc
    def orders(self, caller, customer_id, query):
        return self.customers.orders(caller, customer_id, query)

    @rpc
    def payment_options(self, caller, customer_id):
        return self.customers.payment_options(caller, customer_id)

    @rpc
    def request_rating(self, caller, customer_id, idempotency=None):
        return self.customers.request_rating(caller, customer_id, idempotency)

    @rpc
    def send_message(self, caller, customer_id, fields, idempotency=None):
        return self.customers.send_message(caller, customer_id, fields, idempotency)

    # --- groups ---------------------------------------------------------------------

    @rpc
    def create_group(self, caller, fields, idempotency=None):
        return self.customers.create_group(caller, fields, idempotency)

    @rpc
    def list_groups(self, caller):
        return self.customers.list_groups(caller)

    @rpc
    def get_group(self, caller, group_id):
        return self.customers.get_group(caller, group_id)

    @rpc
    def rename_group(self, caller, group_id, fields):
        return self.customers.rename_group(caller, group_id, fields)

    @rpc
    def delete_group(self, caller, group_id):
        return self.customers.delete_group(caller, group_id)

    @rpc
    def change_members(self, caller, group_id, op, selection):
        return self.customers.change_members(caller, group_id, op, selection)

    # --- settings -------------------------------------------------------------------

    @rpc
    def settings(self, caller):
        return self.customers.settings(caller)

    @rpc
    def update_settings(self, caller, fields):
        return self.customers.update_settings(caller, fields)

    # --- fraud flags (platform) -------------------------------------------------------

    @rpc
    def list_flags(self, query):
        return self.customers.list_flags(query)

    @rpc
    def clear_flag(self, caller, flag_id, fields):
        return self.customers.clear_flag(caller, flag_id, fields)

    @rpc
    def events(self, store_id, after, limit):
        return self.customers.events(store_id, int(after), int(limit))

    @bus_handler("customers", "customer.blocked", "customer.unblocked", "order.recorded")
    def watch_own_events(self, event):
        self.db.once(event, lambda conn: self.customers.observe(conn, event))

    @bus_handler("tickets", "ticket.opened")
    def watch_tickets(self, event):
        self.db.once(event, lambda conn: self.customers.observe(conn, event))
