"""Webhook secrets and signatures (services.notifications.signing), checked with
the ``standardwebhooks`` library that the stores' receivers verify with, and
the event type patterns an endpoint subscribes to."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from seedwork.errors import InvalidCommand
from services.notifications.signing import MAX_PATTERNS, clean_patterns, matches, new_secret, sign_headers

EVENT_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
BODY = json.dumps({"specversion": "1.0", "id": EVENT_ID, "type": "ticket.opened",
                   "data": {"subject": "وين طلبي؟", "number": 1042}}, ensure_ascii=False).encode()


def now() -> int:
    return int(time.time())


def signatures(headers: dict) -> list[str]:
    return headers["webhook-signature"].split(" ")


# --- secrets ------------------------------------------------------------------------------


def test_a_new_secret_is_whsec_and_32_random_bytes_in_base64():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_every_new_secret_is_different():
    assert len({new_secret() for _ in range(50)}) == 50


# --- the three headers ----------------------------------------------------------------------


def test_a_delivery_carries_the_event_id_the_timestamp_and_one_v1_signature():
    headers = sign_headers(EVENT_ID, BODY, [new_secret()], 1_767_225_600)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == EVENT_ID
    assert headers["webhook-timestamp"] == "1767225600"
    [signature] = signatures(headers)
    version, _, mac = signature.partition(",")
    assert version == "v1" and len(base64.b64decode(mac, validate=True)) == 32  # HMAC-SHA256


def test_the_receivers_library_verifies_the_signature_and_returns_the_payload():
    secret = new_secret()
    headers = sign_headers(EVENT_ID, BODY, [secret], now())
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body():
    """What the Standard Webhooks specification says, computed here by hand."""
    secret = new_secret()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{EVENT_ID}.1767225600.".encode() + BODY, hashlib.sha256).digest()
    headers = sign_headers(EVENT_ID, BODY, [secret], 1_767_225_600)
    assert signatures(headers) == ["v1," + base64.b64encode(expected).decode()]


def test_a_float_timestamp_is_sent_as_whole_seconds():
    secret = new_secret()
    moment = now() + 0.75
    headers = sign_headers(EVENT_ID, BODY, [secret], moment)
    assert headers["webhook-timestamp"] == str(int(moment))
    Webhook(secret).verify(BODY, headers)


def test_a_delivery_needs_a_secret():
    with pytest.raises(ValueError):
        sign_headers(EVENT_ID, BODY, [], now())


# --- what a receiver refuses -----------------------------------------------------------------


def test_a_tampered_body_is_refused():
    secret = new_secret()
    headers = sign_headers(EVENT_ID, BODY, [secret], now())
    tampered = BODY.replace(b"1042", b"1043")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)


def test_another_secret_is_refused():
    headers = sign_headers(EVENT_ID, BODY, [new_secret()], now())
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_another_event_id_is_refused():
    """The id is signed: a receiver de-duplicating on it can trust it."""
    secret = new_secret()
    headers = {**sign_headers(EVENT_ID, BODY, [secret], now()), "webhook-id": "another-event"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)


def test_a_replayed_old_delivery_is_refused_by_its_timestamp():
    secret = new_secret()
    headers = sign_headers(EVENT_ID, BODY, [secret], now() - 3600)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


# --- a rotation: both secrets sign while they overlap -------------------------------------------


def test_during_a_rotation_both_secrets_verify():
    old, new = new_secret(), new_secret()
    headers = sign_headers(EVENT_ID, BODY, [new, old], now())
    assert len(signatures(headers)) == 2
    assert all(s.startswith("v1,") for s in signatures(headers))
    assert Webhook(old).verify(BODY, headers) == json.loads(BODY)
    assert Webhook(new).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_during_a_rotation_each_signature_belongs_to_its_own_secret():
    old, new = new_secret(), new_secret()
    headers = sign_headers(EVENT_ID, BODY, [new, old], now())
    first, second = signatures(headers)
    only_first = {**headers, "webhook-signature": first}
    only_second = {**headers, "webhook-signature": second}
    Webhook(new).verify(BODY, only_first)
    Webhook(old).verify(BODY, only_second)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, only_first)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(BODY, only_second)


# --- which events an endpoint receives -----------------------------------------------------------


@pytest.mark.parametrize("patterns, event_type, wanted", [
    (["ticket.opened"], "ticket.opened", True),
    (["ticket.opened"], "ticket.replied", False),
    (["ticket.*"], "ticket.replied", True),
    (["ticket.*"], "tickets.replied", False),
    (["ticket.*"], "customer.created", False),
    (["self_service.*"], "self_service.tracking_link_shared", True),
    (["*"], "webhook_endpoint.failing", True),
    (["customer.created", "ticket.*"], "ticket.assigned", True),
    (["customer.created", "order.recorded"], "ticket.assigned", False),
])
def test_an_endpoint_receives_exact_types_prefixes_and_everything(patterns, event_type, wanted):
    assert matches(patterns, event_type) is wanted


# --- the patterns a store may subscribe to ---------------------------------------------------------


def test_valid_patterns_are_kept_in_order():
    assert clean_patterns(["ticket.opened", "ticket.*", "*", "self_service.tracking_link_shared",
                           "webhook_endpoint.*"]) == [
        "ticket.opened", "ticket.*", "*", "self_service.tracking_link_shared", "webhook_endpoint.*"]


def test_repeated_patterns_are_kept_once_in_their_first_place():
    assert clean_patterns(("ticket.*", "customer.created", "ticket.*")) == ["ticket.*", "customer.created"]


def field_error(value) -> str:
    with pytest.raises(InvalidCommand) as info:
        clean_patterns(value)
    assert info.value.code == "invalid_field"
    assert list(info.value.errors) == ["events"]
    return info.value.errors["events"][0]


@pytest.mark.parametrize("pattern", ["ticket", "Ticket.opened", "ticket.", ".opened", "ticket.*.opened",
                                     "ticket.op*", "**", "ticket..opened", "ticket.opened\n", "1ticket.opened",
                                     "ticket opened", "", "ticket.**", "*.opened"])
def test_a_malformed_pattern_is_refused_naming_events(pattern):
    assert field_error([pattern]) == (
        f"{pattern!r} is not an event type (ticket.opened), a prefix (ticket.*) or *")


@pytest.mark.parametrize("value", [[], (), "ticket.*", None, {"ticket.*": True}])
def test_events_must_be_a_non_empty_list(value):
    assert field_error(value) == "must be a list of 1 to 50 event types or prefixes"


def test_a_pattern_that_is_not_a_string_is_refused():
    assert "is not an event type" in field_error(["ticket.*", 7])


def test_at_most_fifty_patterns():
    fifty = [f"ticket.kind_{n}" for n in range(MAX_PATTERNS)]
    assert clean_patterns(fifty) == fifty
    assert field_error([*fifty, "ticket.one_more"]) == "must list at most 50 event types or prefixes"
