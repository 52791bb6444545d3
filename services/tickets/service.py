"""Tickets service entrypoints: thin RPC methods over ``application.Tickets``.

The gateway calls these with the caller it resolved from a token; every
method scopes what it reads and writes to that caller's store. One bus
handler keeps the local replica of customers that ticket views show.
"""
from datetime import datetime

from nameko.rpc import rpc

from seedwork.context import RequestContext
from seedwork.nameko_ext import EventSourcing, bus_handler

from . import customers
from .application import Tickets
from .flows import SelfServiceFlows


class TicketsService:
    name = "tickets"

    db = EventSourcing()
    request_id = RequestContext()

    @property
    def tickets(self) -> Tickets:
        return Tickets(self.db.store)

    @property
    def flows(self) -> SelfServiceFlows:
        return SelfServiceFlows(self.tickets)

    @rpc
    def health(self):
        return self.db.health()

    @rpc
    def open(self, caller, fields, idempotency=None):
        return self.tickets.open(caller, fields, _pair(idempotency))

    @rpc
    def execute(self, caller, ticket_id, steps, expected_version=None, idempotency=None):
        return self.tickets.execute(caller, ticket_id, steps, expected_version, _pair(idempotency))

    @rpc
    def get(self, caller, ticket_id, as_of=None):
        return self.tickets.get(caller, ticket_id, datetime.fromisoformat(as_of) if as_of else None)

    @rpc
    def history(self, caller, ticket_id):
        return self.tickets.history(caller, ticket_id)

    @rpc
    def list(self, caller, query):
        return self.tickets.list(caller, query)

    @rpc
    def ticket_basics(self, store_id, ticket_id):
        return self.tickets.basics(store_id, ticket_id)

    @rpc
    def events(self, store_id, after, limit):
        return self.tickets.events(store_id, int(after), int(limit))

    # --- data changes and files (docs/self-service.md) ---------------------------

    @rpc
    def pending_data_change(self, caller, ticket_id):
        return self.tickets.pending_data_change(caller, ticket_id)

    @rpc
    def register_attachment(self, caller, ticket_id, meta):
        return self.tickets.register_attachment(caller, ticket_id, meta)

    @rpc
    def attachment(self, caller, ticket_id, attachment_id):
        return self.tickets.attachment(caller, ticket_id, attachment_id)

    # --- self-service settings and flows -----------------------------------------

    @rpc
    def self_service_settings(self, caller):
        return self.flows.settings(caller)

    @rpc
    def self_service_enabled(self, caller):
        return self.flows.settings(caller)["enabled"]

    @rpc
    def update_self_service_settings(self, caller, fields, expected_version=None):
        return self.flows.update_settings(caller, fields, expected_version)

    @rpc
    def charged_without_order(self, caller, fields, idempotency=None):
        return self.flows.charged_without_order(caller, fields, _pair(idempotency))

    @rpc
    def delayed_order(self, caller, order, fields, idempotency=None):
        return self.flows.delayed_order(caller, order, fields, _pair(idempotency))

    @rpc
    def product_exchange(self, caller, order, fields, idempotency=None):
        return self.flows.product_exchange(caller, order, fields, _pair(idempotency))

    @rpc
    def customer_data_change(self, caller, fields, idempotency=None):
        return self.flows.customer_data_change(caller, fields, _pair(idempotency))

    # --- canned responses ----------------------------------------------------------

    @rpc
    def list_canned(self, caller):
        return self.tickets.canned.list(caller)

    @rpc
    def get_canned(self, caller, canned_id):
        return self.tickets.canned.get(caller, canned_id)

    @rpc
    def create_canned(self, caller, fields, idempotency=None):
        return self.tickets.create_canned(caller, fields, _pair(idempotency))

    @rpc
    def update_canned(self, caller, canned_id, fields, expected_version=None):
        return self.tickets.update_canned(caller, canned_id, fields, expected_version)

    @rpc
    def delete_canned(self, caller, canned_id):
        return self.tickets.delete_canned(caller, canned_id)

    # Bound to exactly the types the replica keeps (not "customer.*", which
    # would also bring rating and message requests, with mobiles and bodies).
    @bus_handler("customers", *customers.EVENT_TYPES)
    def on_customer_event(self, event):
        summaries = customers.CustomerSummaries(self.db.store.schema)
        self.db.once(event, lambda conn: summaries.apply(conn, event))


def _pair(idempotency):
    """(key, request fingerprint), which JSON carries as a list."""
    return tuple(idempotency) if idempotency else None
