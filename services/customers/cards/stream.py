"""One customer's stream in a transaction: load (fold), append what
``decide`` returned, write the card's row, and keep the card showing exactly
the platform's active flags on its mobile.

Shared by everything that writes a card: the card commands, outreach and the
fraud watch (which flags every store's card of a mobile).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from seedwork.envelope import SYSTEM, NewEvent
from seedwork.errors import Conflict
from seedwork.store import EventStore

from ..fraud.projection import FraudProjection
from ..projection import CardsProjection
from .domain import ApplyFlag, Command, CustomerState, LiftFlag, customer_id_of, decide, fold, not_found


def mobile_taken(mobile: str) -> Conflict:
    return Conflict("mobile_taken", f"another customer of this store has the mobile {mobile}",
                    {"mobile": ["another customer of this store has this mobile"]})


@dataclass(frozen=True)
class CardStream:
    store: EventStore
    cards: CardsProjection
    fraud: FraudProjection

    def lock(self, conn: psycopg.Connection, customer_id: str) -> str:
        """Queue behind the card's other writers; the id as its stream spells it."""
        customer_id = customer_id_of(customer_id)
        self.store.lock_stream(conn, customer_id)
        return customer_id

    def load(self, conn: psycopg.Connection, store_id: str | None, customer_id: str) -> CustomerState:
        """The card folded from its stream; another store's card (with a
        ``store_id``) or another aggregate's stream is a card that does not exist."""
        customer_id = customer_id_of(customer_id)
        events = self.store.load(customer_id, conn=conn)
        if not events or events[0].type != "customer.created":
            raise not_found(customer_id)
        state = fold(events)
        if store_id is not None and state.store_id != store_id:
            raise not_found(customer_id)
        return state

    def write(self, conn: psycopg.Connection, state: CustomerState | None, stream_id: str,
              events: list[NewEvent]) -> CustomerState:
        """Append ``events`` after ``state`` and write the card's row."""
        if not events:
            return state
        stored = self.store.append(stream_id, state.version if state else 0, events, conn=conn)
        state = fold(stored, state)
        try:
            with conn.transaction():  # a savepoint: a taken mobile leaves the transaction usable
                self.cards.upsert_card(conn, state)
        except psycopg.errors.UniqueViolation:
            raise mobile_taken(state.mobile) from None
        return state

    def run(self, conn: psycopg.Connection, state: CustomerState, command: Command, now: datetime) -> CustomerState:
        """decide, append, project; then the flags of the card's (maybe new) mobile."""
        state = self.write(conn, state, state.id, decide(state, command, now))
        return self.sync_flags(conn, state, now)

    def sync_flags(self, conn: psycopg.Connection, state: CustomerState, now: datetime) -> CustomerState:
        """The card shows exactly the platform's active flags on its mobile."""
        active = self.fraud.active_flags(conn, state.mobile)
        events = []
        for flag_id, code, reason, raised_at in active:
            events += decide(state, ApplyFlag(actor=SYSTEM, flag_id=flag_id, code=code, reasons=(reason,),
                                              raised_at=raised_at), now)
        active_ids = {flag[0] for flag in active}
        for flag_id in state.flags:
            if flag_id not in active_ids:
                events += decide(state, LiftFlag(actor=SYSTEM, flag_id=flag_id), now)
        return self.write(conn, state, state.id, events)
