"""Reports through HTTP on the real servers: the reports service hears the
tickets' events on the bus and answers the summary for every grouping, as
JSON and as CSV, scoped to the caller's store and role."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from tests.support.api import assert_problem, ok, ticket_path
from tests.support.polling import eventually

AROUND_THE_CLOCK = {"time_zone": "UTC", "business_hours": [], "pause_on": ["pending"]}
SUMMARY = "/v1/reports/summary"
GROUPINGS = ("agent", "team", "topic", "type", "tag", "channel", "product", "reason", "day", "week", "month")


def days_around_now() -> dict:
    """From yesterday to tomorrow (UTC): today in the store's zone, whenever the test runs."""
    now = datetime.now(timezone.utc)
    return {"from": (now - timedelta(days=1)).date().isoformat(), "to": (now + timedelta(days=1)).date().isoformat()}


def summary(api, token, **params) -> dict:
    return ok(api.get(SUMMARY, token, params={**days_around_now(), **params}))


def by_key(report: dict) -> dict:
    return {item["key"]: item for item in report["items"]}


def work_a_store(api):
    """A store with an agent on a team and four tickets: one answered once and
    solved (first contact), one answered twice, one solved then reopened by
    its shopper, one left unanswered; one rating."""
    store = api.new_store("Reports store")
    ok(api.put("/v1/settings/sla", store.owner_token, json=AROUND_THE_CLOCK))
    agent = api.new_agent(store, name="Huda")
    team = api.new_team(store, name="Payments")
    ok(api.post(f"/v1/teams/{team}/members", store.owner_token, json={"agent_id": agent["id"]}))
    _, shopper = api.customer_token(store)

    def answered(times, **fields):
        ticket = api.open_ticket(shopper, **fields)
        path = ticket_path(ticket)
        ok(api.post(f"{path}/assign", store.owner_token, json={"agent_id": agent["id"], "team": team}))
        for n in range(times):
            ok(api.post(f"{path}/replies", agent["token"], json={"body": f"Reply {n + 1}"}))
        return ticket, path

    first_contact, path = answered(1, subject="Charged twice")
    ok(api.post(f"{path}/tags", agent["token"], json={"tag": "billing"}))
    ok(api.post(f"{path}/status", agent["token"], json={"status": "solved"}))
    ok(api.post(f"{path}/rating", shopper, json={"score": 5, "comment": "Quick"}))
    _, path = answered(2, subject="Where is my order")
    ok(api.post(f"{path}/status", agent["token"], json={"status": "solved"}))
    _, path = answered(1, subject="Wrong size")
    ok(api.post(f"{path}/status", agent["token"], json={"status": "solved"}))
    ok(api.post(f"{path}/replies", shopper, json={"body": "It is still wrong"}))  # reopens it
    api.open_ticket(shopper, subject="Nobody answered yet")
    return store, agent, team, shopper


def test_the_summary_counts_what_happened_for_every_grouping_and_as_csv(api):
    store, agent, team, _ = work_a_store(api)
    # Grouped by month, the whole store in one item (its tickets were all opened within seconds).
    whole = eventually(lambda: (r := summary(api, store.owner_token, group_by="month", time="calendar"))
                       ["items"] and r["items"][0]["created"] == 4 and r["items"][0]["reopened"] == 1 and r,
                       timeout=30, what="the reports hearing the store's tickets")
    (day,) = whole["items"]
    assert day["key"].endswith("-01") and whole["group_by"] == "month" and whole["position"] > 0
    by_day = summary(api, store.owner_token, group_by="day")["items"]
    assert sum(item["created"] for item in by_day) == 4 and all(len(item["key"]) == 10 for item in by_day)
    assert day["solved"] == 2  # the reopened one is open again: it counts when it is solved for good
    assert day["first_response"]["count"] == 3 and day["first_response"]["median_minutes"] is not None
    assert day["csat"]["count"] == 1 and day["csat"]["average"] == 5 and day["csat"]["distribution"]["5"] == 1
    # Of the three solved at least once, one was solved after a single staff reply and stayed solved.
    assert day["fcr_rate"] == round(1 / 3, 4)  # rates are rounded to four places
    assert day["one_touch_rate"] == round(2 / 3, 4)  # the reopened one had one reply too

    agents = by_key(summary(api, store.owner_token, group_by="agent"))
    assert agents[agent["id"]]["created"] == 3 and agents[None]["created"] == 1  # the unanswered, on nobody
    assert by_key(summary(api, store.owner_token, group_by="team"))[team]["solved"] == 2
    assert by_key(summary(api, store.owner_token, group_by="tag"))["billing"]["created"] == 1
    for group_by in GROUPINGS:
        report = summary(api, store.owner_token, group_by=group_by)
        assert report["group_by"] == group_by and report["time"] == "business"
        if group_by in ("day", "week", "month", "agent", "channel", "type"):
            assert sum(item["created"] for item in report["items"]) == 4, (group_by, report)

    response = api.get(SUMMARY, store.owner_token, params={**days_around_now(), "group_by": "agent"},
                       headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {row["key"]: int(row["created"]) for row in rows} == {agent["id"]: 3, "": 1}


def test_agents_see_their_own_figures_unless_the_store_allows_more(api):
    store, agent, team, shopper = work_a_store(api)
    other = api.new_agent(store, name="Omar")
    eventually(lambda: summary(api, store.owner_token)["items"], timeout=30, what="the reports")

    mine = summary(api, agent["token"], group_by="agent")
    assert [item["key"] for item in mine["items"]] == [agent["id"]]
    assert summary(api, other["token"], group_by="day")["items"] == []  # Omar has worked nothing
    assert_problem(api.get(SUMMARY, agent["token"], params={"group_by": "team"}), 403, "reports_own_only")
    assert_problem(api.get(SUMMARY, shopper, params={"group_by": "day"}), 403)

    assert_problem(api.patch("/v1/settings/reports", agent["token"], json={"agents_see": "store"}), 403)
    settings = ok(api.patch("/v1/settings/reports", store.owner_token, json={"agents_see": "store"}))
    assert settings["agents_see"] == "store" and settings["version"] == 1
    assert by_key(summary(api, other["token"], group_by="team"))[team]["solved"] == 2

    # Another store sees none of it.
    stranger = api.new_store("Another store")
    assert summary(api, stranger.owner_token, group_by="day")["items"] == []


def test_bad_report_queries_name_the_field(api):
    store = api.new_store()
    for params, status, field in (({"group_by": "planet"}, 400, "group_by"),
                                  ({"time": "lunar"}, 400, "time"),
                                  ({"from": "yesterday"}, 400, "from"),
                                  ({"from": "2026-05-02", "to": "2026-05-01"}, 422, "from"),
                                  ({"from": "2020-01-01", "to": "2026-01-01"}, 422, "from")):
        assert_problem(api.get(SUMMARY, store.owner_token, params=params), status, fields=[field])
    assert_problem(api.patch("/v1/settings/reports", store.owner_token, json={"agents_see": "everyone"}), 400,
                   fields=["agents_see"])
    assert_problem(api.patch("/v1/settings/reports", store.owner_token, json={}), 400)


def test_agents_keywords_volume_customers_and_products(api):
    store, agent, team, shopper = work_a_store(api)
    ok(api.patch(f"/v1/agents/{agent['id']}", agent["token"], json={"availability": "online"}))
    customer_id = ok(api.get("/v1/tickets", shopper))["items"][0]["customer_id"]
    ok(api.put("/v1/orders/ord-77", store.owner_token, json={
        "customer_id": customer_id, "status": "delivered", "created_at": datetime.now(timezone.utc).isoformat(),
        "updated_at": datetime.now(timezone.utc).isoformat(), "total": "90.00", "currency": "SAR",
        "payment_method": "mada", "items": [{"name": "Oud perfume", "sku": "OUD-50", "quantity": 1},
                                            {"name": "Dates", "quantity": 2}]}), 201)
    api.open_ticket(shopper, subject="Perfume bottle broken", body="The oud perfume arrived broken",
                    order_id="ord-77", type="product_exchange")

    products = eventually(lambda: ok(api.get("/v1/reports/products", store.owner_token,
                                             params=days_around_now()))["items"],
                          lambda items: {i["product"] for i in items} == {"OUD-50", "Dates"}, timeout=30,
                          what="the ticket's order's products in the report")
    assert all(i["tickets"] == 1 and i["orders"] == 1 and i["tickets_per_order"] == 1.0 for i in products)

    agents = ok(api.get("/v1/reports/agents", store.owner_token, params=days_around_now()))["items"]
    (huda,) = agents
    assert huda["agent_id"] == agent["id"] and huda["handled"] == 2 and huda["replies"] == 4
    assert huda["csat"]["average"] == 5 and huda["first_response"]["count"] == 3

    keywords = {k["term"]: k for k in ok(api.get("/v1/reports/keywords", store.owner_token,
                                                  params={**days_around_now(), "limit": 100}))["items"]}
    assert keywords["perfume"]["count"] == 1 and keywords["perfume"]["previous"] == 0
    assert keywords["perfume"]["growth"] is None  # new this period
    assert "the" not in keywords  # a stop word

    volume = ok(api.get("/v1/reports/volume", store.owner_token, params=days_around_now()))
    assert len(volume["items"]) == 7 * 24 and sum(c["created"] for c in volume["items"]) == 5
    now = datetime.now(timezone.utc)
    (this_hour,) = [c for c in volume["items"] if (c["weekday"], c["hour"]) == (now.strftime("%a").lower(), now.hour)]
    assert this_hour["staff_online"] > 0  # Huda went online this hour

    # The friction point: the shopper opened it as a product exchange (a self-service flow's type).
    reasons = by_key(summary(api, store.owner_token, group_by="reason"))
    assert set(reasons) == {"product_exchange"} and reasons["product_exchange"]["created"] == 1

    top = ok(api.get("/v1/reports/customers", store.owner_token, params=days_around_now()))["items"]
    assert top == [{"customer_id": customer_id, "created": 5}]

    for report, header in (("keywords", "term,count,previous,growth"),
                           ("agents", "agent_id,handled,replies,first_response_median_minutes"),
                           ("volume", "weekday,hour,created,staff_online"), ("customers", "customer_id,created"),
                           ("products", "product,tickets,orders,tickets_per_order")):
        as_csv = api.get(f"/v1/reports/{report}", store.owner_token, params=days_around_now(),
                         headers={"Accept": "text/csv"})
        assert as_csv.status_code == 200 and as_csv.text.splitlines()[0].startswith(header), (report, as_csv.text)
        assert len(as_csv.text.splitlines()) > 1, report

    # An agent who sees only their own figures: their own agent row, and no store-wide report.
    other = api.new_agent(store, name="Omar")
    assert ok(api.get("/v1/reports/agents", other["token"], params=days_around_now()))["items"] == []
    assert [a["agent_id"] for a in ok(api.get("/v1/reports/agents", agent["token"],
                                              params=days_around_now()))["items"]] == [agent["id"]]
    for report in ("keywords", "volume", "customers", "products"):
        assert_problem(api.get(f"/v1/reports/{report}", agent["token"]), 403, "reports_own_only")


def test_rebuilding_the_reports_from_their_events_gives_the_live_figures(api, http_system):
    import subprocess
    import sys

    import psycopg

    from tests.support.servers import ROOT

    store, *_ = work_a_store(api)
    schema = http_system.schemas["reports"]

    def tables():  # this store's (other tests' stores may still be moving)
        with psycopg.connect(http_system.database_url, autocommit=True) as conn:
            return (conn.execute(f"SELECT ticket_id, metrics, contributions FROM {schema}.ticket_metrics "
                                 "WHERE store_id = %s ORDER BY ticket_id", (store.id,)).fetchall(),
                    conn.execute(f"SELECT dimension, day, key, measures FROM {schema}.rollups WHERE store_id = %s "
                                 "ORDER BY 1, 2, 3", (store.id,)).fetchall())

    eventually(lambda: summary(api, store.owner_token, group_by="month")["items"],
               lambda items: items and items[0]["created"] == 4 and items[0]["reopened"] == 1, 30, "the reports")
    live = eventually(tables, lambda now: now == tables(), 30, "the reports to settle")
    done = subprocess.run([sys.executable, "-m", "services.reports", "rebuild-projections"], env=http_system.env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and f"schema {schema}" in done.stdout, done.stdout + done.stderr
    assert tables() == live and live[1]
