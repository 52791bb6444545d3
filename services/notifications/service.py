"""Notifications service entrypoints: thin handlers over ``application``
(the service layer) and ``dependencies`` (the send loop).

Three bus handlers (one per source service's exchange) turn events into
planned deliveries, exactly once per event; a timer in every replica sends
what is due; RPC methods serve the gateway's webhook, settings and log routes.
"""
import logging

from nameko.timer import timer

from seedwork.caller import Caller
from seedwork.context import RequestContext
from seedwork.nameko_ext import Application, EventSourcing, bus_handler, rpc
from seedwork.rpc import DeadlineRpc

from .application import Notifications
from .config import NotificationsConfig
from .dependencies import Outbound

log = logging.getLogger(__name__)


class NotificationsService:
    name = "notifications"

    db = EventSourcing()
    notifications = Application(Notifications, config=NotificationsConfig.from_env)
    outbound = Outbound()
    tickets = DeadlineRpc("tickets")
    request_id = RequestContext()

    @rpc
    def health(self):
        return self.db.health()

    # --- events in: one queue per source service ------------------------------------------

    @bus_handler("tickets")
    def on_ticket_event(self, event):
        self._hear(event, "tickets")

    @bus_handler("customers")
    def on_customer_event(self, event):
        self._hear(event, "customers")

    @bus_handler("gateway")
    def on_gateway_event(self, event):
        self._hear(event, "gateway")

    def _hear(self, event, source):
        if self.notifications.hear(event, source, self.db.once, self.tickets.ticket_basics,
                                   self.tickets.store_view_of_event):
            self.outbound.kick()  # committed: send now rather than at the next tick

    # --- the delivery loop ----------------------------------------------------------------

    @timer(interval=0.25)
    def send_due(self):
        self.outbound.send_due()

    @timer(interval=3600)
    def prune_received_events(self):
        removed = self.notifications.prune()
        if removed:
            log.info("forgot %d received events older than the redelivery window", removed)

    # --- the gateway's requests -------------------------------------------------------------

    @rpc
    def settings(self, caller):
        return self.notifications.get_settings(Caller.of(caller))

    @rpc
    def update_settings(self, caller, fields):
        return self.notifications.update_settings(Caller.of(caller), fields)

    @rpc
    def get_preferences(self, caller, customer_id):
        return self.notifications.preferences(Caller.of(caller), customer_id)

    @rpc
    def set_preferences(self, caller, customer_id, fields):
        return self.notifications.set_preferences(Caller.of(caller), customer_id, fields)

    @rpc
    def templates(self, caller):
        return self.notifications.templates(Caller.of(caller))

    @rpc
    def put_template(self, caller, kind, locale, fields):
        return self.notifications.put_template(Caller.of(caller), kind, locale, fields)

    @rpc
    def delete_template(self, caller, kind, locale):
        return self.notifications.delete_template(Caller.of(caller), kind, locale)

    @rpc
    def create_webhook(self, caller, fields, idempotency=None):
        return self.notifications.create_webhook(Caller.of(caller), fields, idempotency)

    @rpc
    def list_webhooks(self, caller):
        return self.notifications.list_webhooks(Caller.of(caller))

    @rpc
    def get_webhook(self, caller, endpoint_id):
        return self.notifications.get_webhook(Caller.of(caller), endpoint_id)

    @rpc
    def update_webhook(self, caller, endpoint_id, fields):
        return self.notifications.update_webhook(Caller.of(caller), endpoint_id, fields)

    @rpc
    def delete_webhook(self, caller, endpoint_id):
        return self.notifications.delete_webhook(Caller.of(caller), endpoint_id)

    @rpc
    def rotate_secret(self, caller, endpoint_id, fields):
        return self.notifications.rotate_secret(Caller.of(caller), endpoint_id, fields)

    @rpc
    def webhook_deliveries(self, caller, endpoint_id, query):
        return self.notifications.webhook_deliveries(Caller.of(caller), endpoint_id, query)

    @rpc
    def redeliver(self, caller, endpoint_id, event_id):
        return self.notifications.redeliver(Caller.of(caller), endpoint_id, event_id)

    @rpc
    def deliveries(self, caller, query):
        return self.notifications.list_deliveries(Caller.of(caller), query)

    @rpc
    def retry(self, caller, delivery_id):
        return self.notifications.retry(Caller.of(caller), delivery_id)

    # --- the event feed (GET /v1/events) ----------------------------------------------------

    @rpc
    def events(self, store_id, after, limit):
        return self.notifications.events(store_id, int(after), int(limit))
