"""`make run`'s demo data: created through the API, the printed tokens work, and the
late-order flow answers each recorded case."""
import json
import re
import subprocess
import sys

from tests.support.polling import eventually
from tests.support.servers import ROOT


def test_the_demo_store_is_created_once_and_its_printed_tokens_work(http_system, tmp_path):
    api = http_system.api
    env = {**http_system.env, "DEMO_STATE": str(tmp_path / "demo.json")}
    demo = [sys.executable, str(ROOT / "deploy" / "local" / "demo.py"), api.base_url]

    # The demo waits about a minute for its urgent ticket's SLA to breach.
    first = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stdout + first.stderr
    owner = re.search(r"owner token:\s+(\S+)", first.stdout)[1]
    shopper = re.search(r"shopper token:\s+(\S+)", first.stdout)[1]

    # The owner sees the demo tickets in several states; the shopper only their own.
    tickets = api.get("/v1/tickets", owner).json()["items"]
    assert {t["status"] for t in tickets} >= {"under_review", "on_hold", "solved"}
    state = json.loads((tmp_path / "demo.json").read_text())
    mine = api.get("/v1/tickets", shopper).json()["items"]
    assert mine and {t["customer_id"] for t in mine} == {state["customer_id"]}

    # An SLA policy and tickets in every SLA state (a view per state counts them).
    assert api.get("/v1/settings/sla", owner).json()["version"] == 1
    for state_name in ("none", "running", "paused", "warning", "breached", "met"):
        view = api.post("/v1/views", owner, json={"name": f"SLA {state_name}", "filter": {"sla": [state_name]}})
        counted = {v["id"]: v["count"] for v in api.get("/v1/views", owner).json()["items"]}[view.json()["id"]]
        assert counted >= 1, state_name
    assert re.search(r"/v1/queue/next", first.stdout)

    # Two teams, a contact topic for each; the tickets opened on them are on the topic's team.
    teams = {t["id"]: t for t in api.get("/v1/teams", owner).json()["items"]}
    topics = api.get("/v1/topics", owner).json()["items"]
    assert len(teams) == 2 and {t["team_id"] for t in topics} == set(teams)
    assert {t["team"] for t in tickets if t["topic_id"]} == set(teams)

    # Customer cards, groups, orders, and one shopper flagged by two other stores.
    cards = api.get("/v1/customers", owner, params={"limit": 100}).json()["items"]
    assert len(cards) >= 5 and any(c["orders_count"] > 0 for c in cards)
    assert {g["name"] for g in api.get("/v1/customer-groups", owner).json()["items"]} >= {"VIP"}
    flagged = api.get("/v1/customers", owner, params={"flagged": "true"}).json()["items"]
    assert [c["id"] for c in flagged] == [state["flagged_customer_id"]]
    assert api.get(f"/v1/customers/{state['flagged_customer_id']}/payment-options", owner).json() == {
        "cod_allowed": False, "reason": "flagged_non_serious_buyer"}

    # Three weeks of history: every report shows something (the reports hear it on the bus).
    weeks = eventually(lambda: api.get("/v1/reports/summary", owner, params={"group_by": "week"}).json()["items"],
                       lambda items: len(items) >= 3 and all(w["created"] for w in items), 60,
                       "the demo's history in the weekly report")
    assert sum(w["solved"] for w in weeks) > 0 and any(w["csat"]["count"] for w in weeks)
    assert any(w["first_response"]["median_minutes"] is not None for w in weeks)
    for report in ("summary?group_by=product", "agents", "keywords", "customers", "products"):
        assert api.get(f"/v1/reports/{report}", owner).json()["items"], report
    volume = api.get("/v1/reports/volume", owner).json()["items"]
    assert sum(cell["created"] for cell in volume) >= 60
    assert re.search(r"/v1/reports/summary\?group_by=week", first.stdout)

    # Self-service is on, with two canned responses, and the shopper's late
    # orders give the answer of the case they are recorded for.
    settings = api.get("/v1/settings/self-service", owner).json()
    assert settings["enabled"] is True
    assert settings["tracking_url_template"] == "https://track.example.sa/{order_id}"
    canned = api.get("/v1/canned-responses", owner).json()["items"]
    assert len(canned) == 2 and settings["default_reply_template_id"] in {c["id"] for c in canned}
    assert all(f"{{{name}}}" in "".join(c["body"] for c in canned)
               for name in ("customer_name", "order_id", "ticket_number"))
    late = state["late_orders"]

    def ask(case: str) -> dict:
        answer = api.post("/v1/self-service/delayed-order", shopper, json={"order_id": late[case]})
        assert answer.status_code == (201 if case == "ticket_opened" else 200), answer.text
        return answer.json()

    tracked = ask("track_order")
    assert tracked["outcome"] == "track_order"
    assert tracked["tracking_url"] == f"https://track.example.sa/{late['track_order']}"
    for case in ("ticket_available", "order_details", "order_in_progress", "order_cancelled"):
        assert ask(case)["outcome"] == case

    # Run again: the same store, a fresh shopper session.
    second = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "from an earlier run" in second.stdout, second.stdout + second.stderr
    assert json.loads((tmp_path / "demo.json").read_text())["owner_token"] == owner
    assert len(api.get("/v1/tickets", owner).json()["items"]) == len(tickets)
    assert len(api.get("/v1/canned-responses", owner).json()["items"]) == 2
    assert ask("track_order")["outcome"] == "track_order"  # its age counts from this run again

    # The old completed order opens a ticket by itself, with the tracking link in it.
    opened = ask("ticket_opened")
    assert opened["outcome"] == "ticket_opened" and opened["ticket"]["type"] == "order_delayed"
    assert opened["tracking_url"] == f"https://track.example.sa/{late['ticket_opened']}"
