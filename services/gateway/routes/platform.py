"""What the platform's review team works with, across every store: the
tickets it handles (charged without an order) and the fraud flags on shoppers."""
from __future__ import annotations

from ..routing import PLATFORM, route
from ..schemas import customers as customer_schemas
from ..schemas import selfservice as selfservice_schemas
from ..schemas import tickets as ticket_schemas
from .base import RouteBase
from .tickets import ticket_query

TAGS = ("platform",)


class PlatformRoutes(RouteBase):

    @route("GET", "/v1/platform/tickets",
           "Tickets the platform handles (charged without an order), across every store", roles=PLATFORM,
           query=selfservice_schemas.PlatformTicketQuery, response=ticket_schemas.TicketList, tags=TAGS)
    def list_platform_tickets(self, call):
        return self.tickets.list(call.caller, ticket_query(call.query))

    @route("GET", "/v1/platform/flags", "Fraud flags on shoppers, across every store", roles=PLATFORM,
           query=customer_schemas.FlagQuery, response=customer_schemas.FlagList, tags=TAGS)
    def list_flags(self, call):
        return self.customers.list_flags(call.query)

    @route("POST", "/v1/platform/flags/<flag_id>/clear", "Clear a fraud flag after review (its evidence stays spent)",
           roles=PLATFORM, body=customer_schemas.FlagClear, response=customer_schemas.PlatformFlag, tags=TAGS)
    def clear_flag(self, call, flag_id):
        return self.customers.clear_flag(call.caller, flag_id, call.body)
