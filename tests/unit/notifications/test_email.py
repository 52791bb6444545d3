"""The email of a delivery (services.notifications.email_message): text and
HTML parts, Arabic names and subjects that survive the trip through SMTP, and
the headers that thread a ticket's messages (docs/notifications.md, "Email")."""
from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest

from services.notifications.email_message import build_email, message_id_for, reply_address, thread_root
from services.notifications.rendering import Rendered

EVENT = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
TICKET = "5f0c7a3e-2b1d-4c8e-9a6f-3d2e1c0b9a87"
MAIL_DOMAIN = "seed.local"
REPLY_DOMAIN = "reply.seed.local"
RENDERED = Rendered(subject="رد جديد على تذكرتك رقم 1042: وين طلبي؟",
                    text="حياك الله نورة،\n\nوصلك رد من خالد.\n",
                    html='<html dir="rtl" lang="ar"><body><p>حياك الله نورة،</p></body></html>')


def mail(**overrides):
    fields = {"sender_name": "متجر نور", "sender_address": "no-reply@seed.local", "to": "noura@example.sa",
              "to_name": "نورة العتيبي", "rendered": RENDERED, "message_id": message_id_for(EVENT, 1, MAIL_DOMAIN),
              "thread_id": thread_root(TICKET, MAIL_DOMAIN), "reply_to": reply_address(TICKET, REPLY_DOMAIN),
              "date": datetime(2026, 1, 2, 9, 30, tzinfo=timezone.utc), **overrides}
    return build_email(**fields)


def received(message) -> email.message.EmailMessage:
    """The message as a mail client parses the bytes that went over SMTP."""
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


# --- identifiers --------------------------------------------------------------------------------


def test_the_message_id_is_the_event_id_and_the_recipients_number_at_mail_domain():
    assert message_id_for(EVENT, 3, MAIL_DOMAIN) == f"<{EVENT}.3@seed.local>"


def test_the_message_id_is_the_same_for_the_same_event_and_number():
    """A retried delivery sends the same Message-ID: clients show one message."""
    assert message_id_for(EVENT, 1, MAIL_DOMAIN) == message_id_for(EVENT, 1, MAIL_DOMAIN)


def test_the_message_id_differs_per_recipient_number_and_per_event():
    ids = {message_id_for(EVENT, n, MAIL_DOMAIN) for n in range(5)}
    assert len(ids) == 5
    assert message_id_for(EVENT, 1, MAIL_DOMAIN) != message_id_for(TICKET, 1, MAIL_DOMAIN)


def test_the_thread_root_and_reply_address_name_the_ticket():
    assert thread_root(TICKET, MAIL_DOMAIN) == f"<ticket-{TICKET}@seed.local>"
    assert reply_address(TICKET, REPLY_DOMAIN) == f"ticket+{TICKET}@reply.seed.local"


@pytest.mark.parametrize("domain", ["", "seed local", "seed.local>", "a@b", "-seed.local", "seed..local", None])
def test_a_domain_that_is_not_a_mail_domain_is_refused(domain):
    for make in (lambda: message_id_for(EVENT, 1, domain), lambda: thread_root(TICKET, domain),
                 lambda: reply_address(TICKET, domain)):
        with pytest.raises(ValueError):
            make()


@pytest.mark.parametrize("ticket_id", ["", "t 1", "t>1", "t@1", "t\r\n1", "t+1"])
def test_a_ticket_id_that_cannot_be_part_of_an_address_is_refused(ticket_id):
    with pytest.raises(ValueError):
        thread_root(ticket_id, MAIL_DOMAIN)
    with pytest.raises(ValueError):
        reply_address(ticket_id, REPLY_DOMAIN)


# --- the message --------------------------------------------------------------------------------


def test_an_email_is_multipart_alternative_with_text_then_html():
    message = received(mail())
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())


def test_the_text_and_html_arrive_as_rendered():
    message = received(mail())
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == RENDERED.text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n").strip() == RENDERED.html


def test_an_arabic_subject_and_display_names_survive_the_round_trip():
    raw = mail().as_bytes()
    assert "متجر".encode() not in raw.split(b"\r\n\r\n", 1)[0]  # headers are encoded (RFC 2047), not raw UTF-8
    message = received(mail())
    assert message["Subject"] == RENDERED.subject
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("متجر نور", "no-reply@seed.local")
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("نورة العتيبي", "noura@example.sa")


@pytest.mark.parametrize("subject", [
    "رد جديد على تذكرتك رقم 1001: تم خصم المبلغ ولم يصلني رقم الطلب",
    "رد جديد على تذكرتك رقم 1001: " + "سفارشم دیر شده است و هنوز نرسیده " * 6,
    "A short English subject",
    "Order 1042 – " + "وين طلبي؟ " * 12,
])
def test_a_long_subject_keeps_every_space_where_it_is_folded(subject):
    """The standard library folds a long Arabic subject between two encoded
    words at a space, which readers drop ("يصلني رقم" became "يصلنيرقم")."""
    message = mail(rendered=Rendered(subject=subject, text="x", html="<p>x</p>"))
    raw = message.as_bytes()
    assert received(message)["Subject"] == " ".join(subject.split())  # one line, as build_email makes it
    headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert max(len(line) for line in headers) <= 78, headers  # RFC 5322's line length, encoded words within 75


def test_a_reply_carries_its_own_message_id_and_names_the_thread_root():
    message = received(mail())
    assert message["Message-ID"] == f"<{EVENT}.1@seed.local>"
    assert message["In-Reply-To"] == f"<ticket-{TICKET}@seed.local>"
    assert message["References"] == f"<ticket-{TICKET}@seed.local>"


def test_replies_go_to_the_tickets_reply_address():
    [address] = received(mail())["Reply-To"].addresses
    assert address.addr_spec == f"ticket+{TICKET}@reply.seed.local"


def test_the_opening_confirmation_is_the_thread_root_and_refers_to_nothing():
    """Its Message-ID is the root the ticket's later messages name."""
    root = thread_root(TICKET, MAIL_DOMAIN)
    for thread_id in (None, root):
        message = received(mail(message_id=root, thread_id=thread_id))
        assert message["Message-ID"] == root
        assert message["In-Reply-To"] is None and message["References"] is None


def test_a_message_about_no_ticket_has_no_thread_and_no_reply_to():
    message = received(mail(thread_id=None, reply_to=None))
    assert message["In-Reply-To"] is None and message["References"] is None and message["Reply-To"] is None


def test_the_date_and_auto_submitted_headers():
    message = received(mail())
    assert message["Date"].datetime == datetime(2026, 1, 2, 9, 30, tzinfo=timezone.utc)
    assert message["Auto-Submitted"] == "auto-generated"  # RFC 3834: auto-responders stay quiet


def test_without_a_date_the_message_is_dated_now():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    dated = received(mail(date=None))["Date"].datetime
    assert before <= dated <= datetime.now(timezone.utc)


def test_a_subject_or_name_with_line_breaks_becomes_one_line():
    """A header injection through a ticket's subject or a store's name goes nowhere."""
    rendered = Rendered("Hello\r\nBcc: everyone@example.test", "t", "<p>h</p>")
    message = received(mail(rendered=rendered, sender_name="Noor\nStore"))
    assert message["Subject"] == "Hello Bcc: everyone@example.test"
    assert message["Bcc"] is None
    assert message["From"].addresses[0].display_name == "Noor Store"


def test_without_a_recipient_name_only_the_address_is_shown():
    assert str(received(mail(to_name=None))["To"]) == "noura@example.sa"


@pytest.mark.parametrize("field, value", [("message_id", "evt-1@seed.local"), ("message_id", "<evt 1@seed.local>"),
                                          ("thread_id", "<ticket-1>"), ("thread_id", "<a@b@c>")])
def test_a_message_id_that_is_not_id_at_domain_in_brackets_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        mail(**{field: value})


@pytest.mark.parametrize("field", ["to", "sender_address"])
def test_an_address_that_does_not_parse_is_refused(field):
    with pytest.raises(ValueError):
        mail(**{field: "not an address"})
