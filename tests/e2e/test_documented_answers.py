"""Every operation the published OpenAPI document lists answers, in a real
scenario, one of its documented success statuses with a body its documented
response schema accepts.

The document is fetched from the running gateway (``GET /v1/openapi.json``).
One scenario drives the whole system as a store lives it: the platform makes
stores, an owner, an admin and an agent work customer cards, groups, orders,
canned responses, tickets to their rating, self-service flows and their
data-change decisions, an uploaded file and its download, notification
settings, templates, preferences, a webhook with a delivery and a
redelivery, a held email retried; two other stores block the same shopper and
the platform key clears the fraud flag that raises; the event feed and
health are read. Every answer is recorded with the documented operation its
request was (``tests/support/documented.py``).

Then each answer is held against the document, strictly: an undocumented
field, a null the document does not call nullable, a type or format it does
not give, a status or a Content-Type it does not list, or a body where it
describes none, is a mismatch. All mismatches are reported at once, each
naming the operation, the status and the JSON path of its first error; and
the operations answered successfully must be exactly the documented ones, so
a new route without a step here fails, naming it.

This checks the published document on its own: the gateway's check of each
answer against its marshmallow schema (``GATEWAY_CHECK_RESPONSES``) is a
separate net.
"""
from __future__ import annotations

import struct
import traceback
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from tests.support.api import ok
from tests.support.documented import Document, Recorder
from tests.support.polling import eventually
from tests.support.webhook_receiver import WebhookReceiver

WAIT = 30.0  # what travels over the bus: relay, consumer, a send loop


# --- helpers ---------------------------------------------------------------------------------


def png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


PNG = png_1x1()


def new_mobile() -> str:
    return f"+96650{uuid.uuid4().int % 10**7:07d}"


def address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.sa"


def body(response, status: int | None = None):
    """The JSON of a 2xx answer (``status`` when the step must have it): the scenario goes on from it."""
    where = f"{response.request.method} {urlsplit(response.url).path}"
    assert 200 <= response.status_code < 300, f"{where} answered {response.status_code}: {response.text[:800]}"
    if status is not None:
        assert response.status_code == status, f"{where} answered {response.status_code}, not {status}"
    return response.json() if response.content else None


def order(customer_id: str, status: str, age: timedelta, updated: timedelta = timedelta(0), **fields) -> dict:
    """The store platform's order, created ``age`` ago."""
    now = datetime.now(timezone.utc)
    return {"customer_id": customer_id, "status": status, "created_at": (now - age).isoformat(),
            "updated_at": (now - age + updated).isoformat(), "total": "135.00", "currency": "SAR",
            "payment_method": "mada",
            "items": [{"name": "Dates 1kg", "sku": "DATES-1", "quantity": 2, "price": "50.00"},
                      {"name": "Arabic coffee", "sku": None, "quantity": 1, "price": None}], **fields}


def sent(delivery: dict) -> bool:
    return delivery["status"] == "sent"


@dataclass
class Scene:
    """Who and what the scenario made, as the sections go."""

    calls: Recorder
    platform: str
    receiver: WebhookReceiver
    store_id: str = ""
    owner: str = ""
    admin: str = ""
    admin_id: str = ""
    agent: str = ""
    agent_id: str = ""
    shopper: dict | None = None  # the main shopper's card
    shopper_token: str = ""
    other: dict | None = None  # a second card of the store
    group_id: str = ""
    canned_id: str = ""
    team_id: str = ""
    topic_id: str = ""
    rule_id: str = ""
    webhook: dict | None = None
    ticket: dict | None = None  # the main shopper's ticket


@pytest.fixture
def receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


# --- the test ---------------------------------------------------------------------------------


def test_every_documented_operation_answers_as_its_documentation_says(api, receiver):
    served = api.get("/v1/openapi.json")
    document = Document(ok(served))
    calls = Recorder(api, document)
    calls.record("GET", "/v1/openapi.json", served)

    stopped = None
    try:
        scenario(Scene(calls, api.platform_key, receiver))
    except Exception as error:  # noqa: BLE001 - a step refused or a wait ran out: reported with the rest
        stopped = f"the scenario stopped {where(error)}: {type(error).__name__}: {error}"

    failures = ([stopped] if stopped else []) + calls.mismatches()
    documented, answered = set(document.operations), calls.answered()
    failures += [f"{operation}: documented, but never answered with a documented success status"
                 for operation in sorted(documented - answered)]
    assert not failures and answered == documented, (
        f"{len(failures)} mismatches between the answers and the served OpenAPI document "
        f"({len(answered)} of {len(documented)} operations answered):\n  " + "\n  ".join(failures))


def where(error: BaseException) -> str:
    """``in tickets() at line 123``: the scenario's section that raised (and the line that did)."""
    here = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == __file__]
    sections = [n + 1 for n, frame in enumerate(here[:-1]) if frame.name == "scenario"]
    if not sections:
        return ""
    section, last = here[sections[0]], here[-1]
    inner = f" ({last.name}() at line {last.lineno})" if last is not section else ""
    return f"in {section.name}() at line {section.lineno}{inner}"


def scenario(s: Scene) -> None:
    health(s)
    stores_and_staff(s)
    customers(s)
    orders(s)
    groups(s)
    canned_responses(s)
    teams_topics_and_agents(s)
    category_rules(s)
    notification_settings_and_a_webhook(s)
    tickets(s)
    bulk_merge_and_split(s)
    forward_and_read(s)
    views_queue_and_sla(s)
    reports(s)
    self_service(s)
    a_held_email_retried(s)
    preferences_and_templates(s)
    webhook_deliveries(s)
    fraud_flags(s)
    the_event_feed(s)
    deletions(s)


# --- health ------------------------------------------------------------------------------------


def health(s: Scene) -> None:
    for path in ("/health/live", "/health/ready", "/health"):
        assert body(s.calls.get(path))["status"] == "ok"


# --- stores and staff --------------------------------------------------------------------------


def stores_and_staff(s: Scene) -> None:
    c = s.calls
    store = body(c.post("/v1/stores", s.platform, json={"name": "متجر الإجابات", "owner_name": "هدى",
                                                         "owner_email": address("owner")}), 201)
    s.store_id, s.owner = store["id"], store["owner_token"]
    admin = body(c.post("/v1/agents", s.owner, json={"name": "Amal", "email": address("admin"), "role": "admin"}),
                 201)
    s.admin, s.admin_id = admin["token"], admin["id"]
    agent = body(c.post("/v1/agents", s.admin, json={"name": "Sara", "email": address("agent"), "role": "agent"}),
                 201)
    s.agent, s.agent_id = agent["token"], agent["id"]

    assert {a["id"] for a in body(c.get("/v1/agents", s.agent))["items"]} >= {admin["id"], agent["id"]}
    assert body(c.get(f"/v1/agents/{agent['id']}", s.owner))["role"] == "agent"
    for token in (s.agent, s.platform):
        assert body(c.get(f"/v1/stores/{s.store_id}", token))["id"] == s.store_id


# --- customers ---------------------------------------------------------------------------------


def customers(s: Scene) -> None:
    c = s.calls
    body(c.patch("/v1/settings/customers", s.admin, json={"sms_sender_name": "Answers", "rating_channel": "email",
                                                          "storefront_url": "https://shop.example.sa"}))
    assert body(c.get("/v1/settings/customers", s.agent))["sms_sender_name"] == "Answers"

    s.shopper = body(c.post("/v1/customers", s.agent, json={
        "name": "Noura", "mobile": new_mobile(), "email": address("shopper"), "city": "Riyadh", "gender": "female",
        "birthday": "1990-05-01", "notes": "Prefers email"}), 201)
    s.other = body(c.post("/v1/customers", s.owner, json={"name": "Khalid", "mobile": new_mobile()}), 201)
    session = body(c.post(f"/v1/customers/{s.shopper['id']}/sessions", s.agent), 201)
    s.shopper_token = session["token"]

    card = f"/v1/customers/{s.shopper['id']}"
    r = c.get(card, s.agent)
    assert body(r)["email"] == s.shopper["email"]
    body(c.patch(card, s.agent, json={"city": "Jeddah", "birthday": None}, headers={"If-Match": r.headers["ETag"]}))
    assert [x["id"] for x in body(c.get("/v1/customers", s.agent, params={"q": "Noura", "sort": "name"}))["items"]] \
        == [s.shopper["id"]]

    imported = body(c.post("/v1/customers/import", s.admin, headers={"Content-Type": "text/csv; charset=utf-8"},
                           data=f"name,mobile,city\nLina,{new_mobile()},Dammam\nBad mobile,12,\n".encode()))
    assert (imported["created"], imported["rejected_count"]) == (1, 1), imported

    blocked = body(c.post(f"/v1/customers/{s.other['id']}/block", s.agent,
                          json={"reason": "other", "details": "abusive in chat"}))
    assert blocked["blocked"] and blocked["blocked_by"]
    assert body(c.get(f"/v1/customers/{s.other['id']}", s.agent))["blocked"] is True
    assert body(c.post(f"/v1/customers/{s.other['id']}/unblock", s.agent))["blocked"] is False

    options = f"{card}/payment-options"
    assert body(c.get(options, s.agent)) == body(c.get(options, s.shopper_token)) == {"cod_allowed": True}

    # Two other stores block the same mobile: the fraud watch flags it (read in "fraud flags").
    for name in ("Store X", "Store Y"):
        elsewhere = body(c.post("/v1/stores", s.platform, json={"name": name}), 201)
        twin = body(c.post("/v1/customers", elsewhere["owner_token"],
                           json={"name": "Noura", "mobile": s.shopper["mobile"]}), 201)
        body(c.post(f"/v1/customers/{twin['id']}/block", elsewhere["owner_token"],
                    json={"reason": "non_serious_orders"}))


# --- orders, rating requests and messages --------------------------------------------------------


def orders(s: Scene) -> None:
    c, shopper = s.calls, s.shopper["id"]
    first = order(shopper, "delivering", age=timedelta(hours=3))
    r = c.put("/v1/orders/ans-1", s.owner, json=first)
    assert body(r, 201)["status"] == "delivering" and r.headers["X-Order-Applied"] == "true"
    delivered = order(shopper, "delivered", age=timedelta(hours=3), updated=timedelta(hours=1),
                      tracking_url="https://carrier.example/ans-1")
    assert body(c.put("/v1/orders/ans-1", s.admin, json=delivered), 200)["status"] == "delivered"
    assert body(c.get("/v1/orders/ans-1", s.agent))["tracking_url"] == "https://carrier.example/ans-1"
    assert [o["id"] for o in body(c.get(f"/v1/customers/{shopper}/orders", s.agent))["items"]] == ["ans-1"]

    request = body(c.post(f"/v1/customers/{shopper}/rating-requests", s.agent, json={}), 202)
    assert request["order_ids"] == ["ans-1"]
    messages = f"/v1/customers/{shopper}/messages"
    assert body(c.post(messages, s.agent, json={"channel": "sms", "body": "Your order ships today."}),
                202)["sender_name"] == "Answers"
    assert body(c.post(messages, s.owner, json={"channel": "email", "subject": "Your order",
                                                "body": "It ships today."}), 202)["channel"] == "email"


# --- customer groups -----------------------------------------------------------------------------


def groups(s: Scene) -> None:
    c = s.calls
    group = body(c.post("/v1/customer-groups", s.agent, json={"name": "VIP"}), 201)
    s.group_id = group["id"]
    path = f"/v1/customer-groups/{group['id']}"
    added = body(c.post(f"{path}/members", s.agent, json={"customer_ids": [s.shopper["id"], s.other["id"]]}))
    assert added["changed"] == 2
    assert body(c.patch(path, s.agent, json={"name": "Gold"}))["name"] == "Gold"
    assert body(c.get(path, s.agent))["members_count"] == 2
    assert [g["id"] for g in body(c.get("/v1/customer-groups", s.agent))["items"]] == [group["id"]]
    assert body(c.get(f"/v1/customers/{s.shopper['id']}", s.agent))["groups"] == [{"id": group["id"],
                                                                                   "name": "Gold"}]
    removed = body(c.delete(f"{path}/members", s.agent, json={"filter": {"q": "Khalid"}}))
    assert removed["changed"] == 1 and removed["group"]["members_count"] == 1


# --- canned responses ----------------------------------------------------------------------------


def canned_responses(s: Scene) -> None:
    c = s.calls
    canned = body(c.post("/v1/canned-responses", s.admin, json={
        "title": "Greeting", "body": "Hello from {store_name}: ticket #{ticket_number}."}), 201)
    s.canned_id = canned["id"]
    path = f"/v1/canned-responses/{canned['id']}"
    r = c.get(path, s.agent)
    assert body(r)["title"] == "Greeting"
    changed = body(c.patch(path, s.admin, json={"body": "Hello from {store_name}: ticket #{ticket_number}, "
                                                        "{agent_name}."}, headers={"If-Match": r.headers["ETag"]}))
    assert changed["version"] == 2
    assert [x["id"] for x in body(c.get("/v1/canned-responses", s.agent))["items"]] == [canned["id"]]


# --- teams, contact topics, agents' profiles, the store's plan ---------------------------------------


def teams_topics_and_agents(s: Scene) -> None:
    c = s.calls
    plan = {"limits": {"staff_seats": 10, "teams": 5, "topics": None}}
    assert body(c.put(f"/v1/stores/{s.store_id}/plan", s.platform, json=plan))["limits"]["teams"] == 5
    assert body(c.get(f"/v1/stores/{s.store_id}/plan", s.agent))["limits"]["topics"] is None

    team = body(c.post("/v1/teams", s.admin, json={"name": "Shipping", "description": "Late parcels",
                                                   "assignment": {"mode": "round_robin"}}), 201)
    s.team_id, path = team["id"], f"/v1/teams/{team['id']}"
    r = c.get(path, s.agent)
    body(c.patch(path, s.admin, json={"assignment": {"mode": "least_loaded"}}, headers={"If-Match": r.headers["ETag"]}))
    body(c.post(f"{path}/members", s.admin, json={"agent_id": s.agent_id}))
    other = body(c.post("/v1/teams", s.owner, json={"name": "Leaving"}), 201)
    body(c.post(f"/v1/teams/{other['id']}/members", s.owner, json={"agent_id": s.agent_id}))
    body(c.delete(f"/v1/teams/{other['id']}/members", s.owner, json={"agent_id": s.agent_id}))
    body(c.post(f"/v1/teams/{other['id']}/members", s.owner, json={"agent_id": s.agent_id}))
    assert body(c.delete(f"/v1/teams/{other['id']}/members/{s.agent_id}", s.owner))["members"] == []
    assert {t["name"] for t in body(c.get("/v1/teams", s.agent))["items"]} == {"Shipping", "Leaving"}

    topic = body(c.post("/v1/topics", s.admin, json={
        "names": {"ar": "الشحن", "en": "Shipping"}, "descriptions": {"en": "Where is my parcel?"},
        "team_id": s.team_id, "email": "shipping@example.sa", "position": 1}), 201)
    s.topic_id = topic["id"]
    body(c.patch(f"/v1/topics/{topic['id']}", s.admin, json={"position": 2}))
    assert body(c.get(f"/v1/topics/{topic['id']}", s.agent))["team_id"] == s.team_id
    assert [t["id"] for t in body(c.get("/v1/topics", s.agent))["items"]] == [topic["id"]]

    me = body(c.patch(f"/v1/agents/{s.agent_id}", s.agent, json={"availability": "online"}))
    assert (me["availability"], me["teams"]) == ("online", [s.team_id])
    body(c.patch(f"/v1/agents/{s.agent_id}", s.admin, json={"capacity": 8, "skills": ["returns"]}))
    # Tickets on no team stay assigned by hand here (the queue below takes them).
    assert body(c.get("/v1/settings/agents", s.agent))["assignment_mode"] == "manual"
    body(c.patch("/v1/settings/agents", s.admin, json={"ticket_visibility": "all", "assignment_mode": "manual"}))


# --- category rules --------------------------------------------------------------------------------


def category_rules(s: Scene) -> None:
    c = s.calls
    # Instagram: no ticket of the scenario comes from there, so the rule changes none of them.
    rule = body(c.post("/v1/rules", s.admin, json={
        "name": "Instagram to shipping", "conditions": {"all": [
            {"field": "channel", "op": "is", "value": "instagram"},
            {"field": "body", "op": "contains", "value": ["شحن", "shipping"]}]},
        "actions": {"priority": "high", "team_id": s.team_id, "add_tags": ["instagram"]}}), 201)
    s.rule_id, path = rule["id"], f"/v1/rules/{rule['id']}"
    r = c.get(path, s.agent)
    assert body(r)["actions"]["team_id"] == s.team_id
    body(c.patch(path, s.admin, json={"position": 3, "enabled": False}, headers={"If-Match": r.headers["ETag"]}))
    assert [x["id"] for x in body(c.get("/v1/rules", s.agent))["items"]] == [rule["id"]]


# --- notification settings and a webhook -----------------------------------------------------------


def notification_settings_and_a_webhook(s: Scene) -> None:
    c = s.calls
    assert body(c.get("/v1/settings/notifications", s.agent))["locale"]
    changed = body(c.patch("/v1/settings/notifications", s.admin, json={
        "brand_color": "#0a7d55", "logo_url": "https://shop.example.sa/logo.png", "support_email": address("support")}))
    assert changed["brand_color"] == "#0a7d55"

    # Registered before any ticket: every ticket event of the scenario is delivered to it.
    s.webhook = body(c.post("/v1/webhooks", s.owner, json={"url": s.receiver.url, "events": ["ticket.*"]}), 201)
    assert s.webhook["secret"].startswith("whsec_")
    assert [w["id"] for w in body(c.get("/v1/webhooks", s.agent))["items"]] == [s.webhook["id"]]
    assert body(c.get(f"/v1/webhooks/{s.webhook['id']}", s.agent))["url"] == s.receiver.url


# --- tickets, their attachments and their rating ----------------------------------------------------


def tickets(s: Scene) -> None:
    c = s.calls
    s.ticket = body(c.post("/v1/tickets", s.shopper_token, json={
        "subject": "My order is late", "body": "Order ans-1 has not arrived.", "order_id": "ans-1",
        "topic_id": s.topic_id}), 201)
    assert (s.ticket["topic_id"], s.ticket["team"]) == (s.topic_id, s.team_id)
    assert [t["id"] for t in body(c.get("/v1/topics", s.shopper_token))["items"]] == [s.topic_id]
    path = f"/v1/tickets/{s.ticket['id']}"
    # The team is least loaded and its agent online: routing gives them the ticket (before the If-Match below).
    eventually(lambda: c.get(path, s.agent).json()["assignee_id"], lambda who: who == s.agent_id, WAIT,
               what="routing's assignment")
    body(c.post("/v1/tickets", s.agent, json={"subject": "Call back", "body": "Asked by phone.",
                                              "customer_id": s.other["id"], "priority": "high"}), 201)
    assert len(body(c.get("/v1/tickets", s.agent, params={"status": "open", "sort": "-created"}))["items"]) == 2
    assert [t["id"] for t in body(c.get("/v1/tickets", s.shopper_token))["items"]] == [s.ticket["id"]]

    r = c.get(path, s.agent)
    body(c.patch(path, s.agent, json={"priority": "high", "type": "shipping"}, headers={"If-Match": r.headers["ETag"]}))
    body(c.post(f"{path}/notes", s.agent, json={"body": "Carrier contacted."}))
    body(c.post(f"{path}/assign", s.owner, json={"agent_id": s.agent_id, "team": s.team_id}))
    body(c.post(f"{path}/tags", s.agent, json={"tag": "late"}))
    body(c.post(f"{path}/tags", s.agent, json={"tag": "vip"}))
    assert body(c.delete(f"{path}/tags/vip", s.agent))["tags"] == ["late"]

    # A file: uploaded by the shopper, sent in a reply, downloaded by staff.
    upload = body(c.upload(f"{path}/attachments", s.shopper_token, "receipt.png", PNG, "image/png"), 201)
    body(c.post(f"{path}/replies", s.shopper_token,
                json={"body": "The receipt.", "attachments": [{"id": upload["id"]}]}))
    download = c.get(f"{path}/attachments/{upload['id']}", s.agent)
    assert download.status_code == 200 and download.content == PNG, download.text[:300]

    replied = body(c.post(f"{path}/replies", s.agent, json={"canned_response_id": s.canned_id,
                                                             "note": "Offered a coupon."}))
    assert replied["messages"][-2]["canned_response_id"] == s.canned_id
    body(c.post(f"{path}/status", s.agent, json={"status": "on_hold", "label": "waiting for the courier"}))
    body(c.post(f"{path}/status", s.agent, json={"status": "solved"}))
    assert body(c.post(f"{path}/rating", s.shopper_token, json={"score": 4, "comment": "Slow but sorted."}))["rating"]
    assert body(c.get(path, s.shopper_token))["rating"]["score"] == 4
    later = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    assert body(c.get(path, s.agent, params={"as_of": later}))["status"] == "solved"
    for token in (s.agent, s.shopper_token):
        assert body(c.get(f"{path}/history", token))["items"][0]["type"] == "ticket.opened"


# --- many tickets at once, merge, unmerge and split ----------------------------------------------


def bulk_merge_and_split(s: Scene) -> None:
    c = s.calls
    first = body(c.post("/v1/tickets", s.shopper_token, json={"subject": "Box damaged",
                                                               "body": "The dates box came crushed."}), 201)
    again = body(c.post("/v1/tickets", s.shopper_token, json={"subject": "Damaged box",
                                                               "body": "Crushed box, again."}), 201)
    tagged = body(c.post("/v1/tickets/bulk", s.agent, json={"ids": [first["id"], again["id"], str(uuid.uuid4())],
                                                            "action": {"add_tags": ["damaged"]}}))
    assert tagged["counts"] == {"changed": 2, "unchanged": 0, "refused": 1}, tagged
    merged = body(c.post(f"/v1/tickets/{again['id']}/merge", s.agent, json={"into": first["id"]}))
    assert merged["merged_into"]["ticket_id"] == first["id"]
    assert body(c.get(f"/v1/tickets/{first['id']}", s.agent))["messages"][-1]["merged_from"] == again["id"]
    assert body(c.post(f"/v1/tickets/{again['id']}/unmerge", s.agent))["status"] == "open"
    reply = body(c.post(f"/v1/tickets/{first['id']}/replies", s.shopper_token,
                        json={"body": "Also: the coffee was missing."}))
    split = body(c.post(f"/v1/tickets/{first['id']}/split", s.agent,
                        json={"message_id": reply["messages"][-1]["id"]}), 201)
    assert split["split_from"]["ticket_id"] == first["id"]
    assert body(c.get(f"/v1/tickets/{first['id']}", s.agent))["messages"][-1]["split_into"]["ticket_id"] == \
        split["id"]


# --- forward to staff or by email, read marks, each topic's unread count ---------------------------


def forward_and_read(s: Scene) -> None:
    c = s.calls
    ticket = body(c.post("/v1/tickets", s.shopper_token, json={
        "subject": "Invoice please", "body": "I need an invoice.", "topic_id": s.topic_id}), 201)
    path = f"/v1/tickets/{ticket['id']}"
    assert body(c.get("/v1/tickets", s.agent, params={"unread": "true"}))["items"][0]["unread"] is True
    # Routing gives the agent the ticket (least loaded, online): wait, then the forwards move it.
    eventually(lambda: c.get(path, s.agent).json()["assignee_id"], lambda who: who == s.agent_id, WAIT,
               what="routing's assignment")
    forwarded = body(c.post(f"{path}/forward", s.owner, json={"agent_id": s.admin_id, "note": "Amal does invoices"}))
    assert forwarded["assignee_id"] == s.admin_id and forwarded["messages"][-1]["internal"]
    # To the team: off Amal, into the team's queue (where routing may give it to Sara again).
    body(c.post(f"{path}/forward", s.agent, json={"team_id": s.team_id, "note": "For the team"}))
    body(c.post(f"{path}/forward", s.agent, json={"email": address("accountant"), "note": "Please send one"}))
    assert body(c.get("/v1/topics/unread", s.agent))["items"][0] == {"topic_id": s.topic_id, "unread": 1}
    read = body(c.post(f"{path}/read", s.agent))
    assert read["marked"] and read["read_up_to"]["message_id"] == ticket["messages"][0]["id"]
    assert body(c.post(f"{path}/read", s.agent))["marked"] is False
    assert body(c.get(path, s.agent))["unread"] is False


# --- views, the queue, the SLA policy ----------------------------------------------------------


def views_queue_and_sla(s: Scene) -> None:
    c = s.calls
    policy = body(c.get("/v1/settings/sla", s.agent))
    assert policy["version"] == 0
    policy = body(c.put("/v1/settings/sla", s.admin, json={
        "time_zone": "Asia/Riyadh", "business_hours": [{"day": d, "from": "09:00", "to": "17:00"}
                                                       for d in ("sun", "mon", "tue", "wed", "thu")],
        "holidays": [{"from": "2027-03-30", "to": "2027-04-02"}], "pause_on": ["pending"],
        "targets": {"urgent": {"first_response_minutes": 30, "next_response_minutes": 60,
                               "resolution_minutes": 240}}}))
    assert policy["version"] == 1
    waiting = body(c.post("/v1/tickets", s.shopper_token, json={"subject": "No reply yet",
                                                                 "body": "Still waiting.", "priority": "urgent"}), 201)
    views = body(c.get("/v1/views", s.agent))["items"]
    assert {"mine", "unassigned", "breached"} <= {v["id"] for v in views}
    saved = body(c.post("/v1/views", s.agent, json={"name": "Urgent for me", "filter": {"priority": ["urgent"]},
                                                    "columns": ["number", "subject", "sla"]}), 201)
    assert body(c.get(f"/v1/views/{saved['id']}", s.agent))["name"] == "Urgent for me"
    saved = body(c.patch(f"/v1/views/{saved['id']}", s.agent, json={"name": "Urgent"}))
    listed = body(c.get(f"/v1/views/{saved['id']}/tickets", s.agent))["items"]
    assert waiting["id"] in {t["id"] for t in listed}
    taken = c.post("/v1/queue/next", s.agent)
    assert body(taken)["assignee_id"] == s.agent_id and body(taken)["sla"]["policy_version"] == 1
    while c.post("/v1/queue/next", s.agent).status_code == 200:
        pass  # the rest of the queue: then 204, nothing waits
    r = c.delete(f"/v1/views/{saved['id']}", s.agent)
    assert r.status_code == 204, r.text
    assert body(c.get("/v1/settings/agents", s.agent))["ticket_visibility"] == "all"
    assert body(c.patch("/v1/settings/agents", s.admin, json={"ticket_visibility": "teams"}))["version"] == 1
    assert body(c.patch("/v1/settings/agents", s.admin, json={"ticket_visibility": "all"}))["version"] == 2


# --- reports -------------------------------------------------------------------------------------


def reports(s: Scene) -> None:
    c = s.calls
    # The store's days are Riyadh's: from yesterday to tomorrow in UTC holds today there.
    now = datetime.now(timezone.utc)
    params = {"from": (now - timedelta(days=1)).date().isoformat(), "to": (now + timedelta(days=1)).date().isoformat(),
              "group_by": "agent"}
    # The reports hear the tickets above on the bus; the admin sees the store's figures.
    eventually(lambda: body(c.get("/v1/reports/summary", s.admin, params=params))["items"], timeout=30,
               what="the reports service hearing the tickets")
    as_csv = c.get("/v1/reports/summary", s.admin, params=params, headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.text.startswith("key,created,"), as_csv.text
    period = {k: params[k] for k in ("from", "to")}
    for report in ("agents", "keywords", "volume", "customers", "products"):
        assert "position" in body(c.get(f"/v1/reports/{report}", s.admin, params=period))
    assert body(c.get("/v1/settings/reports", s.agent))["agents_see"] == "own"
    assert body(c.patch("/v1/settings/reports", s.admin, json={"agents_see": "store"}))["version"] == 1
    assert body(c.get("/v1/reports/summary", s.agent, params={**params, "group_by": "team"}))["group_by"] == "team"


# --- self-service: settings, the four flows, the data-change decision ---------------------------


def self_service(s: Scene) -> None:
    c, shopper, me = s.calls, s.shopper["id"], s.shopper_token
    settings = "/v1/settings/self-service"
    r = c.get(settings, s.agent)
    assert body(r)["enabled"] is False
    assert body(c.patch(settings, s.admin, headers={"If-Match": r.headers["ETag"]}, json={
        "enabled": True, "tracking_url_template": "https://track.example.sa/{order_id}",
        "default_reply_template_id": s.canned_id, "texts": {"tracking_message": "Order {order_id}: {tracking_url}"}
    }))["enabled"] is True

    def flow(name: str, json: dict):
        return c.post(f"/v1/self-service/{name}", me, json=json)

    body(c.put("/v1/orders/ans-young", s.owner, json=order(shopper, "delivering", age=timedelta(hours=1))), 201)
    body(c.put("/v1/orders/ans-old", s.owner, json=order(shopper, "delivering", age=timedelta(hours=49))), 201)
    assert body(flow("delayed-order", {"order_id": "ans-young"}), 200)["outcome"] == "track_order"
    assert body(flow("delayed-order", {"order_id": "ans-1"}), 200)["outcome"] == "order_details"
    assert body(flow("delayed-order", {"order_id": "ans-old", "details": "Still waiting."}), 201)["outcome"] == \
        "ticket_opened"
    assert body(flow("product-exchange", {"order_id": "ans-1", "item": "DATES-1", "reason": "damaged",
                                          "preferred_replacement": "A new box"}), 201)["ticket"]["exchange"]

    # Charged without an order: the platform's review team answers it; the store sees it restricted.
    charged = body(flow("charged-without-order", {"payment_method": "mada", "card_last4": "4242",
                                                  "details": "Charged 250 SAR, no order."}), 201)["ticket"]
    path = f"/v1/tickets/{charged['id']}"
    listed = body(c.get("/v1/platform/tickets", s.platform, params={"store_id": s.store_id}))["items"]
    assert charged["id"] in [t["id"] for t in listed]
    assert body(c.get(path, s.platform))["payment"] == {"method": "mada", "card_last4": "4242"}
    body(c.post(f"{path}/replies", s.platform, json={"body": "Found it: refunded within 5 days."}))
    body(c.post(f"{path}/notes", s.platform, json={"body": "Acquirer ref 77AB."}))
    body(c.post(f"{path}/status", s.platform, json={"status": "solved"}))
    assert body(c.get(path, s.agent))["restricted"] is True
    assert body(c.get(f"{path}/history", s.platform))["items"]

    # Two data changes: one approved onto the card, one rejected.
    approve = body(flow("customer-data-change", {"changes": {"city": "Dammam"}, "details": "I moved."}), 201)
    reject = body(flow("customer-data-change", {"changes": {"email": "new@example.sa"}}), 201)
    r = c.get(f"/v1/tickets/{approve['ticket']['id']}", s.agent)
    body(c.post(f"/v1/tickets/{approve['ticket']['id']}/data-change/approve", s.agent,
                headers={"If-Match": r.headers["ETag"]}))
    assert body(c.get(f"/v1/customers/{shopper}", s.agent))["city"] == "Dammam"
    body(c.post(f"/v1/tickets/{reject['ticket']['id']}/data-change/reject", s.owner,
                json={"reason": "Send it from your account's email."}))


# --- the delivery log: a held email, retried ------------------------------------------------------


def a_held_email_retried(s: Scene) -> None:
    c, path, log = s.calls, f"/v1/tickets/{s.ticket['id']}", "/v1/notifications"

    def replies(**params) -> list[dict]:
        items = body(c.get(log, s.agent, params={"ticket_id": s.ticket["id"], "limit": 100, **params}))["items"]
        return [d for d in items if d["kind"] == "ticket_reply"]

    [canned] = eventually(replies, lambda found: len(found) == 1 and sent(found[0]), WAIT,
                          "the email of the ticket's one staff reply so far sent")

    # A quota of 0 holds every email: the next reply's is held until it is retried by hand.
    body(c.patch("/v1/settings/notifications", s.owner, json={"email_quota_per_hour": 0}))
    body(c.post(f"{path}/replies", s.agent, json={"body": "HELD until retried."}))
    [held] = eventually(lambda: [d for d in replies() if d["id"] != canned["id"]],
                        lambda new: len(new) == 1 and new[0]["status"] == "held", WAIT, "the next reply's email held")
    body(c.patch("/v1/settings/notifications", s.owner, json={"email_quota_per_hour": 100}))
    assert body(c.post(f"{log}/{held['id']}/retry", s.admin, json={}))["status"] == "pending"
    eventually(lambda: replies(event_id=held["event_id"]), lambda found: len(found) == 1 and sent(found[0]), WAIT,
               "the retried email sent")


# --- notification preferences and templates ----------------------------------------------------------


def preferences_and_templates(s: Scene) -> None:
    c = s.calls
    assert body(c.get("/v1/notification-preferences", s.shopper_token))["email"] is True
    assert body(c.put("/v1/notification-preferences", s.shopper_token, json={"sms": False}))["sms"] is False
    staff_view = f"/v1/customers/{s.shopper['id']}/notification-preferences"
    assert body(c.get(staff_view, s.agent))["sms"] is False
    assert body(c.put(staff_view, s.agent, json={"sms": True}))["sms"] is True

    kinds = {k["kind"] for k in body(c.get("/v1/notification-templates", s.agent))["kinds"]}
    assert "ticket_reply" in kinds
    body(c.put("/v1/notification-templates/ticket_reply/en", s.admin, json={
        "subject": "Ticket #{{ ticket.number }}", "text": "{{ body }}", "html": "<p>{{ body }}</p>"}))
    assert [(o["kind"], o["locale"]) for o in body(c.get("/v1/notification-templates", s.agent))["overrides"]] == \
        [("ticket_reply", "en")]


# --- webhooks: a delivery, a redelivery, a rotated secret -------------------------------------------


def webhook_deliveries(s: Scene) -> None:
    c, hook = s.calls, f"/v1/webhooks/{s.webhook['id']}"
    [post] = eventually(lambda: [p for p in s.receiver.deliveries if p.json()["type"] == "ticket.opened"
                                 and p.json()["data"].get("ticket_id") == s.ticket["id"]],
                        bool, WAIT, "the ticket's opening at the webhook receiver")
    event_id = post.headers["webhook-id"]

    def deliveries() -> list[dict]:
        items = body(c.get(f"{hook}/deliveries", s.agent, params={"limit": 100}))["items"]
        return [d for d in items if d["event_id"] == event_id]

    eventually(deliveries, lambda found: len(found) == 1 and sent(found[0]), WAIT, "the delivery logged as sent")
    assert body(c.post(f"{hook}/redeliver", s.owner, json={"event_id": event_id}), 202)["event_id"] == event_id
    eventually(deliveries, lambda found: len(found) == 2 and all(sent(d) for d in found), WAIT, "the redelivery sent")
    assert body(c.post(f"{hook}/rotate-secret", s.admin, json={"overlap_seconds": 60}))["secret"].startswith("whsec_")
    assert body(c.patch(hook, s.admin, json={"events": ["ticket.opened", "ticket.replied"]}))["events"] == \
        ["ticket.opened", "ticket.replied"]


# --- fraud flags, as the platform key -----------------------------------------------------------------


def fraud_flags(s: Scene) -> None:
    c, card = s.calls, f"/v1/customers/{s.shopper['id']}"
    eventually(lambda: body(c.get(card, s.agent)), lambda seen: seen["flagged"], WAIT,
               "the fraud flag on the shopper's card (two other stores blocked the mobile)")
    assert body(c.patch("/v1/settings/customers", s.owner, json={"no_cod_for_flagged": True}))["no_cod_for_flagged"]
    assert body(c.get(f"{card}/payment-options", s.shopper_token)) == {"cod_allowed": False,
                                                                       "reason": "flagged_non_serious_buyer"}
    [flag] = body(c.get("/v1/platform/flags", s.platform, params={"mobile": s.shopper["mobile"]}))["items"]
    cleared = body(c.post(f"/v1/platform/flags/{flag['id']}/clear", s.platform, json={"note": "Reviewed."}))
    assert cleared["status"] == "cleared"
    assert body(c.get(card, s.agent))["flagged"] is False


# --- the event feed --------------------------------------------------------------------------------


def the_event_feed(s: Scene) -> None:
    c = s.calls
    assert body(c.get("/v1/events", s.agent, params={"after": "0", "limit": 100}))["items"]
    assert body(c.get("/v1/events", s.platform, params={"store_id": s.store_id, "limit": 10}))["items"]
    # Every service's events merged, by cursor.
    first = body(c.get("/v1/events", s.owner, params={"source": "all", "limit": 5}))
    assert first["items"] and first["next_cursor"]
    assert "items" in body(c.get("/v1/events", s.owner, params={"cursor": first["next_cursor"], "limit": 5}))
    assert body(c.get("/v1/events", s.admin, params={"source": "customers", "limit": 5}))["items"]


# --- deletions -------------------------------------------------------------------------------------


def deletions(s: Scene) -> None:
    c = s.calls
    body(c.patch("/v1/settings/self-service", s.admin, json={"default_reply_template_id": None}))
    for token, path in ((s.admin, "/v1/notification-templates/ticket_reply/en"),
                        (s.owner, f"/v1/canned-responses/{s.canned_id}"),
                        (s.agent, f"/v1/customer-groups/{s.group_id}"),
                        (s.admin, f"/v1/webhooks/{s.webhook['id']}"), (s.admin, f"/v1/rules/{s.rule_id}")):
        r = c.delete(path, token)
        assert r.status_code == 204, f"DELETE {path}: {r.status_code} {r.text[:300]}"
    # A topic, then a team no ticket is on any more.
    spare = body(c.post("/v1/teams", s.admin, json={"name": "Spare"}), 201)
    topic = body(c.post("/v1/topics", s.admin, json={"names": {"en": "Spare"}, "team_id": spare["id"]}), 201)
    for token, path in ((s.admin, f"/v1/topics/{topic['id']}"), (s.owner, f"/v1/teams/{spare['id']}")):
        r = c.delete(path, token)
        assert r.status_code == 204, f"DELETE {path}: {r.status_code} {r.text[:300]}"
