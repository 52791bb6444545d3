"""One ticket's metrics (services/reports/domain/metrics.py), told as stories.

The default policy: Asia/Riyadh, Sunday to Thursday 09:00-17:00, a normal
ticket's targets 240 / 480 / 1440 business minutes. Times are Riyadh's.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import Actor
from services.reports.domain.metrics import (
    AROUND_THE_CLOCK, DEFAULT_POLICY, Response, SlaOutcome, StaffReply, from_document, measure, to_document,
)
from tests.unit.reports.stories import AGENT, CUSTOMER, OTHER_AGENT, PLATFORM, SYSTEM, Story, at

UTC = timezone.utc


def answered_then_solved(reopen_after: timedelta | None = None) -> Story:
    """Opened Sunday 09:00, one staff reply at 10:00, solved at 11:00; perhaps reopened later."""
    story = Story.opened("sun 09:00").reply("sun 10:00").solve("sun 11:00")
    if reopen_after is not None:
        story.reopened_by_reply(at("sun 11:00") + reopen_after)
    return story


# --- the policy the reports assume ----------------------------------------------------------


def test_the_default_policy_is_the_one_the_tickets_service_times_tickets_by():
    from services.tickets.domain.sla_policy import DEFAULT_POLICY as TICKETS_DEFAULT
    assert DEFAULT_POLICY == TICKETS_DEFAULT


# --- first response ---------------------------------------------------------------------------


def test_a_first_response_across_the_weekend_counts_only_business_minutes():
    # Thursday 16:30 to Sunday 09:30: 65 hours, of which 30 minutes on Thursday and 30 on Sunday are business.
    m = measure(Story.opened("thu 16:30").reply("sun+ 09:30").events)
    assert m.first_response_at == at("sun+ 09:30")
    assert m.first_response_minutes == 65 * 60
    assert m.first_response_business_minutes == 60
    assert m.first_response_by == "agent-a"


def test_around_the_clock_every_minute_is_a_business_minute():
    m = measure(Story.opened("thu 16:30").reply("sun+ 09:30").events, AROUND_THE_CLOCK)
    assert m.first_response_business_minutes == m.first_response_minutes == 65 * 60


def test_automatic_replies_system_replies_and_internal_notes_are_no_response():
    m = measure(Story.opened("sun 09:00")
                .reply("sun 09:01", SYSTEM, automatic="tracking_link")   # the late-order flow's tracking link
                .reply("sun 09:02", Actor("system"))                    # a system message
                .reply("sun 09:03", AGENT, automatic="tracking_link")  # marked automatic, whoever sent it
                .note("sun 09:05")                                     # an agent's internal note
                .reply("sun 10:00").events)
    assert m.first_response_at == at("sun 10:00") and m.first_response_business_minutes == 60
    assert (m.staff_replies, m.automatic_replies, m.notes, m.customer_replies) == (1, 3, 1, 0)


def test_an_unanswered_ticket_has_no_first_response():
    m = measure(Story.opened("sun 09:00").note("sun 09:30").reply("sun 10:00", CUSTOMER).events)
    assert m.first_response_at is m.first_response_minutes is m.first_response_business_minutes is None
    assert m.customer_replies == 1 and m.next_responses == ()


def test_a_ticket_staff_open_for_a_shopper_counts_from_its_opening_as_the_sla_clock_does():
    m = measure(Story.opened("sun 09:00", by=AGENT, channel=None).reply("sun 09:30").events)
    assert m.channel == "api"  # no channel recorded, opened by staff
    assert m.first_response_minutes == 30


def test_the_platform_answers_the_tickets_it_handles():
    m = measure(Story.opened("sun 09:00", handled_by="platform").reply("sun 09:20", PLATFORM).events)
    assert m.handled_by == "platform"
    assert (m.first_response_by, m.first_response_minutes) == ("reviewer-1", 20)
    assert m.staff_reply_log == (StaffReply(at("sun 09:20").astimezone(UTC), "platform", "reviewer-1"),)


# --- next responses ------------------------------------------------------------------------------


def test_each_next_response_counts_from_the_first_shopper_message_that_waits_for_it():
    m = measure(Story.opened("sun 09:00").reply("sun 09:30")
                .reply("sun 11:00", CUSTOMER).reply("sun 11:30", CUSTOMER)  # two messages, one wait
                .reply("sun 12:00", OTHER_AGENT).reply("sun 12:05")          # a second staff reply answers nothing
                .reply("sun 16:50", CUSTOMER).reply("mon 09:10").events)
    assert m.next_responses == (
        Response(at("sun 11:00"), at("sun 12:00"), "agent-b", 60, 60),
        Response(at("sun 16:50"), at("mon 09:10"), "agent-a", 16 * 60 + 20, 20),
    )
    assert (m.staff_replies, m.customer_replies) == (4, 3)


# --- resolution and reopens --------------------------------------------------------------------


def test_a_reopened_ticket_has_a_first_and_a_final_resolution():
    m = measure(answered_then_solved().reopened_by_reply("mon 09:00").reply("mon 10:00").solve("mon 12:00").events)
    assert (m.first_solved_at, m.first_resolution_minutes, m.first_resolution_business_minutes) == (
        at("sun 11:00"), 120, 120)
    # Sunday 09:00 to Monday 12:00: 27 hours; 480 business minutes on Sunday and 180 on Monday.
    assert (m.solved_at, m.resolution_minutes, m.resolution_business_minutes) == (at("mon 12:00"), 27 * 60, 660)
    assert m.reopens == 1 and m.reopened_at == (at("mon 09:00"),)
    assert m.next_responses == (Response(at("mon 09:00"), at("mon 10:00"), "agent-a", 60, 60),)
    assert m.fcr is False and m.one_touch is True


def test_while_reopened_a_ticket_has_no_final_resolution():
    m = measure(answered_then_solved().reopened_by_reply("mon 09:00").events)
    assert m.first_solved_at == at("sun 11:00")
    assert m.solved_at is m.resolution_minutes is None
    assert m.status == "open"


def test_closing_a_solved_ticket_keeps_the_moment_it_was_solved():
    m = measure(answered_then_solved().status("mon 09:00", "closed").events)
    assert m.solved_at == at("sun 11:00") and m.status == "closed" and m.reopens == 0


def test_time_in_each_status_runs_up_to_the_last_event():
    m = measure(Story.opened("sun 09:00").reply("sun 09:30").status("sun 10:00", "pending")
                .reopened_by_reply("sun 12:00").solve("sun 13:00").rate("sun 14:00", 5).events)
    assert dict(m.seconds_in_status) == {"open": 3600 + 3600, "pending": 2 * 3600, "solved": 3600}


# --- first-contact resolution ---------------------------------------------------------------


@pytest.mark.parametrize("reopen_after, window, fcr", [
    (None, 7, True),                    # never reopened
    (timedelta(days=3), 7, False),      # reopened inside the window
    (timedelta(days=7), 7, False),      # at the window's end: still inside
    (timedelta(days=8), 7, True),       # reopened after the window: a new matter
    (timedelta(days=3), 2, True),       # a store with a 2-day window
])
def test_first_contact_resolution_is_one_staff_reply_and_no_reopen_within_the_window(reopen_after, window, fcr):
    m = measure(answered_then_solved(reopen_after).events, fcr_window_days=window)
    assert m.fcr is fcr
    assert m.one_touch is True  # reopened or not


def test_two_staff_replies_or_none_before_the_first_solve_is_no_first_contact_resolution():
    two = measure(Story.opened("sun 09:00").reply("sun 10:00").reply("sun 10:05", OTHER_AGENT)
                  .solve("sun 11:00").events)
    none = measure(Story.opened("sun 09:00").note("sun 10:00").solve("sun 11:00").events)
    assert (two.fcr, two.one_touch) == (none.fcr, none.one_touch) == (False, False)


def test_replies_after_the_first_solve_do_not_undo_a_first_contact_resolution():
    m = measure(answered_then_solved().reply("sun 11:30").events)
    assert (m.fcr, m.one_touch, m.staff_replies) == (True, True, 2)


def test_an_unsolved_ticket_is_not_decided_yet():
    m = measure(Story.opened("sun 09:00").reply("sun 10:00").events)
    assert m.fcr is m.one_touch is None


# --- people ----------------------------------------------------------------------------------


def test_reassignments_count_from_the_first_agent_and_the_first_team_on():
    m = measure(Story.opened("sun 09:00", team="team-1")
                .assign("sun 09:10", "agent-a", "team-1")  # the first agent; the team it opened on
                .assign("sun 09:20", "agent-b", "team-1")  # reassigned
                .assign("sun 09:30", "agent-b", "team-2")  # to another team
                .unassign("sun 09:40").events)             # to nobody: both change
    assert (m.assignee_changes, m.team_changes) == (2, 2)
    assert m.assignee_id is m.team is None


def test_the_ticket_keeps_its_current_attributes():
    m = measure(Story.opened("sun 09:00", topic_id="topic-1", order_id="order-9").tag("sun 09:01", "refund")
                .tag("sun 09:02", "vip").add("sun 09:03", "ticket.tag_removed", {"tag": "refund"})
                .add("sun 09:04", "ticket.priority_changed", {"priority": "urgent", "previous": "normal"})
                .add("sun 09:05", "ticket.type_changed", {"type": "order_delayed", "previous": "general"}).events)
    assert (m.tags, m.priority, m.type, m.topic_id, m.order_id) == (("vip",), "urgent", "order_delayed", "topic-1",
                                                                    "order-9")


# --- satisfaction ----------------------------------------------------------------------------


def test_a_rating_is_kept_with_the_moment_it_was_given():
    m = measure(answered_then_solved().rate("mon 08:00", 4).events)
    assert (m.csat_score, m.rated_at) == (4, at("mon 08:00"))


# --- SLA -------------------------------------------------------------------------------------


def test_a_target_the_timer_said_was_late_is_breached_and_the_others_met_are_achieved():
    m = measure(Story.opened("sun 09:00").breach("sun 13:00", "first_response").reply("sun 14:00")
                .solve("sun 15:00").events)
    assert m.sla_breached == (SlaOutcome("first_response", 1, at("sun 13:00")),)
    assert m.sla_achieved == (SlaOutcome("resolution", 1, at("sun 15:00")),)


def test_next_response_cycles_are_achieved_or_breached_one_by_one():
    m = measure(Story.opened("sun 09:00").reply("sun 09:30")
                .reply("sun 10:00", CUSTOMER).reply("sun 10:30")       # cycle 1, met
                .reply("sun 11:00", CUSTOMER).breach("mon 11:00", "next_response", 2).reply("mon 12:00").events)
    assert [(o.target, o.cycle) for o in m.sla_achieved] == [("first_response", 1), ("next_response", 1)]
    assert [(o.target, o.cycle) for o in m.sla_breached] == [("next_response", 2)]


def test_without_a_target_for_the_priority_nothing_is_achieved():
    story = Story.opened("sun 09:00").reply("sun 09:30").solve("sun 10:00")
    no_targets = {**DEFAULT_POLICY, "targets": {**DEFAULT_POLICY["targets"], "normal": None}}
    assert measure(story.events, no_targets).sla_achieved == ()
    assert measure(story.events, AROUND_THE_CLOCK).sla_achieved == ()
    assert len(measure(story.events).sla_achieved) == 2


def test_a_breach_is_counted_once_per_target_and_cycle():
    m = measure(Story.opened("sun 09:00").breach("sun 13:00", "first_response")
                .breach("sun 13:01", "first_response").events)
    assert len(m.sla_breached) == 1


# --- merged tickets ----------------------------------------------------------------------------


def test_a_merged_ticket_is_closed_by_the_merge_not_solved():
    m = measure(answered_then_solved().merge("sun 12:00", previous_status="solved").events)
    assert (m.merged_into, m.merged_at, m.status) == ("t-2", at("sun 12:00"), "closed")
    assert m.solved_at is m.first_solved_at is m.resolution_minutes is m.fcr is m.one_touch is None
    assert m.first_response_minutes == 60  # what happened before the merge stays
    assert [o.target for o in m.sla_achieved] == ["first_response"]


def test_an_unmerged_ticket_is_measured_as_before_the_merge():
    before = measure(answered_then_solved().events)
    m = measure(answered_then_solved().merge("sun 12:00", previous_status="solved").unmerge("sun 13:00", "solved")
                .events)
    assert m.merged_into is None and m.solved_at == before.solved_at and m.fcr is True


def test_messages_a_merge_brings_in_are_the_merged_tickets_not_this_ones():
    m = measure(Story.opened("sun 09:00").add("sun 10:00", "ticket.merge_received", {
        "from_ticket_id": "t-0", "from_number": 7, "messages": [
            {"id": "x", "author": {"type": "agent", "id": "agent-a"}, "body": "hi", "internal": False,
             "attachments": [], "created_at": "2026-03-01T06:30:00Z"}]}).events)
    assert m.first_response_at is None and m.staff_replies == 0


# --- clocks, order, storage ---------------------------------------------------------------------


def test_an_event_stamped_before_the_one_before_it_counts_at_that_ones_moment():
    m = measure(Story.opened("sun 09:00").reply("sun 08:55").events)
    assert m.first_response_at == at("sun 09:00") and m.first_response_minutes == 0


def test_a_history_must_start_with_its_opening():
    with pytest.raises(ValueError):
        measure(Story.opened("sun 09:00").reply("sun 10:00").events[1:])
    with pytest.raises(ValueError):
        measure([])


def test_the_metrics_survive_a_json_document():
    m = measure(answered_then_solved(timedelta(days=1)).reply("mon 12:00").tag("mon 12:01", "refund")
                .breach("mon 13:00", "resolution").rate("mon 14:00", 3).events)
    document = json.loads(json.dumps(to_document(m)))
    assert document["first_response_business_minutes"] == 60 and document["created_at"] == "2026-03-01T06:00:00Z"
    assert from_document(document) == m


# --- the tickets service's own events ----------------------------------------------------------


def test_events_the_tickets_domain_writes_measure_as_the_stories_say():
    from services.tickets.domain.commands import AddNote, Assign, OpenTicket, PostReply, Rate, Reopen, Solve
    from services.tickets.domain.decisions import decide
    from services.tickets.domain.ticket import fold, stored

    events, state = [], None
    for when, command in [
        ("thu 16:30", OpenTicket(actor=CUSTOMER, ticket_id="t-1", store_id="store-1", number=1,
                                 subject="Late parcel", body="Where is it?")),
        ("thu 16:40", AddNote(actor=AGENT, body="asking the courier")),
        ("thu 16:41", Assign(actor=AGENT, assignee_id="agent-a", team=None)),
        ("sun+ 09:30", PostReply(actor=AGENT, body="It is on its way")),
        ("sun+ 10:00", Solve(actor=AGENT)),
        ("mon+ 09:00", Reopen(actor=CUSTOMER)),
        ("mon+ 09:05", Solve(actor=AGENT)),
        ("mon+ 10:00", Rate(actor=CUSTOMER, score=5)),
    ]:
        new = stored(decide(state, command, at(when).astimezone(UTC)), len(events), stream_id="t-1")
        events, state = events + new, fold(new, state)
    m = measure(events)
    assert (m.first_response_minutes, m.first_response_business_minutes) == (65 * 60, 60)
    assert (m.notes, m.staff_replies, m.reopens, m.assignee_id) == (1, 1, 1, "agent-a")
    assert (m.first_solved_at, m.solved_at) == (at("sun+ 10:00"), at("mon+ 09:05"))
    assert (m.fcr, m.one_touch, m.csat_score) == (False, True, 5)
    assert m.store_id == "store-1" and m.created_at == datetime(2026, 3, 5, 13, 30, tzinfo=UTC)
