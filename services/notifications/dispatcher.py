"""The delivery loop: claim what is due, resolve who it goes to, render,
send, record. Every replica runs it (``service.py``'s timer); rows are
leased with ``SKIP LOCKED``, so replicas share the work without sending
anything twice (see ``deliveries.py`` for the one duplicate a crash can cause).

Transports come in as arguments, so tests and the bench use real SMTP and
HTTP servers of their own."""
from __future__ import annotations

import json
import logging
import os
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, Callable

from seedwork.envelope import NewEvent, utcnow
from seedwork.errors import InvalidCommand, NotFound
from seedwork.store import ANY_VERSION, EventStore

from . import backoff, email_message, rendering, targets, webhooks
from .channels import PermanentError, TransientError
from .deliveries import Deliveries
from .planning import SHOPPER_KINDS, Planned, as_followed
from .replicas import Replicas
from .settings import StoreSettings
from .signing import sign_headers

log = logging.getLogger(__name__)

# A recipient not heard of yet (their customer.created still on its way) is
# waited for this many attempts, on the channel's backoff, before giving up.
WAIT_FOR_RECIPIENT = 6


@dataclass
class Transports:
    email: Any  # .send(EmailMessage)
    sms: Any  # .send(sender, to, text) -> provider id
    webhook: Any  # .post(url, body, headers) -> PostResult(status_code, latency_ms, error)


class Waiting(Exception):
    """The recipient is not known yet: try again later."""


class Skip(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class Dispatcher:
    def __init__(self, store: EventStore, transports: Transports, clock: Callable[[], datetime] = utcnow,
                 rng: Callable[[], float] = random.random):
        self.store, self.s = store, store.schema
        self.transports = transports
        self.clock, self.rng = clock, rng
        self.deliveries = Deliveries(store.schema)
        self.replicas = Replicas(store.schema)
        self.settings = StoreSettings(store.schema)
        self.endpoints = webhooks.WebhookEndpoints(store)
        self.mail_from = os.environ.get("MAIL_FROM", "no-reply@seed.local")
        self.mail_domain = os.environ.get("MAIL_DOMAIN", "seed.local")
        self.reply_domain = os.environ.get("REPLY_DOMAIN", "reply.seed.local")

    def claim(self, limit: int) -> list[dict]:
        """Up to ``limit`` due deliveries, leased to this replica: ``deliver`` each."""
        with self.store.transaction() as conn:
            return self.deliveries.claim(conn, limit, self.clock())

    def run_once(self, limit: int = 50, spawn_map: Callable = map) -> int:
        """Send what is due now; the number of deliveries handled. ``spawn_map``
        lets a caller send them concurrently (the bench: a thread pool's ``map``)."""
        claimed = self.claim(limit)
        for _ in spawn_map(self.deliver, claimed):
            pass
        return len(claimed)

    def deliver(self, delivery: dict) -> None:
        try:
            if delivery["channel"] == "webhook":
                self._webhook(delivery)
            else:
                self._message(delivery)
        except Exception as exc:  # a bug must not wedge the queue: the row retries
            log.exception("delivery %s failed unexpectedly", delivery["id"])
            self._failed(delivery, f"internal error: {type(exc).__name__}: {exc}", None, None)

    # --- email and SMS -----------------------------------------------------------------

    def _message(self, d: dict) -> None:
        store_id, channel = d["store_id"], d["channel"]
        with self.store.pool.connection() as conn:
            settings = self.settings.load(conn, store_id)
            customer_id = d["customer_id"]
            try:
                address, customer_id, people = self._resolve(conn, d, settings)
                if d["kind"] in SHOPPER_KINDS and customer_id:
                    if not self.settings.preferences(conn, store_id, customer_id)[channel]:
                        raise Skip("skipped", "opted_out")
                sender = (d["context"].get("sender_name") or settings["sms_sender_name"]) if channel == "sms" else None
                if channel == "sms" and not sender:
                    raise Skip("refused", "sms_sender_missing")
                override = self.settings.override(conn, store_id, d["kind"], settings["locale"])
                context = self._context(conn, d, settings, people)
            except Waiting:
                return self._wait(d)
            except Skip as skip:
                return self._finish(d, skip.status, reason=skip.reason, outcome="gave_up", error=skip.reason,
                                    customer_id=customer_id)
        # Rendered and built before the quota is counted: a message that cannot
        # be built (an address no server takes) is dead without using it up.
        rendered = rendering.render(d["kind"], settings["locale"], context, override)
        message = None
        if channel == "email":
            try:  # the recipient is the store's data; MAIL_FROM and the domains are the operator's
                EmailMessage()["To"] = Address(addr_spec=address)
            except (ValueError, MessageError) as exc:
                return self._dead(d, f"invalid_address: {exc}", recipient=address)
            message = self._email(d, settings, address, rendered)  # an error here is retried: fix the settings
        counted = None  # the quota window this send counts in (alerts count in none)
        if d["kind"] != "store_alert":
            counted = self._reserve(d, settings)
            if counted is None:
                return  # held
        sent = False
        started = self.clock()
        try:
            if rendered.fallback_reason:  # reported once per send, not per hold
                self._template_failed(d, settings["locale"], rendered.fallback_reason)
            try:
                if message is not None:
                    self.transports.email.send(message)
                else:
                    self.transports.sms.send(sender, address, rendered.text)
            except PermanentError as exc:
                return self._dead(d, str(exc), recipient=address)
            except TransientError as exc:
                return self._failed(d, str(exc), None, _ms(started, self.clock()), recipient=address)
            sent = True
        finally:
            if not sent:  # whatever stopped it, a send that did not happen is not counted
                self._release(d, counted)
        self._finish(d, "sent", recipient=address, outcome="sent", latency_ms=_ms(started, self.clock()),
                     template_fallback=rendered.fallback_reason, customer_id=customer_id)

    def _resolve(self, conn, d: dict, settings: dict) -> tuple[str, str | None, dict]:
        """(address, customer id, names) for the delivery's recipient reference."""
        ref_kind, _, ref = d["recipient_ref"].partition(":")
        store_id, field = d["store_id"], ("email" if d["channel"] == "email" else "mobile")
        people: dict[str, Any] = {}
        if ref_kind == "ticket_customer":
            ticket = self.replicas.ticket(conn, ref)
            if ticket is None or ticket["customer_id"] is None:
                raise Waiting()
            ref_kind, ref = "customer", ticket["customer_id"]
        if ref_kind == "customer":
            contact = self.replicas.contact(conn, store_id, ref)
            if contact is None:
                raise Waiting()
            people["customer_name"] = contact["name"]
            return _present(contact[field]), ref, people
        if ref_kind == "ticket_assignee":
            ticket = self.replicas.ticket(conn, ref)
            if ticket is None:
                raise Waiting()
            if ticket["customer_id"]:
                contact = self.replicas.contact(conn, store_id, ticket["customer_id"])
                people["customer_name"] = contact and contact["name"]
            if ticket["assignee_id"] is None:
                return _present(settings["support_email"]), ticket["customer_id"], people
            ref_kind, ref = "agent", ticket["assignee_id"]
        if ref_kind == "agent":
            agent = self.replicas.agent(conn, store_id, ref)
            if agent is None:
                raise Waiting()
            people["agent_name"] = agent["name"]
            return _present(agent["email"]), d["customer_id"], people
        if ref_kind == "address":
            people["customer_name"] = d["context"].get("customer_name")
            return _present(ref), d["customer_id"], people
        if ref_kind == "store_support":
            return _present(settings["support_email"]), None, people
        raise ValueError(f"unknown recipient reference {d['recipient_ref']!r}")

    def _context(self, conn, d: dict, settings: dict, people: dict) -> dict:
        c = dict(d["context"])
        if c.get("order_id") and not c.get("order"):  # a tracking link names just the order
            c["order"] = {"id": c["order_id"], "tracking_url": c.get("tracking_url")}
        ticket = self.replicas.ticket(conn, d["ticket_id"] or c.get("ticket_id"))
        return {
            **{k: None for k in ("body", "tracking_url", "order", "order_id", "link", "message", "subject",
                                 "order_ids", "team", "alert")},
            **c,
            **{k: None for k in ("customer_name", "agent_name")}, **people,
            "store": {"name": settings["store_name"] or "", "brand_color": settings["brand_color"],
                      "logo_url": settings["logo_url"]},
            "ticket": ticket and {"id": ticket["ticket_id"], "number": ticket["number"],
                                  "subject": ticket.get("subject")},
        }

    def _email(self, d: dict, settings: dict, address: str, rendered) -> Any:
        ticket_id = d["ticket_id"] or d["context"].get("ticket_id")
        # One event may mail several people: the delivery's id tells their messages apart.
        message_id = email_message.message_id_for(d["event_id"], int(d["id"][:8], 16), self.mail_domain)
        thread = None
        if ticket_id:
            thread = email_message.thread_root(ticket_id, self.mail_domain)
            if d["kind"] == "ticket_opened":
                message_id, thread = thread, None  # the confirmation starts the ticket's thread
        return email_message.build_email(
            sender_name=settings["store_name"] or "Seed", sender_address=self.mail_from, to=address,
            rendered=rendered, message_id=message_id, thread_id=thread,
            reply_to=email_message.reply_address(ticket_id, self.reply_domain) if ticket_id else None)

    def _reserve(self, d: dict, settings: dict) -> datetime | None:
        """Count this send against the store's hourly quota: the window it
        counts in, or None: held."""
        now = self.clock()
        window = now.replace(minute=0, second=0, microsecond=0)
        quota = settings[f"{d['channel']}_quota_per_hour"]
        with self.store.transaction() as conn:
            row = None
            if quota > 0:  # one atomic step: replicas sending at once never pass the quota together
                row = conn.execute(
                    f"INSERT INTO {self.s}.quota_windows (store_id, channel, window_start, sent) "
                    "VALUES (%s, %s, %s, 1) ON CONFLICT (store_id, channel, window_start) DO UPDATE "
                    "SET sent = quota_windows.sent + 1 WHERE quota_windows.sent < %s RETURNING sent",
                    (d["store_id"], d["channel"], window, quota)).fetchone()
            if row is not None:
                return window
            conn.execute(f"INSERT INTO {self.s}.quota_windows (store_id, channel, window_start, sent) "
                         "VALUES (%s, %s, %s, 0) ON CONFLICT DO NOTHING", (d["store_id"], d["channel"], window))
            # Over quota: hold until the next window, and tell the store once per window.
            if not self.deliveries.finish(conn, d, "held", reason="quota_exceeded",
                                          next_attempt_at=window + timedelta(hours=1), outcome="held",
                                          error="over the store's hourly quota", fresh_tries=True):
                return None
            alerted = conn.execute(
                f"UPDATE {self.s}.quota_windows SET alerted = true WHERE store_id = %s AND channel = %s "
                "AND window_start = %s AND NOT alerted RETURNING 1", (d["store_id"], d["channel"], window)).fetchone()
            if alerted:
                data = {"channel": d["channel"], "window_start": window.isoformat(), "quota": quota}
                [stored] = self.store.append(f"quota:{d['store_id']}:{d['channel']}", ANY_VERSION, [NewEvent(
                    "notification.quota_reached", data, store_id=d["store_id"])], conn=conn)
                self._alert(conn, d["store_id"], str(stored.event_id), "notification.quota_reached",
                            {"alert": "quota_reached", **data})
        return None

    def _release(self, d: dict, window: datetime | None) -> None:
        """A send that failed is not a send: give its place in the quota back."""
        if window is None:
            return
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE {self.s}.quota_windows SET sent = sent - 1 WHERE store_id = %s AND channel = %s "
                         "AND window_start = %s AND sent > 0", (d["store_id"], d["channel"], window))

    # --- webhooks ------------------------------------------------------------------------

    def _webhook(self, d: dict) -> None:
        now = self.clock()
        with self.store.pool.connection() as conn:
            try:
                endpoint = self.endpoints.get(conn, d["store_id"], d["endpoint_id"])
            except NotFound:
                return self._finish(d, "skipped", reason="endpoint_deleted", outcome="gave_up")
            row = conn.execute(f"SELECT cloudevent FROM {self.s}.received_events WHERE event_id = %s",
                               (d["event_id"],)).fetchone()
        if not endpoint["active"]:
            return self._finish(d, "skipped", reason="endpoint_inactive", outcome="gave_up")
        if row is None:
            return self._dead(d, "the event is no longer kept")
        try:
            addresses = targets.checked_addresses(endpoint["url"], targets.allow_private_from_env())
        except targets.Unresolvable as failed:  # DNS down or slow: try again later
            return self._failed(d, f"dns: {failed.detail}", None, None, recipient=endpoint["url"])
        except InvalidCommand as refused:
            return self._dead(d, f"unsafe_url: {refused.detail}", recipient=endpoint["url"])
        # Kept as the store may see it (see observe); trimming again costs nothing and
        # covers an event kept before that rule.
        cloudevent = as_followed(row[0]) if d["context"].get("followed") else row[0]
        body = json.dumps(cloudevent, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {**sign_headers(d["event_id"], body, webhooks.secrets_in_force(endpoint, now), int(now.timestamp())),
                   "Content-Type": "application/json", "User-Agent": "Seed-Webhooks/1"}
        result = self.transports.webhook.post(endpoint["url"], body, headers, addresses)
        if result.ok:
            return self._finish(d, "sent", recipient=endpoint["url"], outcome="sent", status_code=result.status_code,
                                latency_ms=result.latency_ms)
        error = result.error or f"HTTP {result.status_code}"
        self._failed(d, error, result.status_code, result.latency_ms, recipient=endpoint["url"])

    # --- outcomes ------------------------------------------------------------------------

    def _finish(self, d: dict, status: str, **fields) -> None:
        with self.store.transaction() as conn:
            self.deliveries.finish(conn, d, status, **fields)

    def _wait(self, d: dict) -> None:
        tries = d["attempts"] - d["attempts_before"]
        delay = backoff.next_delay(backoff.schedule_for(d["channel"]), tries, self.rng)
        if delay is None or tries >= WAIT_FOR_RECIPIENT:
            return self._finish(d, "skipped", reason="recipient_unknown", outcome="gave_up", error="recipient_unknown")
        self._finish(d, "retrying", reason="recipient_unknown", next_attempt_at=self.clock() + timedelta(seconds=delay),
                     outcome="failed", error="recipient not known yet")

    def _failed(self, d: dict, error: str, status_code, latency_ms, recipient: str | None = None) -> None:
        delay = backoff.next_delay(backoff.schedule_for(d["channel"]), d["attempts"] - d["attempts_before"], self.rng)
        if delay is None:
            return self._dead(d, error, status_code=status_code, latency_ms=latency_ms, recipient=recipient)
        self._finish(d, "retrying", reason=error[:200], next_attempt_at=self.clock() + timedelta(seconds=delay),
                     recipient=recipient, outcome="failed", status_code=status_code, latency_ms=latency_ms, error=error)

    def _dead(self, d: dict, error: str, status_code=None, latency_ms=None, recipient=None) -> None:
        """Dead-lettered: kept with its reason, replayable with POST .../retry."""
        with self.store.transaction() as conn:
            if not self.deliveries.finish(conn, d, "dead", reason=error[:200], recipient=recipient,
                                          outcome="gave_up", status_code=status_code, latency_ms=latency_ms,
                                          error=error):
                return  # another replica holds the row now: its outcome is the one that counts
            self.store.append(f"delivery:{d['id']}", ANY_VERSION, [NewEvent(
                "notification.dead_lettered", {"delivery_id": d["id"], "event_id": d["event_id"],
                                               "channel": d["channel"], "reason": error[:200]},
                store_id=d["store_id"])], conn=conn)
            failing = d["channel"] == "webhook" and self.endpoints.mark_failing(
                conn, d["store_id"], d["endpoint_id"], error)
            if failing:
                self._alert(conn, d["store_id"], failing, "webhook_endpoint.failing",
                            {"alert": "webhook_failing", "url": recipient, "last_error": error[:200]})
        log.warning("delivery %s (%s) dead-lettered: %s", d["id"], d["channel"], error)

    def _alert(self, conn, store_id: str, event_id: str, event_type: str, context: dict) -> None:
        """Tell the store by email to its support address, outside the quota,
        keyed by the event that says what happened (so it is sent once)."""
        self.deliveries.add(conn, store_id, event_id, event_type, [
            Planned("email", "store_support", "store_alert", context)])

    def _template_failed(self, d: dict, locale: str, reason: str) -> None:
        with self.store.transaction() as conn:
            self.store.append(f"template-failure:{uuid.uuid4()}", 0, [NewEvent(
                "notification.template_failed", {"kind": d["kind"], "locale": locale, "reason": reason[:300],
                                                 "delivery_id": d["id"]}, store_id=d["store_id"])], conn=conn)


def _present(address: str | None) -> str:
    if not address:
        raise Skip("skipped", "no_address")
    return address


def _ms(start: datetime, end: datetime) -> int:
    return max(int((end - start).total_seconds() * 1000), 0)
