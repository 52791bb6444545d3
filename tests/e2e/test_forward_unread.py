"""Forwarding and read state, through HTTP on the real servers
(docs/agent-operations/forward-and-unread.md): a forward to an agent or a
team with the note that says why (both in the history, the new assignee
emailed), a forward by email to someone outside the staff (the mail in the
session's SMTP server, threaded, without the internal notes), the unread
flags of two agents flipping on a shopper's reply and on a read, each
topic's unread count for two agents, team scoping, another store's tickets,
the roles that may not, and the marks rebuilt from the log."""
from __future__ import annotations

import email.utils
import subprocess
import sys
import uuid

import psycopg
import pytest

from tests.support.api import Store, assert_problem, event_feed, ok, ticket_path
from tests.support.polling import eventually
from tests.support.servers import ROOT

MAIL_TIMEOUT = 30.0  # a ticket's event: relay, bus, plan, the send loop, SMTP
MAIL_DOMAIN = "seed.local"
CARD = "4111 1111 1111 1111"


def address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.sa"


def to(mail: str):
    return lambda m: mail in [a for _, a in email.utils.getaddresses([str(m.get("To", ""))])]


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def wait_mail(http_system, mail: str, where=lambda m: True) -> list:
    return http_system.smtp.wait_for(lambda m: to(mail)(m) and where(m), timeout=MAIL_TIMEOUT)


def history(api, ticket, token) -> list[dict]:
    return ok(api.get(f"{ticket_path(ticket)}/history", token))["items"]


def unread_of(api, token, **params) -> dict[str, bool]:
    return {i["id"]: i["unread"] for i in ok(api.get("/v1/tickets", token, params={"limit": 100, **params}))["items"]}


def topic_counts(api, token) -> dict:
    body = ok(api.get("/v1/topics/unread", token))
    return {i["topic_id"]: i["unread"] for i in body["items"]} | {"total": body["total"]}


@pytest.fixture
def shop(api):
    """A store whose owner has an email, two agents, a team each, a shopper's ticket on no team."""
    r = api.post("/v1/stores", api.platform_key, json={"name": "Forward & Co", "owner_name": "Huda",
                                                       "owner_email": address("owner")})
    store = Store(ok(r, 201)["id"], ok(r, 201)["owner_token"])
    sara, omar = api.new_agent(store, name="Sara"), api.new_agent(store, name="Omar")
    ops, billing = api.new_team(store, "Ops"), api.new_team(store, "Billing")
    ok(api.post(f"/v1/teams/{billing}/members", store.owner_token, json={"agent_id": omar["id"]}))
    _, shopper = api.customer_token(store)
    ticket = api.open_ticket(shopper, subject="Charged twice", body="I paid twice for order 77.")
    return {"store": store, "sara": sara, "omar": omar, "ops": ops, "billing": billing, "shopper": shopper,
            "ticket": ticket}


# --- forward to an agent or a team -----------------------------------------------------------------


def test_a_forward_to_an_agent_reassigns_notes_why_and_emails_the_new_assignee(api, http_system, shop):
    store, sara, omar, ticket = shop["store"], shop["sara"], shop["omar"], shop["ticket"]
    path = ticket_path(ticket)
    ok(api.post(f"{path}/assign", store.owner_token, json={"agent_id": sara["id"], "team": shop["ops"]}))

    r = api.post(f"{path}/forward", sara["token"], json={"agent_id": omar["id"],
                                                        "note": f"Refunds are Omar's. Card {CARD}"})

    forwarded = ok(r)
    assert (forwarded["assignee_id"], forwarded["team"]) == (omar["id"], shop["ops"])  # the team stays
    assert r.headers["ETag"] == f'"{forwarded["version"]}"'
    note = forwarded["messages"][-1]
    assert note["internal"] and note["author"] == {"type": "agent", "id": sara["id"]}
    assert note["body"] == "Refunds are Omar's. Card •••• •••• •••• 1111"
    assigned, noted = history(api, ticket, store.owner_token)[-2:]
    assert (assigned["type"], noted["type"]) == ("ticket.assigned", "ticket.note_added")
    assert assigned["data"]["assignee_id"] == omar["id"] and assigned["data"]["previous_assignee_id"] == sara["id"]
    assert assigned["data"]["note_id"] == noted["data"]["message_id"] == note["id"]
    assert noted["version"] == assigned["version"] + 1 == forwarded["version"]
    # The shopper sees neither.
    assert {e["type"] for e in history(api, ticket, shop["shopper"])} == {"ticket.opened"}
    assert [m["body"] for m in ok(api.get(path, shop["shopper"]))["messages"]] == ["I paid twice for order 77."]
    # The new assignee is told as for any assignment.
    [mail] = wait_mail(http_system, omar["email"])
    assert "Charged twice" in str(mail["Subject"]) and "Refunds" not in plain(mail)


def test_a_forward_to_a_team_puts_the_ticket_in_its_queue_off_the_agent(api, shop):
    store, sara, ticket = shop["store"], shop["sara"], shop["ticket"]
    path = ticket_path(ticket)
    ok(api.post(f"{path}/assign", store.owner_token, json={"agent_id": sara["id"], "team": shop["ops"]}))

    forwarded = ok(api.post(f"{path}/forward", sara["token"], json={"team_id": shop["billing"],
                                                                   "note": "A billing question"}))

    assert (forwarded["assignee_id"], forwarded["team"]) == (None, shop["billing"])
    listed = ok(api.get("/v1/tickets", store.owner_token, params={"team": shop["billing"]}))["items"]
    assert [i["id"] for i in listed] == [ticket["id"]]
    # Both at once; then the same again is refused, and records no note.
    both = ok(api.post(f"{path}/forward", store.owner_token, json={"agent_id": sara["id"], "team_id": shop["ops"],
                                                                  "note": "Back to you"}))
    assert (both["assignee_id"], both["team"]) == (sara["id"], shop["ops"])
    assert_problem(api.post(f"{path}/forward", store.owner_token, json={"agent_id": sara["id"], "team_id": shop["ops"],
                                                                       "note": "again"}), 409, "already_assigned")
    assert ok(api.get(path, store.owner_token))["version"] == both["version"]


def test_a_forward_names_staff_and_a_team_of_the_store(api, shop):
    store, ticket = shop["store"], shop["ticket"]
    path, owner = ticket_path(ticket), store.owner_token
    other = api.new_store("Elsewhere")
    strangers = api.new_agent(other), api.new_team(other, "Ops")
    before = ok(api.get(path, owner))

    assert_problem(api.post(f"{path}/forward", owner, json={"agent_id": strangers[0]["id"], "note": "n"}), 422,
                   fields=["agent_id"])
    assert_problem(api.post(f"{path}/forward", owner, json={"agent_id": str(uuid.uuid4()), "note": "n"}), 422,
                   fields=["agent_id"])
    for team in (strangers[1], str(uuid.uuid4()), "ops"):
        assert_problem(api.post(f"{path}/forward", owner, json={"team_id": team, "note": "n"}), 422,
                       fields=["team_id"])
    # A note is required; to staff or by email, not both; someone to forward to.
    for body, field in (({"agent_id": shop["sara"]["id"]}, "note"),
                        ({"agent_id": shop["sara"]["id"], "email": "a@example.com", "note": "n"}, "email"),
                        ({"note": "n"}, "agent_id"),
                        ({"team_id": shop["ops"], "note": "n", "message_ids": ["m"]}, "message_ids")):
        assert_problem(api.post(f"{path}/forward", owner, json=body), 400, fields=[field])
    assert ok(api.get(path, owner)) == before


# --- forward by email -------------------------------------------------------------------------------


def test_a_forward_by_email_mails_the_public_conversation_with_the_note_threaded(api, http_system, shop):
    store, sara, ticket = shop["store"], shop["sara"], shop["ticket"]
    path = ticket_path(ticket)
    ok(api.post(f"{path}/replies", shop["shopper"], json={"body": "Here is the bank's statement.", "attachments": [
        {"filename": "statement.pdf", "url": "https://files.example.sa/statement.pdf"}]}))
    ok(api.post(f"{path}/notes", sara["token"], json={"body": "INTERNAL: maybe fraud"}))
    ok(api.post(f"{path}/replies", sara["token"], json={"body": "We are checking with the bank."}))
    courier = address("bank")

    r = api.post(f"{path}/forward", sara["token"], json={"email": courier,
                                                        "note": f"Please confirm the two charges. {CARD}"})

    forwarded = ok(r)
    assert forwarded["assignee_id"] is None  # nothing of the ticket changed but its version
    [mail] = wait_mail(http_system, courier)
    text = plain(mail)
    assert str(mail["Subject"]) == f"إعادة توجيه: Charged twice (التذكرة رقم {ticket['number']})"  # the store's locale
    assert "Please confirm the two charges. •••• •••• •••• 1111" in text and CARD not in text
    for said in ("I paid twice for order 77.", "Here is the bank's statement.", "We are checking with the bank.",
                 "statement.pdf", "https://files.example.sa/statement.pdf", "Sara"):
        assert said in text, said
    assert "INTERNAL" not in text and "INTERNAL" not in html(mail)
    assert mail["References"] == f"<ticket-{ticket['id']}@{MAIL_DOMAIN}>"  # threaded with the ticket's emails
    # The history says where and why; the shopper's does not.
    entry = history(api, ticket, store.owner_token)[-1]
    assert entry["type"] == "ticket.forwarded_by_email" and entry["version"] == forwarded["version"]
    assert entry["data"]["email"] == courier and entry["data"]["note"].endswith("•••• •••• •••• 1111")
    assert len(entry["data"]["message_ids"]) == 3 and "messages" not in entry["data"]
    assert "ticket.forwarded_by_email" not in {e["type"] for e in history(api, ticket, shop["shopper"])}
    logged = eventually(lambda: [d for d in ok(api.get("/v1/notifications", store.owner_token, params={
        "ticket_id": ticket["id"]}))["items"] if d["kind"] == "ticket_forwarded"], lambda ds: ds and ds[0]["status"]
        == "sent", MAIL_TIMEOUT, "the forward's delivery recorded as sent")
    assert [d["recipient"] for d in logged] == [courier]


def test_a_forward_by_email_names_one_plain_address(api, shop):
    path, token = ticket_path(shop["ticket"]), shop["sara"]["token"]
    for bad in ("courier", "a@b", "Courier <c@example.com>", "c@example.com, d@example.com"):
        assert_problem(api.post(f"{path}/forward", token, json={"email": bad, "note": "n"}), 422, fields=["email"])
    message_id = ok(api.get(path, token))["messages"][0]["id"]
    assert_problem(api.post(f"{path}/forward", token, json={"email": address("x"), "note": "n",
                                                           "message_ids": ["not-there"]}), 422, fields=["message_ids"])
    sent = ok(api.post(f"{path}/forward", token, json={"email": address("x"), "note": "just this",
                                                      "message_ids": [message_id]}))
    assert history(api, shop["ticket"], token)[-1]["data"]["message_ids"] == [message_id]
    assert sent["version"] == shop["ticket"]["version"] + 1


# --- unread flags ------------------------------------------------------------------------------------


def test_unread_flips_on_a_shoppers_reply_and_after_each_agents_own_read(api, shop):
    store, sara, omar, ticket = shop["store"], shop["sara"], shop["omar"], shop["ticket"]
    path, s, o = ticket_path(ticket), sara["token"], omar["token"]
    assert ok(api.get(path, s))["unread"] is True and unread_of(api, s)[ticket["id"]] is True

    read = ok(api.post(f"{path}/read", s))

    assert read["ticket_id"] == ticket["id"] and read["unread"] is False and read["marked"] is True
    assert read["read_up_to"]["message_id"] == ticket["messages"][0]["id"] and read["read_up_to"]["version"] == 1
    assert ok(api.get(path, s))["unread"] is False and unread_of(api, s)[ticket["id"]] is False
    assert ok(api.get(path, o))["unread"] is True and unread_of(api, o)[ticket["id"]] is True  # Omar's own
    again = ok(api.post(f"{path}/read", s))
    assert again["marked"] is False and again["read_up_to"] == read["read_up_to"]  # nothing new: nothing written

    # Staff's replies and notes are nothing new to read; the shopper's are.
    ok(api.post(f"{path}/replies", o, json={"body": "Checking.", "note": "internal"}))
    assert unread_of(api, s)[ticket["id"]] is False
    reply = ok(api.post(f"{path}/replies", shop["shopper"], json={"body": "Any news?"}))
    assert ok(api.get(path, s))["unread"] is True and unread_of(api, s)[ticket["id"]] is True
    read = ok(api.post(f"{path}/read", s))
    assert read["read_up_to"]["message_id"] == reply["messages"][-1]["id"]
    assert ok(api.get(path, s))["unread"] is False

    # ?unread= lists what the caller has (not) read; the shopper sees no flag and may not filter by it.
    other = api.open_ticket(shop["shopper"], subject="Second", body="Another one")
    assert set(unread_of(api, s, unread="true")) == {other["id"]}
    assert set(unread_of(api, s, unread="false")) == {ticket["id"]}
    assert set(unread_of(api, o, unread="true")) == {ticket["id"], other["id"]}
    assert "unread" not in ok(api.get(path, shop["shopper"]))
    assert all("unread" not in i for i in ok(api.get("/v1/tickets", shop["shopper"]))["items"])
    assert_problem(api.get("/v1/tickets", shop["shopper"], params={"unread": "true"}), 403, fields=["unread"])
    # A view's tickets and the queue's answers say it too.
    assert {i["id"]: i["unread"] for i in ok(api.get("/v1/views/all_open/tickets", s))["items"]} == {
        ticket["id"]: False, other["id"]: True}
    assert store.owner_token and ok(api.get(path, store.owner_token))["unread"] is True  # the owner's own


def test_a_ticket_staff_opened_has_nothing_to_read_until_the_shopper_writes(api, shop):
    store, sara = shop["store"], shop["sara"]
    customer_id, shopper = api.customer_token(store)
    ticket = api.open_ticket(sara["token"], customer_id=customer_id, subject="Called us", body="Typed in by Sara")
    assert ticket["unread"] is False
    read = ok(api.post(f"{ticket_path(ticket)}/read", sara["token"]))
    assert read["marked"] is False and read["read_up_to"] is None
    ok(api.post(f"{ticket_path(ticket)}/replies", shopper, json={"body": "Thanks for calling"}))
    assert ok(api.get(ticket_path(ticket), sara["token"]))["unread"] is True


# --- each topic's inbox ----------------------------------------------------------------------------


def test_each_topics_unread_count_is_each_agents_own(api, shop):
    owner = shop["store"].owner_token
    s, o = shop["sara"]["token"], shop["omar"]["token"]
    service = ok(api.post("/v1/topics", owner, json={"names": {"en": "Customer service"}, "position": 1}), 201)
    webmaster = ok(api.post("/v1/topics", owner, json={"names": {"en": "Webmaster"}, "team_id": shop["billing"],
                                                       "position": 2}), 201)
    c1, c2 = service["id"], webmaster["id"]
    shopper = shop["shopper"]
    on_1 = [api.open_ticket(shopper, subject=f"Service {n}", topic_id=c1) for n in range(2)]
    on_2 = api.open_ticket(shopper, subject="Site down", topic_id=c2)
    no_topic = shop["ticket"]
    # Sara reads one of the first topic's; Omar the second topic's and the one on no topic.
    for token, ticket in ((s, on_1[0]), (o, on_2), (o, no_topic)):
        ok(api.post(f"{ticket_path(ticket)}/read", token))

    assert topic_counts(api, s) == {c1: 1, c2: 1, None: 1, "total": 3}
    assert topic_counts(api, o) == {c1: 2, c2: 0, None: 0, "total": 2}
    assert [i["topic_id"] for i in ok(api.get("/v1/topics/unread", s))["items"]] == [c1, c2, None]  # their order

    # A shopper's reply is new again for Omar only; a solved ticket and a spam one leave the inbox.
    ok(api.post(f"{ticket_path(on_2)}/replies", shopper, json={"body": "Still down"}))
    assert topic_counts(api, o)[c2] == 1 and topic_counts(api, s)[c2] == 1
    ok(api.post(f"{ticket_path(on_1[1])}/status", owner, json={"status": "solved"}))
    ok(api.post(f"{ticket_path(no_topic)}/tags", owner, json={"tag": "spam"}))
    assert topic_counts(api, s) == {c1: 0, c2: 1, None: 0, "total": 1}
    assert topic_counts(api, o) == {c1: 1, c2: 1, None: 0, "total": 2}

    # Scoped to their teams, Omar (Billing) counts the Billing topic's ticket and his own only.
    ok(api.patch("/v1/settings/agents", owner, json={"ticket_visibility": "teams"}))
    assert topic_counts(api, o) == {c1: 0, c2: 1, None: 0, "total": 1}
    ok(api.post(f"{ticket_path(on_1[0])}/assign", owner, json={"agent_id": shop["omar"]["id"]}))
    assert topic_counts(api, o) == {c1: 1, c2: 1, None: 0, "total": 2}
    assert topic_counts(api, owner)["total"] == 2  # owners see all: on_1[0] and on_2


# --- another store's tickets, and who may not -----------------------------------------------------


def test_another_stores_ticket_is_not_found_and_shoppers_and_the_platform_may_not(api, shop):
    ticket, path = shop["ticket"], ticket_path(shop["ticket"])
    other = api.new_store("Other")
    other_agent = api.new_agent(other)
    _, other_shopper = api.customer_token(other)
    bodies = [("forward", {"agent_id": other_agent["id"], "note": "mine now"}),
              ("forward", {"team_id": api.new_team(other, "Ops"), "note": "ours"}),
              ("forward", {"email": address("leak"), "note": "leak it"}),
              ("read", None)]
    for token in (other.owner_token, other_agent["token"]):
        for action, body in bodies:
            r = api.post(f"{path}/{action}", token, **({"json": body} if body else {}))
            assert_problem(r, 404, "ticket_not_found")
            assert "Charged twice" not in r.text
    for token in (other_shopper, shop["shopper"], api.platform_key):
        for action, body in bodies:
            assert_problem(api.post(f"{path}/{action}", token, **({"json": body} if body else {})), 403)
        assert_problem(api.get("/v1/topics/unread", token), 403)
    assert_problem(api.post(f"/v1/tickets/{uuid.uuid4()}/read", other.owner_token), 404, "ticket_not_found")
    # Nothing happened to the ticket, and nobody's mark was taken.
    owner = shop["store"].owner_token
    assert ok(api.get(path, owner))["version"] == ticket["version"]
    assert ok(api.get(path, owner))["unread"] is True
    assert topic_counts(api, other.owner_token) == {None: 0, "total": 0}


def test_a_scoped_agent_may_not_forward_or_read_a_ticket_of_another_team(api, shop):
    store, omar = shop["store"], shop["omar"]
    path = ticket_path(shop["ticket"])
    ok(api.post(f"{path}/assign", store.owner_token, json={"team": shop["ops"]}))
    ok(api.patch("/v1/settings/agents", store.owner_token, json={"ticket_visibility": "teams"}))
    ok(api.post(f"{path}/read", store.owner_token))
    # The owner's mark names a ticket Omar may not see: his event feed leaves it out (the owner's has it).
    marks_in = {who: [e for e in event_feed(api, token) if e["type"] == "agent.ticket_read"
                      and e["data"]["ticket_id"] == shop["ticket"]["id"]]
                for who, token in (("owner", store.owner_token), ("omar", omar["token"]))}
    assert len(marks_in["owner"]) == 1 and marks_in["omar"] == []
    for action, body in (("forward", {"team_id": shop["billing"], "note": "mine"}), ("read", None)):
        assert_problem(api.post(f"{path}/{action}", omar["token"], **({"json": body} if body else {})), 404,
                       "ticket_not_found")
    # Forwarded to his team, it is his to see, and to read.
    ok(api.post(f"{path}/forward", store.owner_token, json={"team_id": shop["billing"], "note": "Billing's"}))
    assert ok(api.post(f"{path}/read", omar["token"]))["marked"] is True


# --- the marks are a projection of the log -------------------------------------------------------------


def marks(http_system) -> list[tuple]:
    schema = http_system.schemas["tickets"]
    with psycopg.connect(http_system.database_url, autocommit=True) as conn:
        return conn.execute(f"SELECT store_id, agent_id, ticket_id, version, message_id, read_at "
                            f"FROM {schema}.ticket_reads ORDER BY 1, 2, 3").fetchall()


def test_rebuilding_gives_the_same_marks_and_unread_flags(api, http_system, shop):
    s, o, shopper = shop["sara"]["token"], shop["omar"]["token"], shop["shopper"]
    tickets = [shop["ticket"], *(api.open_ticket(shopper, subject=f"More {n}") for n in range(2))]
    for token, ticket in ((s, tickets[0]), (o, tickets[0]), (s, tickets[1])):
        ok(api.post(f"{ticket_path(ticket)}/read", token))
    ok(api.post(f"{ticket_path(tickets[0])}/replies", shopper, json={"body": "More news"}))
    ok(api.post(f"{ticket_path(tickets[0])}/read", s))
    before, flags = marks(http_system), (unread_of(api, s), unread_of(api, o))
    counts = (topic_counts(api, s), topic_counts(api, o))
    assert counts[0] == {None: 1, "total": 1} and counts[1] == {None: 3, "total": 3}
    schema = http_system.schemas["tickets"]
    with psycopg.connect(http_system.database_url, autocommit=True) as conn:  # damage them behind its back
        conn.execute(f"DELETE FROM {schema}.ticket_reads WHERE ctid IN (SELECT ctid FROM {schema}.ticket_reads "
                     "LIMIT 1)")
        conn.execute(f"UPDATE {schema}.ticket_reads SET version = 0")
        conn.execute(f"UPDATE {schema}.ticket_list SET last_customer_version = 0")
        conn.execute(f"UPDATE {schema}.inbox_counts SET n = n + 7")
        conn.execute(f"DELETE FROM {schema}.inbox_read_counts")

    done = subprocess.run([sys.executable, "-m", "services.tickets", "rebuild-projections"], env=http_system.env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(before)} read marks" in done.stdout
    assert marks(http_system) == before
    assert (unread_of(api, s), unread_of(api, o)) == flags
    assert (topic_counts(api, s), topic_counts(api, o)) == counts
    assert flags[0] == {tickets[0]["id"]: False, tickets[1]["id"]: False, tickets[2]["id"]: True}
