"""Reaching a customer (services.customers.outreach.domain): rating
requests and direct messages, decided against the card and the store's
settings."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from seedwork.envelope import Actor
from seedwork.errors import Conflict, InvalidCommand
from services.customers.cards.domain import CustomerState
from services.customers.outreach.domain import RequestRating, SendMessage, decide, message_fields
from services.customers.store_settings.domain import DEFAULTS

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
AGENT = Actor("agent", "ag-1")
CARD = CustomerState(id="c-1", store_id="st-1", name="Noura", mobile="+966501234567", email="n@example.com",
                     version=3)
BASE = "https://stores.example"


def rating(settings=None, order_ids=("o-2", "o-1"), card=CARD):
    return decide(card, RequestRating(actor=AGENT, request_id="r-1", order_ids=order_ids,
                                      settings={**DEFAULTS, **(settings or {})}, storefront_base_url=BASE), NOW)


# --- rating requests ----------------------------------------------------------------------


def test_a_rating_request_names_the_orders_and_links_to_the_stores_page():
    [event] = rating()
    assert (event.type, event.store_id, event.actor, event.occurred_at) == ("customer.rating_requested", "st-1",
                                                                           AGENT, NOW)
    assert event.data == {"request_id": "r-1", "customer_id": "c-1", "customer_name": "Noura", "channel": "email",
                          "to": "n@example.com", "order_ids": ["o-2", "o-1"],
                          "link": "https://stores.example/st-1/ratings?orders=o-2,o-1"}


def test_the_stores_own_storefront_and_sms_sender_are_used():
    [event] = rating({"storefront_url": "https://noura.shop", "rating_channel": "sms", "sms_sender_name": "Noura"})
    assert event.data["link"] == "https://noura.shop/ratings?orders=o-2,o-1"
    assert (event.data["to"], event.data["sender_name"]) == ("+966501234567", "Noura")


def test_no_orders_waiting_for_a_rating_is_a_conflict():
    with pytest.raises(Conflict) as refused:
        rating(order_ids=())
    assert refused.value.code == "no_unrated_orders"


# --- messages -----------------------------------------------------------------------------


def send(message, settings=None, card=CARD):
    return decide(card, SendMessage(actor=AGENT, message_id="m-1", message=message,
                                    settings={**DEFAULTS, **(settings or {})}), NOW)


def test_an_sms_goes_to_the_mobile_under_the_stores_sender_name():
    [event] = send(message_fields("sms", " hello ", None), {"sms_sender_name": "Noura"})
    assert event.type == "customer.message_requested"
    assert event.data == {"message_id": "m-1", "customer_id": "c-1", "customer_name": "Noura",
                          "to": "+966501234567", "sender_name": "Noura", "channel": "sms", "body": "hello",
                          "subject": None}


def test_an_sms_needs_a_sender_name_and_an_email_needs_an_address():
    with pytest.raises(Conflict) as refused:
        send(message_fields("sms", "hello", None))
    assert refused.value.code == "sms_sender_missing"
    no_email = CustomerState(id="c-2", store_id="st-1", name="Sara", mobile="+966501234568")
    with pytest.raises(Conflict) as refused:
        send(message_fields("email", "hello", "Hi"), card=no_email)
    assert refused.value.code == "no_email"
    [event] = send(message_fields("email", "hello", "Hi"))
    assert (event.data["to"], event.data["subject"], event.data["sender_name"]) == ("n@example.com", "Hi", None)


@pytest.mark.parametrize("channel, body, subject, field", [
    ("fax", "hi", None, "channel"), ("sms", "", None, "body"), ("sms", "hi", "Subject", "subject"),
    ("sms", "x" * 1001, None, "body"), ("email", "hi", "s" * 201, "subject"),
])
def test_a_bad_message_is_named(channel, body, subject, field):
    with pytest.raises(InvalidCommand) as refused:
        message_fields(channel, body, subject)
    assert field in refused.value.errors
