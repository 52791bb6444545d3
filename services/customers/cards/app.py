"""Customer cards, one command per transaction: lock the card's stream, fold
it, decide, append, write the card's row, record the idempotency key. Also
the card reads: one card, the list, a shopper's standing, payment options."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import psycopg

from seedwork.caller import Caller
from seedwork.errors import Conflict, DomainError, InvalidCommand
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore, expect_version

from ..listing import CustomerQuery, list_cards
from ..normalise import normalise_mobile
from ..projection import CardsProjection, card_view
from ..store_settings.projection import SettingsProjection
from .domain import (BlockCustomer, Command, CreateCustomer, CustomerState, UnblockCustomer, UpdateCustomer,
                     customer_id_of, decide, not_found)
from .stream import CardStream, mobile_taken

log = logging.getLogger(__name__)


def _mobile_or_none(fields: dict, region: str) -> str | None:
    """A row's mobile as cards store it; None when it has none (its row is refused later, with the reason)."""
    try:
        return normalise_mobile(fields["mobile"], region) if "mobile" in fields else None
    except InvalidCommand:
        return None


def mobile_moved(mobile: str) -> Conflict:
    return Conflict("mobile_moved", f"the card with the mobile {mobile} changed its mobile during the import",
                    {"mobile": ["the card with this mobile changed its mobile during the import: send the row again"]})


@dataclass(frozen=True)
class Cards:
    store: EventStore
    stream: CardStream
    projection: CardsProjection
    settings: SettingsProjection
    keys: IdempotencyKeys
    clock: Callable[[], datetime]

    def _view(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> dict:
        view = self.projection.card(conn, store_id, customer_id)
        if view is None:
            raise not_found(customer_id)
        return view

    # --- commands -------------------------------------------------------------------

    def create(self, caller: Caller, fields: dict, idempotency=None) -> dict:
        with self.store.transaction() as conn:
            return self.keys.run(conn, caller, idempotency, lambda: self._create_answer(conn, caller, fields))

    def _create_answer(self, conn: psycopg.Connection, caller: Caller, fields: dict) -> dict:
        region = self.settings.default_region(conn, caller.store_id)
        state = self.create_card(conn, caller, str(uuid.uuid4()), fields, region, "api")
        log.info("customer %s created in store %s", state.id, caller.store_id)
        return {"customer": self._view(conn, caller.store_id, state.id), "created": True}

    def create_card(self, conn: psycopg.Connection, caller: Caller, customer_id: str, fields: dict, region: str,
                    source: str) -> CustomerState:
        now = self.clock()
        command = CreateCustomer(actor=caller.actor, customer_id=customer_id, store_id=caller.store_id,
                                 fields=fields, default_region=region, source=source)
        events = decide(None, command, now)
        mobile = events[0].data["mobile"]
        # Checked before the append, so a taken mobile writes nothing (the row's unique key is the backstop).
        if self.projection.card_by_mobile(conn, caller.store_id, mobile):
            raise mobile_taken(mobile)
        state = self.stream.write(conn, None, customer_id, events)
        return self.stream.sync_flags(conn, state, now)

    def update(self, caller: Caller, customer_id: str, fields: dict, expected_version: int | None = None,
               idempotency=None) -> dict:
        def change(conn: psycopg.Connection, state: CustomerState) -> CustomerState:
            expect_version(f"customer {state.id}", expected_version, state.version)
            command = UpdateCustomer(actor=caller.actor, fields=fields,
                                     default_region=self.settings.default_region(conn, caller.store_id))
            return self.stream.run(conn, state, command, self.clock())

        return self._command(caller, customer_id, change, idempotency)

    def block(self, caller: Caller, customer_id: str, fields: dict, idempotency=None) -> dict:
        command = BlockCustomer(actor=caller.actor, reason=fields.get("reason"), details=fields.get("details"))
        return self._simple(caller, customer_id, command, idempotency)

    def unblock(self, caller: Caller, customer_id: str, idempotency=None) -> dict:
        return self._simple(caller, customer_id, UnblockCustomer(actor=caller.actor), idempotency)

    def _simple(self, caller: Caller, customer_id: str, command: Command, idempotency) -> dict:
        return self._command(caller, customer_id,
                             lambda conn, state: self.stream.run(conn, state, command, self.clock()),
                             idempotency)

    def _command(self, caller: Caller, customer_id: str,
                 change: Callable[[psycopg.Connection, CustomerState], CustomerState], idempotency) -> dict:
        """Lock (before anything is written), then, once per idempotency key:
        load, ``change``, answer with the card's row."""
        with self.store.transaction() as conn:
            customer_id = self.stream.lock(conn, customer_id)

            def answer() -> dict:
                state = change(conn, self.stream.load(conn, caller.store_id, customer_id))
                return {"customer": self._view(conn, caller.store_id, state.id)}

            return self.keys.run(conn, caller, idempotency, answer)

    def import_rows(self, caller: Caller, rows: list) -> dict:
        """A batch of CSV rows ``[[line, {column: text}]]``: created, updated
        (matched by mobile) or unchanged; bad rows reported, never stored.
        Sending the same file again changes nothing: every row is unchanged."""
        result = {"created": 0, "updated": 0, "unchanged": 0, "rejected": []}
        first_line_of: dict[str, int] = {}  # mobile -> line: a file names each customer once
        with self.store.transaction() as conn:
            region = self.settings.default_region(conn, caller.store_id)
            parsed = []
            for line, cells in rows:
                # An empty cell means "no value here", not "clear it".
                fields = {k: v for k, v in cells.items() if isinstance(v, str) and v.strip()}
                parsed.append((line, fields, _mobile_or_none(fields, region)))
            held = self._hold_cards(conn, caller.store_id, [mobile for _, _, mobile in parsed])
            # In mobile order (one mobile's rows in file order): imports creating the same new customers
            # then wait on each other's card rows in one order, never in a cycle.
            for line, fields, _ in sorted(parsed, key=lambda row: row[2] or ""):
                try:
                    with conn.transaction():  # a savepoint per row: one bad row spoils nothing else
                        outcome, mobile = self._import_row(conn, caller, fields, region, first_line_of, held)
                    # Only a row that was imported claims its mobile for the rest of the file.
                    first_line_of[mobile] = line
                    result[outcome] += 1
                except DomainError as exc:
                    field = next(iter(exc.errors), None)
                    reason = exc.errors[field][0] if field else exc.detail
                    result["rejected"].append({"line": line, "field": field,
                                               "reason": f"{field}: {reason}" if field else reason})
        result["rejected"].sort(key=lambda rejected: rejected["line"])
        return result

    def _hold_cards(self, conn: psycopg.Connection, store_id: str, mobiles: list[str | None]) -> dict[str, str]:
        """Lock the cards the file matches by mobile (mobile -> id), before
        anything is written: a card edited meanwhile then commits before this
        transaction writes, never after (which would refuse its append), and
        imports that share cards queue in id order instead of deadlocking."""
        found = self.projection.cards_by_mobile(conn, store_id, sorted({m for m in mobiles if m}))
        for customer_id in sorted(found.values()):
            self.stream.lock(conn, customer_id)
        return found

    def _import_row(self, conn: psycopg.Connection, caller: Caller, fields: dict, region: str,
                    first_line_of: dict, held: dict) -> tuple[str, str]:
        if "mobile" not in fields:
            raise InvalidCommand.field("mobile", "required")
        mobile = normalise_mobile(fields["mobile"], region)
        if mobile in first_line_of:
            # Two rows for one customer would make the file's result depend on their order.
            raise InvalidCommand.field("mobile", f"the same mobile as line {first_line_of[mobile]}")
        if mobile not in held:
            # No card had it at the look-up; one that took it since makes create_card refuse the row.
            self.create_card(conn, caller, str(uuid.uuid4()), fields, region, "import")
            return "created", mobile
        state = self.stream.load(conn, caller.store_id, held[mobile])
        if state.mobile != mobile:
            # Staff changed its mobile between the look-up and the lock: the row no longer names this card.
            raise mobile_moved(mobile)
        after = self.stream.run(conn, state, UpdateCustomer(actor=caller.actor, fields=fields, default_region=region),
                                self.clock())
        return ("updated" if after.version != state.version else "unchanged"), mobile

    # --- reads ----------------------------------------------------------------------

    def get(self, caller: Caller, customer_id: str) -> dict:
        with self.store.pool.connection() as conn:
            return self._view(conn, caller.store_id, customer_id_of(customer_id))

    def list(self, caller: Caller, query: dict) -> dict:
        q = CustomerQuery.from_dict(query)
        with self.store.pool.connection() as conn:
            return list_cards(conn, self.projection.schema, self.projection.card_select, caller.store_id, q,
                              card_view)

    def standing(self, store_id: str, customer_id: str) -> dict:
        """What the gateway checks before a shopper's session or new ticket."""
        customer_id = customer_id_of(customer_id)
        with self.store.pool.connection() as conn:
            standing = self.projection.standing(conn, store_id, customer_id)
        if standing is None:
            raise not_found(customer_id)
        return {"customer_id": customer_id, **standing}

    def payment_options(self, caller: Caller, customer_id: str) -> dict:
        customer_id = customer_id_of(customer_id)
        if caller.is_customer and caller.id != customer_id:
            raise not_found(customer_id)  # a shopper sees only their own
        with self.store.pool.connection() as conn:
            card = self._view(conn, caller.store_id, customer_id)
            settings = self.settings.values(conn, caller.store_id)
        if card["blocked"]:
            return {"cod_allowed": False, "reason": "customer_blocked"}
        if card["flagged"] and settings["no_cod_for_flagged"]:
            return {"cod_allowed": False, "reason": "flagged_non_serious_buyer"}
        return {"cod_allowed": True}
