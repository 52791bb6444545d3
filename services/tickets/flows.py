"""The shopper's self-service flows (docs/self-service.md): each one a
transaction on the tickets store that reads the store's settings, decides
with the plain functions of ``selfservice.py`` and opens a ticket or records
what is sent to the shopper. The gateway passes the order it fetched from the
customers service; this module never calls another service."""
from __future__ import annotations

import os
import uuid
from typing import Any, Callable

from seedwork.envelope import NewEvent, iso
from seedwork.errors import Conflict, NotFound

from . import selfservice
from .application import Tickets, actor_of
from .domain import TicketState

DEFAULT_PLATFORM_REVIEW_DAYS = 3
UNKNOWN_NAME = "عميلنا العزيز"
# The author of the automatic messages a flow posts on a ticket.
AUTOMATIC = {"kind": "system", "id": "self-service"}

# What the shopper is told when nothing is sent (fixed wording; the store's
# own texts cover what is sent).
OUTCOME_MESSAGES = {
    "ticket_available": "مضى على طلبك أكثر من 48 ساعة وهو بانتظار مراجعة المتجر. يمكنك فتح تذكرة "
                        "مع التفاصيل ليتحقق التاجر منه.",
    "order_in_progress": "طلبك قيد التنفيذ لدى المتجر، وسيصلك رابط التتبّع عند شحنه.",
    "order_cancelled": "هذا الطلب ملغي. إن خُصم منك مبلغ فسيُعاد إلى وسيلة الدفع نفسها.",
    "order_returned": "هذا الطلب مسترجع. إن كان لك مبلغ مستحق فسيُعاد إلى وسيلة الدفع نفسها.",
}
CHARGED_MESSAGE = ("تم إنشاء التذكرة بنجاح (رقم {ticket_number}) وستصل إلى فريق مراجعة المدفوعات في المنصة، "
                   "وسيتم التواصل معك خلال {days} أيام.")


def review_days() -> int:
    raw = os.environ.get("PLATFORM_REVIEW_DAYS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_PLATFORM_REVIEW_DAYS


class SelfServiceFlows:
    def __init__(self, tickets: Tickets):
        self.tickets = tickets
        self.store = tickets.store

    # --- settings ------------------------------------------------------------------

    def settings(self, caller: dict) -> dict:
        with self.store.pool.connection() as conn:
            return self.tickets.settings.load(conn, caller["store_id"])

    def update_settings(self, caller: dict, fields: dict, expected_version: int | None = None) -> dict:
        with self.store.transaction() as conn:
            return self.tickets.settings.update(
                conn, caller, fields, expected_version,
                lambda canned_id: self.tickets.canned.exists(conn, caller["store_id"], canned_id))

    # --- the flows -----------------------------------------------------------------

    def charged_without_order(self, caller: dict, fields: dict, idempotency=None) -> dict:
        def run(conn, settings) -> dict:
            clean = selfservice.clean_charged(fields)
            state = self.tickets.open_in(conn, caller, {
                "subject": selfservice.charged_subject(clean["payment_method"]),
                "body": clean["details"], "type": "charged_without_order", "handled_by": "platform",
                "flow": {"payment": {"method": clean["payment_method"], "card_last4": clean["card_last4"]}},
            })
            days = review_days()
            return {
                "status": 201, "outcome": "ticket_opened", "ticket": self.tickets.view(conn, caller, state),
                "message": selfservice.render(CHARGED_MESSAGE, {"ticket_number": state.number, "days": days}),
                "expected_contact_by": iso(selfservice.expected_contact_by(state.created_at, days)),
            }
        return self._flow(caller, idempotency, run)

    def delayed_order(self, caller: dict, order: dict, fields: dict, idempotency=None) -> dict:
        self._own(caller, order)

        def run(conn, settings) -> dict:
            decision = selfservice.decide_delayed_order(order, self.tickets.clock(), fields.get("open_ticket") is True)
            name = self._customer_name(conn, caller)
            url = selfservice.tracking_url(order, settings) if decision.shares == "tracking" else None
            tracking_text = selfservice.render(settings["texts"]["tracking_message"], {
                "order_id": order["id"], "customer_name": name,
                "tracking_url": url or selfservice.NO_TRACKING_URL})
            if decision.opens_ticket:
                return self._delayed_ticket(conn, caller, order, fields, decision, settings, name, url, tracking_text)
            if decision.shares == "tracking":
                self._share(conn, caller, "self_service.tracking_link_shared", {
                    "order_id": order["id"], "tracking_url": url, "message": tracking_text})
                return {"status": 200, "outcome": decision.outcome, "tracking_url": url, "message": tracking_text}
            summary = selfservice.order_summary(order)
            if decision.shares == "details":
                message = selfservice.render(settings["texts"]["order_details_message"], {
                    "order_id": order["id"], "customer_name": name, "total": order["total"],
                    "currency": order["currency"], "items": selfservice.items_text(order),
                    "status": selfservice.STATUS_LABELS.get(order["status"], order["status"])})
                self._share(conn, caller, "self_service.order_details_shared", {
                    "order_id": order["id"], "order": summary, "message": message})
                return {"status": 200, "outcome": decision.outcome, "order": summary, "message": message}
            return {"status": 200, "outcome": decision.outcome, "order": summary,
                    "message": OUTCOME_MESSAGES[decision.outcome]}
        return self._flow(caller, idempotency, run)

    def _delayed_ticket(self, conn, caller, order, fields, decision, settings, name, url, tracking_text) -> dict:
        # One late-order ticket per order: asking again shows the open one.
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                     (f"delayed-order:{caller['store_id']}:{order['id']}",))
        existing = self._open_delayed_ticket(conn, caller, order["id"])
        if existing is not None:
            state = self.tickets.visible(conn, caller, existing)
            return {"status": 200, "outcome": "ticket_exists", "ticket": self.tickets.view(conn, caller, state),
                    "tracking_url": url, "message": None}
        then = []
        if decision.shares == "tracking":
            then.append(({**AUTOMATIC, "store_id": caller["store_id"], "role": "system"}, "reply",
                         {"body": tracking_text, "automatic": "tracking_link"}))
        status = selfservice.STATUS_LABELS.get(order["status"], order["status"])
        state = self.tickets.open_in(conn, caller, {
            "subject": f"تأخر الطلب رقم {order['id']}",
            "body": fields.get("details") or f"طلبي رقم {order['id']} متأخر (حالته: {status}).",
            "type": "order_delayed", "order_id": order["id"], "initial_status": decision.ticket_status,
        }, then)
        return self._ticket_opened(conn, caller, state, settings, name, tracking_url=url)

    def product_exchange(self, caller: dict, order: dict, fields: dict, idempotency=None) -> dict:
        self._own(caller, order)

        def run(conn, settings) -> dict:
            exchange = selfservice.clean_exchange(order, fields)
            item = exchange["item"]["name"]
            state = self.tickets.open_in(conn, caller, {
                "subject": f"استبدال منتج: {item}"[:150] + f" (الطلب {order['id']})",
                "body": fields.get("details") or f"أرغب في استبدال «{item}» من الطلب رقم {order['id']}.",
                "type": "product_exchange", "order_id": order["id"], "flow": {"exchange": exchange},
            })
            return self._ticket_opened(conn, caller, state, settings, self._customer_name(conn, caller))
        return self._flow(caller, idempotency, run)

    def customer_data_change(self, caller: dict, fields: dict, idempotency=None) -> dict:
        def run(conn, settings) -> dict:
            changes = selfservice.clean_data_change(fields)
            state = self.tickets.open_in(conn, caller, {
                "subject": "تعديل بيانات العميل: " + "، ".join(changes),
                "body": fields.get("details") or "أرجو تعديل بياناتي كما في الطلب.",
                "type": "customer_data_change", "flow": {"data_change": {"fields": changes}},
            })
            return self._ticket_opened(conn, caller, state, settings, self._customer_name(conn, caller))
        return self._flow(caller, idempotency, run)

    # --- helpers -------------------------------------------------------------------

    def _flow(self, caller: dict, idempotency, run: Callable[[Any, dict], dict]) -> dict:
        if caller["kind"] != "customer":
            raise Conflict("customer_only", "self-service flows are the shopper's")
        with self.store.transaction() as conn:
            replay = self.tickets.claim(conn, caller, idempotency)
            if replay is not None:
                return {**replay, "replayed": True}
            settings = self.tickets.settings.load(conn, caller["store_id"])
            if not settings["enabled"]:
                raise Conflict("self_service_disabled", "this store has not turned self-service on",
                               {"enabled": ["the store's self-service setting is off"]})
            result = run(conn, settings)
            if idempotency is not None:
                self.tickets.keys.record(conn, self.tickets.scope(caller), idempotency[0], result)
            return result

    @staticmethod
    def _own(caller: dict, order: dict) -> None:
        # The gateway checks this too; a shopper never learns of another's order.
        if str(order.get("customer_id")) != str(caller["id"]):
            raise NotFound("order_not_found", f"no order {order.get('id')}")

    def _customer_name(self, conn, caller: dict) -> str | None:
        summary = self.tickets.customers.for_ticket(conn, caller["store_id"], [caller["id"]]).get(caller["id"])
        # A shopper the replica has not heard of yet is greeted all the same.
        return (summary and summary["name"]) or UNKNOWN_NAME

    def _ticket_opened(self, conn, caller: dict, state: TicketState, settings: dict, name: str | None,
                       **extra) -> dict:
        message = selfservice.render(settings["texts"]["ticket_opened_message"],
                                     {"ticket_number": state.number, "customer_name": name})
        return {"status": 201, "outcome": "ticket_opened", "ticket": self.tickets.view(conn, caller, state),
                "message": message, **extra}

    def _open_delayed_ticket(self, conn, caller: dict, order_id: str) -> str | None:
        row = conn.execute(
            f"SELECT ticket_id FROM {self.store.schema}.ticket_list WHERE store_id = %s AND customer_id = %s "
            "AND order_id = %s AND type = 'order_delayed' AND status <> 'closed' "
            "ORDER BY created_at DESC LIMIT 1", (caller["store_id"], caller["id"], order_id)).fetchone()
        return row and row[0]

    def _share(self, conn, caller: dict, event_type: str, data: dict) -> None:
        """Record what is sent to the shopper without a ticket: the
        notifications service delivers it on the store's channel."""
        self.store.append(f"self-service:{uuid.uuid4()}", 0, [NewEvent(
            event_type, {"customer_id": caller["id"], **data}, actor=actor_of(caller),
            store_id=caller["store_id"])], conn=conn)

