"""Category rules through HTTP on the real servers (docs/agent-operations/rules.md):
admins write them and staff read them; a new ticket gets the priority, team
and tags its rules give it, in order, and its history names the rule that did
each; a rule that tags spam sends the ticket to the spam view and out of every
other; disabled rules do nothing; another store's rules are not found."""
from __future__ import annotations

import uuid

from tests.support.api import (Store, assert_not_found_or_forbidden, assert_problem, event_feed, ok,
                               ticket_path)
from tests.support.polling import eventually

RULES = "/v1/rules"
BY_RULES = {"type": "system", "id": "rules"}
BUILT_IN_VIEWS = ("mine", "unassigned", "my_teams", "all_open", "pending", "on_hold", "breaching_soon", "breached",
                  "spam")


def cond(field, op, value) -> dict:
    return {"field": field, "op": op, "value": value}


def new_rule(api, store: Store, name: str, *conditions, **fields) -> dict:
    return ok(api.post(RULES, store.owner_token, json={"name": name, "conditions": {"all": list(conditions)},
                                                      **fields}), 201)


def staff_ticket(api, store: Store, customer_id: str | None = None, **fields) -> dict:
    customer_id = customer_id or api.new_customer(store)["id"]
    body = {"subject": "Where is my order?", "body": "It is late.", "customer_id": customer_id, **fields}
    return ok(api.post("/v1/tickets", store.owner_token, json=body), 201)


def ruled(api, store: Store, ticket: dict) -> list[tuple]:
    """What the ticket's history says the rules did: (type, the rule's name, data)."""
    items = ok(api.get(f"{ticket_path(ticket)}/history", store.owner_token))["items"]
    return [(h["type"], h["data"]["rule_name"], h["data"]) for h in items if h["actor"] == BY_RULES]


def view_ids(api, token, view_id) -> set[str]:
    return {t["id"] for t in ok(api.get(f"/v1/views/{view_id}/tickets", token, params={"limit": 100}))["items"]}


# --- writing and reading rules -----------------------------------------------------------------------


def test_admins_write_rules_staff_read_them_and_the_rules_answer_422_naming_the_path(api):
    store = api.new_store()
    admin, agent = api.new_agent(store, role="admin", name="Amal"), api.new_agent(store, name="Sara")
    vip_team = api.new_team(store, "VIP")

    r = api.post(RULES, admin["token"], json={
        "name": "VIP first", "conditions": {"all": [cond("channel", "in", ["widget", "email"])]},
        "actions": {"priority": "high", "team_id": vip_team, "add_tags": ["VIP"]}})
    first = ok(r, 201)
    assert r.headers["Location"] == f"{RULES}/{first['id']}" and r.headers["ETag"] == '"1"'
    assert (first["name"], first["position"], first["enabled"], first["version"]) == ("VIP first", 0, True, 1)
    assert first["actions"] == {"priority": "high", "team_id": vip_team, "add_tags": ["vip"]}
    assert first["conditions"] == {"all": [cond("channel", "in", ["widget", "email"])]}
    second = new_rule(api, store, "Spam", cond("body", "contains", "ربح سريع"), actions={"add_tags": ["spam"]})
    assert second["position"] == 1  # after the store's last rule
    early = new_rule(api, store, "Early", cond("type", "is", "order_delayed"), position=0,
                     actions={"priority": "urgent"})

    # Staff read them, in the order they apply (position, then oldest first); only admins write.
    listed = ok(api.get(RULES, agent["token"]))["items"]
    assert [x["name"] for x in listed] == ["VIP first", "Early", "Spam"]
    assert ok(api.get(f"{RULES}/{first['id']}", agent["token"])) == first
    for r in (api.post(RULES, agent["token"], json={"name": "Mine", "conditions": {"all": [
                  cond("channel", "is", "email")]}, "actions": {"priority": "low"}}),
              api.patch(f"{RULES}/{first['id']}", agent["token"], json={"enabled": False}),
              api.delete(f"{RULES}/{first['id']}", agent["token"]), api.get(RULES, api.customer_token(store)[1])):
        assert_problem(r, 403)

    # PATCH with If-Match; the same values again write nothing.
    path = f"{RULES}/{early['id']}"
    r = api.patch(path, admin["token"], json={"position": 5, "enabled": False}, headers={"If-Match": '"1"'})
    assert (ok(r)["position"], ok(r)["enabled"], ok(r)["version"], r.headers["ETag"]) == (5, False, 2, '"2"')
    assert_problem(api.patch(path, admin["token"], json={"name": "Late"}, headers={"If-Match": '"1"'}), 412)
    assert ok(api.patch(path, admin["token"], json={"position": 5}))["version"] == 2
    assert_problem(api.patch(path, admin["token"], json={}), 400)

    # What a rule may not be: 422 naming where in the rule.
    good = {"name": "R", "conditions": {"all": [cond("channel", "is", "email")]}, "actions": {"priority": "low"}}
    other_team = api.new_team(api.new_store(), "Theirs")
    for sent, where in (
            ({**good, "conditions": {"all": [cond("channel", "contains", "mail")]}}, "conditions.all[0].op"),
            ({**good, "conditions": {"all": [cond("channel", "is", "email"), cond("colour", "is", "red")]}},
             "conditions.all[1].field"),
            ({**good, "conditions": {"all": [cond("channel", "in", ["email", "fax"])]}}, "conditions.all[0].value[1]"),
            ({**good, "conditions": {"all": []}}, "conditions.all"),
            ({**good, "conditions": {"all": [cond("topic_id", "is", str(uuid.uuid4()))]}}, "conditions.all[0].value"),
            ({**good, "actions": {"team_id": other_team}}, "actions.team_id"),
            ({**good, "actions": {"team_id": "shipping"}}, "actions.team_id"),
            ({**good, "actions": {"add_tags": ["ok", "not ok!"]}}, "actions.add_tags[1]"),
            ({**good, "actions": {}}, "actions")):
        assert_problem(api.post(RULES, admin["token"], json=sent), 422, fields=[where])
    assert_problem(api.post(RULES, admin["token"], json={"name": "R"}), 400, fields=["conditions", "actions"])
    assert_problem(api.patch(f"{RULES}/{first['id']}", admin["token"], json={"actions": {"team_id": other_team}}),
                   422, fields=["actions.team_id"])

    # A team a rule puts tickets on is held: its deletion is refused until the rule lets go.
    assert_problem(api.delete(f"/v1/teams/{vip_team}", admin["token"]), 409, "team_has_rules")
    ok(api.patch(f"{RULES}/{first['id']}", admin["token"], json={"actions": {"priority": "high"}}))
    assert api.delete(f"/v1/teams/{vip_team}", admin["token"]).status_code == 204

    assert api.delete(f"{RULES}/{second['id']}", admin["token"]).status_code == 204
    assert_problem(api.get(f"{RULES}/{second['id']}", admin["token"]), 404, "rule_not_found")
    assert_problem(api.get(f"{RULES}/not-a-rule", admin["token"]), 404, "rule_not_found")
    eventually(lambda: [e["type"] for e in event_feed(api, store.owner_token) if e["type"].startswith("rule.")],
               lambda types: types == ["rule.created"] * 3 + ["rule.updated"] * 2 + ["rule.deleted"],
               30, "the rules' events in the feed")


def test_another_stores_rules_are_not_found_and_its_teams_and_topics_cannot_be_used(api):
    a, b = api.new_store("A"), api.new_store("B")
    team = api.new_team(a, "Secret jewels desk")
    topic = ok(api.post("/v1/topics", a.owner_token, json={"names": {"en": "Rings"}}), 201)
    rule = new_rule(api, a, "Secret jewels", cond("topic_id", "is", topic["id"]), actions={"team_id": team})
    _, b_shopper = api.customer_token(b)
    tokens = {"owner": b.owner_token, "agent": api.new_agent(b)["token"], "customer": b_shopper}
    path, staff, admins = f"{RULES}/{rule['id']}", {"owner", "agent"}, {"owner"}
    routes = [("GET", path, None, staff), ("PATCH", path, {"enabled": False}, admins), ("DELETE", path, None, admins)]
    assert assert_not_found_or_forbidden(api, tokens, routes, ("Secret", "jewels")) == 9
    assert ok(api.get(RULES, b.owner_token))["items"] == []
    for sent, where in (({"conditions": {"all": [cond("topic_id", "is", topic["id"])]}, "actions": {
            "priority": "low"}}, "conditions.all[0].value"),
                        ({"conditions": {"all": [cond("channel", "is", "email")]}, "actions": {"team_id": team}},
                         "actions.team_id")):
        assert_problem(api.post(RULES, b.owner_token, json={"name": "Mine", **sent}), 422, fields=[where])
    assert ok(api.get(path, a.owner_token))["enabled"] is True


# --- what the rules do to a new ticket ------------------------------------------------------------------


def test_a_vip_customers_ticket_gets_high_priority_and_the_vip_team_and_the_history_says_which_rule(api):
    store = api.new_store()
    vip_team = api.new_team(store, "VIP desk")
    group = ok(api.post("/v1/customer-groups", store.owner_token, json={"name": "VIP"}), 201)
    noura, huda = api.new_customer(store, name="Noura"), api.new_customer(store, name="Huda")
    # Noura joins the group; the tickets service hears of it over the bus (its replica of customers).
    probe = staff_ticket(api, store, noura["id"])
    ok(api.post(f"/v1/customer-groups/{group['id']}/members", store.owner_token, json={"customer_ids": [noura["id"]]}))
    eventually(lambda: ok(api.get(ticket_path(probe), store.owner_token))["customer"]["groups"],
               lambda groups: groups == [{"id": group["id"], "name": "VIP"}], 20, "Noura in VIP, as tickets know")

    vip = new_rule(api, store, "VIP customers first", cond("customer_group", "is", group["id"]),
                   actions={"priority": "high", "team_id": vip_team})
    _, noura_token = api.customer_token(store, noura["id"])
    ticket = ok(api.post("/v1/tickets", noura_token, json={"subject": "وين طلبي؟", "body": "تأخر الطلب"}), 201)
    assert (ticket["priority"], ticket["team"]) == ("high", vip_team)
    seen = ok(api.get(ticket_path(ticket), store.owner_token))
    assert (seen["priority"], seen["team"], seen["version"]) == ("high", vip_team, 3)
    assert ruled(api, store, ticket) == [
        ("ticket.priority_changed", "VIP customers first", {"priority": "high", "previous": "normal",
                                                            "rule_id": vip["id"],
                                                            "rule_name": "VIP customers first"}),
        ("ticket.assigned", "VIP customers first", {"assignee_id": None, "team": vip_team,
                                                    "previous_assignee_id": None, "previous_team": None,
                                                    "rule_id": vip["id"], "rule_name": "VIP customers first"})]
    # The shopper's own history shows none of it.
    assert [h["type"] for h in ok(api.get(f"{ticket_path(ticket)}/history", noura_token))["items"]] == [
        "ticket.opened"]

    # Huda is no VIP: her ticket opens as it would without the rule.
    plain = staff_ticket(api, store, huda["id"])
    assert (plain["priority"], plain["team"], plain["version"]) == ("normal", None, 1)
    assert ok(api.get(f"/v1/tickets/{ticket['id']}", store.owner_token))["customer"]["groups"][0]["name"] == "VIP"


def test_a_topic_rule_sets_the_team_and_later_rules_see_what_earlier_ones_did(api):
    store = api.new_store()
    service, billing = api.new_team(store, "Customer service"), api.new_team(store, "Billing")
    payments = ok(api.post("/v1/topics", store.owner_token, json={"names": {"ar": "الدفع", "en": "Payments"},
                                                                   "team_id": service}), 201)
    new_rule(api, store, "Payments to billing", cond("topic_id", "is", payments["id"]),
             actions={"team_id": billing}, position=1)
    new_rule(api, store, "Billing is urgent by phone", cond("team_id", "is", billing),
             cond("channel", "is", "phone"), actions={"priority": "urgent", "add_tags": ["call-back"]}, position=2)

    # The topic opens it on its own team; the rule moves it to Billing; the next rule sees Billing.
    by_phone = staff_ticket(api, store, topic_id=payments["id"], channel="phone")
    assert (by_phone["team"], by_phone["priority"], by_phone["tags"]) == (billing, "urgent", ["call-back"])
    assert [(t, name) for t, name, _ in ruled(api, store, by_phone)] == [
        ("ticket.assigned", "Payments to billing"), ("ticket.priority_changed", "Billing is urgent by phone"),
        ("ticket.tag_added", "Billing is urgent by phone")]
    assert ruled(api, store, by_phone)[0][2]["previous_team"] == service
    by_widget = staff_ticket(api, store, topic_id=payments["id"], channel="widget")
    assert (by_widget["team"], by_widget["priority"], by_widget["tags"]) == (billing, "normal", [])
    no_topic = staff_ticket(api, store, channel="phone")
    assert (no_topic["team"], no_topic["priority"]) == (None, "normal")
    listed = ok(api.get("/v1/tickets", store.owner_token, params={"team": billing}))["items"]
    assert {t["id"] for t in listed} == {by_phone["id"], by_widget["id"]}


def test_disabled_rules_do_nothing_until_enabled(api):
    store = api.new_store()
    rule = new_rule(api, store, "Email is low", cond("channel", "is", "email"), enabled=False,
                    actions={"priority": "low", "add_tags": ["email"]})
    before = staff_ticket(api, store, channel="email")
    assert (before["priority"], before["tags"], ruled(api, store, before)) == ("normal", [], [])
    ok(api.patch(f"{RULES}/{rule['id']}", store.owner_token, json={"enabled": True}))
    after = staff_ticket(api, store, channel="email")
    assert (after["priority"], after["tags"]) == ("low", ["email"])
    # A rule changes tickets as they open, never the ones already open.
    assert ok(api.get(ticket_path(before), store.owner_token))["priority"] == "normal"


# --- spam, and seed 004's buyers, sellers and spam ------------------------------------------------------


def buyers_sellers_and_spam(api, store: Store, purchasing: str) -> None:
    """The example of docs/agent-operations/rules.md: every conversation labelled buyer, seller or spam."""
    new_rule(api, store, "Spam", cond("body", "contains", ["ربح سريع", "اربح المال", "كازينو", "free money"]),
             position=10, actions={"add_tags": ["spam"], "priority": "low"})
    new_rule(api, store, "Sellers", cond("tag", "is_not", "spam"),
             cond("body", "contains", ["أبيع", "مورد", "توريد", "بالجملة", "wholesale", "supplier"]),
             position=20, actions={"add_tags": ["seller"], "team_id": purchasing})
    new_rule(api, store, "Buyers", cond("tag", "is_not", "spam"), cond("tag", "is_not", "seller"),
             position=30, actions={"add_tags": ["buyer"]})


def test_a_spam_keyword_rule_labels_the_ticket_and_the_views_show_it_only_in_spam(api):
    store = api.new_store()
    agent = api.new_agent(store)
    purchasing = api.new_team(store, "Purchasing")
    ok(api.post(f"/v1/teams/{purchasing}/members", store.owner_token, json={"agent_id": agent["id"]}))
    buyers_sellers_and_spam(api, store, purchasing)

    _, shopper = api.customer_token(store)
    spam = ok(api.post("/v1/tickets", shopper, json={"subject": "عرض!!", "body": "ربحٌ سريعٌ ومضمون، راسلنا"}), 201)
    seller = ok(api.post("/v1/tickets", shopper, json={"subject": "Partnership",
                                                       "body": "نحن مورّد ملابس بالجملة ونود التعاون"}), 201)
    buyer = ok(api.post("/v1/tickets", shopper, json={"subject": "طلبي", "body": "وين طلبي؟ تأخر كثير"}), 201)
    tags = {name: ok(api.get(ticket_path(t), store.owner_token))["tags"]
            for name, t in (("spam", spam), ("seller", seller), ("buyer", buyer))}
    assert tags == {"spam": ["spam"], "seller": ["seller"], "buyer": ["buyer"]}
    assert ok(api.get(ticket_path(seller), store.owner_token))["team"] == purchasing
    assert [(t, name) for t, name, _ in ruled(api, store, spam)] == [
        ("ticket.priority_changed", "Spam"), ("ticket.tag_added", "Spam")]

    # The spam ticket is in the spam view and in no other; the others are in no spam view.
    for token in (store.owner_token, agent["token"]):
        listed = {view: view_ids(api, token, view) for view in BUILT_IN_VIEWS}
        assert listed["spam"] == {spam["id"]}
        assert all(spam["id"] not in ids for view, ids in listed.items() if view != "spam")
        assert {seller["id"], buyer["id"]} <= listed["all_open"] and listed["unassigned"] >= {buyer["id"]}
    assert seller["id"] in view_ids(api, agent["token"], "my_teams")
    counted = {v["id"]: v["count"] for v in ok(api.get("/v1/views", store.owner_token))["items"]}
    assert (counted["spam"], counted["all_open"], counted["unassigned"]) == (1, 2, 2)
    # The ticket list still finds it by its tag.
    assert [t["id"] for t in ok(api.get("/v1/tickets", store.owner_token, params={"tag": "spam"}))["items"]] == [
        spam["id"]]
