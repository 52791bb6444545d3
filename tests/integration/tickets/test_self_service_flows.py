"""The tickets service's self-service layer on the real PostgreSQL, in
process, with an injected clock: the 48-hour line to the microsecond, the
platform's review queue, canned replies, data changes and file records. The
same behaviour through HTTP is in tests/e2e/test_self_service.py."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.caller import PLATFORM, Caller
from seedwork.errors import Conflict, Forbidden, InvalidCommand, NotFound, PreconditionFailed
from seedwork.instants import iso
from seedwork.store import EventStore
from services.tickets.application import build
from services.tickets.config import TicketsConfig


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PNG_HASH = "a" * 64


@pytest.fixture
def tickets(pool, tickets_schema):
    """The service layer as ``service.py`` builds it, with the clock at NOW."""
    return build(EventStore(pool, tickets_schema), TicketsConfig(), clock=lambda: NOW)


@pytest.fixture
def flows(tickets):
    return tickets.flows


def staff(store_id, role="owner"):
    return Caller("agent", f"ag_{uuid.uuid4().hex[:6]}", store_id, role)


def shopper(store_id):
    return Caller("customer", str(uuid.uuid4()), store_id, "customer")


@pytest.fixture
def store_id(tickets):
    store_id = f"st_{uuid.uuid4().hex[:8]}"
    tickets.settings.update(staff(store_id), {"enabled": True})
    return store_id


def order(customer, status, age, **extra):
    created = NOW - age
    return {"id": f"o-{uuid.uuid4().hex[:6]}", "customer_id": customer.id, "status": status,
            "created_at": created.isoformat(), "updated_at": created.isoformat(), "total": "120.00",
            "currency": "SAR", "payment_method": "mada", "items": [{"name": "قميص", "quantity": 1, "sku": "SH-1"}],
            "tracking_url": "https://track.example/abc", "rated": False, "version": 1, **extra}


def test_flows_wait_for_the_store_to_turn_self_service_on(tickets, flows):
    caller = shopper("st_off")
    with pytest.raises(Conflict) as refused:
        flows.charged_without_order(caller, {"payment_method": "mada", "card_last4": "1234", "details": "x"})
    assert refused.value.code == "self_service_disabled" and "enabled" in refused.value.errors
    assert tickets.settings.current(staff("st_off"))["enabled"] is False


@pytest.mark.parametrize("age, outcome, status", [
    (timedelta(hours=48) - timedelta(microseconds=1), "track_order", 200),
    (timedelta(hours=47, minutes=59), "track_order", 200),
    (timedelta(hours=48), "ticket_opened", 201),
    (timedelta(hours=48, microseconds=1), "ticket_opened", 201),
])
def test_the_48_hour_line_with_an_injected_clock(flows, store_id, age, outcome, status):
    caller = shopper(store_id)
    answer = flows.delayed_order(caller, order(caller, "delivering", age), {})
    assert (answer["outcome"], answer["created"]) == (outcome, status == 201)
    assert answer["tracking_url"] == "https://track.example/abc"


def test_a_late_order_ticket_carries_the_tracking_message_and_is_not_opened_twice(flows, tickets, store_id):
    caller = shopper(store_id)
    late = order(caller, "completed", timedelta(days=3))
    first = flows.delayed_order(caller, late, {"details": "لم يصل بعد"})
    ticket = first["ticket"]
    assert ticket["type"] == "order_delayed" and ticket["order_id"] == late["id"]
    assert [m["author"] for m in ticket["messages"]] == [
        {"type": "customer", "id": caller.id}, {"type": "system", "id": "self-service"}]
    assert "https://track.example/abc" in ticket["messages"][1]["body"]
    again = flows.delayed_order(caller, late, {})
    assert (again["created"], again["outcome"], again["ticket"]["id"]) == (False, "ticket_exists", ticket["id"])
    history = tickets.reads.history(caller, ticket["id"])
    assert history[1]["data"]["automatic"] == "tracking_link"


def test_awaiting_review_after_48_hours_opens_under_review_only_when_asked(flows, store_id):
    caller = shopper(store_id)
    waiting = order(caller, "awaiting_review", timedelta(hours=50))
    assert flows.delayed_order(caller, waiting, {})["outcome"] == "ticket_available"
    opened = flows.delayed_order(caller, waiting, {"open_ticket": True, "details": "please check"})
    assert opened["outcome"] == "ticket_opened" and opened["ticket"]["status"] == "under_review"


def test_answers_without_a_ticket_are_recorded_for_notifications(flows, tickets, store_id):
    caller = shopper(store_id)
    flows.delayed_order(caller, order(caller, "delivered", timedelta(days=5)), {})
    flows.delayed_order(caller, order(caller, "delivering", timedelta(hours=1)), {})
    flows.delayed_order(caller, order(caller, "cancelled", timedelta(hours=1)), {})  # nothing sent
    with tickets.writes.store.pool.connection() as conn:
        types = [r[0] for r in conn.execute(
            f"SELECT type FROM {tickets.writes.store.schema}.events WHERE stream_id LIKE 'self-service:%%' "
            "AND store_id = %s ORDER BY position", (store_id,))]
    assert types == ["self_service.order_details_shared", "self_service.tracking_link_shared"]


def test_the_settings_canned_responses_and_shared_answers_happen_at_the_injected_clocks_time(
        flows, tickets, store_id):
    """Every event this layer writes takes its time from the clock, as a
    ticket's do: a replay or a test sees the moment it was told."""
    owner, caller = staff(store_id), shopper(store_id)
    canned = tickets.canned.create(owner, {"title": "hi", "body": "hello"})["canned_response"]
    tickets.canned.update(owner, canned["id"], {"body": "hello again"})
    tickets.canned.delete(owner, canned["id"])
    flows.delayed_order(caller, order(caller, "delivering", timedelta(hours=1)), {})  # tracking, no ticket
    flows.delayed_order(caller, order(caller, "delivered", timedelta(days=5)), {})  # details, no ticket
    with tickets.writes.store.pool.connection() as conn:
        written = conn.execute(f"SELECT type, occurred_at FROM {tickets.writes.store.schema}.events "
                               "WHERE store_id = %s ORDER BY position", (store_id,)).fetchall()
    assert [t for t, _ in written] == [
        "self_service.settings_updated", "canned_response.created", "canned_response.updated",
        "canned_response.deleted", "self_service.tracking_link_shared", "self_service.order_details_shared"]
    assert {at for _, at in written} == {NOW}
    assert canned["created_at"] == iso(NOW) and tickets.settings.current(owner)["updated_at"] == iso(NOW)


def test_another_shoppers_order_is_not_found(flows, store_id):
    caller = shopper(store_id)
    with pytest.raises(NotFound):
        flows.delayed_order(caller, order(shopper(store_id), "delivering", timedelta(hours=1)), {})


def test_charged_without_order_goes_to_the_platform_and_the_store_only_follows(flows, tickets, store_id):
    caller = shopper(store_id)
    answer = flows.charged_without_order(caller, {"payment_method": "mada", "card_last4": "4242",
                                                  "details": "خصم 4111 1111 1111 1111 بدون طلب"})
    ticket = answer["ticket"]
    assert answer["created"] is True and ticket["handled_by"] == "platform"
    assert "4111 1111 1111 1111" not in ticket["messages"][0]["body"]
    opened_at = datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00"))
    expected = datetime.fromisoformat(answer["expected_contact_by"].replace("Z", "+00:00"))
    assert expected - opened_at == timedelta(days=3)  # PLATFORM_REVIEW_DAYS' default
    owner = staff(store_id)
    seen = tickets.reads.get(owner, ticket["id"])
    assert seen["restricted"] is True and seen["messages"] == [] and seen["payment"] is None
    with pytest.raises(Forbidden) as refused:
        tickets.writes.execute(owner, ticket["id"], [["reply", {"body": "hi"}]])
    assert refused.value.code == "handled_by_platform"
    queue = tickets.reads.list(PLATFORM, {"store_id": store_id})
    assert [t["id"] for t in queue["items"]] == [ticket["id"]] and queue["items"][0]["store_id"] == store_id
    answered = tickets.writes.execute(PLATFORM, ticket["id"], [["reply", {"body": "نراجع الخصم"}]])
    assert answered["ticket"]["messages"][-1]["author"] == {"type": "platform", "id": None}
    assert tickets.reads.history(owner, ticket["id"]) == []
    # The platform sees no ordinary store ticket.
    plain = tickets.writes.open(owner, {"customer_id": caller.id, "subject": "s", "body": "b"})["ticket"]
    with pytest.raises(NotFound):
        tickets.reads.get(PLATFORM, plain["id"])


def test_reserved_types_come_only_from_their_flows(tickets, store_id):
    owner = staff(store_id)
    with pytest.raises(InvalidCommand):
        tickets.writes.open(owner, {"customer_id": "c", "subject": "s", "body": "b", "type": "charged_without_order"})
    ticket = tickets.writes.open(owner, {"customer_id": "c", "subject": "s", "body": "b"})["ticket"]
    assert ticket["type"] == "general"
    with pytest.raises(InvalidCommand):
        tickets.writes.execute(owner, ticket["id"], [["set_type", {"type": "customer_data_change"}]])


def test_canned_replies_fill_placeholders_and_refuse_missing_values(tickets, flows, store_id):
    owner = staff(store_id)
    canned = tickets.canned.create(owner, {"title": "hello", "body": "#{ticket_number} / {order_id} / {agent_name}"})
    canned_id = canned["canned_response"]["id"]
    caller = shopper(store_id)
    with_order = flows.delayed_order(caller, order(caller, "delivering", timedelta(days=3)), {})["ticket"]
    replied = tickets.writes.execute(owner, with_order["id"], [
        ["reply", {"canned_response_id": canned_id, "context": {"agent_name": "سارة"}}],
        ["note", {"body": "internal"}]])["ticket"]
    reply, note = replied["messages"][-2:]
    assert reply["body"] == f"#{with_order['number']} / {with_order['order_id']} / سارة" and not reply["internal"]
    assert note["internal"] and note["body"] == "internal"
    no_order = tickets.writes.open(owner, {"customer_id": caller.id, "subject": "s", "body": "b"})["ticket"]
    with pytest.raises(InvalidCommand) as refused:
        tickets.writes.execute(owner, no_order["id"], [["reply", {"canned_response_id": canned_id,
                                                          "context": {"agent_name": "x"}}]])
    assert refused.value.code == "placeholder_unavailable"
    with pytest.raises(Conflict):
        tickets.canned.create(owner, {"title": "hello", "body": "again"})
    with pytest.raises(PreconditionFailed):
        tickets.canned.update(owner, canned_id, {"body": "new"}, expected_version=7)
    tickets.canned.delete(owner, canned_id)
    assert tickets.canned.list(owner)["items"] == []


def test_a_data_change_is_approved_or_rejected_once(tickets, flows, store_id):
    caller = shopper(store_id)
    ticket = flows.customer_data_change(caller, {"changes": {"city": "جدة"}})["ticket"]
    assert ticket["data_change"] == {"fields": {"city": "جدة"}, "state": "pending"}
    agent = staff(store_id, "agent")
    with pytest.raises(Forbidden):
        tickets.reads.pending_data_change(caller, ticket["id"])
    assert tickets.reads.pending_data_change(agent, ticket["id"])["fields"] == {"city": "جدة"}
    done = tickets.writes.execute(agent, ticket["id"], [["approve_data_change", {"customer_version": 3}]])["ticket"]
    assert done["data_change"]["state"] == "approved"
    with pytest.raises(Conflict) as twice:
        tickets.writes.execute(agent, ticket["id"], [["reject_data_change", {"reason": "late"}]])
    assert twice.value.code == "data_change_decided"


def test_file_records_follow_who_may_see_the_message(tickets, store_id):
    owner, caller = staff(store_id), shopper(store_id)
    ticket = tickets.writes.open(owner, {"customer_id": caller.id, "subject": "s", "body": "b"})["ticket"]
    meta = {"filename": "فاتورة.png", "content_type": "image/png", "size": 68, "sha256": PNG_HASH}
    note_file = tickets.files.register(owner, ticket["id"], meta)
    tickets.writes.execute(owner, ticket["id"], [["note", {"body": "", "attachments": [{"id": note_file["id"]}]}]])
    assert tickets.files.download(owner, ticket["id"], note_file["id"])["sha256"] == PNG_HASH
    with pytest.raises(NotFound):  # a note's file: staff only
        tickets.files.download(caller, ticket["id"], note_file["id"])
    mine = tickets.files.register(caller, ticket["id"], meta)
    with pytest.raises(InvalidCommand):  # nobody attaches someone else's upload
        tickets.writes.execute(owner, ticket["id"], [["reply", {"body": "x", "attachments": [{"id": mine["id"]}]}]])
    sent = tickets.writes.execute(caller, ticket["id"], [["reply", {"attachments": [{"id": mine["id"]}]}]])["ticket"]
    assert sent["messages"][-1]["attachments"][0]["url"] == f"/v1/tickets/{ticket['id']}/attachments/{mine['id']}"
    assert tickets.files.download(owner, ticket["id"], mine["id"])["filename"] == "فاتورة.png"
    with pytest.raises(NotFound):
        tickets.files.download(shopper(store_id), ticket["id"], mine["id"])


def test_shoppers_files_follow_the_setting(tickets, flows, store_id):
    owner, caller = staff(store_id), shopper(store_id)
    ticket = tickets.writes.open(owner, {"customer_id": caller.id, "subject": "s", "body": "b"})["ticket"]
    tickets.settings.update(owner, {"allow_attachments": False})
    meta = {"filename": "a.png", "content_type": "image/png", "size": 1, "sha256": PNG_HASH}
    with pytest.raises(Conflict) as refused:
        tickets.files.register(caller, ticket["id"], meta)
    assert refused.value.code == "attachments_disabled"
    assert tickets.files.register(owner, ticket["id"], meta)["id"]


def test_settings_merge_and_refuse_a_stale_version(tickets, store_id):
    owner = staff(store_id)
    before = tickets.settings.current(owner)
    after = tickets.settings.update(owner, {"texts": {"tracking_message": "رابط {tracking_url}"}}, before["version"])
    assert after["version"] == before["version"] + 1 and after["enabled"] is True
    assert after["texts"]["order_details_message"] == before["texts"]["order_details_message"]
    with pytest.raises(PreconditionFailed):
        tickets.settings.update(owner, {"enabled": False}, before["version"])
    with pytest.raises(InvalidCommand):
        tickets.settings.update(owner, {"default_reply_template_id": str(uuid.uuid4())})


def test_a_rebuild_of_the_ticket_list_skips_other_streams(tickets, flows, store_id):
    caller = shopper(store_id)
    flows.delayed_order(caller, order(caller, "delivering", timedelta(days=3)), {})
    tickets.canned.create(staff(store_id), {"title": "t", "body": "b"})
    assert tickets.read_models.rebuild() == 1


def test_the_stores_event_feed_follows_a_platform_ticket_by_status_only(tickets, flows, store_id):
    caller = shopper(store_id)
    ticket = flows.charged_without_order(caller, {"payment_method": "stc_pay", "card_last4": "9876",
                                                  "details": "charged twice"})["ticket"]
    tickets.writes.execute(PLATFORM, ticket["id"], [["reply", {"body": "checking"}], ["change_status",
                                                                            {"status": "pending"}]])
    mine = [e for e in tickets.reads.events(store_id, 0, 1000)["items"] if e["subject"] == ticket["id"]]
    assert [e["type"] for e in mine] == ["ticket.opened", "ticket.status_changed"]
    assert "9876" not in str(mine) and "charged twice" not in str(mine)
    everything = [e for e in tickets.reads.events(None, 0, 100000)["items"] if e["subject"] == ticket["id"]]
    assert len(everything) == 3 and "9876" in str(everything[0])
