"""Tickets service entrypoints: thin RPC methods over ``application.Tickets``.

The gateway calls these with the caller it resolved from a token; every
method scopes what it reads and writes to that caller's store.
"""
from datetime import datetime

from nameko.rpc import rpc

from seedwork.context import RequestContext
from seedwork.nameko_ext import EventSourcing

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


def _pair(idempotency):
    """(key, request fingerprint), which JSON carries as a list."""
    return tuple(idempotency) if idempotency else None
