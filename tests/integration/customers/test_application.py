"""The customers applications on the real PostgreSQL, in process (no broker,
no Nameko): cards, groups, orders, blocking, settings, outreach, the fraud
watch and its flags. The same service through Nameko and the bus is in
test_service.py; through HTTP in tests/e2e/test_customers.py."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.caller import PLATFORM, Caller
from seedwork.envelope import Actor, Envelope
from seedwork.errors import Conflict, InvalidCommand, InvalidQuery, NotFound, PreconditionFailed
from seedwork.pagination import encode_cursor
from seedwork.store import EventStore
from services.customers.application import Customers

from tests.support.servers import drop_schema, new_schema, ROOT

MIGRATIONS = ROOT / "services" / "customers" / "migrations"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def customers(pool, database_url):
    name = new_schema(database_url, [("customers", MIGRATIONS)])
    yield Customers(EventStore(pool, name))
    drop_schema(database_url, name)


def staff(store_id=None, role="owner") -> Caller:
    return Caller("agent", f"ag_{uuid.uuid4().hex[:6]}", store_id or f"st_{uuid.uuid4().hex[:8]}", role)


def new_customer(customers, caller, name="محمد أحمد", mobile="0501234567", **fields):
    return customers.cards.create(caller, {"name": name, "mobile": mobile, **fields})["customer"]


def order(customer_id, status="delivered", updated=T0, payment="mada", total="100.00", **extra):
    return {"customer_id": customer_id, "status": status, "created_at": T0.isoformat(),
            "updated_at": updated.isoformat(), "total": total, "currency": "SAR", "payment_method": payment,
            "items": [{"name": "Dates 1kg", "quantity": 1}], **extra}


def replay(customers, store_id, types=None):
    """Feed a store's events back to the fraud watch, as the bus would. Read
    stream by stream: read_all waits for every older transaction on the
    server, and this test need not."""
    store = customers.store
    with store.pool.connection() as conn:
        streams = [r[0] for r in conn.execute(f"SELECT DISTINCT stream_id FROM {store.schema}.events "
                                              "WHERE store_id = %s", (store_id,))]
        for stream_id in streams:
            for event in store.load(stream_id, conn=conn):
                if types is None or event.type in types:
                    with conn.transaction():
                        customers.fraud.observe(conn, event)


def before_locking(monkeypatch, customers, stream_id, meanwhile):
    """Run ``meanwhile()`` (its own transaction, committed) just before the
    first lock of ``stream_id``: what a staff edit that slips in between a
    command's look-up and its lock does."""
    lock_stream, pending = customers.store.lock_stream, [meanwhile]

    def lock(conn, stream):
        if stream == stream_id and pending:
            pending.pop()()
        lock_stream(conn, stream)

    monkeypatch.setattr(customers.store, "lock_stream", lock)


# --- cards ----------------------------------------------------------------------------------------


def test_a_card_is_created_normalised_and_read_back(customers):
    owner = staff()
    card = new_customer(customers, owner, name="  فاطمة   الزهراء ", mobile="٠٥٠١٢٣٤٥٦٧", email="F@Example.COM",
                        city="الرياض", gender="female", birthday="1990-05-01")
    assert card["mobile"] == "+966501234567"
    assert card["name"] == "فاطمة الزهراء"
    assert card["email"] == "F@example.com"
    assert (card["orders_count"], card["total_spent"], card["blocked"], card["flagged"]) == (0, "0.00", False, False)
    assert card["version"] == 1
    assert customers.cards.get(owner, card["id"]) == card
    with pytest.raises(NotFound):
        customers.cards.get(staff(), card["id"])  # another store


def test_mobile_is_unique_per_store_not_across_stores(customers):
    owner = staff()
    new_customer(customers, owner, mobile="+966501234567")
    with pytest.raises(Conflict) as refused:
        new_customer(customers, owner, name="Other", mobile="00966 50 123 4567")
    assert refused.value.code == "mobile_taken" and "mobile" in refused.value.errors
    assert new_customer(customers, staff(), mobile="0501234567")["mobile"] == "+966501234567"


def test_bad_fields_are_named_and_nothing_is_stored(customers):
    owner = staff()
    with pytest.raises(InvalidCommand) as refused:
        customers.cards.create(owner, {"name": "", "mobile": "123", "email": "nope", "gender": "x"})
    assert set(refused.value.errors) == {"name", "mobile", "email", "gender"}
    assert customers.cards.list(owner, {})["items"] == []


def test_update_changes_only_what_differs_and_detects_stale_versions(customers):
    owner = staff()
    card = new_customer(customers, owner)
    same = customers.cards.update(owner, card["id"], {"name": "محمد أحمد"})["customer"]
    assert same["version"] == 1  # nothing changed: no event
    updated = customers.cards.update(owner, card["id"], {"city": "جدة", "email": "m@example.com"}, expected_version=1)
    assert updated["customer"]["version"] == 2 and updated["customer"]["city"] == "جدة"
    with pytest.raises(PreconditionFailed):
        customers.cards.update(owner, card["id"], {"city": "مكة"}, expected_version=1)
    cleared = customers.cards.update(owner, card["id"], {"email": None})["customer"]
    assert cleared["email"] is None
    with pytest.raises(InvalidCommand):
        customers.cards.update(owner, card["id"], {"name": None})


def test_the_clock_passed_in_is_the_time_of_every_event(pool, database_url):
    name = new_schema(database_url, [("customers", MIGRATIONS)])
    try:
        customers = Customers(EventStore(pool, name), clock=lambda: T0)
        owner = staff()
        card = new_customer(customers, owner)
        assert (card["created_at"], card["registered_at"]) == ("2026-11-01T09:00:00Z", "2026-11-01T09:00:00Z")
        customers.settings.update(owner, {"rating_channel": "sms"})
        events = customers.store.load(card["id"]) + customers.store.load(f"customer-settings:{owner.store_id}")
        assert [(e.type, e.occurred_at) for e in events] == [("customer.created", T0),
                                                             ("customer_settings.updated", T0)]
    finally:
        drop_schema(database_url, name)


def test_another_aggregates_id_is_no_customer(customers):
    owner = staff()
    group = customers.groups.create(owner, {"name": "VIP"})["group"]
    with pytest.raises(NotFound):
        customers.cards.update(owner, group["id"], {"city": "Jeddah"})
    with pytest.raises(NotFound):
        customers.outreach.send_message(owner, group["id"], {"channel": "sms", "body": "hello"})
    with pytest.raises(InvalidCommand) as refused:
        customers.orders.put(owner, "1001", order(group["id"]))
    assert "customer_id" in refused.value.errors


# --- search and lists -----------------------------------------------------------------------------


def test_search_finds_arabic_names_however_typed_and_mobiles_by_any_part(customers):
    owner = staff()
    ahmad = new_customer(customers, owner, name="أحمد عبدالله", mobile="0551112233")
    fatima = new_customer(customers, owner, name="فاطمة علي", mobile="+201001234567")
    new_customer(customers, owner, name="Sara Smith", mobile="0569998877")

    def found(q):
        return {c["id"] for c in customers.cards.list(owner, {"q": q})["items"]}

    assert found("احمد") == {ahmad["id"]}
    assert found("إحمد") == {ahmad["id"]}
    assert found("فاطمه") == {fatima["id"]}
    assert found("٠٥٥١١١") == {ahmad["id"]}
    assert found("+966551112233") == {ahmad["id"]}
    assert found("1234567") == {fatima["id"]}
    assert found("sara") == found("SMITH") != set()
    assert found("احمد فاطمة") == set()
    assert found("%") == found("")  # punctuation alone is no search


def test_filters_sorts_and_cursor_pages(customers):
    owner = staff()
    ids = [new_customer(customers, owner, name=f"Customer {i:02}", mobile=f"05000000{i:02}",
                        city="Riyadh" if i % 2 else "Jeddah")["id"] for i in range(12)]
    customers.cards.block(owner, ids[0], {"reason": "abusive_language"})
    for n, cid in enumerate(ids[:3]):
        customers.orders.put(owner, f"o-{n}", order(cid, total=str(100 * (n + 1))))
    assert {c["id"] for c in customers.cards.list(owner, {"blocked": True})["items"]} == {ids[0]}
    assert len(customers.cards.list(owner, {"city": "riyadh"})["items"]) == 6
    by_spent = customers.cards.list(owner, {"spent_min": "150", "sort": "-spent"})["items"]
    assert [c["id"] for c in by_spent] == [ids[2], ids[1]]
    assert len(customers.cards.list(owner, {"orders_min": 1})["items"]) == 3

    seen, cursor = [], None
    while True:
        page = customers.cards.list(owner, {"sort": "name", "limit": 5, **({"cursor": cursor} if cursor else {})})
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == 12
    by_name = customers.cards.list(owner, {"sort": "name", "limit": 1})["next_cursor"]
    with pytest.raises(InvalidQuery):
        customers.cards.list(owner, {"sort": "-name", "cursor": by_name})


# --- groups ---------------------------------------------------------------------------------------


def test_groups_bulk_by_ids_and_by_filter(customers):
    owner = staff()
    ids = [new_customer(customers, owner, name=f"C{i}", mobile=f"05000001{i:02}",
                        city="Riyadh" if i < 4 else "Dammam")["id"] for i in range(10)]
    vip = customers.groups.create(owner, {"name": "VIP"})["group"]
    with pytest.raises(Conflict):
        customers.groups.create(owner, {"name": " vip "})  # same folded name
    assert customers.groups.change_members(owner, vip["id"], "add", {"customer_ids": ids[:3]})["changed"] == 3
    assert customers.groups.change_members(owner, vip["id"], "add", {"customer_ids": ids[:3]})["changed"] == 0
    assert customers.groups.change_members(owner, vip["id"], "add", {"filter": {"city": "Riyadh"}})["changed"] == 1
    assert customers.groups.get(owner, vip["id"])["members_count"] == 4
    assert customers.cards.get(owner, ids[0])["groups"] == [{"id": vip["id"], "name": "VIP"}]
    assert len(customers.cards.list(owner, {"group": vip["id"]})["items"]) == 4
    with pytest.raises(InvalidCommand):
        customers.groups.change_members(owner, vip["id"], "add", {"customer_ids": [str(uuid.uuid4())]})
    other_store = new_customer(customers, staff())
    with pytest.raises(InvalidCommand):
        customers.groups.change_members(owner, vip["id"], "add", {"customer_ids": [other_store["id"]]})
    assert customers.groups.change_members(owner, vip["id"], "remove", {"filter": {}})["changed"] == 4
    customers.groups.rename(owner, vip["id"], {"name": "Gold"})
    customers.groups.change_members(owner, vip["id"], "add", {"customer_ids": ids[:1]})
    assert customers.cards.get(owner, ids[0])["groups"] == [{"id": vip["id"], "name": "Gold"}]
    customers.groups.delete(owner, vip["id"])
    assert customers.cards.get(owner, ids[0])["groups"] == []
    with pytest.raises(NotFound):
        customers.groups.get(owner, vip["id"])
    events = [e.type for e in customers.store.load(vip["id"])]
    assert events == ["customer_group.created", "customer_group.members_added", "customer_group.members_added",
                      "customer_group.members_removed", "customer_group.renamed", "customer_group.members_added",
                      "customer_group.deleted"]


def test_a_taken_group_name_is_refused_and_writes_nothing(customers):
    owner = staff()
    vip = customers.groups.create(owner, {"name": "VIP"})["group"]
    gold = customers.groups.create(owner, {"name": "Gold"})["group"]
    with pytest.raises(Conflict) as refused:
        customers.groups.rename(owner, gold["id"], {"name": "vip"})
    assert refused.value.code == "group_name_taken"
    assert [e.type for e in customers.store.load(gold["id"])] == ["customer_group.created"]
    customers.groups.delete(owner, vip["id"])
    assert customers.groups.rename(owner, gold["id"], {"name": "VIP"})["group"]["name"] == "VIP"  # the name is free
    assert [g["name"] for g in customers.groups.list(owner)["items"]] == ["VIP"]
    with pytest.raises(NotFound):
        customers.groups.get(staff(), gold["id"])  # another store


# --- orders ---------------------------------------------------------------------------------------


def test_orders_latest_update_wins_and_figures_are_derived(customers):
    owner = staff()
    card = new_customer(customers, owner)
    first = customers.orders.put(owner, "1001", order(card["id"], status="delivering", updated=T0 + timedelta(hours=1)))
    assert first["created"] is True and first["applied"]
    newer = customers.orders.put(owner, "1001", order(card["id"], status="delivered", updated=T0 + timedelta(hours=3)))
    assert newer["applied"] and newer["order"]["status"] == "delivered"
    older = customers.orders.put(owner, "1001", order(card["id"], status="delivering", updated=T0 + timedelta(hours=2)))
    assert not older["applied"] and older["order"]["status"] == "delivered"
    again = customers.orders.put(owner, "1001", order(card["id"], status="delivered", updated=T0 + timedelta(hours=3)))
    assert not again["applied"]
    customers.orders.put(owner, "1002", order(card["id"], status="cancelled", total="50"))
    seen = customers.cards.get(owner, card["id"])
    assert (seen["orders_count"], seen["total_spent"]) == (2, "100.00")
    assert seen["registered_at"] == "2026-11-01T09:00:00Z"  # the first order is older than the card
    assert [o["id"] for o in customers.orders.of_customer(owner, card["id"], {})["items"]] == ["1002", "1001"]
    assert len(customers.store.load(f"order:{owner.store_id}:1001")) == 2
    for unknown in (str(uuid.uuid4()), "not-an-id"):
        with pytest.raises(InvalidCommand) as refused:
            customers.orders.put(owner, "1003", order(unknown))
        assert "customer_id" in refused.value.errors


def test_an_order_push_reads_the_cards_row_not_the_customers_stream(customers, monkeypatch):
    owner = staff()
    card = new_customer(customers, owner)
    load = customers.store.load
    monkeypatch.setattr(customers.store, "load",
                        lambda stream, *a, **kw: pytest.fail("folded the customer") if stream == card["id"]
                        else load(stream, *a, **kw))
    assert customers.orders.put(owner, "1001", order(card["id"]))["created"]


def test_a_customers_orders_cursor_holds_an_order_id(customers):
    owner = staff()
    card = new_customer(customers, owner)
    for bad in ("no spaces", "x" * 101, "1001\x00", "\ud800"):
        with pytest.raises(InvalidQuery) as refused:
            customers.orders.of_customer(owner, card["id"], {"cursor": encode_cursor(T0, bad)})
        assert list(refused.value.errors) == ["cursor"]


# --- blocking and payment options -----------------------------------------------------------------


def test_block_unblock_and_payment_options(customers):
    owner = staff()
    card = new_customer(customers, owner)
    assert customers.cards.payment_options(owner, card["id"]) == {"cod_allowed": True}
    blocked = customers.cards.block(owner, card["id"], {"reason": "non_serious_orders", "details": "3 refused orders"})
    view = blocked["customer"]
    assert view["blocked"] and view["block_reason"] == "non_serious_orders"
    assert view["blocked_by"] == {"type": "agent", "id": owner.id} and view["blocked_at"]
    assert customers.cards.standing(owner.store_id, card["id"])["blocked"] is True
    assert customers.cards.payment_options(owner, card["id"]) == {"cod_allowed": False, "reason": "customer_blocked"}
    with pytest.raises(InvalidCommand):
        customers.cards.block(owner, card["id"], {"reason": "other"})  # "other" needs details
    customers.cards.unblock(owner, card["id"])
    with pytest.raises(Conflict):
        customers.cards.unblock(owner, card["id"])
    assert customers.cards.payment_options(owner, card["id"]) == {"cod_allowed": True}


# --- the fraud watch and its flags ----------------------------------------------------------------


def test_fraud_flag_from_two_stores_seen_by_a_third_and_cleared_for_good(customers):
    stores = [staff() for _ in range(4)]
    cards = [new_customer(customers, s, mobile="+966500000999") for s in stores[:3]]
    customers.cards.block(stores[0], cards[0]["id"], {"reason": "non_serious_orders"})
    customers.cards.block(stores[0], cards[0]["id"], {"reason": "non_serious_orders", "details": "again"})
    replay(customers, stores[0].store_id)
    assert not customers.cards.get(stores[2], cards[2]["id"])["flagged"]  # one store is not enough
    customers.cards.block(stores[1], cards[1]["id"], {"reason": "non_serious_orders"})
    replay(customers, stores[1].store_id)
    replay(customers, stores[1].store_id)  # the bus may deliver twice: still one flag

    third = customers.cards.get(stores[2], cards[2]["id"])
    assert third["flagged"] and len(third["flags"]) == 1
    reason = third["flags"][0]["reasons"][0]
    assert reason["rule"] == "blocked_by_stores" and reason["count"] == 2
    assert stores[0].store_id not in str(third["flags"])  # no other store's private data
    flags = customers.fraud.list_flags({})["items"]
    assert len(flags) == 1 and {e["store_id"] for e in flags[0]["evidence"]} == {stores[0].store_id,
                                                                                   stores[1].store_id}
    # A card created later for the same mobile shows the flag at once.
    late = new_customer(customers, stores[3], mobile="0500000999")
    assert late["flagged"]
    customers.settings.update(stores[2], {"no_cod_for_flagged": True})
    assert customers.cards.payment_options(stores[2], cards[2]["id"]) == {"cod_allowed": False,
                                                                    "reason": "flagged_non_serious_buyer"}
    assert customers.cards.payment_options(stores[3], late["id"]) == {"cod_allowed": True}  # its setting is off

    cleared = customers.fraud.clear_flag(PLATFORM, flags[0]["id"], {"note": "reviewed"})
    assert cleared["status"] == "cleared"
    assert not customers.cards.get(stores[2], cards[2]["id"])["flagged"]
    with pytest.raises(Conflict):
        customers.fraud.clear_flag(PLATFORM, flags[0]["id"], {})
    # The same evidence again does not raise it again...
    replay(customers, stores[0].store_id)
    replay(customers, stores[1].store_id)
    assert customers.fraud.list_flags({"status": "active"})["items"] == []
    # ...new evidence from two more stores does.
    customers.cards.block(stores[2], cards[2]["id"], {"reason": "non_serious_orders"})
    customers.cards.block(stores[3], late["id"], {"reason": "non_serious_orders"})
    replay(customers, stores[2].store_id)
    replay(customers, stores[3].store_id)
    assert len(customers.fraud.list_flags({"status": "active"})["items"]) == 1


def test_clearing_a_flag_survives_a_card_edited_meanwhile(customers, monkeypatch):
    # The clear holds every card before it writes: an edit that got in first
    # commits earlier, and the clear's writes still follow it.
    stores = [staff() for _ in range(3)]
    cards = [new_customer(customers, s, mobile="0500000555") for s in stores]
    for s, card in zip(stores[:2], cards):
        customers.cards.block(s, card["id"], {"reason": "non_serious_orders"})
        replay(customers, s.store_id)
    flag = customers.fraud.list_flags({})["items"][0]
    before_locking(monkeypatch, customers, cards[2]["id"],
                   lambda: customers.cards.update(stores[2], cards[2]["id"], {"city": "Jeddah"}))
    assert customers.fraud.clear_flag(PLATFORM, flag["id"], {})["status"] == "cleared"
    third = customers.cards.get(stores[2], cards[2]["id"])
    assert (third["city"], third["flagged"]) == ("Jeddah", False)


def test_a_flag_raised_survives_a_card_edited_meanwhile(customers, monkeypatch):
    stores = [staff() for _ in range(3)]
    cards = [new_customer(customers, s, mobile="0500000444") for s in stores]
    customers.cards.block(stores[0], cards[0]["id"], {"reason": "non_serious_orders"})
    replay(customers, stores[0].store_id)
    customers.cards.block(stores[1], cards[1]["id"], {"reason": "non_serious_orders"})
    before_locking(monkeypatch, customers, cards[2]["id"],
                   lambda: customers.cards.update(stores[2], cards[2]["id"], {"city": "Jeddah"}))
    replay(customers, stores[1].store_id)  # the second store's block raises the flag
    third = customers.cards.get(stores[2], cards[2]["id"])
    assert (third["city"], third["flagged"]) == ("Jeddah", True)


def test_unblocking_withdraws_unused_evidence(customers):
    a, b = staff(), staff()
    ca, cb = new_customer(customers, a, mobile="0500000888"), new_customer(customers, b, mobile="0500000888")
    customers.cards.block(a, ca["id"], {"reason": "non_serious_orders"})
    customers.cards.unblock(a, ca["id"])
    replay(customers, a.store_id)
    customers.cards.block(b, cb["id"], {"reason": "non_serious_orders"})
    replay(customers, b.store_id)
    assert customers.fraud.list_flags({})["items"] == []


def test_cod_refusals_and_charged_without_order_claims_raise_flags(customers):
    owner = staff()
    card = new_customer(customers, owner, mobile="0500000777")
    for n in range(3):
        customers.orders.put(owner, f"cod-{n}", order(card["id"], status="refused", payment="cod"))
    replay(customers, owner.store_id, {"order.recorded"})
    assert [f["rule"] for f in customers.fraud.list_flags({})["items"]] == ["cod_refusals"]

    other = staff()
    shopper = new_customer(customers, other, mobile="0500000666")
    with customers.store.pool.connection() as conn:
        for n in range(3):
            ticket = Envelope(uuid.uuid4(), "ticket.opened", 1, str(uuid.uuid4()), 1, n + 1, other.store_id,
                              Actor("customer", shopper["id"]), None, None, T0,
                              {"ticket_id": str(uuid.uuid4()), "customer_id": shopper["id"],
                               "type": "charged_without_order"})
            with conn.transaction():
                customers.fraud.observe(conn, ticket)
    assert customers.cards.get(other, shopper["id"])["flags"][0]["reasons"][0]["rule"] == "charged_without_order_claims"


# --- CSV import -----------------------------------------------------------------------------------


def test_csv_rows_import_idempotently_with_bad_rows_reported(customers):
    owner = staff()
    new_customer(customers, owner, name="Old name", mobile="0500000100")
    rows = [
        [2, {"name": "Noura", "mobile": "0500000101", "city": "Riyadh"}],
        [3, {"name": "New name", "mobile": "+966500000100"}],
        [4, {"name": "Bad", "mobile": "12"}],
        [5, {"name": "", "mobile": "0500000102"}],
        [6, {"name": "Noura again", "mobile": "0500000101"}],
        [7, {"name": "", "mobile": "0500000103"}],
        [8, {"name": "Reem", "mobile": "0500000103"}],  # line 7 was refused: this one is the first
    ]
    first = customers.cards.import_rows(owner, rows)
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 1, 0)
    assert [(r["line"], r["field"]) for r in first["rejected"]] == [(4, "mobile"), (5, "name"), (6, "mobile"),
                                                                    (7, "name")]
    assert "line 2" in first["rejected"][2]["reason"]
    before = customers.store.head_position()
    second = customers.cards.import_rows(owner, rows)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 3)
    assert len(second["rejected"]) == 4
    assert customers.store.head_position() == before  # the same file again writes nothing
    assert customers.cards.list(owner, {"q": "noura"})["items"][0]["city"] == "Riyadh"


def test_an_import_locks_its_cards_in_id_order_then_writes_in_mobile_order(customers, monkeypatch):
    # Two imports sharing cards (or new mobiles) then queue, never deadlock.
    owner = staff()
    cards = sorted((new_customer(customers, owner, mobile=f"05000004{n:02}") for n in range(4)),
                   key=lambda card: card["id"], reverse=True)
    seen = []
    lock_stream, append = customers.store.lock_stream, customers.store.append
    monkeypatch.setattr(customers.store, "lock_stream",
                        lambda conn, stream: seen.append(("lock", stream)) or lock_stream(conn, stream))
    monkeypatch.setattr(customers.store, "append",
                        lambda stream, *a, **kw: seen.append(("write", stream)) or append(stream, *a, **kw))
    rows = [[n + 2, {"name": f"Row {n}", "mobile": card["mobile"]}] for n, card in enumerate(cards)]
    rows += [[10, {"name": "New", "mobile": "0500000499"}], [11, {"name": "New", "mobile": "0500000498"}]]
    assert customers.cards.import_rows(owner, rows)["updated"] == 4
    locks = [what for kind, what in seen if kind == "lock"]
    assert locks == sorted(card["id"] for card in cards)
    assert seen[:len(locks)] == [("lock", what) for what in locks]  # every lock before the first write
    written = [customers.cards.get(owner, stream)["mobile"] for stream in dict.fromkeys(
        what for kind, what in seen if kind == "write")]
    assert written == sorted(written) and len(written) == 6


def test_an_import_survives_a_card_edited_meanwhile(customers, monkeypatch):
    # The import holds every card it updates before it writes: an edit that
    # got in first commits earlier, and the import's writes still follow it.
    owner = staff()
    card = new_customer(customers, owner, name="Old name", mobile="0500000200")
    before_locking(monkeypatch, customers, card["id"],
                   lambda: customers.cards.update(owner, card["id"], {"city": "Jeddah"}))
    result = customers.cards.import_rows(owner, [[2, {"name": "Noura", "mobile": "0500000201"}],
                                                 [3, {"name": "New name", "mobile": "0500000200"}]])
    assert (result["created"], result["updated"], result["rejected"]) == (1, 1, [])
    seen = customers.cards.get(owner, card["id"])
    assert (seen["name"], seen["city"]) == ("New name", "Jeddah")


def test_an_import_leaves_a_card_whose_mobile_changed_meanwhile(customers, monkeypatch):
    owner = staff()
    card = new_customer(customers, owner, name="Old name", mobile="0500000300")
    before_locking(monkeypatch, customers, card["id"],
                   lambda: customers.cards.update(owner, card["id"], {"mobile": "0500000399"}))
    result = customers.cards.import_rows(owner, [[2, {"name": "New name", "mobile": "0500000300"}]])
    assert [(r["line"], r["field"]) for r in result["rejected"]] == [(2, "mobile")]
    seen = customers.cards.get(owner, card["id"])
    assert (seen["name"], seen["mobile"]) == ("Old name", "+966500000399")


# --- outreach -------------------------------------------------------------------------------------


def test_rating_requests_and_messages(customers):
    owner = staff()
    card = new_customer(customers, owner, email="s@example.com")
    with pytest.raises(Conflict) as refused:
        customers.outreach.request_rating(owner, card["id"])
    assert refused.value.code == "no_unrated_orders"
    customers.orders.put(owner, "r-1", order(card["id"], status="delivered"))
    customers.orders.put(owner, "r-2", order(card["id"], status="delivered", rated=True))
    customers.orders.put(owner, "r-3", order(card["id"], status="delivering"))
    request = customers.outreach.request_rating(owner, card["id"])["request"]
    assert request["order_ids"] == ["r-1"] and request["channel"] == "email" and "orders=r-1" in request["link"]
    with pytest.raises(Conflict) as refused:
        customers.outreach.send_message(owner, card["id"], {"channel": "sms", "body": "hello"})
    assert refused.value.code == "sms_sender_missing"
    customers.settings.update(owner, {"sms_sender_name": "MyStore"})
    sent = customers.outreach.send_message(owner, card["id"], {"channel": "sms", "body": "hello"})
    assert "created" not in sent and sent["message"]["to"] == "+966501234567"
    types = [e.type for e in customers.store.load(card["id"])]
    assert types[-2:] == ["customer.rating_requested", "customer.message_requested"]
