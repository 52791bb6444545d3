"""Customers service entrypoints (customer cards arrive with the customers issue)."""
from nameko.rpc import rpc

from seedwork.nameko_ext import EventSourcing


class CustomersService:
    name = "customers"

    db = EventSourcing()

    @rpc
    def health(self):
        return self.db.health()
