"""The shopper's self-service flows (docs/self-service.md): each one a
transaction on the tickets store that reads the store's settings, decides
with ``domain.selfservice`` and opens a ticket or records what is sent to the
shopper. The gateway passes the order and the shopper's standing it fetched
from the customers service; this module never calls another service."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

import psycopg

from seedwork.caller import Caller, system
from seedwork.envelope import NewEvent
from seedwork.errors import Conflict
from seedwork.idempotency import Idempotency, IdempotencyKeys
from seedwork.instants import iso
from seedwork.store import EventStore, lock

from .config import TicketsConfig
from .customer_replica import CustomerSummaries
from .domain import policy
from .domain import selfservice as ss
from .domain.ticket import TicketState
from .projection import TicketList
from .reads import TicketReads
from .selfservice_settings import SelfServiceSettings
from .writes import TicketWrites, is_blocked

# The author of the automatic messages a flow posts on a ticket.
AUTOMATIC_AUTHOR = "self-service"

Run = Callable[[psycopg.Connection, dict], dict]


class SelfServiceFlows:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, writes: TicketWrites, reads: TicketReads,
                 settings: SelfServiceSettings, replica: CustomerSummaries, config: TicketsConfig,
                 clock: Callable[[], datetime]):
        self.store, self.keys, self.writes, self.reads = store, keys, writes, reads
        self.settings, self.replica, self.config, self.clock = settings, replica, config, clock
        self.projection = TicketList(store.schema)

    def charged_without_order(self, caller: Caller, fields: dict, idempotency: Idempotency = None,
                              standing: dict | None = None) -> dict:
        def run(conn, settings) -> dict:
            clean = ss.clean_charged(fields)
            state = self.writes.open_in(conn, caller, ss.charged_ticket(clean), standing=standing)
            days = self.config.platform_review_days
            return {
                "created": True, "outcome": "ticket_opened", "ticket": self.reads.view(conn, caller, state),
                "message": ss.charged_message(state.number, days),
                "expected_contact_by": iso(ss.expected_contact_by(state.created_at, days)),
            }
        return self._flow(caller, idempotency, standing, run)

    def delayed_order(self, caller: Caller, order: dict | None, fields: dict, idempotency: Idempotency = None,
                      standing: dict | None = None) -> dict:
        def run(conn, settings) -> dict:
            found = ss.shoppers_order(order, caller.id, fields.get("order_id"))
            decision = ss.decide_delayed_order(found, self.clock(), fields.get("open_ticket") is True)
            name = self._customer_name(conn, caller)
            url = ss.tracking_url(found, settings) if decision.shares == "tracking" else None
            tracking = ss.tracking_message(settings, found, name, url)
            if decision.opens_ticket:
                return self._delayed_ticket(conn, caller, found, fields, decision, settings, name, url, tracking,
                                            standing)
            if decision.shares == "tracking":
                self._share(conn, caller, "self_service.tracking_link_shared", {
                    "order_id": found["id"], "tracking_url": url, "message": tracking})
                return {"created": False, "outcome": decision.outcome, "tracking_url": url, "message": tracking}
            summary = ss.order_summary(found)
            if decision.shares == "details":
                message = ss.order_details_message(settings, found, name)
                self._share(conn, caller, "self_service.order_details_shared", {
                    "order_id": found["id"], "order": summary, "message": message})
                return {"created": False, "outcome": decision.outcome, "order": summary, "message": message}
            return {"created": False, "outcome": decision.outcome, "order": summary,
                    "message": ss.OUTCOME_MESSAGES[decision.outcome]}
        return self._flow(caller, idempotency, standing, run)

    def _delayed_ticket(self, conn, caller: Caller, order: dict, fields: dict, decision: ss.DelayedOrderDecision,
                        settings: dict, name: str, url: str | None, tracking: str, standing: dict | None) -> dict:
        # One late-order ticket per order: asking again shows the open one.
        lock(conn, f"delayed-order:{caller.store_id}:{order['id']}")
        existing = self.projection.open_delayed_ticket(conn, caller.store_id, caller.id, order["id"])
        if existing is not None:
            state = self.reads.visible(conn, caller, existing)
            return {"created": False, "outcome": "ticket_exists", "ticket": self.reads.view(conn, caller, state),
                    "tracking_url": url, "message": None}
        then = []
        if decision.shares == "tracking":
            then.append((system(caller.store_id, AUTOMATIC_AUTHOR), "reply",
                         {"body": tracking, "automatic": "tracking_link"}))
        state = self.writes.open_in(conn, caller, ss.delayed_ticket(order, fields.get("details"), decision), then,
                                    standing=standing)
        return self._ticket_opened(conn, caller, state, settings, name, tracking_url=url)

    def product_exchange(self, caller: Caller, order: dict | None, fields: dict, idempotency: Idempotency = None,
                         standing: dict | None = None) -> dict:
        def run(conn, settings) -> dict:
            found = ss.shoppers_order(order, caller.id, fields.get("order_id"))
            exchange = ss.clean_exchange(found, fields)
            state = self.writes.open_in(conn, caller, ss.exchange_ticket(found, fields.get("details"), exchange),
                                        standing=standing)
            return self._ticket_opened(conn, caller, state, settings, self._customer_name(conn, caller))
        return self._flow(caller, idempotency, standing, run)

    def customer_data_change(self, caller: Caller, fields: dict, idempotency: Idempotency = None,
                             standing: dict | None = None) -> dict:
        def run(conn, settings) -> dict:
            changes = ss.clean_data_change(fields)
            state = self.writes.open_in(conn, caller, ss.data_change_ticket(changes, fields.get("details")),
                                        standing=standing)
            return self._ticket_opened(conn, caller, state, settings, self._customer_name(conn, caller))
        return self._flow(caller, idempotency, standing, run)

    # --- helpers -------------------------------------------------------------------

    def _flow(self, caller: Caller, idempotency: Idempotency, standing: dict | None, run: Run) -> dict:
        """``run(conn, settings)`` once per idempotency key, for a shopper the
        store lets use self-service: its switch first (409), then the shopper's
        standing (403)."""
        if not caller.is_customer:
            raise Conflict("customer_only", "self-service flows are the shopper's")
        with self.store.transaction() as conn:
            def command() -> dict:
                settings = self.settings.load(conn, caller.store_id)
                ss.check_may_use(settings)
                policy.refuse_if_blocked(caller, is_blocked(standing))
                return run(conn, settings)
            return self.keys.run(conn, caller, idempotency, command)

    def _customer_name(self, conn, caller: Caller) -> str:
        summary = self.replica.for_ticket(conn, caller.store_id, [caller.id]).get(caller.id)
        return (summary and summary["name"]) or ss.UNKNOWN_NAME

    def _ticket_opened(self, conn, caller: Caller, state: TicketState, settings: dict, name: str,
                       **extra: Any) -> dict:
        return {"created": True, "outcome": "ticket_opened", "ticket": self.reads.view(conn, caller, state),
                "message": ss.ticket_opened_message(settings, state.number, name), **extra}

    def _share(self, conn, caller: Caller, event_type: str, data: dict) -> None:
        """Record what is sent to the shopper without a ticket: the
        notifications service delivers it on the store's channel."""
        self.store.append(f"self-service:{uuid.uuid4()}", 0, [NewEvent(
            event_type, {"customer_id": caller.id, **data}, actor=caller.actor, store_id=caller.store_id,
            occurred_at=self.clock())], conn=conn)
