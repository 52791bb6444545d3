"""The customers service as Nameko runs it, in this process: its RPC
entrypoints and bus handlers on the real PostgreSQL and RabbitMQ
(``run_service``). The tests call it the way the gateway does: the caller
as a dict, the Idempotency-Key as a ``[key, fingerprint]`` pair. Its own
relay publishes its events, and its fraud watch consumes them from its
queues."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_hook

from seedwork.envelope import Actor, Envelope, NewEvent
from seedwork.errors import PreconditionFailed
from seedwork.idempotency import fingerprint
from seedwork.nameko_ext import EventSourcing
from services.customers.service import CustomersService
from tests.support.polling import eventually

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
PLATFORM = {"store_id": None, "kind": "platform", "id": None, "role": "platform"}


@pytest.fixture
def service(run_service):
    return run_service(CustomersService)


def call(container, method: str, *args):
    with entrypoint_hook(container, method) as entrypoint:
        return entrypoint(*args)


def staff(role="owner") -> dict:
    return {"store_id": f"st_{uuid.uuid4().hex[:8]}", "kind": "agent", "id": f"ag_{uuid.uuid4().hex[:6]}",
            "role": role}


def new_card(service, caller, mobile="0501234567", **fields) -> dict:
    return call(service, "create", caller, {"name": "Noura", "mobile": mobile, **fields})["customer"]


def order(customer_id, status="delivered", updated=T0, payment="mada") -> dict:
    return {"customer_id": customer_id, "status": status, "created_at": T0.isoformat(),
            "updated_at": updated.isoformat(), "total": "100.00", "currency": "SAR", "payment_method": payment,
            "items": [{"name": "Dates 1kg", "quantity": 1}]}


def stream(service, stream_id: str) -> list[str]:
    """The types of one stream's events, read from the service's own store
    (the ``events`` feed may wait behind any transaction on the server)."""
    [store] = [d.store for d in service.dependencies if isinstance(d, EventSourcing)]
    return [e.type for e in store.load(stream_id)]


# --- starting -------------------------------------------------------------------------------


def test_the_service_reports_its_database_and_relay(service):
    report = call(service, "health")
    assert report["database"] == "ok" and report["schema"].startswith("t_customers_")


def test_bad_fraud_rules_stop_the_service_at_start(run_service):
    with pytest.raises(ValueError, match="FRAUD_RULES"):
        run_service(CustomersService, env={"FRAUD_RULES": '[{"code": "x", "evidence": "gossip"}]'})


# --- cards ----------------------------------------------------------------------------------


def test_a_card_is_created_and_read_back(service):
    owner = staff()
    created = call(service, "create", owner, {"name": " Noura  Al-Harbi ", "mobile": "٠٥٠١٢٣٤٥٦٧"})
    assert created["created"] is True
    card = created["customer"]
    assert (card["name"], card["mobile"], card["version"]) == ("Noura Al-Harbi", "+966501234567", 1)
    assert call(service, "get", owner, card["id"]) == card
    assert call(service, "standing", owner["store_id"], card["id"]) == {
        "customer_id": card["id"], "blocked": False, "block_reason": None, "flagged": False}


def test_an_update_with_a_stale_version_is_refused_and_changes_nothing(service):
    owner = staff()
    card = new_card(service, owner)
    updated = call(service, "update", owner, card["id"], {"city": "Jeddah"}, 1)
    assert "created" not in updated and updated["customer"]["version"] == 2
    with pytest.raises(PreconditionFailed) as refused:
        call(service, "update", owner, card["id"], {"city": "Riyadh"}, 1)
    assert refused.value.code == "version_mismatch" and "If-Match" in refused.value.errors
    assert call(service, "get", owner, card["id"])["city"] == "Jeddah"


def test_a_create_replayed_with_its_key_answers_the_first_card(service):
    owner = staff()
    body = {"name": "Noura", "mobile": "0501234567"}
    key = ["create-1", fingerprint("POST", "/v1/customers", body)]
    first = call(service, "create", owner, body, key)
    again = call(service, "create", owner, body, key)
    assert again == {**first, "replayed": True}
    assert [c["id"] for c in call(service, "list", owner, {})["items"]] == [first["customer"]["id"]]


# --- groups ---------------------------------------------------------------------------------


def test_a_group_is_filled_by_a_filter(service):
    owner = staff()
    riyadh = {new_card(service, owner, mobile=f"050000010{n}", city="Riyadh")["id"] for n in range(2)}
    new_card(service, owner, mobile="0500000109", city="Dammam")
    group = call(service, "create_group", owner, {"name": "Riyadh buyers"})["group"]
    changed = call(service, "change_members", owner, group["id"], "add", {"filter": {"city": "riyadh"}})
    assert (changed["changed"], changed["group"]["members_count"]) == (2, 2)
    members = call(service, "list", owner, {"group": group["id"]})["items"]
    assert {c["id"] for c in members} == riyadh
    assert all(c["groups"] == [{"id": group["id"], "name": "Riyadh buyers"}] for c in members)
    assert stream(service, group["id"]) == ["customer_group.created", "customer_group.members_added"]


# --- orders ---------------------------------------------------------------------------------


def test_an_order_pushed_twice_keeps_the_newer_one(service):
    owner = staff()
    card = new_card(service, owner)
    newer = call(service, "put_order", owner, "1001", order(card["id"], "delivered", T0 + timedelta(hours=2)))
    older = call(service, "put_order", owner, "1001", order(card["id"], "delivering", T0 + timedelta(hours=1)))
    assert (newer["created"], newer["applied"]) == (True, True)
    assert (older["created"], older["applied"], older["order"]) == (False, False, newer["order"])
    assert call(service, "get_order", owner, "1001")["status"] == "delivered"
    assert call(service, "get", owner, card["id"])["orders_count"] == 1
    assert stream(service, f"order:{owner['store_id']}:1001") == ["order.recorded"]


# --- the fraud watch ------------------------------------------------------------------------


def test_the_fraud_watch_flags_a_shopper_two_stores_blocked_on_every_stores_card(service):
    stores = [staff() for _ in range(3)]
    cards = [new_card(service, s, mobile="+966500000999") for s in stores]
    for store, card in zip(stores[:2], cards[:2]):
        call(service, "block", store, card["id"], {"reason": "non_serious_orders"})
    # The relay publishes both blocks; watch_own_events consumes them from its queue.
    third = eventually(lambda: call(service, "get", stores[2], cards[2]["id"]), until=lambda c: c["flagged"],
                       timeout=20, what="the third store's card flagged")
    assert third["flags"][0]["reasons"][0]["rule"] == "blocked_by_stores"
    assert stores[0]["store_id"] not in str(third["flags"])
    [flag] = call(service, "list_flags", {})["items"]
    assert {e["store_id"] for e in flag["evidence"]} == {stores[0]["store_id"], stores[1]["store_id"]}
    cleared = call(service, "clear_flag", PLATFORM, flag["id"], {"note": "reviewed"})
    assert (cleared["status"], cleared["cleared_by"], cleared["note"]) == ("cleared", "platform", "reviewed")
    assert not any(call(service, "get", s, c["id"])["flagged"] for s, c in zip(stores, cards))


def test_ticket_claims_reach_the_watch_through_its_handler_once_each(service):
    owner = staff()
    card = new_card(service, owner, mobile="0500000666")
    claims = [Envelope(uuid.uuid4(), "ticket.opened", 1, str(uuid.uuid4()), 1, n + 1, owner["store_id"],
                       Actor("customer", card["id"]), None, None, T0,
                       {"ticket_id": str(uuid.uuid4()), "customer_id": card["id"], "type": "charged_without_order"})
              for n in range(3)]
    for claim in claims[:2]:
        call(service, "watch_tickets", claim)
        call(service, "watch_tickets", claim)  # delivered twice: counted once
    assert not call(service, "get", owner, card["id"])["flagged"]
    call(service, "watch_tickets", claims[2])
    flags = call(service, "get", owner, card["id"])["flags"]
    assert [f["reasons"][0]["rule"] for f in flags] == ["charged_without_order_claims"]


# --- settings -------------------------------------------------------------------------------


def test_settings_are_read_back_and_only_a_change_is_an_event(service):
    owner = staff()
    assert call(service, "settings", owner)["no_cod_for_flagged"] is False
    changed = call(service, "update_settings", owner, {"no_cod_for_flagged": True, "default_country": "eg"})
    assert (changed["no_cod_for_flagged"], changed["default_country"]) == (True, "EG")
    assert call(service, "update_settings", owner, {"no_cod_for_flagged": True}) == changed
    assert call(service, "settings", owner) == changed
    assert stream(service, f"customer-settings:{owner['store_id']}") == ["customer_settings.updated"]
    # The store's country now reads its shoppers' local numbers.
    assert new_card(service, owner, mobile="01001234567")["mobile"] == "+201001234567"


# --- the event feed -------------------------------------------------------------------------


def test_the_event_feed_is_the_stores_events_as_cloudevents(service):
    owner, other = staff(), staff()
    card = new_card(service, owner)
    new_card(service, other)
    feed = eventually(lambda: call(service, "events", owner["store_id"], "0", "100"), until=lambda f: f["items"],
                      timeout=20, what="the store's events in the feed")
    [created] = feed["items"]
    assert (created["type"], created["source"], created["data"]["customer_id"]) == (
        "customer.created", "/seed/customers", card["id"])
    assert call(service, "events", owner["store_id"], feed["next_after"], "100")["items"] == []


def test_the_feed_masks_card_numbers_in_events_stored_before_the_service_masked_them(service):
    owner = staff()
    [store] = [d.store for d in service.dependencies if isinstance(d, EventSourcing)]
    customer_id = str(uuid.uuid4())
    # As an older version stored a CSV row's notes: the card number as typed.
    store.append(customer_id, 0, [NewEvent("customer.created", {
        "customer_id": customer_id, "name": "Noura", "mobile": "+966501234567", "notes": "card 4111 1111 1111 1111",
        "source": "import"}, store_id=owner["store_id"])])
    card = new_card(service, owner, mobile="0501234568", notes="card 4111111111111111")  # masked as it is stored
    feed = eventually(lambda: call(service, "events", owner["store_id"], "0", "100"),
                      until=lambda f: len(f["items"]) == 2, timeout=20, what="both cards in the feed")
    assert [e["data"]["notes"] for e in feed["items"]] == ["card •••• •••• •••• 1111"] * 2
    assert feed["items"][1]["data"]["customer_id"] == card["id"]
    assert "4111" not in str(feed)
