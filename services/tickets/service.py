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


class TicketsService:
    name = "tickets"

    db = EventSourcing()
    request_id = RequestContext()

    @property
    def tickets(self) -> Tickets:
        return Tickets(self.db.store)

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
    def events(self, store_id, after, limit):
        return self.tickets.events(store_id, int(after), int(limit))

    # Bound to exactly the types the replica keeps (not "customer.*", which
    # would also bring rating and message requests, with mobiles and bodies).
    @bus_handler("customers", *customers.EVENT_TYPES)
    def on_customer_event(self, event):
        summaries = customers.CustomerSummaries(self.db.store.schema)
        self.db.once(event, lambda conn: summaries.apply(conn, event))


def _pair(idempotency):
    """(key, request fingerprint), which JSON carries as a list."""
    return tuple(idempotency) if idempotency else None
