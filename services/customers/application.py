"""The customers service layer, built once per process over the service's
event store: one application per aggregate, sharing the read side.

``service.py`` calls them (``customers.cards.create(...)``); each command is
one transaction (lock, load, decide, append, project, record the idempotency
key). A caller is a ``seedwork.caller.Caller``; every read and write is
scoped to its store, and another store's ids are answered like ids that do
not exist.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from seedwork import feed
from seedwork.envelope import utcnow
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore

from .cards.app import Cards
from .cards.fields import without_card_numbers
from .cards.stream import CardStream
from .config import CustomersConfig
from .fraud.projection import FraudProjection
from .fraud.watch import FraudWatch
from .groups.app import Groups
from .groups.projection import GroupsProjection
from .orders.app import Orders
from .orders.projection import OrdersProjection
from .outreach.app import Outreach
from .projection import CardsProjection
from .store_settings.app import StoreSettings
from .store_settings.projection import SettingsProjection


class Customers:
    def __init__(self, store: EventStore, config: CustomersConfig | None = None,
                 clock: Callable[[], datetime] = utcnow):
        config = config or CustomersConfig()
        schema = store.schema
        self.store = store
        self.projection = cards = CardsProjection(schema)
        keys = IdempotencyKeys(schema)
        settings, orders, fraud = SettingsProjection(schema), OrdersProjection(schema), FraudProjection(schema)
        stream = CardStream(store, cards, fraud)
        self.cards = Cards(store, stream, cards, settings, keys, clock)
        self.groups = Groups(store, GroupsProjection(schema), keys, clock)
        self.orders = Orders(store, cards, orders, clock)
        self.outreach = Outreach(store, stream, orders, settings, keys, config.storefront_base_url, clock)
        self.settings = StoreSettings(store, settings, clock)
        self.fraud = FraudWatch(store, stream, cards, fraud, tuple(config.fraud_rules), clock)

    def events(self, store_id: str | None, after: int, limit: int) -> dict:
        """The service's events in global order, as CloudEvents (one store's, or all for the
        platform), card numbers masked in their free text (``cards.fields.without_card_numbers``)."""
        return feed.page(self.store, "customers", after, limit, store_id, view=lambda batch: _masked)


def _masked(event, cloudevent: dict) -> dict:
    data = without_card_numbers(cloudevent["data"])
    return cloudevent if data is cloudevent["data"] else {**cloudevent, "data": data}
