"""The customer card (services.customers.cards.domain): what a command
decides, and the card its events fold into."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import SYSTEM, Actor
from seedwork.errors import Conflict, InvalidCommand, NotFound
from services.customers.cards.domain import (ApplyFlag, BlockCustomer, CreateCustomer, LiftFlag, UnblockCustomer,
                                             UpdateCustomer, customer_id_of, decide, evolve, flags_view, fold)
from services.customers.cards.fields import without_card_numbers

from .streams import stored

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
AGENT = Actor("agent", "ag-1")
CUSTOMER_ID = "6f1c7d3e-4b1a-4c41-9d1e-6a2f1b0c9e11"


def created(**fields):
    command = CreateCustomer(actor=AGENT, customer_id=CUSTOMER_ID, store_id="st-1",
                             fields={"name": "Noura", "mobile": "0501234567", **fields})
    return fold(stored(decide(None, command, NOW), stream_id=CUSTOMER_ID))


def then(state, command, now=NOW):
    """``state`` after ``command``: the events it decided, and the card they fold into."""
    events = decide(state, command, now)
    return events, fold(stored(events, state.version, CUSTOMER_ID), state)


# --- creating a card ------------------------------------------------------------------------


def test_a_new_card_is_one_event_with_every_profile_field_normalised():
    command = CreateCustomer(actor=AGENT, customer_id=CUSTOMER_ID, store_id="st-1", source="import",
                             fields={"name": "  نورة   العتيبي ", "mobile": "٠٥٠١٢٣٤٥٦٧", "email": "N@Example.COM"})
    [event] = decide(None, command, NOW)
    assert (event.type, event.store_id, event.actor, event.occurred_at) == ("customer.created", "st-1", AGENT, NOW)
    assert event.data == {"customer_id": CUSTOMER_ID, "name": "نورة العتيبي", "mobile": "+966501234567",
                          "email": "N@example.com", "city": None, "gender": None, "birthday": None, "notes": None,
                          "source": "import"}


CARD = "4111 1111 1111 1111"  # passes the Luhn check


def test_a_card_number_in_free_text_is_masked_before_it_is_stored_whatever_the_channel():
    # The gateway masks JSON bodies; a CSV import reaches the card as it was typed.
    command = CreateCustomer(actor=AGENT, customer_id=CUSTOMER_ID, store_id="st-1", source="import",
                             fields={"name": "Noura", "mobile": "0501234567", "city": "Riyadh",
                                     "notes": f"paid with {CARD} last time", "email": "n4111111111111111@example.com"})
    [event] = decide(None, command, NOW)
    assert event.data["notes"] == "paid with •••• •••• •••• 1111 last time"
    assert event.data["email"] == "n4111111111111111@example.com"  # an address is a code: left as it is
    card = created()
    [blocked], _ = then(card, BlockCustomer(actor=AGENT, reason="other", details=f"card {CARD}"))
    assert blocked.data["details"] == "card •••• •••• •••• 1111"


def test_the_feed_masks_card_numbers_in_events_stored_before_they_were_masked():
    old = {"customer_id": CUSTOMER_ID, "name": "Noura", "mobile": "+966501234567", "notes": f"card {CARD}"}
    assert without_card_numbers(old) == {**old, "notes": "card •••• •••• •••• 1111"}
    changed = {"customer_id": CUSTOMER_ID, "changes": {"notes": CARD, "mobile": "+966501234567"}}
    assert without_card_numbers(changed)["changes"] == {"notes": "•••• •••• •••• 1111", "mobile": "+966501234567"}
    plain = {"customer_id": CUSTOMER_ID, "order_id": "4111111111111111", "notes": "nothing to hide"}
    assert without_card_numbers(plain) is plain  # an id is not free text, and nothing changed


def test_every_bad_field_is_named_at_once():
    with pytest.raises(InvalidCommand) as refused:
        decide(None, CreateCustomer(actor=AGENT, customer_id=CUSTOMER_ID, store_id="st-1",
                                    fields={"mobile": "12", "gender": "x", "colour": "red"}), NOW)
    assert set(refused.value.errors) == {"name", "mobile", "gender", "colour"}


def test_a_birthday_is_at_most_the_day_decide_is_told_it_is():
    card = created()
    _, card = then(card, UpdateCustomer(actor=AGENT, fields={"birthday": "2026-11-01"}))
    assert card.birthday == "2026-11-01"
    with pytest.raises(InvalidCommand) as refused:
        decide(card, UpdateCustomer(actor=AGENT, fields={"birthday": "2026-11-02"}), NOW)
    assert "birthday" in refused.value.errors
    assert decide(card, UpdateCustomer(actor=AGENT, fields={"birthday": "2026-11-02"}), NOW + timedelta(days=1))


def test_a_card_that_exists_cannot_be_created_again():
    with pytest.raises(Conflict):
        decide(created(), CreateCustomer(actor=AGENT, customer_id=CUSTOMER_ID, store_id="st-1",
                                         fields={"name": "A", "mobile": "0501234567"}), NOW)


def test_a_command_on_no_card_is_a_card_not_found():
    with pytest.raises(NotFound):
        decide(None, UnblockCustomer(actor=AGENT), NOW)


# --- changing it ----------------------------------------------------------------------------


def test_an_update_records_only_what_differs_and_nothing_when_nothing_does():
    card = created(city="Riyadh")
    assert decide(card, UpdateCustomer(actor=AGENT, fields={"name": "Noura", "city": "Riyadh"}), NOW) == []
    [event], card = then(card, UpdateCustomer(actor=AGENT, fields={"name": "Noura", "city": "Jeddah",
                                                                   "email": None}))
    assert event.data == {"customer_id": CUSTOMER_ID, "changes": {"city": "Jeddah"}}
    assert (card.city, card.version, card.updated_at) == ("Jeddah", 2, NOW)


def test_name_and_mobile_cannot_be_cleared():
    for name in ("name", "mobile"):
        with pytest.raises(InvalidCommand) as refused:
            decide(created(), UpdateCustomer(actor=AGENT, fields={name: None}), NOW)
        assert name in refused.value.errors


def test_blocking_twice_for_the_same_reason_changes_nothing_and_other_needs_details():
    card = created()
    with pytest.raises(InvalidCommand) as refused:
        decide(card, BlockCustomer(actor=AGENT, reason="other"), NOW)
    assert "details" in refused.value.errors
    _, card = then(card, BlockCustomer(actor=AGENT, reason="abusive_language", details="insults"))
    assert (card.blocked, card.block_reason, card.blocked_by, card.blocked_at) == (True, "abusive_language", AGENT,
                                                                                    NOW)
    assert decide(card, BlockCustomer(actor=AGENT, reason="abusive_language", details="insults"), NOW) == []
    [event], _ = then(card, BlockCustomer(actor=AGENT, reason="non_serious_orders"))
    assert event.data["reason"] == "non_serious_orders"


def test_unblocking_says_what_the_block_was_and_only_a_blocked_card_can_be_unblocked():
    card = created()
    with pytest.raises(Conflict) as refused:
        decide(card, UnblockCustomer(actor=AGENT), NOW)
    assert refused.value.code == "not_blocked"
    _, card = then(card, BlockCustomer(actor=AGENT, reason="fraud_suspicion"))
    [event], card = then(card, UnblockCustomer(actor=AGENT))
    assert event.data == {"customer_id": CUSTOMER_ID, "previous_reason": "fraud_suspicion"}
    assert (card.blocked, card.block_reason, card.blocked_by) == (False, None, None)


# --- the platform's flags on the card --------------------------------------------------------


def test_a_flag_is_shown_once_and_lifted_once():
    reason = {"rule": "blocked_by_stores", "count": 2, "description": "blocked by 2 stores"}
    apply = ApplyFlag(actor=SYSTEM, flag_id="f-1", code="non_serious_buyer", reasons=(reason,),
                      raised_at="2026-11-01T08:00:00Z")
    [event], card = then(created(), apply)
    assert event.data["reasons"] == [reason] and event.actor == SYSTEM
    assert flags_view(card) == [{"id": "f-1", "code": "non_serious_buyer", "reasons": [reason],
                                 "raised_at": "2026-11-01T08:00:00Z"}]
    assert decide(card, apply, NOW) == []
    [event], card = then(card, LiftFlag(actor=SYSTEM, flag_id="f-1"))
    assert event.type == "customer.flag_cleared" and card.flags == {}
    assert decide(card, LiftFlag(actor=SYSTEM, flag_id="f-1"), NOW) == []


# --- folding the stream ---------------------------------------------------------------------


def test_outreach_on_the_stream_moves_the_version_not_the_fields():
    card = created()
    later = NOW + timedelta(hours=1)
    [block] = stored(decide(card, BlockCustomer(actor=AGENT, reason="fraud_suspicion"), later), 1, CUSTOMER_ID)
    message = replace(block, type="customer.message_requested", data={"customer_id": CUSTOMER_ID, "body": "hi"})
    after = evolve(card, message)
    assert (after.version, after.updated_at, after.profile(), after.blocked) == (2, later, card.profile(), False)


def test_a_broken_stream_is_refused_not_guessed():
    [created_event] = stored(decide(None, CreateCustomer(actor=AGENT, customer_id=CUSTOMER_ID, store_id="st-1",
                                                         fields={"name": "A", "mobile": "0501234567"}), NOW))
    card = evolve(None, created_event)
    with pytest.raises(ValueError):
        evolve(card, created_event)  # a second customer.created
    unknown = replace(created_event, type="customer.teleported", version=2)
    with pytest.raises(ValueError):
        evolve(card, unknown)
    with pytest.raises(ValueError):
        evolve(None, unknown)


def test_a_customer_id_is_a_uuid_or_a_customer_that_does_not_exist():
    assert customer_id_of(CUSTOMER_ID.upper()) == CUSTOMER_ID
    for bad in ("nope", None, 42):
        with pytest.raises(NotFound):
            customer_id_of(bad)
