"""The shopper's self-service flows and the staff's conversation tools through
HTTP, against the real processes (docs/self-service.md): the store's settings,
"my order is late" at every status on both sides of 48 hours, "charged but no
order number" answered by the platform, product exchanges, customer data
changes approved on the card, canned responses, attachments, the conversation
to its rating, and card numbers that never reach PostgreSQL or RabbitMQ.

Every test makes its own store. Orders are pushed as the store platform does
(``PUT /v1/orders/{id}`` with the owner's token), aged by their ``created_at``."""
from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import struct
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest

from tests.support.polling import eventually
from tests.support.api import assert_problem, ok, ticket_path
from tests.support.servers import vhosts_unavailable
from tests.support.system import ATTACHMENT_TEST_MAX_BYTES, Firehose

SETTINGS = "/v1/settings/self-service"
CANNED = "/v1/canned-responses"
FLOWS = ("delayed-order", "charged-without-order", "product-exchange", "customer-data-change")
YOUNG = timedelta(hours=47, minutes=59)  # just under the 48 hours
OLD = timedelta(hours=48)  # exactly 48 hours when pushed; a little more when asked
ITEMS = [{"name": "Dates 1kg", "sku": "DATES-1", "quantity": 2, "price": "50.00"},
         {"name": "Arabic coffee", "sku": None, "quantity": 1, "price": "35.00"}]
MASK = "•••• •••• •••• "
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


# --- helpers ---------------------------------------------------------------------------------


def png_1x1() -> bytes:
    """A valid PNG of one red pixel, built here byte by byte."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1 x 1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = png_1x1()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def luhn_card(prefix: str, length: int, avoid_last4=()) -> str:
    """A random Luhn-valid number of ``length`` digits starting with ``prefix``."""
    while True:
        body = prefix + "".join(random.choice("0123456789") for _ in range(length - len(prefix) - 1))
        card = next(body + d for d in "0123456789" if luhn_ok(body + d))
        if card[-4:] not in avoid_last4:
            return card


def digits_of(typed: str) -> str:
    return "".join(c for c in typed if c.isdigit())


def masked(typed: str) -> str:
    """What a typed card number becomes: the mask and its last four digits, as typed."""
    return MASK + digits_of(typed)[-4:]


def unescaped(text: str) -> str:
    """JSON's \\uXXXX escapes read back (RabbitMQ bodies and json columns may keep them)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def body_text(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def settings_of(api, token) -> dict:
    return ok(api.get(SETTINGS, token))


def change_settings(api, token, **changes) -> dict:
    return ok(api.patch(SETTINGS, token, json=changes))


def open_store(api, name="Test store", **settings):
    """A store with self-service enabled (and ``settings``)."""
    store = api.new_store(name)
    change_settings(api, store.owner_token, enabled=True, **settings)
    return store


def valid_flow_bodies(delayed_order: str, delivered_order: str) -> dict[str, dict]:
    """A body each flow would accept, by flow name: for the tests that every flow refuses alike."""
    return {
        "delayed-order": {"order_id": delayed_order},
        "charged-without-order": {"payment_method": "mada", "card_last4": "1234", "details": "Charged twice."},
        "product-exchange": {"order_id": delivered_order, "item": "DATES-1", "reason": "damaged"},
        "customer-data-change": {"changes": {"city": "Jeddah"}},
    }


def flow(api, token, name: str, body: dict, **kw):
    return api.post(f"/v1/self-service/{name}", token, json=body, **kw)


def push_order(api, store, order_id: str, customer_id: str, status: str, age=timedelta(hours=1),
               tracking_url=None, items=ITEMS) -> dict:
    """The store platform's order, created ``age`` before now (computed right here)."""
    now = datetime.now(timezone.utc)
    body = {"customer_id": customer_id, "status": status, "created_at": (now - age).isoformat(),
            "updated_at": now.isoformat(), "total": "135.00", "currency": "SAR", "payment_method": "mada",
            "items": items}
    if tracking_url is not None:
        body["tracking_url"] = tracking_url
    r = api.request("PUT", f"/v1/orders/{order_id}", store.owner_token, json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


def history(api, ticket: dict, token) -> list[dict]:
    return ok(api.get(f"{ticket_path(ticket)}/history", token))["items"]


def my_tickets(api, token) -> list[dict]:
    return ok(api.get("/v1/tickets", token, params={"limit": 100}))["items"]


def opened(response, type_: str) -> dict:
    """The ticket a flow opened: 201, at its Location, of ``type_``."""
    body = ok(response, 201)
    assert body["outcome"] == "ticket_opened", body
    ticket = body["ticket"]
    assert response.headers["Location"] == ticket_path(ticket), response.headers.get("Location")
    assert ticket["type"] == type_, ticket
    return body


def known_name(api, store, ticket: dict, name: str) -> None:
    """Wait until the tickets service has the customer's card from the bus
    (placeholders render from that replica)."""
    eventually(lambda: ok(api.get(ticket_path(ticket), store.owner_token))["customer"]["name"], lambda n: n == name,
             15, "the customer's name in the tickets service's replica")


def platform_tickets(api) -> list[dict]:
    """Every ticket of GET /v1/platform/tickets, page by page."""
    items, params = [], {}
    for _ in range(50):
        page = ok(api.get("/v1/platform/tickets", api.platform_key, params=params))
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        params = {"cursor": page["next_cursor"]}
    raise AssertionError("GET /v1/platform/tickets: the cursor does not end")


def download(api, ticket: dict, attachment: dict, token):
    return api.get(f"{ticket_path(ticket)}/attachments/{attachment['id']}", token)


# --- settings --------------------------------------------------------------------------------


def test_settings_start_disabled_and_only_owners_and_admins_change_them(api):
    store = api.new_store()
    agent = api.new_agent(store)["token"]
    admin = api.new_agent(store, role="admin")["token"]
    customer_id, shopper = api.customer_token(store)
    push_order(api, store, "o-1", customer_id, "delivered")

    # The defaults, readable by every staff member but not by shoppers.
    defaults = settings_of(api, agent)
    assert defaults["enabled"] is False and defaults["allow_attachments"] is True
    assert defaults["default_reply_template_id"] is None and defaults["tracking_url_template"] is None
    assert set(defaults["texts"]) == {"tracking_message", "order_details_message", "ticket_opened_message"}
    assert all(isinstance(t, str) and t for t in defaults["texts"].values()), defaults["texts"]
    assert isinstance(defaults["version"], int) and "updated_at" in defaults
    assert settings_of(api, store.owner_token) == defaults
    assert_problem(api.get(SETTINGS, shopper), 403)

    # While disabled the shopper is told so, naming the setting.
    r = flow(api, shopper, "delayed-order", {"order_id": "o-1"})
    assert_problem(r, 409, "self_service_disabled", ["enabled"])

    # Agents and shoppers may not change them.
    assert_problem(api.patch(SETTINGS, agent, json={"enabled": True}), 403)
    assert_problem(api.patch(SETTINGS, shopper, json={"enabled": True}), 403)
    assert settings_of(api, agent)["enabled"] is False

    # An admin turns them on with the current version: the version moves on.
    r = api.patch(SETTINGS, admin, json={"enabled": True}, headers={"If-Match": f'"{defaults["version"]}"'})
    enabled = ok(r)
    assert enabled["enabled"] is True and enabled["version"] == defaults["version"] + 1
    assert enabled["texts"] == defaults["texts"] and enabled["allow_attachments"] is True
    assert settings_of(api, agent) == enabled
    assert ok(flow(api, shopper, "delayed-order", {"order_id": "o-1"}))["outcome"] == "order_details"

    # The owner changes one text: the others are kept (texts merge key by key).
    mine = "Your order {order_id}: {tracking_url}"
    merged = change_settings(api, store.owner_token, texts={"tracking_message": mine})
    assert merged["texts"] == {**defaults["texts"], "tracking_message": mine}
    assert merged["version"] == enabled["version"] + 1

    # Refused, naming the field, and nothing changes: an unknown placeholder, an unknown field.
    for body, field in (({"texts": {"tracking_message": "Use {coupon} at {tracking_url}"}},
                         "texts.tracking_message"),
                        ({"tracking_url_template": "https://track.example/{parcel}"}, "tracking_url_template"),
                        ({"colour": "red"}, "colour")):
        r = api.patch(SETTINGS, store.owner_token, json=body)
        assert r.status_code in (400, 422), r.text
        assert_problem(r, r.status_code, fields=[field])
    assert settings_of(api, agent) == merged

    # A stale If-Match: 412, and nothing changes.
    r = api.patch(SETTINGS, store.owner_token, json={"enabled": False},
                  headers={"If-Match": f'"{enabled["version"]}"'})
    assert_problem(r, 412)
    assert settings_of(api, agent) == merged


def test_every_flow_answers_409_while_self_service_is_disabled(api):
    store = api.new_store()
    customer_id, shopper = api.customer_token(store)
    push_order(api, store, "o-1", customer_id, "delivered")
    bodies = valid_flow_bodies(delayed_order="o-1", delivered_order="o-1")
    for name in FLOWS:
        assert_problem(flow(api, shopper, name, bodies[name]), 409, "self_service_disabled", ["enabled"])
    assert my_tickets(api, store.owner_token) == []


def test_while_disabled_the_flows_say_so_before_looking_the_order_up(api):
    store = api.new_store()
    _, shopper = api.customer_token(store)

    # "The self-service endpoints answer 409 while false": even for an order that does not exist.
    for name, body in (("delayed-order", {"order_id": "no-such-order"}),
                       ("product-exchange", {"order_id": "no-such-order", "item": "DATES-1", "reason": "damaged"})):
        assert_problem(flow(api, shopper, name, body), 409, "self_service_disabled", ["enabled"])


# --- my order is late ------------------------------------------------------------------------


def test_a_shipped_order_younger_than_48_hours_gets_its_tracking_link(api):
    store = open_store(api, texts={"tracking_message": "Order {order_id}: {tracking_url}"})
    customer_id, shopper = api.customer_token(store)

    for status in ("delivering", "completed", "awaiting_review"):
        url = f"https://carrier.example/track/{status}"
        push_order(api, store, f"young-{status}", customer_id, status, age=YOUNG, tracking_url=url)
        r = flow(api, shopper, "delayed-order", {"order_id": f"young-{status}"})
        answer = ok(r, 200)
        assert answer["outcome"] == "track_order", (status, answer)
        assert answer["tracking_url"] == url
        assert answer["message"] == f"Order young-{status}: {url}"
        assert not answer.get("ticket")

    # Nothing opened; the link is sent to the shopper as an event (for notifications).
    assert my_tickets(api, shopper) == [] and my_tickets(api, store.owner_token) == []

    def shared():
        items = ok(api.get("/v1/events", store.owner_token, params={"after": "0", "limit": 1000}))["items"]
        return [e for e in items if e["type"] == "self_service.tracking_link_shared"]

    events = eventually(shared, lambda found: len(found) >= 3, 10, "three self_service.tracking_link_shared events")
    assert {(e["data"]["order_id"], e["data"]["customer_id"]) for e in events} == \
        {(f"young-{s}", customer_id) for s in ("delivering", "completed", "awaiting_review")}


def test_the_stores_template_stands_in_for_a_missing_tracking_url(api):
    with_template = open_store(api, tracking_url_template="https://track.example/parcels/{order_id}")
    customer_id, shopper = api.customer_token(with_template)
    push_order(api, with_template, "T-77", customer_id, "delivering", age=YOUNG)
    push_order(api, with_template, "T-78", customer_id, "delivering", age=YOUNG,
               tracking_url="https://own.example/78")

    answer = ok(flow(api, shopper, "delayed-order", {"order_id": "T-77"}))
    assert (answer["outcome"], answer["tracking_url"]) == ("track_order", "https://track.example/parcels/T-77")
    # The order's own link comes first.
    assert ok(flow(api, shopper, "delayed-order", {"order_id": "T-78"}))["tracking_url"] == "https://own.example/78"

    # Neither: no link (the message says so).
    without = open_store(api)
    customer_id, shopper = api.customer_token(without)
    push_order(api, without, "T-77", customer_id, "delivering", age=YOUNG)
    answer = ok(flow(api, shopper, "delayed-order", {"order_id": "T-77"}))
    assert answer["outcome"] == "track_order" and answer["tracking_url"] is None and answer["message"]


def test_a_shipped_order_48_hours_old_opens_one_ticket_carrying_the_tracking_link(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)

    for status, details in (("delivering", "Still waiting."), ("completed", None)):
        order_id, url = f"old-{status}", f"https://carrier.example/track/old-{status}"
        push_order(api, store, order_id, customer_id, status, age=OLD, tracking_url=url)
        key = {"Idempotency-Key": f"late-{uuid.uuid4().hex}"}
        body = {"order_id": order_id, **({"details": details} if details else {})}
        answer = opened(flow(api, shopper, "delayed-order", body, headers=key), "order_delayed")
        ticket = answer["ticket"]
        assert answer["tracking_url"] == url and answer["message"]
        assert (ticket["order_id"], ticket["status"], ticket["customer_id"]) == (order_id, "open", customer_id)
        # The first message: the shopper's details, or a generated line.
        first_message = ticket["messages"][0]["body"]
        assert first_message == (details or first_message) and first_message.strip(), first_message

        # The same request again (same Idempotency-Key): the same answer.
        replayed = opened(flow(api, shopper, "delayed-order", body, headers=key), "order_delayed")
        assert replayed["ticket"]["id"] == ticket["id"]

        # The tracking message is an automatic system reply in the timeline, seen by the shopper.
        items = history(api, ticket, shopper)
        automatic = [i for i in items
                     if i["type"] == "ticket.replied" and i["data"].get("automatic") == "tracking_link"]
        assert len(automatic) == 1, items
        assert automatic[0]["actor"] == {"type": "system", "id": "self-service"}
        assert url in automatic[0]["data"]["body"]
        assert any(url in m["body"] for m in ok(api.get(ticket_path(ticket), shopper))["messages"])

        # Asked again: the open ticket, not a second one.
        again = ok(flow(api, shopper, "delayed-order", {"order_id": order_id}), 200)
        assert again["outcome"] == "ticket_exists" and again["ticket"]["id"] == ticket["id"]
    assert len(my_tickets(api, shopper)) == 2

    # Once that ticket is closed, a new one may be opened.
    first = my_tickets(api, shopper)[-1]
    ok(api.post(f"{ticket_path(first)}/status", shopper, json={"status": "closed"}))
    again = opened(flow(api, shopper, "delayed-order", {"order_id": first["order_id"]}), "order_delayed")
    assert again["ticket"]["id"] != first["id"]


def test_an_order_awaiting_review_for_48_hours_offers_a_ticket_opened_under_review(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    push_order(api, store, "rev-1", customer_id, "awaiting_review", age=OLD)

    answer = ok(flow(api, shopper, "delayed-order", {"order_id": "rev-1"}), 200)
    assert answer["outcome"] == "ticket_available" and not answer.get("ticket")
    assert my_tickets(api, shopper) == []  # nothing stored

    answer = opened(flow(api, shopper, "delayed-order",
                         {"order_id": "rev-1", "open_ticket": True, "details": "Please review my order."}),
                    "order_delayed")
    ticket = answer["ticket"]
    assert (ticket["status"], ticket["order_id"]) == ("under_review", "rev-1")
    assert ticket["messages"][0]["body"] == "Please review my order."
    assert ok(api.get(ticket_path(ticket), store.owner_token))["status"] == "under_review"


def test_a_delivered_order_gets_its_details_at_any_age(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)

    for name, age in (("young", YOUNG), ("old", OLD)):
        push_order(api, store, f"del-{name}", customer_id, "delivered", age=age)
        answer = ok(flow(api, shopper, "delayed-order", {"order_id": f"del-{name}", "open_ticket": True}), 200)
        assert answer["outcome"] == "order_details" and answer["message"], answer
        assert (answer["order"]["id"], answer["order"]["status"]) == (f"del-{name}", "delivered")
        assert not answer.get("ticket")
    assert my_tickets(api, shopper) == []


def test_an_order_in_progress_is_explained_while_young_and_opens_an_open_ticket_when_old(api):
    store = open_store(api, texts={"ticket_opened_message": "Ticket #{ticket_number} is open"})
    customer_id, shopper = api.customer_token(store)
    push_order(api, store, "prog-young", customer_id, "in_progress", age=YOUNG)

    answer = ok(flow(api, shopper, "delayed-order", {"order_id": "prog-young", "open_ticket": True}), 200)
    assert answer["outcome"] == "order_in_progress" and answer["order"]["id"] == "prog-young"
    assert my_tickets(api, shopper) == []

    push_order(api, store, "prog-old", customer_id, "in_progress", age=OLD)
    answer = ok(flow(api, shopper, "delayed-order", {"order_id": "prog-old"}), 200)
    assert answer["outcome"] == "ticket_available"
    assert my_tickets(api, shopper) == []

    answer = opened(flow(api, shopper, "delayed-order", {"order_id": "prog-old", "open_ticket": True}),
                    "order_delayed")
    assert answer["ticket"]["status"] == "open" and answer["ticket"]["order_id"] == "prog-old"
    assert answer["message"] == f"Ticket #{answer['ticket']['number']} is open"


def test_cancelled_refused_and_returned_orders_are_only_explained(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)

    for status, outcome in (("cancelled", "order_cancelled"), ("refused", "order_cancelled"),
                            ("returned", "order_returned")):
        for name, age in (("young", YOUNG), ("old", OLD)):
            order_id = f"{status}-{name}"
            push_order(api, store, order_id, customer_id, status, age=age)
            answer = ok(flow(api, shopper, "delayed-order", {"order_id": order_id, "open_ticket": True}), 200)
            assert answer["outcome"] == outcome, (order_id, answer)
            assert answer["order"]["id"] == order_id and answer["message"]
    assert my_tickets(api, shopper) == []


def test_another_customers_order_is_not_found_like_an_unknown_one(api):
    store = open_store(api)
    _, shopper = api.customer_token(store)
    other_id = api.new_customer(store, name="Someone Else")["id"]
    push_order(api, store, "theirs-1", other_id, "delivering", age=OLD, tracking_url="https://carrier.example/x")

    theirs = flow(api, shopper, "delayed-order", {"order_id": "theirs-1"})
    unknown = flow(api, shopper, "delayed-order", {"order_id": "nobody-1"})
    assert_problem(theirs, 404, "order_not_found")
    assert_problem(unknown, 404, "order_not_found")
    for leak in (other_id, "Someone Else", "carrier.example"):
        assert leak not in theirs.text
    assert my_tickets(api, store.owner_token) == []


# --- charged but no order number ---------------------------------------------------------------


def charged(api, shopper, headers=None, **fields):
    body = {"payment_method": "mada", "card_last4": "1234", "details": "I was charged 250 SAR but got no order.",
            **fields}
    return flow(api, shopper, "charged-without-order", body, headers=headers)


def test_charged_without_an_order_opens_a_ticket_the_platform_answers(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)

    key = {"Idempotency-Key": f"charged-{uuid.uuid4().hex}"}
    r = charged(api, shopper, headers=key)
    answer = opened(r, "charged_without_order")
    ticket = answer["ticket"]
    assert ticket["handled_by"] == "platform" and ticket["customer_id"] == customer_id
    assert ticket["payment"] == {"method": "mada", "card_last4": "1234"}
    # Generated. (The contract's example ends "(mada •••• 1234)", but the store sees subjects in its
    # list and must not see payment details: the last four digits may be left out.)
    assert ticket["subject"].startswith("Charged without an order number (mada"), ticket["subject"]
    assert ticket["messages"][0]["body"] == "I was charged 250 SAR but got no order."
    assert answer["message"]
    promised = at(answer["expected_contact_by"]) - at(ticket["created_at"])
    assert abs(promised - timedelta(days=3)) < timedelta(seconds=5), promised

    # The same request again (same Idempotency-Key): the same ticket, no second one.
    again = ok(charged(api, shopper, headers=key), 201)
    assert again["ticket"]["id"] == ticket["id"]
    assert [t["id"] for t in my_tickets(api, shopper)] == [ticket["id"]]

    # The platform lists it across stores, reads it whole and answers it.
    listed = [t for t in platform_tickets(api) if t["id"] == ticket["id"]]
    assert len(listed) == 1 and listed[0]["type"] == "charged_without_order"
    full = ok(api.get(ticket_path(ticket), api.platform_key))
    assert full["payment"] == {"method": "mada", "card_last4": "1234"} and full["messages"]
    ok(api.post(f"{ticket_path(ticket)}/replies", api.platform_key,
                json={"body": "We found the payment: it is refunded within 5 days."}))
    ok(api.post(f"{ticket_path(ticket)}/notes", api.platform_key, json={"body": "Acquirer ref 77AB, reviewed."}))
    assert [i["type"] for i in history(api, ticket, api.platform_key)] == \
        ["ticket.opened", "ticket.replied", "ticket.note_added"]

    # The shopper sees the answer and replies as on any ticket.
    r = api.get(ticket_path(ticket), shopper)
    seen = ok(r)
    assert seen["messages"][-1]["body"] == "We found the payment: it is refunded within 5 days."
    assert seen["messages"][-1]["author"]["type"] != "customer"
    assert "Acquirer ref" not in r.text  # the platform's note is internal
    ok(api.post(f"{ticket_path(ticket)}/replies", shopper, json={"body": "Thank you!"}))

    # The platform solves it: the store sees the status change.
    ok(api.post(f"{ticket_path(ticket)}/status", api.platform_key, json={"status": "solved"}))
    (item,) = [t for t in my_tickets(api, store.owner_token) if t["id"] == ticket["id"]]
    assert item["status"] == "solved"
    assert ok(api.get(ticket_path(ticket), store.owner_token))["status"] == "solved"
    changes = [i for i in history(api, ticket, store.owner_token) if i["type"] == "ticket.status_changed"]
    assert [i["data"]["status"] for i in changes] == ["solved"]


def test_store_staff_see_a_platform_ticket_restricted_and_cannot_change_it(api):
    store = open_store(api)
    _, shopper = api.customer_token(store)
    ticket = opened(charged(api, shopper, payment_method="stc_pay", card_last4="9876",
                            details="Charged 99 SAR, private details here."), "charged_without_order")["ticket"]
    path = ticket_path(ticket)
    agent = api.new_agent(store)["token"]

    for staff in (store.owner_token, agent):
        # Listed, with its status.
        (item,) = [t for t in my_tickets(api, staff) if t["id"] == ticket["id"]]
        assert item["status"] == "open" and item["type"] == "charged_without_order"

        # A restricted view: no messages, no payment details.
        r = api.get(path, staff)
        view = ok(r)
        assert view["restricted"] is True and view["handled_by"] == "platform" and view["status"] == "open"
        assert not view.get("messages") and not view.get("payment")
        assert "private details" not in r.text and "9876" not in r.text

        # The history shows no messages either.
        r = api.get(f"{path}/history", staff)
        assert {i["type"] for i in ok(r)["items"]} <= {"ticket.status_changed"}, r.text
        assert "private details" not in r.text and "9876" not in r.text

        # And nothing may be changed by the store.
        for sub, body in (("replies", {"body": "We will look"}), ("notes", {"body": "hmm"}),
                          ("status", {"status": "solved"})):
            assert_problem(api.post(f"{path}/{sub}", staff, json=body), 403, "handled_by_platform")
    assert ok(api.get(path, api.platform_key))["version"] == ticket["version"]

    # Its reserved type is not the store's to change (refused as the platform's ticket or as a
    # reserved type: the contract names both), nor to set on another ticket.
    r = api.patch(path, store.owner_token, json={"type": "general"})
    assert r.status_code in (403, 422), r.text
    assert ok(api.get(path, api.platform_key))["type"] == "charged_without_order"
    other = api.open_ticket(shopper)
    assert_problem(api.patch(ticket_path(other), store.owner_token, json={"type": "charged_without_order"}), 422,
                   fields=["type"])
    assert_problem(api.patch(ticket_path(other), store.owner_token, json={"type": "customer_data_change"}), 422,
                   fields=["type"])


def test_a_full_card_number_as_card_last4_is_refused_and_not_echoed(api):
    store = open_store(api)
    _, shopper = api.customer_token(store)

    for bad in ("4111111111111111", "4111 1111 1111 1111"):
        r = charged(api, shopper, card_last4=bad)
        assert_problem(r, 400, fields=["card_last4"])
        assert "4111111111111111" not in r.text and bad not in r.text, r.text
    for bad in ("12a4", "123", "12345", "١٢٣٤", 1234):
        assert_problem(charged(api, shopper, card_last4=bad), 400, fields=["card_last4"])
    assert_problem(charged(api, shopper, payment_method="cash"), 400, fields=["payment_method"])
    assert_problem(charged(api, shopper, details=""), 400, fields=["details"])
    assert my_tickets(api, shopper) == []


# --- a blocked shopper -----------------------------------------------------------------------------


def test_a_blocked_shopper_is_refused_by_every_flow(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    push_order(api, store, "o-1", customer_id, "delivered")
    push_order(api, store, "o-2", customer_id, "delivering", age=OLD)
    ok(api.post(f"/v1/customers/{customer_id}/block", store.owner_token, json={"reason": "abusive_language"}))

    bodies = valid_flow_bodies(delayed_order="o-2", delivered_order="o-1")
    for name in FLOWS:
        r = flow(api, shopper, name, bodies[name])
        assert_problem(r, 403, "customer_blocked")
        assert "abusive_language" not in r.text
    assert my_tickets(api, store.owner_token) == []


# --- product exchange ----------------------------------------------------------------------------


def test_an_item_of_a_delivered_order_is_exchanged_by_sku_or_by_name(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    push_order(api, store, "ex-1", customer_id, "delivered")

    answer = opened(flow(api, shopper, "product-exchange",
                         {"order_id": "ex-1", "item": "DATES-1", "reason": "damaged",
                          "preferred_replacement": "The same dates, a new box", "details": "The box was crushed."}),
                    "product_exchange")
    ticket = answer["ticket"]
    expected = {"order_id": "ex-1", "item": {"name": "Dates 1kg", "sku": "DATES-1", "quantity": 2},
                "reason": "damaged", "preferred_replacement": "The same dates, a new box"}
    assert ticket["exchange"] == expected and ticket["order_id"] == "ex-1"
    assert ok(api.get(ticket_path(ticket), store.owner_token))["exchange"] == expected
    opened_event = history(api, ticket, store.owner_token)[0]
    assert opened_event["type"] == "ticket.opened" and opened_event["data"]["exchange"] == expected

    # By its exact name (an item without a sku).
    ticket = opened(flow(api, shopper, "product-exchange",
                         {"order_id": "ex-1", "item": "Arabic coffee", "reason": "wrong_item"}),
                    "product_exchange")["ticket"]
    assert ticket["exchange"]["item"] == {"name": "Arabic coffee", "sku": None, "quantity": 1}
    assert ticket["exchange"]["reason"] == "wrong_item"


def test_an_exchange_needs_the_shoppers_delivered_order_and_one_of_its_items(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    push_order(api, store, "ex-1", customer_id, "delivered")
    push_order(api, store, "ex-2", customer_id, "delivering")
    push_order(api, store, "ex-3", api.new_customer(store)["id"], "delivered")
    body = {"item": "DATES-1", "reason": "damaged"}

    assert_problem(flow(api, shopper, "product-exchange", {**body, "order_id": "ex-2"}), 409, "order_not_delivered")
    assert_problem(flow(api, shopper, "product-exchange", {**body, "order_id": "ex-3"}), 404, "order_not_found")
    assert_problem(flow(api, shopper, "product-exchange", {**body, "order_id": "ex-9"}), 404, "order_not_found")
    for item in ("SOCKS-9", "dates 1kg", "Dates"):  # unknown, not the exact name, a part of it
        assert_problem(flow(api, shopper, "product-exchange", {**body, "order_id": "ex-1", "item": item}), 422,
                       fields=["item"])
    assert_problem(flow(api, shopper, "product-exchange", {**body, "order_id": "ex-1", "reason": "bored"}), 400,
                   fields=["reason"])
    r = flow(api, shopper, "product-exchange", {**body, "order_id": "ex-1", "preferred_replacement": "x" * 301})
    assert r.status_code in (400, 422) and "preferred_replacement" in r.json()["errors"], r.text
    assert my_tickets(api, shopper) == []


# --- customer data change ------------------------------------------------------------------------


def test_a_data_change_is_applied_to_the_card_when_staff_approve_it(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    agent = api.new_agent(store)["token"]
    changes = {"name": "Noura Saleh", "city": "Jeddah"}

    answer = opened(flow(api, shopper, "customer-data-change", {"changes": changes, "details": "I moved."}),
                    "customer_data_change")
    ticket = answer["ticket"]
    assert ticket["data_change"] == {"fields": changes, "state": "pending"}
    path = ticket_path(ticket)
    card_before = ok(api.get(f"/v1/customers/{customer_id}", agent))
    assert (card_before["name"], card_before["city"]) != ("Noura Saleh", "Jeddah")

    # The shopper cannot approve their own change.
    assert_problem(api.post(f"{path}/data-change/approve", shopper, json={}), 403)

    # An agent approves: the card changes, the ticket records it.
    ok(api.post(f"{path}/data-change/approve", agent, json={}))
    card = ok(api.get(f"/v1/customers/{customer_id}", agent))
    assert (card["name"], card["city"]) == ("Noura Saleh", "Jeddah")
    (approved,) = [i for i in history(api, ticket, agent) if i["type"] == "ticket.data_change_approved"]
    assert approved["data"]["fields"] == changes and approved["data"]["customer_version"] == card["version"]
    assert ok(api.get(path, agent))["data_change"]["state"] != "pending"

    # Decided once.
    assert_problem(api.post(f"{path}/data-change/approve", agent, json={}), 409, "data_change_decided")
    assert_problem(api.post(f"{path}/data-change/reject", agent, json={"reason": "changed my mind"}), 409,
                   "data_change_decided")
    assert ok(api.get(f"/v1/customers/{customer_id}", agent))["version"] == card["version"]


def test_a_rejected_data_change_records_the_reason_and_leaves_the_card(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    card_before = ok(api.get(f"/v1/customers/{customer_id}", store.owner_token))
    ticket = opened(flow(api, shopper, "customer-data-change", {"changes": {"email": "new@example.com"}}),
                    "customer_data_change")["ticket"]
    path = ticket_path(ticket)

    assert_problem(api.post(f"{path}/data-change/reject", shopper, json={"reason": "no"}), 403)
    ok(api.post(f"{path}/data-change/reject", store.owner_token, json={"reason": "Send it from your account email"}))
    (rejected,) = [i for i in history(api, ticket, store.owner_token) if i["type"] == "ticket.data_change_rejected"]
    assert rejected["data"]["reason"] == "Send it from your account email"
    assert ok(api.get(f"/v1/customers/{customer_id}", store.owner_token)) == card_before
    assert_problem(api.post(f"{path}/data-change/approve", store.owner_token, json={}), 409, "data_change_decided")

    # A change asks for at least one known field; a ticket of another type has nothing to decide.
    for changes in ({}, {"colour": "red"}):
        r = flow(api, shopper, "customer-data-change", {"changes": changes})
        assert r.status_code in (400, 422) and "changes" in json.dumps(r.json()["errors"]), r.text
    plain = api.open_ticket(shopper)
    r = api.post(f"{ticket_path(plain)}/data-change/approve", store.owner_token, json={})
    assert 400 <= r.status_code < 500, r.text


def test_a_data_change_to_a_mobile_taken_by_another_customer_stays_pending(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    taken = api.new_customer(store, name="Huda")["mobile"]
    card_before = ok(api.get(f"/v1/customers/{customer_id}", store.owner_token))
    ticket = opened(flow(api, shopper, "customer-data-change", {"changes": {"mobile": taken}}),
                    "customer_data_change")["ticket"]
    path = ticket_path(ticket)

    assert_problem(api.post(f"{path}/data-change/approve", store.owner_token, json={}), 409, "mobile_taken")
    after = ok(api.get(path, store.owner_token))
    assert after["data_change"] == {"fields": {"mobile": taken}, "state": "pending"}
    assert not [i for i in history(api, ticket, store.owner_token) if i["type"].startswith("ticket.data_change_")]
    assert ok(api.get(f"/v1/customers/{customer_id}", store.owner_token)) == card_before

    # Still pending: it can be rejected.
    ok(api.post(f"{path}/data-change/reject", store.owner_token, json={"reason": "That number is someone else's"}))


# --- canned responses ------------------------------------------------------------------------------


def test_admins_write_canned_responses_with_known_placeholders_only(api):
    store = api.new_store()
    admin = api.new_agent(store, role="admin")["token"]
    agent = api.new_agent(store)["token"]
    _, shopper = api.customer_token(store)
    body = "Hello {customer_name}, order {order_id}, ticket #{ticket_number}"

    r = api.post(CANNED, admin, json={"title": "Greeting", "body": body})
    canned = ok(r, 201)
    assert (canned["title"], canned["body"], canned["version"]) == ("Greeting", body, 1)
    assert canned["id"] and canned["created_at"] and canned["updated_at"]

    # Staff read them; agents and shoppers do not write them.
    assert ok(api.get(f"{CANNED}/{canned['id']}", agent)) == canned
    assert [c["id"] for c in ok(api.get(CANNED, agent))["items"]] == [canned["id"]]
    assert_problem(api.post(CANNED, agent, json={"title": "Mine", "body": "Hi"}), 403)
    assert_problem(api.get(CANNED, shopper), 403)
    assert_problem(api.post(CANNED, shopper, json={"title": "Mine", "body": "Hi"}), 403)

    # Refused: an unknown placeholder (naming body), a taken title, too long.
    assert_problem(api.post(CANNED, admin, json={"title": "Coupon", "body": "Use {coupon_code}"}), 422,
                   fields=["body"])
    assert_problem(api.post(CANNED, store.owner_token, json={"title": "Greeting", "body": "Hi"}), 409, "title_taken")
    r = api.post(CANNED, admin, json={"title": "x" * 101, "body": "Hi"})
    assert r.status_code in (400, 422) and "title" in r.json()["errors"], r.text
    r = api.post(CANNED, admin, json={"title": "Long", "body": "x" * 5001})
    assert r.status_code in (400, 422) and "body" in r.json()["errors"], r.text
    # Doubled braces are literal braces, not placeholders.
    ok(api.post(CANNED, admin, json={"title": "Braces", "body": "Code {{VIP}} for #{ticket_number}"}), 201)
    assert len(ok(api.get(CANNED, agent))["items"]) == 2


def test_a_canned_reply_is_filled_for_the_shopper_and_its_note_stays_with_staff(api):
    store = api.new_store()
    admin = api.new_agent(store, role="admin")["token"]
    agent = api.new_agent(store)["token"]
    _, shopper = api.customer_token(store)  # a card named Noura
    greeting = ok(api.post(CANNED, admin, json={
        "title": "Greeting", "body": "Hello {customer_name}, order {order_id}, ticket #{ticket_number}"}), 201)
    braces = ok(api.post(CANNED, admin, json={"title": "Braces", "body": "Code {{VIP}} for #{ticket_number}"}), 201)
    ticket = api.open_ticket(shopper, subject="Where is my order", body="Order ord-55 is late.", order_id="ord-55")
    path = ticket_path(ticket)
    known_name(api, store, ticket, "Noura")

    r = api.post(f"{path}/replies", agent, json={"canned_response_id": greeting["id"],
                                                 "note": "internal: offered a coupon"})
    staff_view = ok(r)
    filled = f"Hello Noura, order ord-55, ticket #{ticket['number']}"
    reply, note = staff_view["messages"][-2:]
    assert (reply["body"], reply["internal"]) == (filled, False)
    assert (note["body"], note["internal"]) == ("internal: offered a coupon", True)

    # The shopper sees the filled text, never the note.
    r = api.get(path, shopper)
    assert ok(r)["messages"][-1]["body"] == filled
    assert "offered a coupon" not in r.text
    assert "offered a coupon" not in api.get(f"{path}/history", shopper).text

    # Staff see both, the note recorded right after the reply.
    items = history(api, ticket, agent)
    assert [i["type"] for i in items[-2:]] == ["ticket.replied", "ticket.note_added"]
    assert items[-2]["data"]["body"] == filled and items[-2]["data"].get("canned_response_id") == greeting["id"]
    assert items[-1]["data"]["body"] == "internal: offered a coupon"

    ok(api.post(f"{path}/replies", agent, json={"canned_response_id": braces["id"]}))
    assert ok(api.get(path, shopper))["messages"][-1]["body"] == f"Code {{VIP}} for #{ticket['number']}"

    # Body and canned response together: refused naming them. Shoppers send neither canned nor note.
    assert_problem(api.post(f"{path}/replies", agent, json={"body": "Hi", "canned_response_id": greeting["id"]}),
                   400, fields=["body", "canned_response_id"])
    assert_problem(api.post(f"{path}/replies", shopper, json={"canned_response_id": greeting["id"]}), 403,
                   "field_not_allowed")
    assert_problem(api.post(f"{path}/replies", shopper, json={"body": "Hi", "note": "secret"}), 403,
                   "field_not_allowed")


def test_a_placeholder_without_a_value_on_the_ticket_is_refused(api):
    store = api.new_store()
    _, shopper = api.customer_token(store)
    canned = ok(api.post(CANNED, store.owner_token, json={"title": "Order", "body": "About order {order_id}."}), 201)
    ticket = api.open_ticket(shopper)  # no order
    before = ok(api.get(ticket_path(ticket), store.owner_token))

    r = api.post(f"{ticket_path(ticket)}/replies", store.owner_token, json={"canned_response_id": canned["id"]})
    assert_problem(r, 422, "placeholder_unavailable", ["canned_response_id"])
    assert ok(api.get(ticket_path(ticket), store.owner_token))["version"] == before["version"]


def test_canned_responses_are_changed_deleted_and_chosen_as_the_default(api):
    store = api.new_store()
    admin = api.new_agent(store, role="admin")["token"]
    agent = api.new_agent(store)["token"]
    canned = ok(api.post(CANNED, admin, json={"title": "Thanks", "body": "Thank you!"}), 201)
    item = f"{CANNED}/{canned['id']}"

    changed = ok(api.patch(item, admin, json={"body": "Thank you, {customer_name}!"}))
    assert (changed["title"], changed["body"], changed["version"]) == ("Thanks", "Thank you, {customer_name}!", 2)
    assert ok(api.get(item, agent)) == changed
    assert_problem(api.patch(item, admin, json={"body": "Thanks {nickname}"}), 422, fields=["body"])
    assert_problem(api.patch(item, agent, json={"title": "Mine"}), 403)
    assert_problem(api.delete(item, agent), 403)

    # The store's default reply must be one of its canned responses.
    assert change_settings(api, admin, default_reply_template_id=canned["id"])["default_reply_template_id"] == \
        canned["id"]
    r = api.patch(SETTINGS, admin, json={"default_reply_template_id": str(uuid.uuid4())})
    assert_problem(r, 422, fields=["default_reply_template_id"])
    other = api.new_store()
    foreign = ok(api.post(CANNED, other.owner_token, json={"title": "Theirs", "body": "Hi"}), 201)
    assert_problem(api.patch(SETTINGS, admin, json={"default_reply_template_id": foreign["id"]}), 422,
                   fields=["default_reply_template_id"])
    assert_problem(api.get(f"{CANNED}/{foreign['id']}", agent), 404)

    assert api.delete(item, store.owner_token).status_code == 204
    assert_problem(api.get(item, agent), 404)
    assert ok(api.get(CANNED, agent))["items"] == []


# --- attachments ---------------------------------------------------------------------------------


def content_disposition_name(header: str) -> str:
    """The UTF-8 file name of ``attachment; filename="..."; filename*=UTF-8''...``."""
    assert header.startswith("attachment;"), header
    assert re.search(r'filename="[\x20-\x7e]*"', header), header
    encoded = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert encoded, header
    return unquote(encoded.group(1))


def assert_file(response, content: bytes, name: str, content_type="image/png") -> None:
    assert response.status_code == 200, response.text
    assert response.content == content
    assert response.headers["Content-Type"].split(";")[0] == content_type
    assert content_disposition_name(response.headers["Content-Disposition"]) == name
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in response.headers["Cache-Control"]


def test_a_shopper_uploads_an_image_and_both_sides_download_the_same_bytes(api):
    store = open_store(api)
    _, shopper = api.customer_token(store)
    agent = api.new_agent(store)["token"]
    ticket = api.open_ticket(shopper)
    path = ticket_path(ticket)
    name = "إيصال-الدفع.png"

    r = api.upload(f"{path}/attachments", shopper, name, PNG, "image/png")
    upload = ok(r, 201)
    assert upload["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (upload["filename"], upload["content_type"], upload["size"]) == (name, "image/png", len(PNG))
    assert upload["url"].endswith(f"{path}/attachments/{upload['id']}")

    # Not yet on a message: only its uploader fetches it.
    assert_file(download(api, ticket, upload, shopper), PNG, name)
    assert_problem(download(api, ticket, upload, agent), 404)

    # The shopper sends it (an empty body is fine with a file).
    view = ok(api.post(f"{path}/replies", shopper, json={"body": "", "attachments": [{"id": upload["id"]}]}))
    (sent,) = view["messages"][-1]["attachments"]
    assert (sent["id"], sent["sha256"], sent["filename"]) == (upload["id"], upload["sha256"], name)

    # Now staff and the shopper download the same bytes, as a download that is never sniffed.
    assert_file(download(api, ticket, upload, agent), PNG, name)
    assert_file(download(api, ticket, upload, store.owner_token), PNG, name)
    assert_file(download(api, ticket, upload, shopper), PNG, name)
    # Only under its own ticket.
    other_ticket = api.open_ticket(shopper, subject="Another")
    assert_problem(download(api, other_ticket, upload, agent), 404)
    assert_problem(download(api, other_ticket, upload, shopper), 404)


def test_the_first_bytes_decide_a_files_type_whatever_it_claims(api):
    store = open_store(api)
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper)
    files = {
        "image/png": PNG,
        "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
        "image/gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00"
                      b"\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00",
        "application/pdf": b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
    }
    for sniffed, content in files.items():
        # Claimed as something else, under a misleading name: the bytes win.
        r = api.upload(f"{ticket_path(ticket)}/attachments", shopper, "file.txt", content, "text/html")
        upload = ok(r, 201)
        assert (upload["content_type"], upload["size"]) == (sniffed, len(content)), upload
        assert upload["sha256"] == hashlib.sha256(content).hexdigest()
        r = download(api, ticket, upload, shopper)
        assert r.content == content and r.headers["Content-Type"].split(";")[0] == sniffed


def test_attachments_are_hidden_from_other_stores_other_shoppers_and_notes_from_shoppers(api):
    store = open_store(api)
    _, shopper = api.customer_token(store)
    _, other_shopper = api.customer_token(store)
    agent = api.new_agent(store)["token"]
    ticket = api.open_ticket(shopper)
    path = ticket_path(ticket)
    upload = ok(api.upload(f"{path}/attachments", shopper, "photo.png", PNG, "image/png"), 201)
    ok(api.post(f"{path}/replies", shopper, json={"body": "See the photo", "attachments": [{"id": upload["id"]}]}))

    other = api.new_store("Other")
    for token in (other.owner_token, api.new_agent(other)["token"], other_shopper):
        r = download(api, ticket, upload, token)
        assert_problem(r, 404)
        assert PNG not in r.content

    # Only its uploader attaches an upload, and only on its ticket.
    second = api.open_ticket(shopper, subject="Another one")
    fresh = ok(api.upload(f"{path}/attachments", shopper, "again.png", PNG, "image/png"), 201)
    for token, target in ((agent, path), (shopper, ticket_path(second))):
        r = api.post(f"{target}/replies", token, json={"body": "mine now", "attachments": [{"id": fresh["id"]}]})
        assert 400 <= r.status_code < 500, r.text

    # A file on an internal note is the staff's alone.
    staff_file = ok(api.upload(f"{path}/attachments", agent, "courier.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n",
                               "application/pdf"), 201)
    assert staff_file["content_type"] == "application/pdf"
    ok(api.post(f"{path}/notes", agent, json={"body": "Courier's proof", "attachments": [{"id": staff_file["id"]}]}))
    assert download(api, ticket, staff_file, store.owner_token).status_code == 200
    assert_problem(download(api, ticket, staff_file, shopper), 404)
    assert staff_file["id"] not in api.get(path, shopper).text
    assert ok(api.get(path, shopper))["messages"][-1]["body"] == "See the photo"


def test_uploads_are_refused_by_their_content_size_and_name(api):
    store = open_store(api)
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper)
    upload = f"{ticket_path(ticket)}/attachments"

    # The first bytes decide: an HTML page named .png is not an image.
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    assert_problem(api.upload(upload, shopper, "x.png", html, "image/png"), 415, "unsupported_file_type", ["file"])
    assert_problem(api.upload(upload, shopper, "x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                              "image/svg+xml"), 415, "unsupported_file_type", ["file"])

    # Over ATTACHMENT_MAX_BYTES (1 MiB in the test system).
    big = PNG + b"\x00" * (ATTACHMENT_TEST_MAX_BYTES + 1 - len(PNG))
    assert_problem(api.upload(upload, shopper, "big.png", big, "image/png"), 413, "payload_too_large")

    # Names with a path, control characters, or too long.
    for name in ("../../etc/passwd.png", "..\\..\\boot.png", "a/b.png", "bad\x07name.png", "x" * 252 + ".png"):
        assert_problem(api.upload(upload, shopper, name, PNG, "image/png"), 400, "invalid_filename", ["file"])

    # No file part at all.
    r = api.post(upload, shopper, files={"image": ("x.png", PNG, "image/png")})
    assert_problem(r, 400, fields=["file"])


def test_a_store_can_turn_off_shopper_uploads_but_staff_still_upload(api):
    store = open_store(api, allow_attachments=False)
    _, shopper = api.customer_token(store)
    agent = api.new_agent(store)["token"]
    ticket = api.open_ticket(shopper)
    upload = f"{ticket_path(ticket)}/attachments"

    assert_problem(api.upload(upload, shopper, "x.png", PNG, "image/png"), 409, "attachments_disabled")
    assert ok(api.upload(upload, agent, "x.png", PNG, "image/png"), 201)["sha256"] == hashlib.sha256(PNG).hexdigest()

    change_settings(api, store.owner_token, allow_attachments=True)
    ok(api.upload(upload, shopper, "x.png", PNG, "image/png"), 201)


# --- the conversation ----------------------------------------------------------------------------


def test_a_conversation_with_an_image_is_closed_rated_once_and_its_timeline_is_in_order(api):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    agent = api.new_agent(store)
    staff = agent["token"]
    ticket = api.open_ticket(shopper, subject="Broken jar", body="The jar arrived broken.")
    assert ticket["type"] == "general"
    path = ticket_path(ticket)

    image = ok(api.upload(f"{path}/attachments", shopper, "jar.png", PNG, "image/png"), 201)
    ok(api.post(f"{path}/replies", shopper, json={"body": "Here it is.", "attachments": [{"id": image["id"]}]}))
    ok(api.post(f"{path}/replies", staff, json={"body": "Sorry! A new jar is on its way."}))
    ok(api.post(f"{path}/notes", staff, json={"body": "Replacement sent from stock."}))
    ok(api.post(f"{path}/status", shopper, json={"status": "closed"}))

    rated = ok(api.post(f"{path}/rating", shopper, json={"score": 5, "comment": "Quick and kind."}))
    assert rated["rating"]["score"] == 5 and rated["rating"]["comment"] == "Quick and kind."
    assert_problem(api.post(f"{path}/rating", shopper, json={"score": 1}), 409, "already_rated")

    items = history(api, ticket, staff)
    assert [i["type"] for i in items] == ["ticket.opened", "ticket.replied", "ticket.replied", "ticket.note_added",
                                          "ticket.status_changed", "ticket.rated"]
    assert [i["version"] for i in items] == list(range(1, 7))
    assert [i["actor"]["type"] for i in items] == ["customer", "customer", "agent", "agent", "customer", "customer"]
    (attached,) = items[1]["data"]["attachments"]
    assert (attached["id"], attached["sha256"]) == (image["id"], hashlib.sha256(PNG).hexdigest())
    assert items[4]["data"]["status"] == "closed" and items[5]["data"]["score"] == 5
    times = [at(i["at"]) for i in items]
    assert times == sorted(times)

    # The shopper's timeline: the same, without the note.
    mine = history(api, ticket, shopper)
    assert [i["version"] for i in mine] == [1, 2, 3, 5, 6]
    assert "Replacement sent from stock" not in json.dumps(mine, ensure_ascii=False)
    assert customer_id == items[0]["actor"]["id"]


# --- card numbers never stored or carried ----------------------------------------------------------

FROM_ARABIC_INDIC = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")


def grouped(digits: str, sep: str, size=4) -> str:
    return sep.join(digits[i:i + size] for i in range(0, len(digits), size))


def typed_cards() -> tuple[dict[str, str], dict[str, set[str]]]:
    """The card numbers the test types, by where they go (Luhn-valid, 13 to 19
    digits, spaces or dashes, one in Arabic-Indic digits, each with its own
    last four), and what must never be found for each: the typed form, its
    digits, and their ASCII form."""
    fixed = {"charged": "5500-0000-0000-0004", "reply": "3782 822463 10005", "note": "6011000990139424",
             "exchange": "4111 1111 1111 1111"}
    used = {digits_of(n)[-4:] for n in fixed.values()}

    def fresh(prefix, length):
        number = luhn_card(prefix, length, avoid_last4=used)
        used.add(number[-4:])
        return number

    typed = {
        **fixed,
        "reply_arabic": grouped(fresh("5", 16), " ").translate(ARABIC_INDIC),
        "reply_13": fresh("4", 13),
        "data_change": grouped(fresh("6", 19), " "),
        "data_change_city": grouped(fresh("3", 14), "-"),
        "rating": grouped(fresh("4", 16), "-"),
        "delayed": grouped(fresh("2", 17), " "),
        "filename": grouped(fresh("5", 18), "-"),
        "canned": grouped(fresh("4", 16), " "),
        "card_last4": fresh("4", 16),  # only ever sent as card_last4, which is refused
    }
    assert all(luhn_ok(digits_of(n).translate(FROM_ARABIC_INDIC)) for n in typed.values())
    assert len({digits_of(n)[-4:] for n in typed.values()}) == len(typed)
    forbidden = {name: {n, digits_of(n), digits_of(n).translate(FROM_ARABIC_INDIC)} for name, n in typed.items()}
    return typed, forbidden


def test_card_numbers_typed_anywhere_reach_neither_postgresql_nor_rabbitmq(api, http_system):
    store = open_store(api)
    customer_id, shopper = api.customer_token(store)
    staff = api.new_agent(store)["token"]
    push_order(api, store, "cards-1", customer_id, "delivered")
    push_order(api, store, "cards-2", customer_id, "delivering", age=OLD)
    ticket = api.open_ticket(shopper, subject="A question", body="Nothing secret here.")
    path = ticket_path(ticket)
    typed, forbidden = typed_cards()
    sent = [name for name in typed if name != "card_last4"]

    def check_masked(response, status, *names):
        """The answer shows each card masked, and none in full."""
        assert response.status_code == status, response.text
        text = body_text(response)
        for name in names:
            assert not [n for n in forbidden[name] if n in text], (name, text)
            assert masked(typed[name]) in text, (name, text)

    vhost = vhosts_unavailable() is None
    with (Firehose(http_system) if vhost else contextlib.nullcontext()) as firehose:
        # The shopper's flows.
        check_masked(charged(api, shopper, details=f"Charged on card {typed['charged']} twice"), 201, "charged")
        r = charged(api, shopper, card_last4=typed["card_last4"])
        assert_problem(r, 400, fields=["card_last4"])
        assert not [n for n in forbidden["card_last4"] if n in r.text], r.text
        check_masked(flow(api, shopper, "customer-data-change", {
            "changes": {"city": f"Dammam {typed['data_change_city']}"},
            "details": f"My card is {typed['data_change']}"}), 201, "data_change", "data_change_city")
        check_masked(flow(api, shopper, "product-exchange", {
            "order_id": "cards-1", "item": "DATES-1", "reason": "other",
            "preferred_replacement": f"refund to {typed['exchange']}"}), 201, "exchange")
        check_masked(flow(api, shopper, "delayed-order", {
            "order_id": "cards-2", "details": f"Paid with {typed['delayed']}"}), 201, "delayed")

        # The conversation: replies, a note, a file's name, a canned response, the rating.
        check_masked(api.post(f"{path}/replies", shopper, json={
            "body": f"Cards: {typed['reply']}, {typed['reply_arabic']} and {typed['reply_13']}."}),
            200, "reply", "reply_arabic", "reply_13")
        check_masked(api.post(f"{path}/notes", staff, json={"body": f"Shopper wrote {typed['note']} in chat"}),
                     200, "note")
        r = api.upload(f"{path}/attachments", shopper, f"{typed['filename']}.png", PNG, "image/png")
        check_masked(r, 201, "filename")
        check_masked(api.post(f"{path}/replies", shopper, json={"attachments": [{"id": r.json()["id"]}]}),
                     200, "filename")
        r = api.post(CANNED, store.owner_token, json={"title": "Card", "body": f"Was it {typed['canned']}?"})
        check_masked(r, 201, "canned")
        check_masked(api.post(f"{path}/replies", staff, json={"canned_response_id": r.json()["id"]}), 200, "canned")
        ok(api.post(f"{path}/status", shopper, json={"status": "closed"}))
        check_masked(api.post(f"{path}/rating", shopper, json={
            "score": 2, "comment": f"Refund {typed['rating']} please"}), 200, "rating")

        # Read back later, everything is masked too.
        for token in (shopper, staff):
            text = "".join(body_text(api.get(p, token)) for p in (path, f"{path}/history", "/v1/tickets"))
            assert not [n for needles in forbidden.values() for n in needles if n in text], text

        if vhost:
            # Until the relay has published the last event (the rating) to the bus.
            eventually(lambda: [m for m in firehose.messages()
                              if "ticket.rated" in m["body"] and ticket["id"] in m["body"]],
                     bool, 20, "the ticket.rated event on the bus")
            carried = [unescaped(m["body"] + " " + json.dumps(m["headers"], default=str))
                       for m in firehose.messages()]

    # PostgreSQL: every row of every table of the system's schemas.
    rows = [(table, unescaped(text)) for table, text in http_system.table_rows()]
    for name, needles in forbidden.items():
        for table, text in rows:
            for needle in needles:
                assert needle not in text, f"{name} ({needle}) stored in {table}: {text[:500]}"
    stored = "\n".join(text for _, text in rows)
    for name in sent:
        assert masked(typed[name]) in stored, f"the masked {name} card is nowhere in PostgreSQL: the scan missed"

    # RabbitMQ: every message published or delivered while the cards were typed.
    if not vhost:
        pytest.skip("RabbitMQ scan skipped: no private virtual host (rabbitmqctl unusable), so no firehose trace")
    assert carried, "the firehose captured nothing"
    for name, needles in forbidden.items():
        for body in carried:
            for needle in needles:
                assert needle not in body, f"{name} ({needle}) carried by RabbitMQ: {body[:500]}"
    everything = "\n".join(carried)
    for name in sent:
        assert masked(typed[name]) in everything, f"the masked {name} card never crossed RabbitMQ: the trace missed"
