"""Notifications service entrypoints: thin handlers over ``application`` and
``dispatcher``.

Three bus handlers (one per source service's exchange) turn events into
planned deliveries, exactly once per event; a timer in every replica sends
what is due; RPC methods serve the gateway's webhook, settings and log routes.
"""
import logging

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from seedwork.context import RequestContext
from seedwork.nameko_ext import EventSourcing, bus_handler

from .application import Notifications, TicketNotYetKnown
from .channels import SmtpSender, TransientError, WebhookPoster, sms_provider_from_env
from .dispatcher import Dispatcher, Transports

log = logging.getLogger(__name__)
SEND_CONCURRENCY = 10
# No send may take longer, however slowly a server answers (socket timeouts
# are per read, not per message); well under deliveries.LEASE.
SEND_DEADLINE = 30.0
RPC_TIMEOUT = 10.0


class Deadlined:
    """A transport whose every call ends within ``seconds``: past it, the
    send fails as transient (retried later) instead of holding its lease."""

    def __init__(self, transport, seconds: float = SEND_DEADLINE):
        self.transport, self.seconds = transport, seconds

    def _within(self, method, *args):
        with eventlet.Timeout(self.seconds, TransientError(f"no answer within {self.seconds:g} s")):
            return method(*args)

    def send(self, *args):
        return self._within(self.transport.send, *args)

    def post(self, *args):  # a webhook: the poster records the timeout as the attempt's error
        return self._within(self.transport.post, *args)


class Outbound(DependencyProvider):
    """The transports, built once per process from the environment, and the
    send loop: run by the timer, and kicked as soon as an event planned
    something (a reply's email need not wait for the next tick)."""

    def setup(self):
        self.transports = Transports(email=Deadlined(SmtpSender.from_env()), sms=Deadlined(sms_provider_from_env()),
                                     webhook=Deadlined(WebhookPoster()))
        self.pool = eventlet.GreenPool(SEND_CONCURRENCY)
        self.kick_pending = False
        self.draining = self.again = False

    def get_dependency(self, worker_ctx):
        return self

    def send_due(self, store) -> None:
        """Start what is due, as send slots free up, so every claimed row is
        being sent at once and its lease is never outlived. One drain per
        process; a call meanwhile makes it look again."""
        if self.draining:
            self.again = True
            return
        self.draining = True
        try:
            again = True
            while again:
                self.again = False
                dispatcher = Dispatcher(store, self.transports)
                # Claim only what can start now (a free send slot each) and start
                # it: a slow send holds its own slot, not a whole batch. Replicas
                # claim with SKIP LOCKED: nothing is sent twice.
                while claimed := dispatcher.claim(max(self.pool.free(), 1)):
                    for delivery in claimed:
                        self.pool.spawn_n(dispatcher.deliver, delivery)  # waits for a free slot
                again = self.again
        finally:
            self.draining = False

    def kick(self, store) -> None:
        """Send soon, in a green thread of its own; kicks that come while one
        waits to start are one."""
        if not self.kick_pending:
            self.kick_pending = True
            eventlet.spawn_n(self._kicked, store)

    def _kicked(self, store) -> None:
        self.kick_pending = False  # from here on, a new event kicks again
        try:
            self.send_due(store)
        except Exception:  # the timer's next tick tries again
            log.exception("sending right after an event failed")


class NotificationsService:
    name = "notifications"

    db = EventSourcing()
    outbound = Outbound()
    tickets = RpcProxy("tickets")
    request_id = RequestContext()

    @property
    def notifications(self) -> Notifications:
        return Notifications(self.db.store)

    @rpc
    def health(self):
        return self.db.health()

    # --- events in: one queue per source service ------------------------------------------

    @bus_handler("tickets")
    def on_ticket_event(self, event):
        self._observe(event, "tickets")

    @bus_handler("customers")
    def on_customer_event(self, event):
        self._observe(event, "customers")

    @bus_handler("gateway")
    def on_gateway_event(self, event):
        self._observe(event, "gateway")

    def _observe(self, event, source):
        notifications = self.notifications
        planned = []
        try:
            self.db.once(event, lambda conn: planned.extend(notifications.observe(conn, event, source)))
        except TicketNotYetKnown:
            # Its opening is late on the bus, or came before this service was
            # deployed: ask the tickets service, then plan as usual.
            basics = self._ticket_basics(event.store_id, event.stream_id)
            if basics is None:
                raise  # not (yet) a ticket of this store: the bus retries, then dead-letters
            notifications.seed_ticket(basics)
            self.db.once(event, lambda conn: planned.extend(notifications.observe(conn, event, source)))
        if planned:  # committed: send now rather than at the next tick
            self.outbound.kick(self.db.store)

    def _ticket_basics(self, store_id, ticket_id):
        reply = self.tickets.ticket_basics.call_async(store_id, ticket_id)
        with eventlet.Timeout(RPC_TIMEOUT, False):
            return reply.result()
        raise TimeoutError(f"the tickets service did not answer within {RPC_TIMEOUT:g} s")  # the bus retries

    # --- the delivery loop ----------------------------------------------------------------

    @timer(interval=0.25)
    def send_due(self):
        self.outbound.send_due(self.db.store)

    @timer(interval=3600)
    def prune_received_events(self):
        removed = self.notifications.prune()
        if removed:
            log.info("forgot %d received events older than the redelivery window", removed)

    # --- the gateway's requests -------------------------------------------------------------

    @rpc
    def settings(self, caller):
        return self.notifications.get_settings(caller)

    @rpc
    def update_settings(self, caller, fields):
        return self.notifications.update_settings(caller, fields)

    @rpc
    def get_preferences(self, caller, customer_id):
        return self.notifications.preferences(caller, customer_id)

    @rpc
    def set_preferences(self, caller, customer_id, fields):
        return self.notifications.set_preferences(caller, customer_id, fields)

    @rpc
    def templates(self, caller):
        return self.notifications.templates(caller)

    @rpc
    def put_template(self, caller, kind, locale, fields):
        return self.notifications.put_template(caller, kind, locale, fields)

    @rpc
    def delete_template(self, caller, kind, locale):
        return self.notifications.delete_template(caller, kind, locale)

    @rpc
    def create_webhook(self, caller, fields, idempotency=None):
        return self.notifications.create_webhook(caller, fields, tuple(idempotency) if idempotency else None)

    @rpc
    def list_webhooks(self, caller):
        return self.notifications.list_webhooks(caller)

    @rpc
    def get_webhook(self, caller, endpoint_id):
        return self.notifications.get_webhook(caller, endpoint_id)

    @rpc
    def update_webhook(self, caller, endpoint_id, fields):
        return self.notifications.update_webhook(caller, endpoint_id, fields)

    @rpc
    def delete_webhook(self, caller, endpoint_id):
        return self.notifications.delete_webhook(caller, endpoint_id)

    @rpc
    def rotate_secret(self, caller, endpoint_id, fields):
        return self.notifications.rotate_secret(caller, endpoint_id, fields)

    @rpc
    def webhook_deliveries(self, caller, endpoint_id, query):
        return self.notifications.webhook_deliveries(caller, endpoint_id, query)

    @rpc
    def redeliver(self, caller, endpoint_id, event_id):
        return self.notifications.redeliver(caller, endpoint_id, event_id)

    @rpc
    def deliveries(self, caller, query):
        return self.notifications.list_deliveries(caller, query)

    @rpc
    def retry(self, caller, delivery_id):
        return self.notifications.retry(caller, delivery_id)
