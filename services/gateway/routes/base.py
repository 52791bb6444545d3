"""What every route module stands on: the services behind the gateway and the
gateway's own dependencies, declared once. Each route module's class derives
from ``RouteBase``; ``GatewayService`` derives from all of them, and Nameko
finds the dependencies and entrypoints on the bases."""
from __future__ import annotations

from seedwork.errors import InvalidCommand, NotFound
from seedwork.rpc import DeadlineRpc

from ..config import Config
from ..dependencies import AttachmentFiles, IdentityStore


class RouteBase:
    identity = IdentityStore()  # the gateway's own schema: stores, staff, tokens
    tickets = DeadlineRpc("tickets")
    customers = DeadlineRpc("customers")
    notifications = DeadlineRpc("notifications")
    reports = DeadlineRpc("reports")
    files = AttachmentFiles()  # attachments' bytes
    config = Config()  # settings read when the gateway starts

    def standing_of(self, caller, customer_id: str | None = None) -> dict | None:
        """What the customers service says of the customer a ticket is for
        (the calling shopper, or the one staff name): the tickets service
        decides on it (a blocked shopper opens no tickets). A customer staff
        name who is not the store's is the body's mistake (422)."""
        if caller.is_customer:
            return self.customers.standing(caller.store_id, caller.id)
        if customer_id is None:
            return None
        try:
            return self.customers.standing(caller.store_id, customer_id)
        except NotFound:
            raise InvalidCommand.field("customer_id", "no such customer in this store") from None
