"""Demo data for `make run`: a store, its staff, shoppers and tickets, created
through the public API like any client would. Run again, it reuses the demo
store recorded in var/demo.json while its owner token still works.

    python deploy/local/demo.py http://127.0.0.1:8000
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
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
    status, _ = call(base, "GET", "/v1/tickets?limit=1", state["owner_token"])
    return state if status == 200 else None


def create(base: str, platform_key: str) -> dict:
    store = ok(call(base, "POST", "/v1/stores", platform_key,
                    {"name": "Demo Store", "owner_name": "Huda (owner)", "owner_email": "owner@demo.example"}),
               "creating the store")
    owner = store["owner_token"]
    agent = ok(call(base, "POST", "/v1/agents", owner,
                    {"name": "Sara", "email": "sara@demo.example", "role": "agent"}), "adding an agent")
    ok(call(base, "POST", "/v1/agents", owner,
            {"name": "Reza", "email": "reza@demo.example", "role": "admin"}), "adding an admin")
    shoppers = {}
    for customer_id in ("cus_1001", "cus_1002"):
        shoppers[customer_id] = ok(call(base, "POST", f"/v1/customers/{customer_id}/sessions", owner),
                                   "opening a customer session")["token"]

    def open_ticket(customer: str, **fields) -> dict:
        return ok(call(base, "POST", "/v1/tickets", shoppers[customer], fields), "opening a ticket")

    # "I was charged but got no order number": with the card's last four digits only.
    charged = open_ticket("cus_1001", subject="تم خصم المبلغ ولم يصلني رقم الطلب",
                          body="Charged 240 SAR on the card ending 4242 but I got no order number.",
                          type="payment_issue", priority="high")
    late = open_ticket("cus_1002", subject="سفارشم دیر شده است", order_id="ord_5531",
                       body="My order is three days late; the tracking link shows nothing.", type="late_order")
    question = open_ticket("cus_1001", subject="Do you ship to Kuwait?", body="And how long does it take?")

    sara = agent["token"]
    tid = charged["id"]
    ok(call(base, "POST", f"/v1/tickets/{tid}/assign", sara, {"agent_id": agent["id"], "team": "payments"}), "assign")
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

    state = {"store_id": store["id"], "owner_token": owner, "agent_token": sara,
             "customer_token": shoppers["cus_1001"], "ticket_id": tid}
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state, indent=2))
    os.chmod(STATE, 0o600)  # it holds tokens
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
        state["customer_token"] = ok(call(base, "POST", "/v1/customers/cus_1001/sessions", state["owner_token"]),
                                     "opening a customer session")["token"]
    print(f"""
Demo store {state['store_id']} ({'created now' if fresh else 'from an earlier run'}; tokens in {STATE}):
  owner token:    {state['owner_token']}
  agent token:    {state['agent_token']}
  shopper token:  {state['customer_token']}   (customer cus_1001)

Try:
  curl -s -H "Authorization: Bearer {state['owner_token']}" '{base}/v1/tickets?status=open,under_review,on_hold'
  curl -s -H "Authorization: Bearer {state['owner_token']}" {base}/v1/tickets/{state['ticket_id']}/history
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
