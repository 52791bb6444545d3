"""The servers the notifications service talks to, on loopback in this
process: the development SMTP sink (a test may stop it and start it again on
the same port, to play an outage) and a webhook receiver."""
from __future__ import annotations

import pytest

from deploy.local.smtp_sink import SmtpSink
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
