"""Customers through HTTP, against the real processes: cards with ETags and
If-Match, search and filters, groups, CSV import, orders that arrive out of
order, blocking (seen by the tickets service over the bus), platform fraud
flags raised by the fraud watch from two stores' events, payment options,
rating requests and messages, and the walls between stores and roles.

The same rules in process are in test_customers_app.py; these prove the
routes, the roles, the problem responses and the bus."""
from __future__ import annotations

from functools import partial
import uuid
from datetime import datetime, timedelta, timezone

from seedwork import db
from tests.support import polling
from tests.support.api import assert_not_found_or_forbidden, assert_problem, ok, ticket_path
from tests.support.servers import DATABASE_URL

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


# --- helpers ---------------------------------------------------------------------------------


def new_mobile() -> str:
    """A random, valid Saudi mobile in E.164 (+96650...: every such number is valid)."""
    return f"+96650{uuid.uuid4().int % 10**7:07d}"


def national(e164: str) -> str:
    """+966501234567 -> 0501234567, as a merchant types it."""
    return "0" + e164[4:]


def card(api, store, name="Noura", mobile=None, **fields) -> dict:
    return api.new_customer(store, name=name, mobile=mobile or new_mobile(), **fields)


def session(api, store, customer_id) -> str:
    return api.customer_token(store, customer_id)[1]


def order_body(customer_id, status="delivered", updated=T0, payment="mada", total="100.00", **extra) -> dict:
    return {"customer_id": customer_id, "status": status, "created_at": T0.isoformat(),
            "updated_at": updated.isoformat(), "total": total, "currency": "SAR", "payment_method": payment,
            "items": [{"name": "Dates 1kg", "quantity": 1, "price": total}], **extra}


def put_order(api, token, order_id, body):
    return api.request("PUT", f"/v1/orders/{order_id}", token, json=body)


def csv_post(api, token, text: str):
    return api.post("/v1/customers/import", token, data=text.encode("utf-8"),
                    headers={"Content-Type": "text/csv; charset=utf-8"})


def listed(api, token, **params) -> list[str]:
    return [c["id"] for c in ok(api.get("/v1/customers", token, params={"limit": 100, **params}))["items"]]


def held_back() -> str:
    """Why events may not have been published: relays read only below the oldest
    transaction running anywhere in the PostgreSQL cluster (seedwork/store.py),
    so another database's long transaction (a benchmark, another test run)
    holds every relay back."""
    with db.connect(DATABASE_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, datname, round(extract(epoch FROM now() - xact_start)::numeric, 1), left(query, 100) "
            "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND now() - xact_start > interval '3 seconds' "
            "ORDER BY xact_start").fetchall()
    return "".join(f"\n  held back by pid {pid} in {name}, a transaction open {age}s: {query}"
                   for pid, name, age, query in rows)


# Waits for what travels over the bus name what may have held it back.
eventually = partial(polling.eventually, explain=held_back)


def settings(api, store, **changes) -> dict:
    return ok(api.patch("/v1/settings/customers", store.owner_token, json=changes))


# --- cards: create, read, change -------------------------------------------------------------


def test_a_card_is_created_at_its_location_and_changed_only_with_a_current_if_match(api):
    store = api.new_store()
    mobile = new_mobile()

    # Created: 201, Location and ETag; the mobile typed in Arabic-Indic digits is stored as E.164.
    r = api.post("/v1/customers", store.owner_token,
                 json={"name": "  فاطمة   الزهراء ", "mobile": national(mobile).translate(ARABIC_INDIC),
                       "email": "F@Example.COM", "city": "الرياض", "gender": "female", "birthday": "1990-05-01"})
    created = ok(r, 201)
    assert r.headers["Location"] == f"/v1/customers/{created['id']}"
    assert r.headers["ETag"] == '"1"'
    assert (created["name"], created["mobile"], created["email"]) == ("فاطمة الزهراء", mobile, "F@example.com")
    assert (created["orders_count"], created["total_spent"], created["blocked"], created["flagged"]) == \
        (0, "0.00", False, False)
    assert created["groups"] == [] and created["flags"] == [] and created["version"] == 1

    # Read back at its Location.
    r = api.get(r.headers["Location"], store.owner_token)
    assert ok(r) == created and r.headers["ETag"] == '"1"'

    # Changed with the current ETag: the next one follows.
    r = api.patch(f"/v1/customers/{created['id']}", store.owner_token, json={"city": "جدة", "notes": "VIP"},
                  headers={"If-Match": '"1"'})
    assert (ok(r)["city"], ok(r)["notes"], ok(r)["version"]) == ("جدة", "VIP", 2)
    assert r.headers["ETag"] == '"2"'

    # A stale ETag: 412 naming If-Match, and nothing changes.
    r = api.patch(f"/v1/customers/{created['id']}", store.owner_token, json={"city": "مكة"},
                  headers={"If-Match": '"1"'})
    assert_problem(r, 412, fields=["If-Match"])
    current = api.get(f"/v1/customers/{created['id']}", store.owner_token)
    assert (ok(current)["city"], current.headers["ETag"]) == ("جدة", '"2"')

    # Without If-Match the change goes through; null clears an optional field.
    agent = api.new_agent(store)["token"]
    cleared = ok(api.patch(f"/v1/customers/{created['id']}", agent, json={"email": None}))
    assert cleared["email"] is None and cleared["version"] == 3
    assert_problem(api.patch(f"/v1/customers/{created['id']}", agent, json={"name": None}), 400, fields=["name"])
    assert_problem(api.patch(f"/v1/customers/{created['id']}", agent, json={}), 400, fields=["_schema"])
    assert_problem(api.patch(f"/v1/customers/{created['id']}", agent, json={"city": "x"},
                             headers={"If-Match": "yesterday"}), 400, fields=["If-Match"])


def test_bad_cards_are_refused_naming_the_field_and_a_mobile_is_unique_in_its_store(api):
    store, other = api.new_store(), api.new_store()
    mobile = new_mobile()
    card(api, store, mobile=mobile)

    # The same mobile in another form: 409 in this store, fine in another.
    r = api.post("/v1/customers", store.owner_token, json={"name": "Twin", "mobile": "00" + mobile[1:]})
    assert_problem(r, 409, "mobile_taken", ["mobile"])
    assert card(api, other, mobile=national(mobile))["mobile"] == mobile

    # The gateway checks shapes (400); the service checks meanings (422).
    for body, status, field in (({"mobile": mobile}, 400, "name"),
                                ({"name": "x", "mobile": mobile, "colour": "red"}, 400, "colour"),
                                ({"name": "x", "mobile": new_mobile(), "gender": "x"}, 400, "gender"),
                                ({"name": "x", "mobile": "123"}, 422, "mobile"),
                                ({"name": "x", "mobile": "+966112345678"}, 422, "mobile"),  # a landline
                                ({"name": "x", "mobile": new_mobile(), "email": "nope"}, 422, "email"),
                                ({"name": "x", "mobile": new_mobile(), "birthday": "1990-13-40"}, 422, "birthday")):
        assert_problem(api.post("/v1/customers", store.owner_token, json=body), status, fields=[field])
    assert len(listed(api, store.owner_token)) == 1


# --- search, filters, pages ------------------------------------------------------------------


def test_search_finds_arabic_names_however_typed_and_mobiles_in_any_digits(api):
    store, other = api.new_store(), api.new_store()
    staff = store.owner_token
    ahmad = card(api, store, name="أحمد عبدالله")
    fatima = card(api, store, name="فاطمة علي")
    sara = card(api, store, name="Sara Smith", email="sara@example.com")
    card(api, other, name="أحمد عبدالله", mobile=ahmad["mobile"])  # another store's twin: never found

    def found(q):
        return set(listed(api, staff, q=q))

    # Alef with or without hamza, ta marbuta or ha: the same name.
    assert found("احمد") == found("إحمد") == found("أحمد") == found("آحمد") == {ahmad["id"]}
    assert found("فاطمه") == found("فاطمة") == {fatima["id"]}
    assert found("sara") == found("SMITH") == found("sara@example") == {sara["id"]}
    assert found("احمد فاطمة") == set()  # every word must match

    # A mobile, typed internationally, nationally, in part, in Arabic-Indic digits.
    local = national(ahmad["mobile"])
    for q in (ahmad["mobile"], local, local.translate(ARABIC_INDIC), local[:7].translate(ARABIC_INDIC),
              local[-6:], "00" + ahmad["mobile"][1:], f"{local[:3]} {local[3:6]} {local[6:]}"):
        assert found(q) == {ahmad["id"]}, q


def test_filters_by_group_blocked_and_city_and_pages_by_cursor(api):
    store = api.new_store()
    staff = store.owner_token
    ids = [card(api, store, name=f"Customer {i:02}", city="الرياض" if i % 2 else "Jeddah")["id"] for i in range(7)]
    ok(api.post(f"/v1/customers/{ids[0]}/block", staff, json={"reason": "abusive_language"}))
    group = ok(api.post("/v1/customer-groups", staff, json={"name": "VIP"}), 201)
    ok(api.post(f"/v1/customer-groups/{group['id']}/members", staff, json={"customer_ids": ids[:2]}))

    assert set(listed(api, staff, blocked="true")) == {ids[0]}
    assert set(listed(api, staff, blocked="false")) == set(ids[1:])
    assert set(listed(api, staff, group=group["id"])) == set(ids[:2])
    assert set(listed(api, staff, city="jeddah")) == set(ids[0::2])  # case folded
    assert set(listed(api, staff, city="الرياض")) == set(ids[1::2])
    assert set(listed(api, staff, group=group["id"], blocked="false")) == {ids[1]}
    assert listed(api, staff, flagged="true") == []
    assert set(listed(api, staff, flagged="false")) == set(ids)
    assert listed(api, staff, group=str(uuid.uuid4())) == []

    # Pages of 3, by name: every card once, in order.
    names, cursor, pages = [], None, 0
    while True:
        page = ok(api.get("/v1/customers", staff, params={"sort": "name", "limit": 3,
                                                          **({"cursor": cursor} if cursor else {})}))
        names += [c["name"] for c in page["items"]]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert names == [f"Customer {i:02}" for i in range(7)] and pages == 3

    # Newest first by default, and in pages too.
    first = ok(api.get("/v1/customers", staff, params={"limit": 4}))
    rest = ok(api.get("/v1/customers", staff, params={"limit": 4, "cursor": first["next_cursor"]}))
    assert [c["id"] for c in first["items"] + rest["items"]] == ids[::-1] and rest["next_cursor"] is None

    # Bad queries name the parameter.
    for params, field in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"sort": "mobile"}, "sort"),
                          ({"blocked": "yes"}, "blocked"), ({"group": "vip"}, "group"),
                          ({"cursor": "not-a-cursor"}, "cursor")):
        assert_problem(api.get("/v1/customers", staff, params=params), 400, fields=[field])
    # A cursor belongs to its sort.
    by_name = ok(api.get("/v1/customers", staff, params={"sort": "name", "limit": 1}))["next_cursor"]
    assert_problem(api.get("/v1/customers", staff, params={"sort": "-name", "cursor": by_name}), 400,
                   fields=["cursor"])


# --- groups and bulk actions -----------------------------------------------------------------


def test_bulk_group_actions_by_ids_and_by_filter(api):
    store = api.new_store()
    staff = api.new_agent(store)["token"]
    ids = [card(api, store, name=f"C{i}", city="Riyadh" if i < 4 else "Dammam")["id"] for i in range(8)]
    r = api.post("/v1/customer-groups", staff, json={"name": "VIP"})
    group = ok(r, 201)
    assert r.headers["Location"] == f"/v1/customer-groups/{group['id']}" and group["members_count"] == 0
    members = f"/v1/customer-groups/{group['id']}/members"

    # By ids; again changes nothing.
    added = ok(api.post(members, staff, json={"customer_ids": ids[:3]}))
    assert added["changed"] == 3 and added["group"]["members_count"] == 3
    assert ok(api.post(members, staff, json={"customer_ids": ids[:3]}))["changed"] == 0
    # By filter: every Riyadh customer (one not yet a member).
    assert ok(api.post(members, staff, json={"filter": {"city": "riyadh"}}))["changed"] == 1
    assert ok(api.get(f"/v1/customer-groups/{group['id']}", staff))["members_count"] == 4
    assert ok(api.get(f"/v1/customers/{ids[0]}", staff))["groups"] == [{"id": group["id"], "name": "VIP"}]
    assert set(listed(api, staff, group=group["id"])) == set(ids[:4])
    assert [g["members_count"] for g in ok(api.get("/v1/customer-groups", staff))["items"]] == [4]

    # Remove by ids, then by filter (everyone left).
    removed = ok(api.delete(members, staff, json={"customer_ids": [ids[0]]}))
    assert removed["changed"] == 1 and removed["group"]["members_count"] == 3
    assert ok(api.delete(members, staff, json={"filter": {}}))["changed"] == 3
    assert listed(api, staff, group=group["id"]) == []
    assert ok(api.get(f"/v1/customers/{ids[0]}", staff))["groups"] == []

    # Refused: both selections or neither, unknown ids, a taken name.
    assert_problem(api.post(members, staff, json={"customer_ids": ids[:1], "filter": {}}), 400,
                   fields=["customer_ids", "filter"])
    assert_problem(api.post(members, staff, json={}), 400, fields=["customer_ids"])
    assert_problem(api.post(members, staff, json={"customer_ids": ["nope"]}), 400, fields=["customer_ids.0"])
    assert_problem(api.post(members, staff, json={"customer_ids": [str(uuid.uuid4())]}), 422,
                   fields=["customer_ids"])
    assert_problem(api.post("/v1/customer-groups", staff, json={"name": " vip "}), 409, "group_name_taken")

    # Renamed, then deleted: the cards stay, without the group.
    ok(api.post(members, staff, json={"customer_ids": ids[:1]}))
    assert ok(api.patch(f"/v1/customer-groups/{group['id']}", staff, json={"name": "Gold"}))["name"] == "Gold"
    assert ok(api.get(f"/v1/customers/{ids[0]}", staff))["groups"] == [{"id": group["id"], "name": "Gold"}]
    assert api.delete(f"/v1/customer-groups/{group['id']}", staff).status_code == 204
    assert_problem(api.get(f"/v1/customer-groups/{group['id']}", staff), 404, "group_not_found")
    assert ok(api.get(f"/v1/customers/{ids[0]}", staff))["groups"] == []


# --- CSV import ------------------------------------------------------------------------------


def test_a_csv_file_with_arabic_headers_imports_once_and_reports_its_bad_rows(api):
    store = api.new_store()
    admin = api.new_agent(store, role="admin")["token"]
    known = card(api, store, name="Old name")
    new_one, new_two, new_three = new_mobile(), new_mobile(), new_mobile()
    text = (
        "الاسم,رقم الجوال,المدينة,البريد الإلكتروني\r\n"      # line 1
        f"نورة,{national(new_one)},الرياض,noura@example.com\r\n"  # 2: created
        f"New name,{known['mobile']},,\r\n"                       # 3: updates the known card
        "Bad mobile,12,جدة,\r\n"                                   # 4: rejected (mobile)
        f",{national(new_two)},جدة,\r\n"                           # 5: rejected (name)
        f"نورة مرة أخرى,{new_one},,\r\n"                          # 6: rejected (the mobile of line 2)
        "\r\n"                                                     # 7: empty, skipped
        f"\"Sami, Jr.\",{national(new_three).translate(ARABIC_INDIC)},\"الدمام\",\r\n"  # 8: created, quoted
        "Too,few\r\n"                                              # 9: rejected (cells)
    )

    first = ok(csv_post(api, admin, text))
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 1, 0), first
    rejected = {r["line"]: r for r in first["rejected"]}
    assert sorted(rejected) == [4, 5, 6, 9] and first["rejected_count"] == 4
    assert (rejected[4]["field"], rejected[5]["field"], rejected[6]["field"]) == ("mobile", "name", "mobile")
    assert "mobile" in rejected[4]["reason"] and "line 2" in rejected[6]["reason"]
    assert "cells" in rejected[9]["reason"]

    staff = store.owner_token
    (noura,) = ok(api.get("/v1/customers", staff, params={"q": "نوره"}))["items"]
    assert (noura["mobile"], noura["city"], noura["email"]) == (new_one, "الرياض", "noura@example.com")
    assert ok(api.get(f"/v1/customers/{known['id']}", staff))["name"] == "New name"
    assert ok(api.get("/v1/customers", staff, params={"q": "sami"}))["items"][0]["mobile"] == new_three
    assert len(listed(api, staff)) == 3
    versions = {c["id"]: c["version"] for c in ok(api.get("/v1/customers", staff))["items"]}

    # The same file again: nothing created, nothing updated, the same rows refused.
    second = ok(csv_post(api, admin, text))
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 3), second
    assert second["rejected"] == first["rejected"]
    assert {c["id"]: c["version"] for c in ok(api.get("/v1/customers", staff))["items"]} == versions


def test_a_file_that_is_not_a_customer_csv_is_refused_and_imports_nothing(api):
    store = api.new_store()
    owner = store.owner_token
    good = f"name,mobile\nNoura,{new_mobile()}\n"

    assert_problem(api.post("/v1/customers/import", owner, json={"name": "x"}), 415, "unsupported_media_type")
    assert_problem(api.post("/v1/customers/import", owner, data=good.encode("utf-16"),
                            headers={"Content-Type": "text/csv; charset=utf-16"}), 415)
    assert_problem(csv_post(api, owner, f"name,phone number\nNoura,{new_mobile()}\n"), 400, "invalid_file", ["file"])
    assert_problem(csv_post(api, owner, "name,city\nNoura,Riyadh\n"), 400, "invalid_file", ["file"])
    assert_problem(csv_post(api, owner, ""), 400, "invalid_file", ["file"])
    r = api.post("/v1/customers/import", owner, data=b"name,mobile\nNo\xffra,0501234567\n",
                 headers={"Content-Type": "text/csv"})
    assert_problem(r, 400, "invalid_file", ["file"])
    assert listed(api, owner) == []

    # A plain UTF-8 file with English headers and a BOM goes through.
    r = api.post("/v1/customers/import", owner, data=("\ufeff" + good).encode("utf-8"),
                 headers={"Content-Type": "text/csv"})
    assert ok(r)["created"] == 1 and len(listed(api, owner)) == 1


# --- orders ----------------------------------------------------------------------------------


def test_an_order_update_older_than_the_stored_one_answers_the_newer_order(api):
    store = api.new_store()
    owner = store.owner_token
    shopper = card(api, store)

    r = put_order(api, owner, "1001", order_body(shopper["id"], status="delivering", updated=T0 + timedelta(hours=1)))
    assert ok(r, 201)["status"] == "delivering"
    assert r.headers["X-Order-Applied"] == "true" and r.headers["Location"] == "/v1/orders/1001"

    r = put_order(api, owner, "1001", order_body(shopper["id"], status="delivered", updated=T0 + timedelta(hours=3)))
    assert ok(r)["status"] == "delivered" and r.headers["X-Order-Applied"] == "true"
    newest = ok(r)

    # An update that lost the race arrives late: 200 with the stored, newer order.
    r = put_order(api, owner, "1001", order_body(shopper["id"], status="delivering", updated=T0 + timedelta(hours=2)))
    assert ok(r) == newest and r.headers["X-Order-Applied"] == "false"
    # The same update twice: nothing changes either.
    r = put_order(api, owner, "1001", order_body(shopper["id"], status="delivered", updated=T0 + timedelta(hours=3)))
    assert ok(r) == newest and r.headers["X-Order-Applied"] == "false"
    assert ok(api.get("/v1/orders/1001", owner)) == newest

    # Figures on the card come from the orders; a cancelled one spends nothing.
    ok(put_order(api, owner, "1002", order_body(shopper["id"], status="cancelled", total="50")), 201)
    seen = ok(api.get(f"/v1/customers/{shopper['id']}", owner))
    assert (seen["orders_count"], seen["total_spent"]) == (2, "100.00")
    assert [o["id"] for o in ok(api.get(f"/v1/customers/{shopper['id']}/orders", owner))["items"]] == ["1002", "1001"]
    assert set(listed(api, owner, orders_min=2, spent_min="100")) == {shopper["id"]}

    # Refused: another store's customer (or none), a bad body, an unknown order.
    assert_problem(put_order(api, owner, "1003", order_body(str(uuid.uuid4()))), 422, fields=["customer_id"])
    assert_problem(put_order(api, owner, "1003", order_body(shopper["id"], status="lost")), 400, fields=["status"])
    assert_problem(put_order(api, owner, "1003", {**order_body(shopper["id"]), "total": "-1"}), 422, fields=["total"])
    assert_problem(api.get("/v1/orders/1003", owner), 404, "order_not_found")
    assert_problem(put_order(api, owner, "no spaces", order_body(shopper["id"])), 404)


# --- blocking --------------------------------------------------------------------------------


def test_a_blocked_shopper_cannot_open_tickets_and_staff_see_the_block_on_their_tickets(api):
    store = api.new_store()
    owner = store.owner_token
    shopper = card(api, store)
    me = session(api, store, shopper["id"])
    ticket = api.open_ticket(me)
    path = ticket_path(ticket)

    blocked = ok(api.post(f"/v1/customers/{shopper['id']}/block", owner,
                          json={"reason": "abusive_language", "details": "insults in chat"}))
    assert (blocked["blocked"], blocked["block_reason"], blocked["block_details"]) == \
        (True, "abusive_language", "insults in chat")
    assert blocked["blocked_at"] and blocked["blocked_by"]["type"] and blocked["version"] == 2

    # No new tickets; the open one stays open to their replies.
    r = api.post("/v1/tickets", me, json={"subject": "Hello?", "body": "Why can't I write?"})
    assert_problem(r, 403, "customer_blocked")
    ok(api.post(f"{path}/replies", me, json={"body": "still here"}))
    assert len(ok(api.get("/v1/tickets", owner))["items"]) == 1

    # The card, the list and the payment options show it at once...
    assert ok(api.get(f"/v1/customers/{shopper['id']}", owner))["blocked"] is True
    assert listed(api, owner, blocked="true") == [shopper["id"]]
    assert ok(api.get(f"/v1/customers/{shopper['id']}/payment-options", owner)) == \
        {"cod_allowed": False, "reason": "customer_blocked"}
    # ...and the ticket's staff view once the tickets service has the event from the bus.
    seen = eventually(lambda: ok(api.get(path, owner))["customer"], lambda c: c["blocked"], 10,
                      "the block on the ticket's staff view")
    assert seen["block_reason"] == "abusive_language" and "insults in chat" not in str(seen)
    assert ok(api.get(path, me))["customer"] == {"id": shopper["id"]}  # the shopper is not told

    # Unblocked: they may write again, and staff see that too.
    unblocked = ok(api.post(f"/v1/customers/{shopper['id']}/unblock", owner))
    assert (unblocked["blocked"], unblocked["block_reason"]) == (False, None)
    assert_problem(api.post(f"/v1/customers/{shopper['id']}/unblock", owner, json={}), 409, "not_blocked")
    api.open_ticket(me, subject="Thanks")
    eventually(lambda: ok(api.get(path, owner))["customer"], lambda c: not c["blocked"], 10,
               "the unblock on the ticket's staff view")

    # A block needs a known reason, and details when the reason is "other".
    assert_problem(api.post(f"/v1/customers/{shopper['id']}/block", owner, json={"reason": "rude"}), 400,
                   fields=["reason"])
    assert_problem(api.post(f"/v1/customers/{shopper['id']}/block", owner, json={"reason": "other"}), 422,
                   fields=["details"])
    assert ok(api.get(f"/v1/customers/{shopper['id']}", owner))["blocked"] is False


# --- fraud flags across stores ---------------------------------------------------------------


def test_a_shopper_blocked_by_two_stores_is_flagged_for_a_third_until_the_platform_clears_it(api):
    a, b, c = api.new_store("A"), api.new_store("B"), api.new_store("C")
    mobile = new_mobile()  # one shopper, written three ways in three stores
    in_a = card(api, a, name="Khalid", mobile=mobile)
    in_b = card(api, b, name="خالد", mobile=national(mobile))
    in_c = card(api, c, name="Khalid S.", mobile=national(mobile).translate(ARABIC_INDIC))
    other_in_c = card(api, c, name="Someone else")

    ok(api.post(f"/v1/customers/{in_a['id']}/block", a.owner_token, json={"reason": "non_serious_orders"}))
    ok(api.post(f"/v1/customers/{in_b['id']}/block", b.owner_token,
                json={"reason": "non_serious_orders", "details": "refused three parcels"}))

    # The fraud watch reads both blocks from the bus and flags the mobile: store C sees it.
    seen = eventually(lambda: ok(api.get(f"/v1/customers/{in_c['id']}", c.owner_token)), lambda v: v["flagged"],
                      15, "the flag on the third store's card")
    (flag,) = seen["flags"]
    assert flag["code"] == "non_serious_buyer"
    assert [(r["rule"], r["count"]) for r in flag["reasons"]] == [("blocked_by_stores", 2)]
    r = api.get(f"/v1/customers/{in_c['id']}", c.owner_token)
    for private in (a.id, b.id, in_a["id"], in_b["id"], "refused three parcels"):
        assert private not in r.text  # counts only: nothing of the other stores
    assert listed(api, c.owner_token, flagged="true") == [in_c["id"]]
    assert ok(api.get(f"/v1/customers/{other_in_c['id']}", c.owner_token))["flagged"] is False

    # The platform lists it, with the evidence.
    flags = ok(api.get("/v1/platform/flags", api.platform_key, params={"mobile": mobile}))["items"]
    assert [f["id"] for f in flags] == [flag["id"]]
    assert (flags[0]["status"], flags[0]["rule"], flags[0]["threshold"]) == ("active", "blocked_by_stores", 2)
    assert {e["store_id"] for e in flags[0]["evidence"]} == {a.id, b.id}
    assert flag["id"] in {f["id"] for f in ok(api.get("/v1/platform/flags", api.platform_key,
                                                      params={"limit": 100}))["items"]}
    # Stores do not read the platform's list or clear its flags.
    for token in (c.owner_token, a.owner_token):
        assert_problem(api.get("/v1/platform/flags", token), 403)
        assert_problem(api.post(f"/v1/platform/flags/{flag['id']}/clear", token, json={}), 403)

    # Store C chose: no cash on delivery for flagged shoppers.
    assert ok(api.get(f"/v1/customers/{in_c['id']}/payment-options", c.owner_token)) == {"cod_allowed": True}
    assert settings(api, c, no_cod_for_flagged=True)["no_cod_for_flagged"] is True
    refused = {"cod_allowed": False, "reason": "flagged_non_serious_buyer"}
    assert ok(api.get(f"/v1/customers/{in_c['id']}/payment-options", c.owner_token)) == refused
    assert ok(api.get(f"/v1/customers/{in_c['id']}/payment-options", session(api, c, in_c["id"]))) == refused
    assert ok(api.get(f"/v1/customers/{other_in_c['id']}/payment-options", c.owner_token)) == {"cod_allowed": True}

    # The platform clears it after review: it stops showing; a second clear is a conflict.
    cleared = ok(api.post(f"/v1/platform/flags/{flag['id']}/clear", api.platform_key,
                          json={"note": "reviewed: a courier mix-up"}))
    assert (cleared["status"], cleared["note"]) == ("cleared", "reviewed: a courier mix-up") and cleared["cleared_at"]
    after = ok(api.get(f"/v1/customers/{in_c['id']}", c.owner_token))
    assert (after["flagged"], after["flags"]) == (False, [])
    assert ok(api.get(f"/v1/customers/{in_c['id']}/payment-options", c.owner_token)) == {"cod_allowed": True}
    assert_problem(api.post(f"/v1/platform/flags/{flag['id']}/clear", api.platform_key, json={}), 409,
                   "flag_already_cleared")
    assert_problem(api.post(f"/v1/platform/flags/{uuid.uuid4()}/clear", api.platform_key, json={}), 404,
                   "flag_not_found")
    assert ok(api.get("/v1/platform/flags", api.platform_key, params={"mobile": mobile}))["items"] == []
    (listed_cleared,) = ok(api.get("/v1/platform/flags", api.platform_key,
                                   params={"mobile": mobile, "status": "cleared"}))["items"]
    assert listed_cleared["id"] == flag["id"]
    assert_problem(api.get("/v1/platform/flags", api.platform_key, params={"status": "gone"}), 400,
                   fields=["status"])


# --- payment options -------------------------------------------------------------------------


def test_a_shopper_reads_their_own_payment_options_and_nobody_elses(api):
    store = api.new_store()
    mine, theirs = card(api, store), card(api, store)
    me = session(api, store, mine["id"])
    ok(api.post(f"/v1/customers/{theirs['id']}/block", store.owner_token, json={"reason": "fraud_suspicion"}))

    assert ok(api.get(f"/v1/customers/{mine['id']}/payment-options", me)) == {"cod_allowed": True}
    for other in (theirs["id"], str(uuid.uuid4()), "not-an-id"):
        r = api.get(f"/v1/customers/{other}/payment-options", me)
        assert_problem(r, 404, "customer_not_found")
        assert "fraud_suspicion" not in r.text and "customer_blocked" not in r.text


# --- rating requests and messages ------------------------------------------------------------


def test_a_rating_request_names_only_the_delivered_unrated_orders(api):
    store = api.new_store()
    owner = store.owner_token
    shopper = card(api, store, email="shopper@example.com")
    rating = f"/v1/customers/{shopper['id']}/rating-requests"

    assert_problem(api.post(rating, owner), 409, "no_unrated_orders")
    ok(put_order(api, owner, "r-2", order_body(shopper["id"], status="delivered", rated=True)), 201)
    ok(put_order(api, owner, "r-3", order_body(shopper["id"], status="delivering")), 201)
    assert_problem(api.post(rating, owner), 409, "no_unrated_orders")  # nothing delivered is unrated
    ok(put_order(api, owner, "r-1", order_body(shopper["id"], status="delivered")), 201)

    request = ok(api.post(rating, api.new_agent(store)["token"], json={}), 202)
    assert request["order_ids"] == ["r-1"]
    assert (request["channel"], request["to"], request["customer_id"]) == ("email", "shopper@example.com",
                                                                           shopper["id"])
    assert "r-1" in request["link"] and "r-2" not in request["link"] and "r-3" not in request["link"]

    # On SMS the store needs a sender name.
    settings(api, store, rating_channel="sms")
    assert_problem(api.post(rating, owner), 409, "sms_sender_missing")


def test_a_direct_message_needs_a_sender_for_sms_and_an_email_address_for_email(api):
    store = api.new_store()
    _owner, agent = store.owner_token, api.new_agent(store)["token"]
    shopper = card(api, store)
    messages = f"/v1/customers/{shopper['id']}/messages"
    sms = {"channel": "sms", "body": "Your order ships today."}

    assert_problem(api.post(messages, agent, json=sms), 409, "sms_sender_missing", ["sms_sender_name"])
    # Settings are the admins' to change.
    assert_problem(api.patch("/v1/settings/customers", agent, json={"sms_sender_name": "MyStore"}), 403)
    assert settings(api, store, sms_sender_name="MyStore")["sms_sender_name"] == "MyStore"
    assert ok(api.get("/v1/settings/customers", agent))["sms_sender_name"] == "MyStore"

    sent = ok(api.post(messages, agent, json=sms), 202)
    assert (sent["channel"], sent["to"], sent["sender_name"], sent["body"]) == \
        ("sms", shopper["mobile"], "MyStore", sms["body"])
    assert sent["id"] and sent["customer_id"] == shopper["id"]

    assert_problem(api.post(messages, agent, json={"channel": "email", "subject": "Hi", "body": "Hello"}), 409,
                   "no_email")
    assert_problem(api.post(messages, agent, json={"channel": "fax", "body": "x"}), 400, fields=["channel"])
    assert_problem(api.post(messages, agent, json={"channel": "sms", "body": "x" * 1001}), 422, fields=["body"])


# --- stores are sealed from each other ---------------------------------------------------------


def customer_routes(customer_id: str, group_id: str, order_id: str, own_customer_id: str):
    """(method, path, body, roles the route admits) for every route naming a customer, group or order."""
    c, g = f"/v1/customers/{customer_id}", f"/v1/customer-groups/{group_id}"
    staff, staff_and_shopper = {"owner", "agent"}, {"owner", "agent", "customer"}
    return [
        ("GET", c, None, staff),
        ("PATCH", c, {"city": "From B"}, staff),
        ("POST", f"{c}/block", {"reason": "abusive_language"}, staff),
        ("POST", f"{c}/unblock", {}, staff),
        ("GET", f"{c}/orders", None, staff),
        ("GET", f"{c}/payment-options", None, staff_and_shopper),
        ("POST", f"{c}/rating-requests", {}, staff),
        ("POST", f"{c}/messages", {"channel": "sms", "body": "hello from B"}, staff),
        ("POST", f"{c}/sessions", {}, staff),
        ("GET", g, None, staff),
        ("PATCH", g, {"name": "Renamed by B"}, staff),
        ("DELETE", g, None, staff),
        ("POST", f"{g}/members", {"customer_ids": [own_customer_id]}, staff),
        ("DELETE", f"{g}/members", {"filter": {}}, staff),
        ("GET", f"/v1/orders/{order_id}", None, staff),
    ]


def test_another_stores_customers_groups_and_orders_are_not_found_on_every_route(api):
    a, b = api.new_store("A"), api.new_store("B")
    secret = card(api, a, name="Store-A-only Huda", email="huda@a.example", notes="A's private note")
    ok(api.post(f"/v1/customers/{secret['id']}/block", a.owner_token,
                json={"reason": "other", "details": "A-private-reason"}))
    group = ok(api.post("/v1/customer-groups", a.owner_token, json={"name": "A-private-group"}), 201)
    ok(api.post(f"/v1/customer-groups/{group['id']}/members", a.owner_token, json={"customer_ids": [secret["id"]]}))
    ok(put_order(api, a.owner_token, "A-1001", order_body(secret["id"], status="delivered")), 201)
    settings(api, a, sms_sender_name="StoreA")
    before = ok(api.get(f"/v1/customers/{secret['id']}", a.owner_token))

    b_shopper = card(api, b)
    settings(api, b, sms_sender_name="StoreB")  # so a message could only fail on the customer
    tokens = {"owner": b.owner_token, "agent": api.new_agent(b)["token"],
              "customer": session(api, b, b_shopper["id"])}
    leaks = ("Store-A-only", "huda@", "A's private note", "A-private", secret["mobile"], a.id)

    routes = list(customer_routes(secret["id"], group["id"], "A-1001", b_shopper["id"]))
    assert assert_not_found_or_forbidden(api, tokens, routes, leaks) == 3 * 15

    # Nor listed, searched, or usable by reference in a body.
    owner = b.owner_token
    for params in ({}, {"q": "Huda"}, {"q": secret["mobile"]}, {"blocked": "true"}, {"group": group["id"]}):
        r = api.get("/v1/customers", owner, params=params)
        assert {i["id"] for i in ok(r)["items"]} <= {b_shopper["id"]}, params
        assert secret["id"] not in r.text
    assert "A-private-group" not in api.get("/v1/customer-groups", owner).text
    b_group = ok(api.post("/v1/customer-groups", owner, json={"name": "B group"}), 201)
    assert_problem(api.post(f"/v1/customer-groups/{b_group['id']}/members", owner,
                            json={"customer_ids": [secret["id"]]}), 422, fields=["customer_ids"])
    assert_problem(put_order(api, owner, "A-1001", order_body(secret["id"])), 422, fields=["customer_id"])
    assert_problem(api.post("/v1/tickets", owner, json={"subject": "x", "body": "y", "customer_id": secret["id"]}),
                   422, fields=["customer_id"])
    # An order id is the store platform's, per store: B's own order of that number is B's alone.
    mine = ok(put_order(api, owner, "A-1001", order_body(b_shopper["id"], status="cancelled")), 201)
    assert mine["customer_id"] == b_shopper["id"]
    assert ok(api.get("/v1/orders/A-1001", a.owner_token))["customer_id"] == secret["id"]

    # Store A's card and group are exactly as they were.
    assert ok(api.get(f"/v1/customers/{secret['id']}", a.owner_token)) == before
    assert ok(api.get(f"/v1/customer-groups/{group['id']}", a.owner_token))["name"] == "A-private-group"


def test_an_unknown_customer_answers_like_another_stores(api):
    a, b = api.new_store("A"), api.new_store("B")
    foreign = card(api, a)["id"]
    for customer_id in (foreign, str(uuid.uuid4()), "cus_not_a_uuid"):
        for method, path in (("POST", f"/v1/customers/{customer_id}/sessions"),
                             ("GET", f"/v1/customers/{customer_id}")):
            assert_problem(api.request(method, path, b.owner_token), 404, "customer_not_found")


# --- roles -----------------------------------------------------------------------------------


def test_a_shopper_may_not_use_the_staff_routes(api):
    store = api.new_store()
    mine = card(api, store)
    me = session(api, store, mine["id"])
    group = ok(api.post("/v1/customer-groups", store.owner_token, json={"name": "VIP"}), 201)
    ok(put_order(api, store.owner_token, "o-1", order_body(mine["id"])), 201)
    c, g = f"/v1/customers/{mine['id']}", f"/v1/customer-groups/{group['id']}"

    attempts = [
        ("GET", "/v1/customers", None), ("POST", "/v1/customers", {"name": "Me", "mobile": new_mobile()}),
        ("GET", c, None), ("PATCH", c, {"name": "Queen"}), ("POST", f"{c}/unblock", {}),
        ("POST", f"{c}/block", {"reason": "other", "details": "myself"}), ("GET", f"{c}/orders", None),
        ("POST", f"{c}/rating-requests", {}), ("POST", f"{c}/messages", {"channel": "sms", "body": "x"}),
        ("POST", f"{c}/sessions", {}), ("GET", "/v1/customer-groups", None),
        ("POST", "/v1/customer-groups", {"name": "Mine"}), ("GET", g, None), ("PATCH", g, {"name": "x"}),
        ("DELETE", g, None), ("POST", f"{g}/members", {"customer_ids": [mine["id"]]}),
        ("DELETE", f"{g}/members", {"filter": {}}), ("GET", "/v1/orders/o-1", None),
        ("PUT", "/v1/orders/o-1", order_body(mine["id"], rated=True)), ("GET", "/v1/settings/customers", None),
        ("PATCH", "/v1/settings/customers", {"no_cod_for_flagged": True}), ("GET", "/v1/platform/flags", None),
    ]
    for method, path, body in attempts:
        r = api.request(method, path, me, **({"json": body} if body is not None else {}))
        assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text}"
        assert_problem(r, 403)
    r = api.post("/v1/customers/import", me, data=f"name,mobile\nMe,{new_mobile()}\n".encode(),
                 headers={"Content-Type": "text/csv"})
    assert_problem(r, 403)

    after = ok(api.get(c, store.owner_token))
    assert (after["name"], after["version"], after["groups"]) == (mine["name"], 1, [])
    assert ok(api.get("/v1/orders/o-1", store.owner_token))["rated"] is False


def test_agents_may_not_import_record_orders_or_change_settings_but_admins_may(api):
    store = api.new_store()
    agent, admin = api.new_agent(store)["token"], api.new_agent(store, role="admin")["token"]
    shopper = card(api, store)
    file = f"name,mobile\nLina,{new_mobile()}\n"

    assert_problem(csv_post(api, agent, file), 403)
    assert_problem(put_order(api, agent, "o-1", order_body(shopper["id"])), 403)
    assert_problem(api.patch("/v1/settings/customers", agent, json={"rating_channel": "sms"}), 403)
    assert listed(api, agent) == [shopper["id"]]
    assert_problem(api.get("/v1/orders/o-1", agent), 404, "order_not_found")

    assert ok(csv_post(api, admin, file))["created"] == 1
    assert ok(put_order(api, admin, "o-1", order_body(shopper["id"])), 201)["id"] == "o-1"
    assert ok(api.patch("/v1/settings/customers", admin, json={"rating_channel": "sms"}))["rating_channel"] == "sms"
    # What agents may do: read it all, and work with cards and groups.
    assert ok(api.get("/v1/orders/o-1", agent))["status"] == "delivered"
    assert ok(api.get("/v1/settings/customers", agent))["rating_channel"] == "sms"
    assert len(listed(api, agent)) == 2


def test_the_platform_key_does_not_read_or_change_a_stores_customers(api):
    store = api.new_store()
    shopper = card(api, store, name="Platform-hidden Name")
    group = ok(api.post("/v1/customer-groups", store.owner_token, json={"name": "VIP"}), 201)
    key = api.platform_key

    for method, path, body in (("GET", "/v1/customers", None), ("GET", f"/v1/customers/{shopper['id']}", None),
                               ("POST", "/v1/customers", {"name": "x", "mobile": new_mobile()}),
                               ("PATCH", f"/v1/customers/{shopper['id']}", {"city": "x"}),
                               ("POST", f"/v1/customers/{shopper['id']}/block", {"reason": "abusive_language"}),
                               ("GET", f"/v1/customers/{shopper['id']}/orders", None),
                               ("GET", f"/v1/customers/{shopper['id']}/payment-options", None),
                               ("GET", "/v1/customer-groups", None),
                               ("GET", f"/v1/customer-groups/{group['id']}", None),
                               ("PUT", "/v1/orders/o-1", order_body(shopper["id"])),
                               ("GET", "/v1/settings/customers", None)):
        r = api.request(method, path, key, **({"json": body} if body is not None else {}))
        assert_problem(r, 403)
        assert "Platform-hidden" not in r.text
    assert ok(api.get(f"/v1/customers/{shopper['id']}", store.owner_token))["version"] == 1

    # No token at all: 401.
    for method, path in (("GET", "/v1/customers"), ("GET", f"/v1/customers/{shopper['id']}"),
                         ("GET", "/v1/platform/flags")):
        assert_problem(api.request(method, path), 401)
