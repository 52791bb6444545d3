"""What agent operations add to the read side is a projection too: the SLA
columns of the ticket list, the view counts and the SLA timers come back the
same from ``rebuild-projections``, and every count equals what its view lists."""
from __future__ import annotations

import psycopg

from tests.e2e.test_projection import rebuild
from tests.support.api import ok, ticket_path
from tests.support.polling import eventually

DERIVED = ("ticket_id", "channel", "sla_state", "sla_due_at", "sla_policy_version", "awaiting_staff", "sla",
           "version")


def read(http_system, sql: str, params=()) -> list[tuple]:
    schema = http_system.schemas["tickets"]
    with psycopg.connect(http_system.database_url, autocommit=True) as conn:
        return conn.execute(sql.format(schema=schema), params).fetchall()


def read_models(http_system, store_id: str) -> dict[str, list]:
    return {
        "rows": read(http_system, f"SELECT {', '.join(DERIVED)} FROM {{schema}}.ticket_list WHERE store_id = %s "
                                  "ORDER BY ticket_id", (store_id,)),
        # Shards only spread writers: the sums are what a count is.
        "counts": read(http_system, "SELECT view_key, team, assignee, sum(n) FROM {schema}.view_counts "
                                    "WHERE store_id = %s GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3",
                       (store_id,)),
        "timers": read(http_system, "SELECT ticket_id, kind, cycle, event_type, due_at FROM {schema}.sla_timers "
                                    "WHERE store_id = %s ORDER BY 1, 2, 3, 4", (store_id,)),
    }


def test_rebuilding_gives_the_same_sla_columns_counts_and_timers(api, http_system):
    store = api.new_store("Rebuilt views")
    staff = store.owner_token
    sara = api.new_agent(store)
    ok(api.put("/v1/settings/sla", staff, json={"time_zone": "UTC", "business_hours": [], "warning_minutes": 600}))
    ok(api.post("/v1/views", staff, json={"name": "Urgent", "filter": {"priority": ["urgent"]}, "shared": True}), 201)
    ok(api.post("/v1/views", sara["token"], json={"name": "Mine by phone",
                                                  "filter": {"assignee_id": "me", "channel": "phone"}}), 201)
    customer = api.new_customer(store)
    _, shopper = api.customer_token(store, customer["id"])
    tickets = [api.open_ticket(shopper, priority=p) for p in ("urgent", "high", "normal", "low")]
    tickets.append(ok(api.post("/v1/tickets", staff, json={"subject": "Phoned in", "body": "About order 7",
                                                           "customer_id": customer["id"], "channel": "phone"}), 201))
    p = [ticket_path(t) for t in tickets]
    ok(api.post(f"{p[0]}/assign", staff, json={"agent_id": sara["id"]}))
    ok(api.post(f"{p[1]}/replies", staff, json={"body": "On it"}))
    ok(api.post(f"{p[1]}/status", staff, json={"status": "pending"}))
    ok(api.post(f"{p[2]}/status", staff, json={"status": "solved"}))
    ok(api.post(f"{p[3]}/tags", staff, json={"tag": "spam"}))
    ok(api.post(f"{p[4]}/assign", staff, json={"agent_id": sara["id"]}))
    # The policy changes once more: open tickets move to version 2.
    ok(api.put("/v1/settings/sla", staff, json={"time_zone": "UTC", "business_hours": [],
                                                "targets": {"urgent": {"first_response_minutes": 15}}}))

    def recomputing():
        return read(http_system, "SELECT 1 FROM {schema}.sla_recompute WHERE store_id = %s", (store.id,))

    eventually(recomputing, lambda marked: not marked, timeout=15, what="the policy change recomputed")
    versions = read(http_system, "SELECT status, sla_policy_version FROM {schema}.ticket_list WHERE store_id = %s",
                    (store.id,))
    assert {v for status, v in versions if status != "solved"} == {2} and ("solved", 1) in versions
    before = read_models(http_system, store.id)
    assert len(before["rows"]) == 5 and before["counts"] and before["timers"]

    rebuild(http_system)

    after = read_models(http_system, store.id)
    assert after == before

    # Each count is what its view lists, for the owner and for Sara.
    for token in (staff, sara["token"]):
        views = ok(api.get("/v1/views", token))["items"]
        for view in views:
            listed = ok(api.get(f"/v1/views/{view['id']}/tickets", token, params={"limit": 100}))["items"]
            assert view["count"] == len(listed), view
    mine = {v["id"]: v["count"] for v in ok(api.get("/v1/views", sara["token"]))["items"]}
    assert mine["mine"] == 2 and mine["spam"] == 1
    assert [v["count"] for v in ok(api.get("/v1/views", sara["token"]))["items"] if v["name"] == "Mine by phone"] == [1]
