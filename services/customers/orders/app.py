"""The store platform's orders: record one (the latest ``updated_at`` wins),
read one, list a customer's."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from seedwork.caller import Caller
from seedwork.errors import InvalidCommand, NotFound
from seedwork.pagination import decode_cursor, encode_cursor, instant, matching, page, page_limit
from seedwork.store import EventStore

from ..cards.domain import customer_id_of, not_found as customer_not_found
from ..projection import CardsProjection
from .domain import ORDER_ID, RecordOrder, clean_order, decide, evolve, stream_id
from .projection import OrdersProjection, order_view

NO_CUSTOMER = "no such customer in this store"


@dataclass(frozen=True)
class Orders:
    store: EventStore
    card_rows: CardsProjection
    projection: OrdersProjection
    clock: Callable[[], datetime]

    def put(self, caller: Caller, order_id: str, fields: dict) -> dict:
        """Record the store platform's order; an older push answers the newer order, unchanged."""
        store_id = caller.store_id
        order = clean_order(order_id, fields)
        stream = stream_id(store_id, order_id)
        try:
            customer_id = customer_id_of(order["customer_id"])
        except NotFound:
            raise InvalidCommand.field("customer_id", NO_CUSTOMER) from None
        with self.store.transaction() as conn:
            # The card's row, not its stream: every push would otherwise fold the customer's whole history.
            if not self.card_rows.exists(conn, store_id, customer_id):
                raise InvalidCommand.field("customer_id", NO_CUSTOMER)
            self.store.lock_stream(conn, stream)
            head = self.store.latest_event(stream, conn=conn)
            state = evolve(None, head) if head else None
            command = RecordOrder(actor=caller.actor, store_id=store_id, order={**order, "customer_id": customer_id})
            events = decide(state, command, self.clock())
            if not events:
                return {"order": self.projection.order(conn, store_id, order_id), "created": False, "applied": False}
            stored = self.store.append(stream, state.version if state else 0, events, conn=conn)
            self.projection.apply(conn, stored[0])
            recorded = self.projection.order(conn, store_id, order_id)
        return {"order": recorded, "created": state is None, "applied": True}

    def get(self, caller: Caller, order_id: str) -> dict:
        with self.store.pool.connection() as conn:
            order = self.projection.order(conn, caller.store_id, order_id)
        if order is None:
            raise NotFound("order_not_found", f"no order {order_id}")
        return order

    def of_customer(self, caller: Caller, customer_id: str, query: dict) -> dict:
        limit = page_limit(query.get("limit"))
        customer_id = customer_id_of(customer_id)
        after = decode_cursor(query["cursor"], instant, matching(ORDER_ID)) if query.get("cursor") else None
        with self.store.pool.connection() as conn:
            if not self.card_rows.exists(conn, caller.store_id, customer_id):
                raise customer_not_found(customer_id)
            rows = self.projection.customer_orders(conn, caller.store_id, customer_id, after, limit + 1)
        return page(rows, limit, order_view, lambda r: encode_cursor(r[3], r[0]))
