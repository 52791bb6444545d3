"""The servers the notifications service talks to, on loopback in this
process: the development SMTP sink (a test may stop it and start it again on
the same port, to play an outage), a webhook receiver and an SMS provider;
and the service's own pieces on a fresh schema of the real PostgreSQL (its
application, a store as it hears of it, a delivery loop with the test's clock:
see stage.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from deploy.local.smtp_sink import SmtpSink
from seedwork.store import EventStore
from services.notifications.application import Notifications
from services.notifications.dispatcher import Dispatcher
from tests.integration.notifications.stage import CONFIG, MIGRATIONS, Clock, Shop, SmsProvider, transports
from tests.support.servers import drop_schema, new_schema
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
def sink(tmp_path):
    sink = SmtpSink(port=0, directory=tmp_path / "mail").start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def events(pool, database_url):
    name = new_schema(database_url, [("notifications", MIGRATIONS)])
    yield EventStore(pool, name)
    drop_schema(database_url, name)


@pytest.fixture
def app(events):
    return Notifications(events, CONFIG)


@pytest.fixture
def shop(app):
    return Shop(app)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sms():
    provider = SmsProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def make_dispatcher(events, sink, sms, clock):
    """``make_dispatcher(message_retry_schedule=(1, 1))``: a replica's loop with settings of the test's own."""
    def make(smtp_port: int | None = None, **settings) -> Dispatcher:
        config = replace(CONFIG, **settings)
        return Dispatcher(events, transports(smtp_port or sink.port, sms.url), config, clock=clock, rng=lambda: 0.5)
    return make


@pytest.fixture
def dispatcher(make_dispatcher):
    return make_dispatcher()
