"""The fraud watch and the platform's flags, across every store.

``observe`` runs once per consumed event (the service's bus handlers, in the
transaction that records the event as processed): it keeps the evidence the
event carries, then raises a flag for each rule the shopper's fresh evidence
now meets (``rules.evaluate``). A flag is a stream (``domain.py``); raising
or clearing one writes the ``flags`` row and shows or lifts it on every
store's card with that mobile. The platform's review team lists and clears
flags.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import psycopg

from seedwork.caller import Caller
from seedwork.envelope import Envelope
from seedwork.errors import InvalidCommand, InvalidQuery
from seedwork.masking import mask_mobile
from seedwork.pagination import decode_cursor, encode_cursor, instant, page, page_limit, uuid_text
from seedwork.store import EventStore, lock

from ..cards.stream import CardStream
from ..normalise import normalise_mobile
from ..projection import CardsProjection
from .domain import ClearFlag, FlagState, RaiseFlag, clean_note, decide, flag_id_of, fold, not_found
from .projection import FraudProjection, flag_view
from .rules import Decision, Rule, classify, evaluate, store_safe_reason

log = logging.getLogger(__name__)

FLAG_STATUSES = ("active", "cleared", "all")


@dataclass(frozen=True)
class FraudWatch:
    store: EventStore
    cards: CardStream
    card_rows: CardsProjection
    projection: FraudProjection
    rules: tuple[Rule, ...]
    clock: Callable[[], datetime]

    def _hold(self, conn: psycopg.Connection, mobile: str) -> list[str]:
        """Lock before anything is written: the mobile (one shopper's evidence
        and flags change one transaction at a time), then every store's card
        with it, in id order as every writer of several cards takes them. The
        cards' ids: the ones this transaction may write."""
        lock(conn, f"{self.store.schema}:mobile:{mobile}")
        return [self.cards.lock(conn, customer_id) for customer_id in self.card_rows.cards_with_mobile(conn, mobile)]

    # --- the watch ------------------------------------------------------------------

    def observe(self, conn: psycopg.Connection, event: Envelope) -> None:
        """Record the evidence ``event`` carries, then see whether the
        shopper's fresh evidence now meets a rule."""
        data = dict(event.data)
        if event.type == "customer.unblocked":
            self.projection.withdraw_block(conn, event.store_id, data["customer_id"])
            return
        found = classify(event.type, data)
        if found is None or not event.store_id:
            return
        kind, ref = found
        try:
            customer_id = str(uuid.UUID(str(data.get("customer_id"))))
        except ValueError:
            return  # a ticket of a customer this service never knew: no mobile to follow
        mobile = self.card_rows.mobile_of(conn, event.store_id, customer_id)
        if mobile is None:
            return
        cards = self._hold(conn, mobile)
        self.projection.record_evidence(conn, kind, event.store_id, ref, customer_id, mobile, event.occurred_at)
        self._evaluate(conn, mobile, cards)

    def _evaluate(self, conn: psycopg.Connection, mobile: str, cards: list[str]) -> list[str]:
        """Raise a flag for every rule the mobile's fresh evidence meets (the
        mobile and its ``cards`` held); the new flags' ids."""
        now = self.clock()
        fresh = self.projection.fresh_evidence(conn, mobile)
        active = self.projection.active_rules(conn, mobile)
        return [self._raise(conn, mobile, cards, decision, now)
                for decision in evaluate(self.rules, fresh, active, now)]

    def _raise(self, conn: psycopg.Connection, mobile: str, cards: list[str], decision: Decision,
               now: datetime) -> str:
        flag_id = str(uuid.uuid4())  # a new stream: no other writer to queue behind
        events = decide(None, RaiseFlag(flag_id=flag_id, mobile=mobile, decision=decision), now)
        flag = fold(self.store.append(flag_id, 0, events, conn=conn))
        self.projection.flag_raised(conn, flag, store_safe_reason(decision))
        self._sync_cards(conn, cards, now)
        log.warning("shopper %s flagged by rule %s (flag %s)", mask_mobile(mobile), flag.rule, flag_id)
        return flag_id

    def _sync_cards(self, conn: psycopg.Connection, cards: list[str], now: datetime) -> None:
        """Every held card shows its mobile's active flags, and only those."""
        for customer_id in cards:
            self.cards.sync_flags(conn, self.cards.load(conn, None, customer_id), now)

    # --- the platform's review ------------------------------------------------------

    def list_flags(self, query: dict) -> dict:
        limit = page_limit(query.get("limit"))
        status = query.get("status") or "active"
        if status not in FLAG_STATUSES:
            raise InvalidQuery.field("status", "active, cleared or all")
        mobile = None
        if query.get("mobile"):
            try:
                mobile = normalise_mobile(query["mobile"], "SA")
            except InvalidCommand as exc:
                raise InvalidQuery("invalid_request", exc.detail, exc.errors) from None
        after = decode_cursor(query["cursor"], instant, uuid_text) if query.get("cursor") else None
        with self.store.pool.connection() as conn:
            rows = self.projection.flags_page(conn, None if status == "all" else status, mobile, after, limit + 1)
        return page(rows, limit, flag_view, lambda r: encode_cursor(r[7], r[0]))

    def clear_flag(self, caller: Caller, flag_id: str, fields: dict) -> dict:
        """Platform staff reviewed the flag: it stops showing; its evidence stays spent."""
        flag_id = flag_id_of(flag_id)
        note = clean_note(fields.get("note"))
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, flag_id)
            state = self._load(conn, flag_id)
            cards = self._hold(conn, state.mobile)
            now = self.clock()
            events = decide(state, ClearFlag(actor=caller.actor, note=note), now)
            state = fold(self.store.append(flag_id, state.version, events, conn=conn), state)
            self.projection.flag_cleared(conn, state)
            self._sync_cards(conn, cards, now)
            return self.projection.flag(conn, flag_id)

    def _load(self, conn: psycopg.Connection, flag_id: str) -> FlagState:
        events = self.store.load(flag_id, conn=conn)
        if not events or events[0].type != "shopper.flagged":
            raise not_found(flag_id)
        return fold(events)
