"""The notifications service layer: events in (replicas, planned deliveries),
and the store's own requests (settings, webhooks, the delivery log).

Plain Python over PostgreSQL; ``service.py`` exposes it over Nameko and
``dispatcher.py`` sends what is planned. A caller is a ``seedwork.caller.Caller``
(the entrypoints turn the gateway's dict into one).
"""
from __future__ import annotations

import logging
from typing import Callable

from psycopg.types.json import Jsonb

from seedwork import feed
from seedwork.caller import Caller
from seedwork.envelope import Envelope, to_cloudevent
from seedwork.errors import NotFound
from seedwork.idempotency import Idempotency, IdempotencyKeys
from seedwork.store import EventStore

from . import webhooks
from .config import DEFAULTS, NotificationsConfig
from .deliveries import Deliveries, view
from .planning import Planned, plan_messages, plan_webhooks, ticket_of
from .replicas import Replicas
from .settings import StoreSettings
from .webhooks import WebhookEndpoints

log = logging.getLogger(__name__)
KEEP_EVENTS_DAYS = 30  # how long an event can be redelivered to a webhook


class TicketNotYetKnown(Exception):
    """An event of a ticket whose opening this service has not seen: late on
    the bus, or before this service was deployed. The handler asks the tickets
    service (``seed_ticket``); if even that does not know it, the bus retries."""


class Notifications:
    def __init__(self, store: EventStore, config: NotificationsConfig = DEFAULTS):
        self.store = store
        self.s = store.schema
        self.replicas = Replicas(store.schema)
        self.settings = StoreSettings(store.schema, config)
        self.deliveries = Deliveries(store.schema)
        self.endpoints = WebhookEndpoints(store, config.allow_private_targets)
        self.keys = IdempotencyKeys(store.schema)

    # --- events in ---------------------------------------------------------------------

    def hear(self, event: Envelope, source: str, once: Callable,
             ticket_basics: Callable[[str, str], dict | None],
             store_view: Callable[[dict], dict | None]) -> bool:
        """Plan ``event``'s deliveries exactly once (``once(event, effect)``:
        the consumer's record of what it processed); True if it planned any.

        Of a ticket the platform handles, the store's webhooks get what the
        tickets service says the store may see (``store_view``, asked before
        the transaction, only for such tickets). An event of a ticket whose
        opening this service missed (late on the bus, or before this service
        was deployed) asks the tickets service first (``ticket_basics``), then
        plans as usual; a ticket even the tickets service does not know fails
        the event, which the bus retries and then dead-letters."""
        planned: list[str] = []

        def attempt() -> None:
            seen = self.as_the_store_sees(event, source, store_view)
            once(event, lambda conn: planned.extend(self.observe(conn, event, source, seen)))

        try:
            attempt()
        except TicketNotYetKnown:
            basics = ticket_basics(event.store_id, event.stream_id)
            if basics is None:
                raise
            self.seed_ticket(basics)
            attempt()
        return bool(planned)

    def as_the_store_sees(self, event: Envelope, source: str, store_view: Callable[[dict], dict | None]) -> dict | None:
        """The event as a CloudEvent the store's webhooks may get: as it is,
        or, of a ticket the platform handles, what the tickets service allows
        (None: nothing)."""
        cloudevent = to_cloudevent(event, source)
        ticket_id = ticket_of(event)
        if event.type == "ticket.opened":
            followed = event.data.get("handled_by") == "platform"
        elif ticket_id is not None:  # its later events, the SLA timer's too
            with self.store.pool.connection() as conn:
                ticket = self.replicas.ticket(conn, ticket_id)
            if ticket is None or ticket["number"] is None:
                raise TicketNotYetKnown(f"{event.type} of ticket {ticket_id} came before its ticket.opened")
            followed = ticket["handled_by"] == "platform"
        else:
            followed = False
        return store_view(cloudevent) if followed else cloudevent

    def observe(self, conn, event: Envelope, source: str, seen: dict | None) -> list[str]:
        """Apply ``event`` to the replicas and plan its deliveries, in
        ``conn``'s transaction (the one that marks it processed); ``seen`` is
        the event as the store's webhooks may get it (``as_the_store_sees``)."""
        self.replicas.apply(conn, event)
        if event.store_id is None:
            return []  # platform-wide events (fraud flags) belong to no store's channels
        ticket_id = ticket_of(event)
        ticket = self.replicas.ticket(conn, ticket_id)
        if ticket_id and event.type != "ticket.opened" and (ticket is None or ticket["number"] is None):
            # Who may hear of it (a ticket the platform handles is not the
            # store's to read) is only known from its opening: wait for it.
            raise TicketNotYetKnown(f"{event.type} of ticket {ticket_id} came before its ticket.opened")
        channel = self.settings.load(conn, event.store_id)["self_service_channel"]
        planned: list[Planned] = plan_messages(event, ticket, channel)
        if seen is not None:
            planned += plan_webhooks(event.type, self.endpoints.for_store(conn, event.store_id))
            # Kept for redeliveries exactly as the store's webhooks may see it.
            conn.execute(f"INSERT INTO {self.s}.received_events (event_id, store_id, type, cloudevent) "
                         "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                         (str(event.event_id), event.store_id, event.type, Jsonb(seen)))
        return self.deliveries.add(conn, event.store_id, str(event.event_id), event.type, planned)

    def seed_ticket(self, basics: dict) -> None:
        """What the tickets service says of a ticket whose opening this service missed."""
        with self.store.transaction() as conn:
            self.replicas.seed_ticket(conn, basics)

    # --- settings, opt-outs, templates ---------------------------------------------------

    def get_settings(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            return _public(self.settings.load(conn, caller.store_id))

    def update_settings(self, caller: Caller, fields: dict) -> dict:
        with self.store.transaction() as conn:
            return _public(self.settings.update(conn, caller.store_id, fields))

    def preferences(self, caller: Caller, customer_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return self.settings.preferences(conn, caller.store_id, customer_id)

    def set_preferences(self, caller: Caller, customer_id: str, fields: dict) -> dict:
        with self.store.transaction() as conn:
            return self.settings.set_preferences(conn, caller.store_id, customer_id, fields)

    def templates(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            return self.settings.templates(conn, caller.store_id)

    def put_template(self, caller: Caller, kind: str, locale: str, fields: dict) -> dict:
        with self.store.transaction() as conn:
            return self.settings.put_override(conn, caller.store_id, kind, locale, fields)

    def delete_template(self, caller: Caller, kind: str, locale: str) -> None:
        with self.store.transaction() as conn:
            self.settings.delete_override(conn, caller.store_id, kind, locale)

    # --- webhooks ------------------------------------------------------------------------

    def create_webhook(self, caller: Caller, fields: dict, idempotency: Idempotency = None) -> dict:
        """A retried request (same Idempotency-Key) gets the first answer,
        secret included, instead of a second endpoint."""
        url = self.endpoints.check_url(fields.get("url"))  # DNS: before the transaction
        with self.store.transaction() as conn:
            return self.keys.run(conn, caller, idempotency, lambda: {
                "webhook": self.endpoints.create(conn, caller, fields, url), "created": True})

    def list_webhooks(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            return {"items": [webhooks.view(r) for r in self.endpoints.for_store(conn, caller.store_id)]}

    def get_webhook(self, caller: Caller, endpoint_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return webhooks.view(self.endpoints.get(conn, caller.store_id, endpoint_id))

    def update_webhook(self, caller: Caller, endpoint_id: str, fields: dict) -> dict:
        url = self.endpoints.check_url(fields["url"]) if "url" in fields else None  # DNS: before the lock
        with self.store.transaction() as conn:
            return self.endpoints.update(conn, caller, endpoint_id, fields, url)

    def delete_webhook(self, caller: Caller, endpoint_id: str) -> None:
        with self.store.transaction() as conn:
            self.endpoints.delete(conn, caller, endpoint_id)

    def rotate_secret(self, caller: Caller, endpoint_id: str, fields: dict) -> dict:
        with self.store.transaction() as conn:
            return self.endpoints.rotate(conn, caller, endpoint_id, fields)

    def webhook_deliveries(self, caller: Caller, endpoint_id: str, query: dict) -> dict:
        with self.store.pool.connection() as conn:
            self.endpoints.get(conn, caller.store_id, endpoint_id)
            return self.deliveries.page(conn, caller.store_id, query, endpoint_id, with_attempts=True)

    def redeliver(self, caller: Caller, endpoint_id: str, event_id: str) -> dict:
        """Send an event of the store to the endpoint again, as a new delivery."""
        with self.store.transaction() as conn:
            # Locked: two redeliveries at once take generations one after the other.
            endpoint = self.endpoints.get(conn, caller.store_id, endpoint_id, lock=True)
            row = conn.execute(f"SELECT type FROM {self.s}.received_events WHERE event_id = %s AND store_id = %s",
                               (str(event_id), caller.store_id)).fetchone()
            if row is None:
                raise NotFound("event_not_found", f"no event {event_id} of this store (kept 30 days)")
            generation = self.deliveries.next_generation(conn, str(event_id), endpoint["id"])
            [delivery_id] = self.deliveries.add(conn, caller.store_id, str(event_id), row[0], [
                Planned("webhook", f"webhook:{endpoint['id']}", endpoint_id=endpoint["id"])], generation)
            return {"delivery": self._view(conn, caller, delivery_id)}

    def prune(self, keep_days: int = KEEP_EVENTS_DAYS) -> int:
        """Forget received events older than ``keep_days`` (they can no longer
        be redelivered); the number removed. Retries end long before that."""
        with self.store.transaction() as conn:
            return conn.execute(f"DELETE FROM {self.s}.received_events "
                                "WHERE received_at < now() - make_interval(days => %s)", (keep_days,)).rowcount

    # --- the delivery log ----------------------------------------------------------------

    def list_deliveries(self, caller: Caller, query: dict) -> dict:
        with self.store.pool.connection() as conn:
            return self.deliveries.page(conn, caller.store_id, query)

    def retry(self, caller: Caller, delivery_id: str) -> dict:
        with self.store.transaction() as conn:
            return self.deliveries.retry(conn, caller.store_id, delivery_id)

    def _view(self, conn, caller: Caller, delivery_id: str) -> dict:
        return view(self.deliveries.get(conn, caller.store_id, delivery_id))

    # --- the event feed ------------------------------------------------------------------

    def events(self, store_id: str | None, after: int, limit: int) -> dict:
        """The service's own events in global order, as CloudEvents (one store's, or all for the platform)."""
        return feed.page(self.store, "notifications", after, limit, store_id)


def _public(settings: dict) -> dict:
    """The settings as the API shows them (the SMS sender is the customers
    service's setting, shown for information)."""
    return {k: v for k, v in settings.items() if k != "store_name"}
