"""Demo data for `make run`: a store, its staff, two teams and their contact
topics, customer cards, groups, orders, a shopper flagged by two other stores,
three weeks of ticket history for the reports (demo_history.py), tickets
opened on those topics, and self-service (turned on,
two canned responses, and the demo shopper's orders for the late-order flow),
created through the public API like any client would. Run again, it reuses the
demo store recorded in var/demo.json while its owner token still works; the
late orders are pushed again so that their ages count from this run.

    python deploy/local/demo.py http://127.0.0.1:8000
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

STATE = Path(os.environ.get("DEMO_STATE") or Path(__file__).resolve().parents[2] / "var" / "demo.json")


def call(base: str, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def ok(result: tuple[int, dict], what: str) -> dict:
    status, body = result
    if status >= 300:
        raise SystemExit(f"demo data: {what} answered {status}: {body}")
    return body


def existing(base: str) -> dict | None:
    if not STATE.exists():
        return None
    state = json.loads(STATE.read_text())
    if "customer_id" not in state:
        return None  # written before the demo had customer cards: make a new store
    status, _ = call(base, "GET", "/v1/tickets?limit=1", state["owner_token"])
    return state if status == 200 else None


# name, mobile, city: the demo store's customer cards (seeds/001).
CUSTOMERS = {
    "cus_1001": ("نورة العتيبي", "0501110001", "الرياض"),
    "cus_1002": ("Reza Karimi", "+971501110002", "Dubai"),
    "khalid": ("خالد الشهري", "0501110003", "جدة"),
    "fatima": ("فاطمة الزهراني", "0501110004", "الرياض"),
    "omar": ("عمر القحطاني", "0501110005", "الدمام"),
    "flagged": ("سامي المطيري", "0501119999", "الرياض"),
}
ORDER_STATES = ("delivered", "delivering", "awaiting_review", "completed", "cancelled", "refused")


def add_customers(base: str, platform_key: str, owner: str) -> dict:
    """Cards, groups, orders and one shopper flagged by two other stores."""
    ok(call(base, "PATCH", "/v1/settings/customers", owner,
            {"sms_sender_name": "DemoStore", "no_cod_for_flagged": True}), "customer settings")
    ids = {}
    for key, (name, mobile, city) in CUSTOMERS.items():
        ids[key] = ok(call(base, "POST", "/v1/customers", owner, {"name": name, "mobile": mobile, "city": city,
                                                                  "email": f"{key}@shopper.example"}),
                      "creating a customer")["id"]
    vip = ok(call(base, "POST", "/v1/customer-groups", owner, {"name": "VIP"}), "creating a group")
    ok(call(base, "POST", f"/v1/customer-groups/{vip['id']}/members", owner,
            {"customer_ids": [ids["cus_1001"], ids["fatima"]]}), "adding members")
    riyadh = ok(call(base, "POST", "/v1/customer-groups", owner, {"name": "عملاء الرياض"}), "creating a group")
    ok(call(base, "POST", f"/v1/customer-groups/{riyadh['id']}/members", owner,
            {"filter": {"city": "الرياض"}}), "adding members by filter")
    now = datetime.now(timezone.utc)
    for n, status in enumerate(ORDER_STATES):
        for key in ("cus_1001", "khalid", "fatima"):
            created = now - timedelta(hours=12 + 30 * n)
            ok(call(base, "PUT", f"/v1/orders/{key[:3]}-{5500 + n}", owner, {
                "customer_id": ids[key], "status": status, "created_at": created.isoformat(),
                "updated_at": (created + timedelta(hours=2)).isoformat(), "total": f"{120 + 35 * n}.50",
                "currency": "SAR", "payment_method": "cod" if n % 2 else "mada",
                "items": [{"name": "تمر سكري 1 كجم", "quantity": n + 1, "price": "40.00"}],
                "tracking_url": f"https://track.example/{5500 + n}"}), "recording an order")
    # Two other stores block the same shopper for non-serious orders: the
    # platform's fraud watch flags the mobile, and the demo store sees it.
    for partner in ("Partner Store 1", "Partner Store 2"):
        other = ok(call(base, "POST", "/v1/stores", platform_key, {"name": partner}), "creating a store")
        card = ok(call(base, "POST", "/v1/customers", other["owner_token"],
                       {"name": CUSTOMERS["flagged"][0], "mobile": CUSTOMERS["flagged"][1]}), "creating a customer")
        ok(call(base, "POST", f"/v1/customers/{card['id']}/block", other["owner_token"],
                {"reason": "non_serious_orders", "details": "refused three cash-on-delivery orders"}), "blocking")
    deadline = time.monotonic() + 20
    while not ok(call(base, "GET", f"/v1/customers/{ids['flagged']}", owner), "reading a card")["flagged"]:
        if time.monotonic() > deadline:
            raise SystemExit("demo: the fraud watch did not flag the demo shopper within 20 s (is RabbitMQ up?)")
        time.sleep(0.2)
    return ids


# The store's saved replies (docs/self-service.md, "The conversation").
CANNED = {
    "شكراً لتواصلك": "مرحباً {customer_name}، شكراً لتواصلك مع {store_name}. استلمنا تذكرتك رقم {ticket_number} "
                     "وسيرد عليك أحد موظفينا قريباً.",
    "تأخر الشحنة": "مرحباً {customer_name}، نعتذر عن تأخر طلبك رقم {order_id}. تواصلنا مع شركة الشحن "
                   "وسنوافيك بالجديد خلال يوم عمل (التذكرة رقم {ticket_number}).",
}
TRACKING_URL_TEMPLATE = "https://track.example.sa/{order_id}"
# The demo shopper's orders for "my order is late", one per answer:
# case -> (order id, status, age). Without a tracking_url of their own, so the
# store's tracking_url_template is used.
LATE_ORDERS = {
    "track_order": ("7001", "delivering", timedelta(hours=2)),
    "ticket_opened": ("7002", "completed", timedelta(days=3)),
    "ticket_available": ("7003", "awaiting_review", timedelta(days=3)),
    "order_details": ("7004", "delivered", timedelta(days=1)),
    "order_in_progress": ("7005", "in_progress", timedelta(hours=5)),
    "order_cancelled": ("7006", "cancelled", timedelta(days=4)),
}


def add_self_service(base: str, owner: str, customer_id: str) -> tuple[dict, bool]:
    """Self-service on, the canned responses, and the late orders; returns what
    var/demo.json records and whether self-service is on. Safe to run again:
    canned responses and settings someone has set are kept (turned off to try
    the 409, it stays off), and the orders are pushed again with ages counted
    from now."""
    have = {c["title"]: c["id"] for c in ok(call(base, "GET", "/v1/canned-responses", owner),
                                            "listing canned responses")["items"]}
    for title, body in CANNED.items():
        if title not in have:
            have[title] = ok(call(base, "POST", "/v1/canned-responses", owner, {"title": title, "body": body}),
                             "creating a canned response")["id"]
    settings = ok(call(base, "GET", "/v1/settings/self-service", owner), "reading the self-service settings")
    if settings["version"] == 0:  # never changed: this store has not had the demo's settings yet
        settings = ok(call(base, "PATCH", "/v1/settings/self-service", owner, {
            "enabled": True, "tracking_url_template": TRACKING_URL_TEMPLATE,
            "default_reply_template_id": have["شكراً لتواصلك"]}), "turning self-service on")
    now = datetime.now(timezone.utc)
    for n, (order_id, status, age) in enumerate(LATE_ORDERS.values()):
        # A newer updated_at each run: the store platform's latest snapshot wins.
        ok(call(base, "PUT", f"/v1/orders/{order_id}", owner, {
            "customer_id": customer_id, "status": status, "created_at": (now - age).isoformat(),
            "updated_at": now.isoformat(), "total": f"{180 + 60 * (n + 1)}.00", "currency": "SAR",
            "payment_method": ("mada", "credit_card", "apple_pay")[n % 3],
            "items": [{"name": "عباية سوداء", "quantity": 1, "price": "180.00", "sku": f"ABY-{n + 1:02d}"},
                      {"name": "شماغ أحمر", "quantity": n + 1, "price": "60.00"}]}), "recording a late order")
    return {"late_orders": {case: order[0] for case, order in LATE_ORDERS.items()},
            "canned_response_ids": [have[title] for title in CANNED]}, settings["enabled"]


# Teams, each with the contact topic it answers (the help widget's choices).
TEAMS = {
    "payments": ("Payments", "round_robin", {"ar": "الدفع والاسترجاع", "en": "Payments and refunds"}),
    "shipping": ("Shipping", "least_loaded", {"ar": "الشحن والتوصيل", "en": "Shipping and delivery"}),
}


def add_teams_and_topics(base: str, owner: str, agent_id: str) -> dict:
    """Two teams with the agent in both, a topic for each; the agent is online."""
    topics = {}
    for position, (key, (name, mode, names)) in enumerate(TEAMS.items()):
        team = ok(call(base, "POST", "/v1/teams", owner, {"name": name, "assignment": {"mode": mode}}),
                  "creating a team")
        ok(call(base, "POST", f"/v1/teams/{team['id']}/members", owner, {"agent_id": agent_id}), "adding a member")
        topics[key] = ok(call(base, "POST", "/v1/topics", owner, {
            "names": names, "team_id": team["id"], "email": f"{key}@demo.example", "position": position}),
            "creating a contact topic")
    ok(call(base, "PATCH", f"/v1/agents/{agent_id}", owner, {"availability": "online", "capacity": 20}),
       "the agent's profile")
    return topics


# The demo's SLA policy: around the clock (so its clocks run whenever you try it),
# in Riyadh's time; targets in business minutes by priority; low has none.
SLA_POLICY = {
    "time_zone": "Asia/Riyadh", "business_hours": [], "pause_on": ["pending", "on_hold"], "warning_minutes": 60,
    "targets": {
        "urgent": {"first_response_minutes": 1, "next_response_minutes": 5, "resolution_minutes": 30},
        "high": {"first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 240},
        "normal": {"first_response_minutes": 240, "next_response_minutes": 480, "resolution_minutes": 1440},
        "low": {"first_response_minutes": None, "next_response_minutes": None, "resolution_minutes": None},
    },
}


def wait_for_breach(base: str, token: str, timeout: float = 90.0) -> int:
    """The urgent ticket's first response is due a minute after it opened:
    wait for the SLA timer's breach, so every SLA state is there to see."""
    deadline = time.monotonic() + timeout
    print("demo data: waiting for the urgent ticket's SLA to breach (about a minute)...", file=sys.stderr)
    while True:
        counts = {v["id"]: v["count"] for v in ok(call(base, "GET", "/v1/views", token), "the views")["items"]}
        if counts["breached"] or time.monotonic() > deadline:
            return counts["breached"]
        time.sleep(2)


# Orders of the past weeks, each of other products, for "tickets by product".
PRODUCT_ORDERS = {  # order id -> (customer key, products)
    "h-6001": ("cus_1001", ("عباية سوداء مطرزة",)),
    "h-6002": ("khalid", ("تمر سكري 1 كجم", "قهوة عربية 500 غ")),
    "h-6003": ("fatima", ("عطر عود 50 مل",)),
    "h-6004": ("cus_1002", ("عباية سوداء مطرزة", "شال حرير")),
    "h-6005": ("khalid", ("عطر عود 50 مل",)),
}


def add_history(base: str, store_id: str, owner: str, agent_id: str, admin_id: str, topics: dict,
                ids: dict) -> None:
    """Three weeks of tickets (deploy/local/demo_history.py), so the reports show something."""
    import demo_history

    start = datetime.now(timezone.utc) - timedelta(days=demo_history.DAYS + 2)
    for n, (order_id, (key, products)) in enumerate(PRODUCT_ORDERS.items()):
        placed = start + timedelta(days=3 * n)
        ok(call(base, "PUT", f"/v1/orders/{order_id}", owner, {
            "customer_id": ids[key], "status": "delivered", "created_at": placed.isoformat(),
            "updated_at": (placed + timedelta(days=2)).isoformat(), "total": "250.00", "currency": "SAR",
            "payment_method": "mada", "items": [{"name": name, "quantity": 1, "price": "125.00"} for name in products],
        }), "recording an order")
    staff = [(agent_id, "agent", topic["team_id"]) for topic in topics.values()] + [(admin_id, "admin", None)]
    written = demo_history.write(store_id, staff, [t["id"] for t in topics.values()], list(ids.values()),
                                 [(order_id, ids[key]) for order_id, (key, _) in PRODUCT_ORDERS.items()])
    print(f"demo: {written} tickets of the past {demo_history.DAYS} days written for the reports")


def save(state: dict) -> None:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state, indent=2))
    os.chmod(STATE, 0o600)  # it holds tokens


def create(base: str, platform_key: str) -> dict:
    store = ok(call(base, "POST", "/v1/stores", platform_key,
                    {"name": "Demo Store", "owner_name": "Huda (owner)", "owner_email": "owner@demo.example"}),
               "creating the store")
    owner = store["owner_token"]
    agent = ok(call(base, "POST", "/v1/agents", owner,
                    {"name": "Sara", "email": "sara@demo.example", "role": "agent"}), "adding an agent")
    admin = ok(call(base, "POST", "/v1/agents", owner,
                    {"name": "Reza", "email": "reza@demo.example", "role": "admin"}), "adding an admin")
    topics = add_teams_and_topics(base, owner, agent["id"])
    ok(call(base, "PUT", "/v1/settings/sla", owner, SLA_POLICY), "the SLA policy")
    ids = add_customers(base, platform_key, owner)
    add_history(base, store["id"], owner, agent["id"], admin["id"], topics, ids)
    shoppers = {}
    for name in ("cus_1001", "cus_1002"):
        shoppers[name] = ok(call(base, "POST", f"/v1/customers/{ids[name]}/sessions", owner),
                            "opening a customer session")["token"]

    def open_ticket(customer: str, **fields) -> dict:
        return ok(call(base, "POST", "/v1/tickets", shoppers[customer], fields), "opening a ticket")

    # "I was charged but got no order number": with the card's last four digits only.
    charged = open_ticket("cus_1001", subject="تم خصم المبلغ ولم يصلني رقم الطلب",
                          body="Charged 240 SAR on the card ending 4242 but I got no order number.",
                          type="payment_issue", priority="high", topic_id=topics["payments"]["id"])
    late = open_ticket("cus_1002", subject="سفارشم دیر شده است", order_id="ord_5531",
                       body="My order is three days late; the tracking link shows nothing.", type="late_order",
                       topic_id=topics["shipping"]["id"])
    question = open_ticket("cus_1001", subject="Do you ship to Kuwait?", body="And how long does it take?")
    # One ticket in each SLA state left: breached (urgent: due in a minute), running (waits in
    # the queue, on no team), none (low priority has no targets).
    open_ticket("cus_1002", subject="Charged twice for one order", body="Two charges of 180 SAR on my card.",
                priority="urgent")
    open_ticket("cus_1001", subject="هل يمكن تغيير المقاس؟", body="I would like the abaya one size larger.")
    open_ticket("cus_1002", subject="A suggestion for the website", body="A dark mode would be nice.",
                priority="low")

    sara = agent["token"]
    tid = charged["id"]
    ok(call(base, "POST", f"/v1/tickets/{tid}/assign", sara, {"agent_id": agent["id"]}), "assign")
    ok(call(base, "POST", f"/v1/tickets/{tid}/notes", sara,
            {"body": "Payment found in the gateway report; order was not created. Refund or create it."}), "note")
    ok(call(base, "POST", f"/v1/tickets/{tid}/status", sara,
            {"status": "under_review"}), "under review")
    ok(call(base, "POST", f"/v1/tickets/{late['id']}/tags", sara, {"tag": "shipping"}), "tag")
    ok(call(base, "POST", f"/v1/tickets/{late['id']}/replies", sara,
            {"body": "Sorry for the delay: we asked the carrier and will update you within a day."}), "reply")
    ok(call(base, "POST", f"/v1/tickets/{late['id']}/status", sara,
            {"status": "on_hold", "label": "waiting for the carrier"}), "on hold")
    ok(call(base, "POST", f"/v1/tickets/{question['id']}/replies", sara,
            {"body": "Yes, 3 to 5 working days to Kuwait."}), "reply")
    ok(call(base, "POST", f"/v1/tickets/{question['id']}/status", sara, {"status": "solved"}), "solve")
    ok(call(base, "POST", f"/v1/tickets/{question['id']}/rating", shoppers["cus_1001"],
            {"score": 5, "comment": "Quick answer, thanks"}), "rate")

    wait_for_breach(base, owner)
    state = {"store_id": store["id"], "owner_token": owner, "agent_token": sara,
             "customer_token": shoppers["cus_1001"], "customer_id": ids["cus_1001"], "ticket_id": tid,
             "flagged_customer_id": ids["flagged"]}
    save(state)
    return state


def main() -> int:
    base = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000").rstrip("/")
    platform_key = os.environ.get("HELPDESK_PLATFORM_KEY", "")
    state = existing(base)
    fresh = state is None
    if fresh:
        state = create(base, platform_key)
    else:
        # Shopper sessions expire: open a new one each run.
        state["customer_token"] = ok(call(base, "POST", f"/v1/customers/{state['customer_id']}/sessions",
                                          state["owner_token"]), "opening a customer session")["token"]
    recorded, self_service_on = add_self_service(base, state["owner_token"], state["customer_id"])
    state.update(recorded)
    save(state)
    late, shopper = state["late_orders"], state["customer_token"]
    ask = (f"curl -s -X POST {base}/v1/self-service/delayed-order -H \"Authorization: Bearer {shopper}\" "
           "-H 'Content-Type: application/json' -d")
    switch = ("self-service is on" if self_service_on else
              "self-service is off: PATCH /v1/settings/self-service {\"enabled\": true} as the owner")
    print(f"""
Demo store {state['store_id']} ({'created now' if fresh else 'from an earlier run'}; tokens in {STATE}):
  owner token:    {state['owner_token']}
  agent token:    {state['agent_token']}
  shopper token:  {state['customer_token']}   (customer {state['customer_id']})

Try:
  curl -s -H "Authorization: Bearer {state['owner_token']}" '{base}/v1/tickets?status=open,under_review,on_hold'
  curl -s -H "Authorization: Bearer {state['owner_token']}" {base}/v1/tickets/{state['ticket_id']}/history
  curl -s -H "Authorization: Bearer {state['owner_token']}" {base}/v1/teams

The agent's views (each with its count) and queue, and the SLA (one ticket in each SLA state):
  curl -s -H "Authorization: Bearer {state['agent_token']}" {base}/v1/views
  curl -s -H "Authorization: Bearer {state['agent_token']}" {base}/v1/views/breached/tickets
  curl -s -X POST -H "Authorization: Bearer {state['agent_token']}" {base}/v1/queue/next    # 200 with it, then 204
  curl -s -H "Authorization: Bearer {state['owner_token']}" {base}/v1/settings/sla
  curl -s -H "Authorization: Bearer {state['customer_token']}" {base}/v1/topics
  curl -s -H "Authorization: Bearer {state['owner_token']}" '{base}/v1/customers?q=نوره'
  curl -s -H "Authorization: Bearer {state['owner_token']}" '{base}/v1/customers?flagged=true'
  curl -s -H "Authorization: Bearer {state['owner_token']}" {base}/v1/customers/{state['flagged_customer_id']}/payment-options

Reports (three weeks of history; the last 30 days unless from= and to= say otherwise):
  curl -s -H "Authorization: Bearer {state['owner_token']}" '{base}/v1/reports/summary?group_by=week'
  curl -s -H "Authorization: Bearer {state['owner_token']}" -H 'Accept: text/csv' '{base}/v1/reports/summary?group_by=agent&time=calendar'

"My order is late", as the shopper ({switch}; the orders of each case are "late_orders" in {STATE}):
  {ask} '{{"order_id": "{late['track_order']}"}}'    # delivering, 2 h old: track_order
  {ask} '{{"order_id": "{late['ticket_opened']}"}}'    # completed, 3 days old: ticket_opened (201)
  {ask} '{{"order_id": "{late['ticket_available']}"}}'    # awaiting review, 3 days old: ticket_available
  {ask} '{{"order_id": "{late['ticket_available']}", "open_ticket": true, "details": "لم يصلني الطلب بعد"}}'
  curl -s -H "Authorization: Bearer {state['owner_token']}" {base}/v1/canned-responses

Notifications (the demo's email is in the SMTP sink: make mail):
  curl -s -H "Authorization: Bearer {state['owner_token']}" '{base}/v1/notifications?ticket_id={state['ticket_id']}'
  curl -s -X POST {base}/v1/webhooks -H "Authorization: Bearer {state['owner_token']}" -H 'Content-Type: application/json' \\
       -d '{{"url": "https://example.com/hooks/seed", "events": ["ticket.*"]}}'    # 201 with its secret, shown once (the host must resolve to a public address)
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
