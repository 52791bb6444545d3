"""The ticket list is a projection of the event log: rebuilding it from the
log (``python -m services.tickets rebuild-projections``) gives the same rows
and the same API answers, and each row agrees with the ticket's fold. So do
the tables of teams, topics and agents' profiles, and routing's marks."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime

import psycopg
import pytest

from tests.support.api import ok, ticket_path
from tests.support.servers import ROOT

COLUMNS = ("ticket_id", "store_id", "number", "status", "status_label", "priority", "priority_rank", "type",
           "subject", "customer_id", "order_id", "assignee_id", "team", "tags", "message_count", "version",
           "created_at", "updated_at", "search_text", "topic_id")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def rows(http_system, store_ids=None) -> list[tuple]:
    """``ticket_list`` rows (of some stores, or all), by ticket id."""
    schema = http_system.schemas["tickets"]
    where, params = ("WHERE store_id = ANY(%s)", [list(store_ids)]) if store_ids else ("", [])
    with psycopg.connect(http_system.database_url, autocommit=True) as conn:
        return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {schema}.ticket_list {where} ORDER BY ticket_id",
                            params).fetchall()


def execute_sql(http_system, sql: str, params=()) -> None:
    schema = http_system.schemas["tickets"]
    with psycopg.connect(http_system.database_url, autocommit=True) as conn:
        conn.execute(sql.format(schema=schema), params)


def rebuild(http_system) -> str:
    done = subprocess.run([sys.executable, "-m", "services.tickets", "rebuild-projections"], env=http_system.env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"schema {http_system.schemas['tickets']}" in done.stdout, done.stdout
    return done.stdout


def listing(api, token) -> list[dict]:
    return ok(api.get("/v1/tickets", token, params={"limit": 100, "sort": "created"}))["items"]


def settled(read, quiet: float = 1.0, timeout: float = 30.0):
    """``read()`` once it has not changed for ``quiet`` seconds: what the bus
    still carries (routing assigns the tickets its Billing team waits on) has landed."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the tables kept changing"
        time.sleep(0.2)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
    return last


@pytest.fixture
def worked_stores(api, http_system):
    """Two stores whose tickets went through many kinds of change."""
    stores = []
    for name in ("North", "South"):
        store = api.new_store(name)
        agent = api.new_agent(store)
        staff = store.owner_token
        ops, billing = api.new_team(store, "Ops"), api.new_team(store, "Billing")
        agent_operations(api, store, agent, ops, billing)
        topic = ok(api.post("/v1/topics", staff, json={"names": {"en": "Orders"}, "team_id": billing}), 201)
        customers = [api.customer_token(store) for _ in range(2)]
        tickets = []
        for n in range(4):
            _, token = customers[n % 2]
            tickets.append(api.open_ticket(token, subject=f"{name} ticket {n}",
                                           body=f"Body {n} card 4111 1111 1111 1111",
                                           **({"order_id": f"ord_{n}"} if n % 2 else {}),
                                           **({"topic_id": topic["id"]} if n == 1 else {})))
        p = [ticket_path(t) for t in tickets]
        # 0: worked and closed, rated.
        ok(api.post(f"{p[0]}/notes", staff, json={"body": "internal only"}))
        ok(api.post(f"{p[0]}/assign", staff, json={"agent_id": agent["id"], "team": ops}))
        ok(api.post(f"{p[0]}/tags", staff, json={"tag": "vip"}))
        ok(api.post(f"{p[0]}/replies", staff, json={"body": "Done"}))
        ok(api.post(f"{p[0]}/status", staff, json={"status": "solved"}))
        ok(api.post(f"{p[0]}/rating", customers[0][1], json={"score": 3}))
        ok(api.post(f"{p[0]}/status", staff, json={"status": "closed"}))
        # 1: on hold with a label; priority and type changed; a tag added and removed.
        ok(api.patch(p[1], staff, json={"priority": "urgent", "type": "complaint"}))
        ok(api.post(f"{p[1]}/tags", staff, json={"tag": "temp"}))
        ok(api.post(f"{p[1]}/tags", staff, json={"tag": "keep"}))
        ok(api.delete(f"{p[1]}/tags/temp", staff))
        ok(api.post(f"{p[1]}/status", staff, json={"status": "on_hold", "label": "courier"}))
        # 2: assigned then unassigned; pending then reopened by the customer.
        ok(api.post(f"{p[2]}/assign", staff, json={"agent_id": agent["id"]}))
        ok(api.post(f"{p[2]}/assign", staff, json={"agent_id": None, "team": None}))
        ok(api.post(f"{p[2]}/status", staff, json={"status": "pending"}))
        ok(api.post(f"{p[2]}/replies", customers[0][1], json={"body": "Any news?"}))
        # 3: only a team.
        ok(api.post(f"{p[3]}/assign", agent["token"], json={"team": billing}))
        # 1 takes in a duplicate (3, the same customer's, then closed by the merge), and
        # 2's last message becomes a ticket of its own (the fifth).
        ok(api.post(f"{p[3]}/merge", staff, json={"into": tickets[1]["id"]}))
        last = ok(api.get(p[2], staff))["messages"][-1]
        ok(api.post(f"{p[2]}/split", staff, json={"message_id": last["id"]}), 201)
        stores.append(store)
    settled(lambda: (rows(http_system, [s.id for s in stores]), agent_ops_rows(http_system)))
    return stores


def agent_operations(api, store, agent, ops: str, billing: str) -> None:
    """Teams with members come and go, a name moves from one team to another,
    topics change, agents' profiles change: what the rebuild must fold again."""
    staff = store.owner_token
    admin = api.new_agent(store, role="admin", name="Amal")
    for team, member in ((ops, agent["id"]), (ops, admin["id"]), (billing, agent["id"])):
        ok(api.post(f"/v1/teams/{team}/members", staff, json={"agent_id": member}))
    ok(api.delete(f"/v1/teams/{ops}/members/{agent['id']}", staff))
    ok(api.post(f"/v1/teams/{ops}/members", staff, json={"agent_id": agent["id"]}))  # rejoins: now last
    gone = api.new_team(store, "Gone")
    assert api.delete(f"/v1/teams/{gone}", staff).status_code == 204
    ok(api.patch(f"/v1/teams/{billing}", staff, json={"name": "Payments", "assignment": {"mode": "least_loaded"}}))
    api.new_team(store, "Billing")  # the old name, now another team's
    spare = ok(api.post("/v1/topics", staff, json={"names": {"en": "Spare"}}), 201)
    ok(api.patch(f"/v1/topics/{spare['id']}", staff, json={"descriptions": {"en": "Anything"}, "position": 4,
                                                            "team_id": ops, "email": "spare@example.sa"}))
    ok(api.patch(f"/v1/agents/{agent['id']}", agent["token"], json={"availability": "online"}))
    ok(api.patch(f"/v1/agents/{agent['id']}", staff, json={"capacity": 7, "skills": ["returns", "vip"]}))
    ok(api.patch(f"/v1/agents/{admin['id']}", staff, json={"availability": "away"}))


AGENT_OPS = {
    "teams": "id, store_id, name, description, assignment_mode, version, created_at, updated_at",
    "team_members": "team_id, store_id, agent_id, since",
    "topics": "id, store_id, names, descriptions, team_id, email, position, version, created_at, updated_at",
    "agent_profiles": "store_id, agent_id, availability, capacity, skills, version, updated_at",
    # Routing's pointers: Billing is least loaded and the agent online, so its tickets were routed.
    "routing_marks": "store_id, queue, agent_id, seq",
}


def agent_ops_rows(http_system) -> dict[str, list[tuple]]:
    schema = http_system.schemas["tickets"]
    with psycopg.connect(http_system.database_url, autocommit=True) as conn:
        return {table: conn.execute(f"SELECT {columns} FROM {schema}.{table} ORDER BY 1, 2, 3").fetchall()
                for table, columns in AGENT_OPS.items()}


def test_rebuilding_gives_the_same_teams_topics_and_agent_profiles(api, http_system, worked_stores):
    before = agent_ops_rows(http_system)
    answers = [(ok(api.get("/v1/teams", s.owner_token)), ok(api.get("/v1/topics", s.owner_token)),
                ok(api.get("/v1/agents", s.owner_token))) for s in worked_stores]
    assert len([r for r in before["teams"] if r[1] in {s.id for s in worked_stores}]) == 6
    # Damage the tables behind the service's back.
    execute_sql(http_system, "DELETE FROM {schema}.team_members WHERE ctid IN "
                             "(SELECT ctid FROM {schema}.team_members LIMIT 1)")
    # (Capacity 0, not more room: routing's sweep must not give anyone a waiting ticket meanwhile.)
    execute_sql(http_system, "UPDATE {schema}.agent_profiles SET capacity = 0")
    execute_sql(http_system, "UPDATE {schema}.topics SET position = 77")
    execute_sql(http_system, "UPDATE {schema}.routing_marks SET seq = seq + 40")

    output = rebuild(http_system)

    assert f"{len(before['teams'])} teams, {len(before['topics'])} topics" in output
    assert agent_ops_rows(http_system) == before
    assert [(ok(api.get("/v1/teams", s.owner_token)), ok(api.get("/v1/topics", s.owner_token)),
             ok(api.get("/v1/agents", s.owner_token))) for s in worked_stores] == answers
    # And live again: the next change lands on the rebuilt rows.
    team = answers[0][0]["items"][0]
    changed = ok(api.patch(f"/v1/teams/{team['id']}", worked_stores[0].owner_token, json={"description": "After"}))
    assert changed["version"] == team["version"] + 1 and changed["members"] == team["members"]


def test_rebuilding_the_list_from_the_log_gives_the_same_rows_and_answers(api, http_system, worked_stores):
    store_ids = [s.id for s in worked_stores]
    ours_before = rows(http_system, store_ids)
    everything_before = rows(http_system)
    lists_before = [listing(api, s.owner_token) for s in worked_stores]
    assert len(ours_before) == 10

    output = rebuild(http_system)

    assert f"{len(everything_before)} tickets" in output
    assert rows(http_system, store_ids) == ours_before
    assert rows(http_system) == everything_before
    assert [listing(api, s.owner_token) for s in worked_stores] == lists_before
    # Filters and sorts read the rebuilt rows just the same.
    staff = worked_stores[0].owner_token
    assert [i["subject"] for i in ok(api.get("/v1/tickets", staff, params={"tag": "keep"}))["items"]] == \
        ["North ticket 1"]
    by_priority = ok(api.get("/v1/tickets", staff, params={"sort": "-priority", "limit": 1}))["items"]
    assert [i["subject"] for i in by_priority] == ["North ticket 1"]


def test_rebuilding_repairs_rows_that_drifted_from_the_log(api, http_system, worked_stores):
    store = worked_stores[0]
    good = rows(http_system, [store.id])
    status = COLUMNS.index("status")
    lost, wrong = [r[0] for r in good if r[status] != "closed"][:2]
    # Damage the list behind the service's back: a lost row, a wrong row.
    execute_sql(http_system, "DELETE FROM {schema}.ticket_list WHERE ticket_id = %s", (lost,))
    execute_sql(http_system, "UPDATE {schema}.ticket_list SET status = 'closed', tags = '{{bogus}}', version = 99 "
                             "WHERE ticket_id = %s", (wrong,))
    assert rows(http_system, [store.id]) != good

    rebuild(http_system)

    assert rows(http_system, [store.id]) == good
    # And the list is live again: the next change lands on the rebuilt row.
    ticket = ok(api.post(f"/v1/tickets/{lost}/tags", store.owner_token, json={"tag": "after-rebuild"}))
    row = next(r for r in rows(http_system, [store.id]) if r[0] == lost)
    assert row[COLUMNS.index("version")] == ticket["version"]
    assert "after-rebuild" in row[COLUMNS.index("tags")]


def test_every_list_row_agrees_with_the_ticket_fold(api, http_system, worked_stores):
    for store in worked_stores:
        store_rows = rows(http_system, [store.id])
        assert len(store_rows) == 5
        for values in store_rows:
            row = dict(zip(COLUMNS, values))
            ticket = ok(api.get(f"/v1/tickets/{row['ticket_id']}", store.owner_token))
            for field in ("number", "status", "status_label", "priority", "type", "subject", "customer_id",
                          "order_id", "assignee_id", "team", "topic_id", "version"):
                assert row[field] == ticket[field], (field, row, ticket)
            assert row["store_id"] == store.id
            assert list(row["tags"]) == ticket["tags"]
            assert row["message_count"] == sum(not m["internal"] for m in ticket["messages"])
            assert row["created_at"] == at(ticket["created_at"]) and row["updated_at"] == at(ticket["updated_at"])
            assert row["priority_rank"] == ("low", "normal", "high", "urgent").index(ticket["priority"])
            # The search text holds the subject and public messages, never notes or card numbers.
            assert ticket["subject"].lower() in row["search_text"]
            assert "internal only" not in row["search_text"] and "4111 1111" not in row["search_text"]
            history = ok(api.get(f"/v1/tickets/{row['ticket_id']}/history", store.owner_token))["items"]
            assert len(history) == row["version"]
