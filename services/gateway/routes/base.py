"""What every route module stands on: the services behind the gateway and the
gateway's own dependencies, declared once. Each route module's class derives
from ``RouteBase``; ``GatewayService`` derives from all of them, and Nameko
finds the dependencies and entrypoints on the bases."""
from __future__ import annotations

from seedwork.errors import Forbidden, InvalidCommand, NotFound
from seedwork.rpc import DeadlineRpc

from ..config import Config
from ..dependencies import AttachmentFiles, IdentityStore


class RouteBase:
    identity = IdentityStore()  # the gateway's own schema: stores, staff, tokens
    tickets = DeadlineRpc("tickets")
    customers = DeadlineRpc("customers")
    notifications = DeadlineRpc("notifications")
    files = AttachmentFiles()  # attachments' bytes
    config = Config()  # settings read when the gateway starts

    def check_ticket_customer(self, caller, customer_id):
        if caller.is_customer:
            if self.customers.standing(caller.store_id, caller.id)["blocked"]:
                raise Forbidden("customer_blocked", "the store has blocked you: you cannot open new tickets; "
                                                    "your open tickets stay open")
        elif customer_id is not None:
            try:
                self.customers.standing(caller.store_id, customer_id)
            except NotFound:
                raise InvalidCommand.field("customer_id", "no such customer in this store") from None
