"""What the notifications service's workers are given, besides its store.

``Outbound`` builds the transports once per process, in ``setup()``, from
the configuration (SMTP, the SMS provider, the webhook poster), each held to
a deadline per send; it checks our default templates there too. Workers get its ``SendLoop``, with two verbs: the
timer's ``send_due()`` and ``kick()`` (an event planned something: send it
now rather than at the next tick). The loop's state (is a drain running, is
another wanted) is the process's, shared by every worker; eventlet runs one
green thread at a time, so plain flags are enough.
"""
from __future__ import annotations

import logging

import eventlet

from seedwork.nameko_ext import Application

from . import rendering
from .channels import HttpSmsProvider, LoggingSmsProvider, SmtpSender, TransientError, WebhookPoster
from .config import NotificationsConfig
from .dispatcher import Dispatcher, Transports

log = logging.getLogger(__name__)
SEND_CONCURRENCY = 10
# No send may take longer, however slowly a server answers (socket timeouts
# are per read, not per message); well under deliveries.LEASE.
SEND_DEADLINE = 30.0


class Deadlined:
    """A transport whose every call ends within ``seconds``: past it, the
    send fails as transient (retried later) instead of holding its lease."""

    def __init__(self, transport, seconds: float = SEND_DEADLINE):
        self.transport, self.seconds = transport, seconds

    def _within(self, method, *args):
        with eventlet.Timeout(self.seconds, TransientError(f"no answer within {self.seconds:g} s")):
            return method(*args)

    def send(self, *args):
        return self._within(self.transport.send, *args)

    def post(self, *args):  # a webhook: the poster records the timeout as the attempt's error
        return self._within(self.transport.post, *args)


def transports(config: NotificationsConfig) -> Transports:
    """The real transports for ``config``, each within ``SEND_DEADLINE``."""
    smtp, sms = config.smtp, config.sms
    provider = HttpSmsProvider(sms.url, sms.token) if sms.provider == "http" else LoggingSmsProvider()
    return Transports(email=Deadlined(SmtpSender(smtp.host, smtp.port, smtp.user, smtp.password, smtp.tls)),
                      sms=Deadlined(provider), webhook=Deadlined(WebhookPoster()))


class SendLoop:
    """The process's send loop, as workers see it."""

    def __init__(self, dispatcher: Dispatcher, concurrency: int = SEND_CONCURRENCY):
        self._dispatcher = dispatcher
        self._pool = eventlet.GreenPool(concurrency)
        self._kick_pending = False
        self._draining = self._again = False

    def send_due(self) -> None:
        """Start what is due, as send slots free up, so every claimed row is
        being sent at once and its lease is never outlived. One drain per
        process; a call meanwhile makes it look again."""
        if self._draining:
            self._again = True
            return
        self._draining = True
        try:
            again = True
            while again:
                self._again = False
                # Claim only what can start now (a free send slot each) and start
                # it: a slow send holds its own slot, not a whole batch. Replicas
                # claim with SKIP LOCKED: nothing is sent twice.
                while claimed := self._dispatcher.claim(max(self._pool.free(), 1)):
                    for delivery in claimed:
                        self._pool.spawn_n(self._dispatcher.deliver, delivery)  # waits for a free slot
                again = self._again
        finally:
            self._draining = False

    def kick(self) -> None:
        """Send soon, in a green thread of its own; kicks that come while one
        waits to start are one."""
        if not self._kick_pending:
            self._kick_pending = True
            eventlet.spawn_n(self._kicked)

    def _kicked(self) -> None:
        self._kick_pending = False  # from here on, a new event kicks again
        try:
            self.send_due()
        except Exception:  # the timer's next tick tries again
            log.exception("sending right after an event failed")


class Outbound(Application):
    """``outbound = Outbound()``: the transports, made in ``setup()`` from
    ``NotificationsConfig.from_env``, and the send loop over the service's
    store, built at the first worker (as seedwork's ``Application`` builds a
    service layer: once per process, when every dependency is set up)."""

    def __init__(self):
        super().__init__(self._loop, config=NotificationsConfig.from_env)

    def setup(self):
        super().setup()  # reads the configuration: a bad setting stops the service here
        rendering.check_defaults()  # and so does a default template that does not render
        self.transports = transports(self.config)

    def _loop(self, store, config: NotificationsConfig) -> SendLoop:
        return SendLoop(Dispatcher(store, self.transports, config))
