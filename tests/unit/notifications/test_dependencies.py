"""What the service's workers are given (services.notifications.dependencies):
transports built from the settings, each held to a deadline per send, and
the process's send loop, driven here by a hand-written dispatcher."""
from __future__ import annotations

import eventlet
import pytest

from services.notifications.channels import HttpSmsProvider, LoggingSmsProvider, SmtpSender, TransientError, \
    WebhookPoster
from services.notifications.config import NotificationsConfig, Sms, Smtp
from services.notifications.dependencies import SEND_DEADLINE, Deadlined, SendLoop, transports

# --- the transports -----------------------------------------------------------------------------------


def test_the_transports_are_built_from_the_settings_each_within_the_send_deadline():
    config = NotificationsConfig(smtp=Smtp("smtp.example.test", 465, "mailer", "s3cret", "ssl"),
                                 sms=Sms("http", "https://sms.example.test/send", "tok-1"))
    built = transports(config)
    for transport in (built.email, built.sms, built.webhook):
        assert isinstance(transport, Deadlined) and transport.seconds == SEND_DEADLINE == 30.0
    email, sms = built.email.transport, built.sms.transport
    assert isinstance(email, SmtpSender)
    assert (email.host, email.port, email.user, email.password, email.tls) == (
        "smtp.example.test", 465, "mailer", "s3cret", "ssl")
    assert isinstance(sms, HttpSmsProvider) and (sms.url, sms.token) == ("https://sms.example.test/send", "tok-1")
    assert isinstance(built.webhook.transport, WebhookPoster)


def test_with_nothing_set_mail_goes_to_the_development_sink_and_sms_to_the_log():
    built = transports(NotificationsConfig.from_env({}))
    assert (built.email.transport.host, built.email.transport.port) == ("127.0.0.1", 2525)
    assert isinstance(built.sms.transport, LoggingSmsProvider)


class Slow:
    def __init__(self, seconds: float):
        self.seconds = seconds

    def send(self, *args):
        eventlet.sleep(self.seconds)
        return "sent"

    def post(self, *args):
        eventlet.sleep(self.seconds)
        return "posted"


def test_a_send_that_answers_in_time_returns_its_answer():
    assert Deadlined(Slow(0), seconds=1).send("message") == "sent"
    assert Deadlined(Slow(0), seconds=1).post("url", b"{}", {}) == "posted"


@pytest.mark.parametrize("verb", ["send", "post"])
def test_a_send_past_its_deadline_fails_as_transient_so_it_is_retried(verb):
    with pytest.raises(TransientError, match="no answer within 0.05 s"):
        getattr(Deadlined(Slow(5), seconds=0.05), verb)("message")


# --- the send loop ---------------------------------------------------------------------------------------


class Dispatcher:
    """Hands out ``due`` deliveries as claims ask (then calls ``on_claim``), and records what is delivered."""

    def __init__(self, due: int = 0, on_claim=None):
        self.due = list(range(due))
        self.claims: list[int] = []
        self.delivered: list[int] = []
        self.on_claim = on_claim

    def claim(self, limit: int) -> list[int]:
        self.claims.append(limit)
        claimed, self.due = self.due[:limit], self.due[limit:]
        if self.on_claim:
            self.on_claim()
        return claimed

    def deliver(self, delivery: int) -> None:
        eventlet.sleep(0.01)
        self.delivered.append(delivery)


def settle(loop: SendLoop) -> None:
    loop._pool.waitall()


def test_everything_due_is_delivered_once_claiming_only_what_a_free_slot_can_start():
    dispatcher = Dispatcher(due=7)
    loop = SendLoop(dispatcher, concurrency=3)
    loop.send_due()
    settle(loop)
    assert sorted(dispatcher.delivered) == list(range(7))
    assert dispatcher.claims[0] == 3 and all(1 <= limit <= 3 for limit in dispatcher.claims)


def test_a_call_while_a_drain_runs_makes_it_look_again_instead_of_running_twice():
    dispatcher = Dispatcher(due=0)
    loop = SendLoop(dispatcher, concurrency=2)
    calls = iter([lambda: (loop.send_due(), dispatcher.due.extend([10, 11]))])
    dispatcher.on_claim = lambda: next(calls, lambda: None)()  # after the first claim found nothing: an event
    loop.send_due()
    settle(loop)
    assert sorted(dispatcher.delivered) == [10, 11]


def test_kicks_that_come_while_one_waits_to_start_are_one():
    dispatcher = Dispatcher(due=2)
    loop = SendLoop(dispatcher, concurrency=2)
    for _ in range(5):
        loop.kick()
    eventlet.sleep(0)  # the kicked loop runs
    settle(loop)
    assert sorted(dispatcher.delivered) == [0, 1]
    assert len(dispatcher.claims) == 2  # one drain: a claim that found two, one that found none
    loop.kick()  # once it started, a new event kicks again
    eventlet.sleep(0)
    assert len(dispatcher.claims) == 3
