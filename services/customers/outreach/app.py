"""Rating requests and direct messages: lock the card's stream, fold it,
decide (``outreach/domain.py``), append to the card's stream, record the
idempotency key. The notifications service sends what the events ask for."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import psycopg

from seedwork.caller import Caller
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore

from ..cards.stream import CardStream
from ..orders.projection import OrdersProjection
from ..store_settings.projection import SettingsProjection
from .domain import MAX_RATING_ORDERS, RequestRating, SendMessage, decide, message_fields


@dataclass(frozen=True)
class Outreach:
    store: EventStore
    cards: CardStream
    orders: OrdersProjection
    settings: SettingsProjection
    keys: IdempotencyKeys
    storefront_base_url: str
    clock: Callable[[], datetime]

    def request_rating(self, caller: Caller, customer_id: str, idempotency=None) -> dict:
        """Ask the customer to rate their delivered, unrated orders (on the store's rating channel)."""
        def request(conn: psycopg.Connection, state) -> dict:
            command = RequestRating(
                actor=caller.actor, request_id=str(uuid.uuid4()),
                order_ids=self.orders.unrated_delivered(conn, caller.store_id, state.id, MAX_RATING_ORDERS),
                settings=self.settings.values(conn, caller.store_id), storefront_base_url=self.storefront_base_url)
            data = self._append(conn, state, decide(state, command, self.clock()))
            return {"request": {"id": data.pop("request_id"), **data}}

        return self._run(caller, customer_id, request, idempotency)

    def send_message(self, caller: Caller, customer_id: str, fields: dict, idempotency=None) -> dict:
        message = message_fields(fields.get("channel"), fields.get("body"), fields.get("subject"))

        def send(conn: psycopg.Connection, state) -> dict:
            command = SendMessage(actor=caller.actor, message_id=str(uuid.uuid4()), message=message,
                                  settings=self.settings.values(conn, caller.store_id))
            data = self._append(conn, state, decide(state, command, self.clock()))
            return {"message": {"id": data.pop("message_id"), **data}}

        return self._run(caller, customer_id, send, idempotency)

    def _run(self, caller: Caller, customer_id: str, answer: Callable, idempotency) -> dict:
        with self.store.transaction() as conn:
            customer_id = self.cards.lock(conn, customer_id)
            return self.keys.run(conn, caller, idempotency,
                                 lambda: answer(conn, self.cards.load(conn, caller.store_id, customer_id)))

    def _append(self, conn: psycopg.Connection, state, events) -> dict:
        """The events on the card's stream (its version moves); the request's data, to answer with."""
        self.cards.write(conn, state, state.id, events)
        return dict(events[0].data)
