"""The delivery loop: claim what is due, resolve who it goes to, render,
send, record. Every replica runs it (``dependencies.SendLoop``, on the
service's timer); rows are leased with ``SKIP LOCKED``, so replicas share
the work without sending anything twice (see ``deliveries.py`` for the one
duplicate a crash can cause).

Transports and settings come in as arguments, so tests and the bench use
real SMTP and HTTP servers of their own."""
from __future__ import annotations

import json
import logging
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
from .config import DEFAULTS, NotificationsConfig
from .deliveries import Deliveries
from .planning import SHOPPER_KINDS
from .quotas import Quotas
from .recipients import Recipients, Skip, Waiting
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
    webhook: Any  # .post(url, body, headers, addresses) -> PostResult(status_code, latency_ms, error)


class Dispatcher:
    def __init__(self, store: EventStore, transports: Transports, config: NotificationsConfig = DEFAULTS,
                 clock: Callable[[], datetime] = utcnow, rng: Callable[[], float] = random.random):
        self.store, self.s = store, store.schema
        self.transports, self.config = transports, config
        self.clock, self.rng = clock, rng
        self.deliveries = Deliveries(store.schema)
        self.recipients = Recipients(store.schema)
        self.settings = StoreSettings(store.schema, config)
        self.endpoints = webhooks.WebhookEndpoints(store, config.allow_private_targets)
        self.quotas = Quotas(store, self.deliveries)

    def claim(self, limit: int) -> list[dict]:
        """Up to ``limit`` due deliveries, leased to this replica: ``deliver`` each.
        Due groups (an SLA event's ``ticket_staff:``) become their people's
        deliveries first, as the replicas say now, and can be claimed at once."""
        with self.store.transaction() as conn:
            now = self.clock()
            self.deliveries.expand_groups(conn, now, limit, lambda group: self.recipients.staff(conn, group))
            return self.deliveries.claim(conn, limit, now)

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

    def _message(self, delivery: dict) -> None:
        store_id, channel, kind = delivery["store_id"], delivery["channel"], delivery["kind"]
        with self.store.pool.connection() as conn:
            settings = self.settings.load(conn, store_id)
            customer_id = delivery["customer_id"]
            try:
                address, customer_id, people = self.recipients.resolve(conn, delivery, settings)
                if kind in SHOPPER_KINDS and customer_id:
                    if not self.settings.preferences(conn, store_id, customer_id)[channel]:
                        raise Skip("skipped", "opted_out")
                sender = ((delivery["context"].get("sender_name") or settings["sms_sender_name"])
                          if channel == "sms" else None)
                if channel == "sms" and not sender:
                    raise Skip("refused", "sms_sender_missing")
                override = self.settings.override(conn, store_id, kind, settings["locale"])
                context = self.recipients.context(conn, delivery, settings, people)
            except Waiting:
                return self._wait(delivery)
            except Skip as skip:
                return self._finish(delivery, skip.status, reason=skip.reason, outcome="gave_up", error=skip.reason,
                                    customer_id=customer_id)
        # Rendered and built before the quota is counted: a message that cannot
        # be built (an address no server takes) is dead without using it up.
        rendered = rendering.render(kind, settings["locale"], context, override)
        message = None
        if channel == "email":
            try:  # the recipient is the store's data; MAIL_FROM and the domains are the operator's
                EmailMessage()["To"] = Address(addr_spec=address)
            except (ValueError, MessageError) as exc:
                return self._dead(delivery, f"invalid_address: {exc}", recipient=address)
            message = self._email(delivery, settings, address, rendered)  # an error here is retried: fix it
        counted = None  # the quota window this send counts in (alerts count in none)
        if kind != "store_alert":
            counted = self.quotas.reserve(delivery, settings[f"{channel}_quota_per_hour"], self.clock())
            if counted is None:
                return  # held
        sent = False
        started = self.clock()
        try:
            if rendered.fallback_reason:  # reported once per send, not per hold
                self._template_failed(delivery, settings["locale"], rendered.fallback_reason)
            try:
                if message is not None:
                    self.transports.email.send(message)
                else:
                    self.transports.sms.send(sender, address, rendered.text)
            except PermanentError as exc:
                return self._dead(delivery, str(exc), recipient=address)
            except TransientError as exc:
                return self._failed(delivery, str(exc), None, _ms(started, self.clock()), recipient=address)
            sent = True
        finally:
            if not sent:  # whatever stopped it, a send that did not happen is not counted
                self.quotas.release(delivery, counted)
        self._finish(delivery, "sent", recipient=address, outcome="sent", latency_ms=_ms(started, self.clock()),
                     template_fallback=rendered.fallback_reason, customer_id=customer_id)

    def _email(self, delivery: dict, settings: dict, address: str, rendered) -> Any:
        ticket_id = delivery["ticket_id"] or delivery["context"].get("ticket_id")
        domain = self.config.mail_domain
        # One event may mail several people: the delivery's id tells their messages apart.
        message_id = email_message.message_id_for(delivery["event_id"], int(delivery["id"][:8], 16), domain)
        thread = None
        if ticket_id:
            thread = email_message.thread_root(ticket_id, domain)
            if delivery["kind"] == "ticket_opened":
                message_id, thread = thread, None  # the confirmation starts the ticket's thread
        return email_message.build_email(
            sender_name=settings["store_name"] or "Seed", sender_address=self.config.mail_from, to=address,
            rendered=rendered, message_id=message_id, thread_id=thread,
            reply_to=email_message.reply_address(ticket_id, self.config.reply_domain) if ticket_id else None)

    # --- webhooks ------------------------------------------------------------------------

    def _webhook(self, delivery: dict) -> None:
        now = self.clock()
        with self.store.pool.connection() as conn:
            try:
                endpoint = self.endpoints.get(conn, delivery["store_id"], delivery["endpoint_id"])
            except NotFound:
                return self._finish(delivery, "skipped", reason="endpoint_deleted", outcome="gave_up")
            row = conn.execute(f"SELECT cloudevent FROM {self.s}.received_events WHERE event_id = %s",
                               (delivery["event_id"],)).fetchone()
        if not endpoint["active"]:
            return self._finish(delivery, "skipped", reason="endpoint_inactive", outcome="gave_up")
        if row is None:
            return self._dead(delivery, "the event is no longer kept")
        url = endpoint["url"]
        try:
            addresses = targets.checked_addresses(url, self.config.allow_private_targets)
        except targets.Unresolvable as failed:  # DNS down or slow: try again later
            return self._failed(delivery, f"dns: {failed.detail}", None, None, recipient=url)
        except InvalidCommand as refused:
            return self._dead(delivery, f"unsafe_url: {refused.detail}", recipient=url)
        # Kept as the store may see it (Notifications.as_the_store_sees).
        body = json.dumps(row[0], ensure_ascii=False, separators=(",", ":")).encode()
        secrets = webhooks.secrets_in_force(endpoint, now)
        headers = {**sign_headers(delivery["event_id"], body, secrets, int(now.timestamp())),
                   "Content-Type": "application/json", "User-Agent": "Seed-Webhooks/1"}
        result = self.transports.webhook.post(url, body, headers, addresses)
        if result.ok:
            return self._finish(delivery, "sent", recipient=url, outcome="sent", status_code=result.status_code,
                                latency_ms=result.latency_ms)
        error = result.error or f"HTTP {result.status_code}"
        self._failed(delivery, error, result.status_code, result.latency_ms, recipient=url)

    # --- outcomes ------------------------------------------------------------------------

    def _finish(self, delivery: dict, status: str, **fields) -> None:
        with self.store.transaction() as conn:
            self.deliveries.finish(conn, delivery, status, **fields)

    def _next_delay(self, delivery: dict, tries: int) -> float | None:
        return backoff.next_delay(self.config.retry_schedule(delivery["channel"]), tries, self.rng)

    def _wait(self, delivery: dict) -> None:
        tries = delivery["attempts"] - delivery["attempts_before"]
        delay = self._next_delay(delivery, tries)
        if delay is None or tries >= WAIT_FOR_RECIPIENT:
            return self._finish(delivery, "skipped", reason="recipient_unknown", outcome="gave_up",
                                error="recipient_unknown")
        self._finish(delivery, "retrying", reason="recipient_unknown",
                     next_attempt_at=self.clock() + timedelta(seconds=delay), outcome="failed",
                     error="recipient not known yet")

    def _failed(self, delivery: dict, error: str, status_code, latency_ms, recipient: str | None = None) -> None:
        delay = self._next_delay(delivery, delivery["attempts"] - delivery["attempts_before"])
        if delay is None:
            return self._dead(delivery, error, status_code=status_code, latency_ms=latency_ms, recipient=recipient)
        self._finish(delivery, "retrying", reason=error[:200], next_attempt_at=self.clock() + timedelta(seconds=delay),
                     recipient=recipient, outcome="failed", status_code=status_code, latency_ms=latency_ms,
                     error=error)

    def _dead(self, delivery: dict, error: str, status_code=None, latency_ms=None, recipient=None) -> None:
        """Dead-lettered: kept with its reason, replayable with POST .../retry."""
        store_id = delivery["store_id"]
        with self.store.transaction() as conn:
            if not self.deliveries.finish(conn, delivery, "dead", reason=error[:200], recipient=recipient,
                                          outcome="gave_up", status_code=status_code, latency_ms=latency_ms,
                                          error=error):
                return  # another replica holds the row now: its outcome is the one that counts
            self.store.append(f"delivery:{delivery['id']}", ANY_VERSION, [NewEvent(
                "notification.dead_lettered", {"delivery_id": delivery["id"], "event_id": delivery["event_id"],
                                               "channel": delivery["channel"], "reason": error[:200]},
                store_id=store_id)], conn=conn)
            failing = delivery["channel"] == "webhook" and self.endpoints.mark_failing(
                conn, store_id, delivery["endpoint_id"], error)
            if failing:
                self.deliveries.alert(conn, store_id, failing, "webhook_endpoint.failing",
                                      {"alert": "webhook_failing", "url": recipient, "last_error": error[:200]})
        log.warning("delivery %s (%s) dead-lettered: %s", delivery["id"], delivery["channel"], error)

    def _template_failed(self, delivery: dict, locale: str, reason: str) -> None:
        with self.store.transaction() as conn:
            self.store.append(f"template-failure:{uuid.uuid4()}", 0, [NewEvent(
                "notification.template_failed", {"kind": delivery["kind"], "locale": locale, "reason": reason[:300],
                                                 "delivery_id": delivery["id"]}, store_id=delivery["store_id"])],
                conn=conn)


def _ms(start: datetime, end: datetime) -> int:
    return max(int((end - start).total_seconds() * 1000), 0)
