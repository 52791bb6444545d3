"""Tickets service entrypoints. The ticket lifecycle lands with the tickets
issue; for now the service owns its event store schema, runs its relay and
answers health checks."""
from nameko.rpc import rpc

from seedwork.nameko_ext import EventSourcing


class TicketsService:
    name = "tickets"

    db = EventSourcing()

    @rpc
    def health(self):
        return self.db.health()
