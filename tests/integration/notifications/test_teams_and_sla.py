"""Teams as the notifications service keeps them (replicas.py, fed by the
tickets service's team.* events) and the SLA timer's events told to whoever
is on the ticket (planning.staff_of_ticket, expanded by the delivery loop),
on the real PostgreSQL, in process, with the development SMTP sink. The
stage (a store as the service hears it, the loop's clock) is stage.py.

The rule these stories hold: an ``sla.warning`` or ``sla.breached`` is told,
by email, to the ticket's assignee and to each member of its team, each
once, as the replicas say when the delivery loop picks the event up (not
when it was heard); a ticket with nobody on it goes to the store's support
address."""
from __future__ import annotations

import uuid

import pytest

from seedwork.envelope import Actor, Envelope
from tests.integration.notifications.stage import Shop, address, mail_to

STAFF = Actor("agent", "owner")
SLA_TIMER = Actor("system", "sla")
DUE = "2026-01-04T12:30:00Z"  # 3:30 PM in Riyadh


class Teams:
    """One team's stream, as the tickets service appends it: each event the next version."""

    def __init__(self, shop: Shop, name: str = "المرتجعات"):
        self.shop, self.id, self.version = shop, str(uuid.uuid4()), 0
        self.created = self.next("team.created", {"name": name, "description": None,
                                                  "assignment": {"mode": "manual"}})

    def event(self, event_type: str, data: dict) -> Envelope:
        """The team's next event, not yet heard."""
        self.version += 1
        return self.shop.event(event_type, {"team_id": self.id, **data}, stream_id=f"team:{self.id}",
                               version=self.version, actor=STAFF)

    def next(self, event_type: str, data: dict) -> Envelope:
        event = self.event(event_type, data)
        self.shop.hear(event)
        return event

    def add(self, agent_id: str) -> Envelope:
        return self.next("team.member_added", {"agent_id": agent_id})

    def remove(self, agent_id: str) -> Envelope:
        return self.next("team.member_removed", {"agent_id": agent_id})

    def known(self) -> dict | None:
        with self.shop.app.store.pool.connection() as conn:
            return self.shop.app.replicas.team(conn, self.shop.id, self.id)


class Ticket:
    """A ticket's stream: its opening, assignments and the SLA timer's events."""

    def __init__(self, shop: Shop, team: str | None = None):
        self.shop = shop
        self.opened = shop.ticket_opened(shop.customer(email=address()), subject="الطلب ما وصل")
        if team is not None:
            self.opened.data["team"] = team  # opened on a contact topic's team
        shop.hear(self.opened)
        self.id, self.version = self.opened.data["ticket_id"], 1
        self.number = self.opened.data["number"]

    def event(self, event_type: str, data: dict, actor: Actor = STAFF) -> Envelope:
        self.version += 1
        return self.shop.event(event_type, data, stream_id=self.id, version=self.version, actor=actor)

    def assign(self, assignee_id: str | None, team: str | None) -> Envelope:
        event = self.event("ticket.assigned", {"assignee_id": assignee_id, "team": team,
                                               "previous_assignee_id": None, "previous_team": None})
        self.shop.hear(event)
        return event

    def sla(self, event_type: str = "sla.breached", target: str = "first_response") -> Envelope:
        """The timer's event, heard (planned) but not yet sent."""
        event = self.event(event_type, {"ticket_id": self.id, "target": target, "cycle": 0, "due_at": DUE,
                                        "policy_version": 1}, actor=SLA_TIMER)
        self.shop.hear(event)
        return event


def settle(dispatcher, sink) -> None:
    """Send what the stage planned so far (the shopper's confirmation, an
    assignment's email) and forget it: what the story counts next is its own."""
    while dispatcher.run_once():
        pass
    sink.clear()


def told(shop: Shop, event: Envelope) -> dict[str, str]:
    """Who the event's deliveries went to: recipient -> status."""
    return {d["recipient"]: d["status"] for d in shop.log(event_id=str(event.event_id))}


# --- the team replica: redelivered and late events change nothing ---------------------------------


def test_a_team_is_known_with_its_members_and_a_redelivered_event_changes_nothing(shop):
    team = Teams(shop, name="الشحن")
    sara, omar = shop.agent(address("sara")), shop.agent(address("omar"))
    added_sara = team.add(sara)
    team.add(omar)
    assert team.known() == {"name": "الشحن", "deleted": False, "members": sorted([sara, omar])}

    removed_omar = team.remove(omar)
    for again in (added_sara, team.created, removed_omar, added_sara):  # the bus delivers them again
        shop.hear(again)
    assert team.known() == {"name": "الشحن", "deleted": False, "members": [sara]}


def test_a_member_removed_heard_before_its_member_added_leaves_them_out_until_added_again(shop):
    """The added event's first try failed and was retried after the removal
    (the bus's retry ladder): the later event stands."""
    team = Teams(shop)
    sara = shop.agent(address("sara"))
    added, removed = team.event("team.member_added", {"agent_id": sara}), team.event(
        "team.member_removed", {"agent_id": sara})
    shop.hear(removed)
    shop.hear(added)
    assert team.known()["members"] == []

    team.add(sara)
    assert team.known()["members"] == [sara]


def test_a_team_renamed_keeps_the_newest_name_whatever_the_order_and_a_deleted_team_has_no_members(shop):
    team = Teams(shop, name="Returns")
    sara = shop.agent(address("sara"))
    team.add(sara)
    renamed = team.event("team.updated", {"changes": {"name": "Exchanges"}, "name": "Exchanges",
                                          "description": None, "assignment": {"mode": "manual"}})
    shop.hear(renamed)
    shop.hear(team.created)  # late again
    assert team.known()["name"] == "Exchanges"

    late = team.event("team.member_added", {"agent_id": shop.agent(address("omar"))})
    team.next("team.deleted", {"name": "Exchanges"})
    shop.hear(late)  # a member added just before the deletion, heard after it
    assert team.known() == {"name": "Exchanges", "deleted": True, "members": []}


def test_another_stores_team_is_not_this_stores(shop, app):
    other = Shop(app)
    team = Teams(other)
    team.add(other.agent(address("theirs")))
    with app.store.pool.connection() as conn:
        assert app.replicas.team(conn, shop.id, team.id) is None
        assert len(app.replicas.team(conn, other.id, team.id)["members"]) == 1


def test_a_tickets_team_follows_its_opening_and_assignments_and_a_late_opening_does_not_undo_them(shop):
    returns, shipping = Teams(shop), Teams(shop)
    ticket = Ticket(shop, team=returns.id)

    def team_of(ticket_id: str) -> str | None:
        with shop.app.store.pool.connection() as conn:
            return shop.app.replicas.ticket(conn, ticket_id)["team"]

    assert team_of(ticket.id) == returns.id
    ticket.assign(None, shipping.id)
    shop.hear(ticket.opened)  # redelivered
    assert team_of(ticket.id) == shipping.id
    ticket.shop.hear(ticket.event("ticket.unassigned", {"previous_assignee_id": None, "previous_team": shipping.id}))
    assert team_of(ticket.id) is None


# --- SLA: the assignee and the team are told, each once ----------------------------------------------


def test_a_breach_mails_the_assignee_and_each_member_of_the_team_once_though_the_assignee_is_a_member(
        shop, dispatcher, sink):
    khalid_email, sara_email, omar_email = address("khalid"), address("sara"), address("omar")
    khalid, sara = shop.agent(khalid_email, "خالد"), shop.agent(sara_email, "سارة")
    omar = shop.agent(omar_email, "عمر")
    team = Teams(shop, name="المرتجعات")
    for member in (sara, omar, khalid):
        team.add(member)
    ticket = Ticket(shop)
    ticket.assign(khalid, team.id)
    settle(dispatcher, sink)

    breached = ticket.sla("sla.breached")
    assert dispatcher.run_once() == 3
    assert told(shop, breached) == {khalid_email: "sent", sara_email: "sent", omar_email: "sent"}
    [to_khalid] = mail_to(sink, khalid_email)
    assert to_khalid["Subject"] == f"فات موعد الرد الأول للتذكرة رقم {ticket.number}: الطلب ما وصل"
    text = to_khalid.get_body(("plain",)).get_content()
    assert "مرحباً خالد،" in text and "الفريق: المرتجعات" in text
    assert "كان الموعد: الأحد 4 يناير 2026، 3:30 م بتوقيت مكة المكرمة" in text
    assert to_khalid["References"] == f"<ticket-{ticket.id}@seed.local>"  # in the ticket's thread
    assert "مرحباً سارة،" in mail_to(sink, sara_email)[0].get_body(("plain",)).get_content()
    assert len(mail_to(sink, omar_email)) == 1

    # Nothing is left to send, and the log shows one delivery per person
    assert dispatcher.run_once() == 0
    assert {d["kind"] for d in shop.log(event_id=str(breached.event_id))} == {"sla_breached"}


def test_a_warning_with_only_an_assignee_mails_the_assignee(shop, dispatcher, sink):
    khalid_email = address("khalid")
    ticket = Ticket(shop)
    ticket.assign(shop.agent(khalid_email), None)
    settle(dispatcher, sink)
    warning = ticket.sla("sla.warning", target="resolution")
    assert dispatcher.run_once() == 1
    assert told(shop, warning) == {khalid_email: "sent"}
    assert mail_to(sink, khalid_email)[0]["Subject"] == (
        f"اقترب موعد الحل للتذكرة رقم {ticket.number}: الطلب ما وصل")


def test_a_warning_on_a_team_without_an_assignee_mails_each_member_in_english_for_an_english_store(
        shop, app, dispatcher, sink):
    app.update_settings(shop.owner, {"locale": "en"})
    emails = [address("sara"), address("omar")]
    team = Teams(shop, name="Returns")
    for email in emails:
        team.add(shop.agent(email, "Sara" if "sara" in email else "Omar"))
    ticket = Ticket(shop, team=team.id)  # opened on the topic's team, nobody assigned
    settle(dispatcher, sink)

    warning = ticket.sla("sla.warning", target="next_response")
    assert dispatcher.run_once() == 2
    assert told(shop, warning) == {email: "sent" for email in emails}
    [mail] = mail_to(sink, emails[0])
    assert mail["Subject"] == f"Due soon: next response on ticket #{ticket.number}: الطلب ما وصل"
    text = mail.get_body(("plain",)).get_content()
    assert "Hello Sara," in text and "Team: Returns" in text
    assert "Due: Sunday 4 January 2026, 3:30 PM (Riyadh time)" in text


@pytest.mark.parametrize("on_team", ["none", "empty", "unknown"])
def test_a_ticket_with_nobody_on_it_tells_the_stores_support_address(shop, dispatcher, sink, on_team):
    """No assignee, and no team, a team without members, or one this service never heard of."""
    team = Teams(shop) if on_team == "empty" else None
    ticket = Ticket(shop, team={"none": None, "empty": team and team.id, "unknown": str(uuid.uuid4())}[on_team])
    settle(dispatcher, sink)
    breached = ticket.sla("sla.breached")
    assert dispatcher.run_once() == 1
    assert told(shop, breached) == {shop.owner_email: "sent"}  # support_email: the owner's, by default
    [mail] = mail_to(sink, shop.owner_email)
    assert mail.get_body(("plain",)).get_content().startswith("مرحباً فريق الدعم،")


def test_who_is_told_is_who_is_on_the_ticket_when_the_loop_picks_the_event_up(shop, dispatcher, sink):
    """Heard first, sent a moment later: a member who joined meanwhile is
    told, one who left is not, and so is the assignee of now."""
    leaving, joining, before, after = (address(tag) for tag in ("leaving", "joining", "before", "after"))
    team, leaving_id = Teams(shop), shop.agent(leaving)
    team.add(leaving_id)
    ticket = Ticket(shop)
    ticket.assign(shop.agent(before), team.id)
    settle(dispatcher, sink)

    breached = ticket.sla("sla.breached")
    team.remove(leaving_id)
    team.add(shop.agent(joining))
    ticket.assign(shop.agent(after), team.id)

    assert dispatcher.run_once() == 3  # with the new assignee's ticket_assigned
    assert told(shop, breached) == {after: "sent", joining: "sent"}
    assert mail_to(sink, leaving) == [] and mail_to(sink, before) == []


def test_an_sla_event_heard_twice_mails_each_person_once_even_after_it_was_sent(shop, dispatcher, sink):
    sara = address("sara")
    team = Teams(shop)
    team.add(shop.agent(sara))
    ticket = Ticket(shop, team=team.id)
    settle(dispatcher, sink)
    breached = ticket.sla("sla.breached")
    shop.hear(breached)
    assert dispatcher.run_once() == 1
    shop.hear(breached)  # after the loop expanded and sent it
    assert dispatcher.run_once() == 0
    assert len(mail_to(sink, sara)) == 1 and told(shop, breached) == {sara: "sent"}


def test_a_warning_and_a_breach_of_the_same_target_are_two_emails(shop, dispatcher, sink):
    khalid = address("khalid")
    ticket = Ticket(shop)
    ticket.assign(shop.agent(khalid), None)
    settle(dispatcher, sink)
    ticket.sla("sla.warning")
    ticket.sla("sla.breached")
    assert dispatcher.run_once() == 2
    subjects = sorted(str(m["Subject"]) for m in mail_to(sink, khalid))
    assert [s.split(" ")[0] for s in subjects] == ["اقترب", "فات"]


def test_an_agent_this_service_has_not_heard_of_yet_is_waited_for_like_any_recipient(shop, dispatcher, sink):
    ticket = Ticket(shop)
    settle(dispatcher, sink)
    ticket.assign("agent-created-a-moment-later", None)
    breached = ticket.sla("sla.breached")
    dispatcher.run_once()
    [waiting] = shop.log(event_id=str(breached.event_id))
    assert (waiting["status"], waiting["reason"]) == ("retrying", "recipient_unknown")


def test_an_sla_event_of_a_ticket_the_platform_handles_is_neither_mailed_nor_sent_to_webhooks(
        shop, app, dispatcher, receiver, sink):
    app.create_webhook(shop.owner, {"url": receiver.url, "events": ["*"]})
    opened = shop.ticket_opened(shop.customer(email=address()))
    opened.data.update(type="charged_without_order", handled_by="platform")
    shop.hear(opened)
    breached = shop.on_ticket(opened, "sla.breached", {
        "ticket_id": opened.data["ticket_id"], "target": "first_response", "cycle": 0, "due_at": DUE,
        "policy_version": 1}, 2, SLA_TIMER)
    assert shop.log(event_id=str(breached.event_id)) == []
    assert shop.tickets.views == ["ticket.opened", "sla.breached"]  # the tickets service says what the store sees
    dispatcher.run_once()
    assert [d.json()["type"] for d in receiver.deliveries if d.json()["subject"] == opened.stream_id] == [
        "ticket.opened"]


# --- webhooks: an SLA event is a ticket event like any other -----------------------------------------


def test_sla_events_reach_the_webhooks_subscribed_to_their_type(shop, app, dispatcher, receiver):
    sla_hook = app.create_webhook(shop.owner, {"url": receiver.url + "/sla", "events": ["sla.*"]})["webhook"]
    app.create_webhook(shop.owner, {"url": receiver.url + "/breaches", "events": ["sla.breached"]})
    app.create_webhook(shop.owner, {"url": receiver.url + "/all", "events": ["*"]})
    app.create_webhook(shop.owner, {"url": receiver.url + "/tickets", "events": ["ticket.*"]})
    ticket = Ticket(shop)
    warning, breached = ticket.sla("sla.warning"), ticket.sla("sla.breached")
    dispatcher.run_once()

    got = sorted((d.path, d.json()["type"]) for d in receiver.deliveries if d.json()["type"].startswith("sla."))
    assert got == [("/all", "sla.breached"), ("/all", "sla.warning"), ("/breaches", "sla.breached"),
                   ("/sla", "sla.breached"), ("/sla", "sla.warning")]
    [delivery] = [d for d in receiver.deliveries if d.path == "/sla" and d.json()["type"] == "sla.warning"]
    payload = delivery.verify(sla_hook["secret"])
    assert payload["id"] == str(warning.event_id) and payload["subject"] == ticket.id
    assert payload["data"] == warning.data and payload["storeid"] == shop.id
    assert delivery.headers["webhook-id"] == str(warning.event_id)
    assert str(breached.event_id) in {d.headers["webhook-id"] for d in receiver.deliveries}
