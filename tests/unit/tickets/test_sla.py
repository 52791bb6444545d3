"""A ticket's SLA computed from its history (services.tickets.domain.sla),
told as stories on real ticket events (``decide`` then ``stored``), then
checked on random histories: the used minutes never decrease as events are
appended, folding a prefix and then the rest is folding everything, and a
due moment is when the used minutes reach the target.

The default policy: Asia/Riyadh, Sunday to Thursday 09:00-17:00; a normal
ticket's targets are 240 / 480 / 1440 business minutes, an urgent one's
30 / 60 / 240; warnings an hour before. March 2026 starts on a Sunday."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedwork.envelope import Actor, NewEvent
from seedwork.errors import DomainError
from services.tickets.domain.commands import (
    AddNote, ChangeStatus, Close, OpenTicket, PostReply, Reopen, SetPriority, Solve,
)
from services.tickets.domain.decisions import decide
from services.tickets.domain.sla import (
    DEFAULT_POLICY, KINDS, SlaHistory, clean_policy, due_moments, evolve_history, fold_history, history_from_dict,
    sla_state, state_of,
)
from services.tickets.domain.ticket import fold, stored

UTC = timezone.utc
RIYADH, BERLIN = ZoneInfo("Asia/Riyadh"), ZoneInfo("Europe/Berlin")
CUSTOMER, AGENT = Actor("customer", "cust-1"), Actor("agent", "agent-1")
PLATFORM, SYSTEM = Actor("platform", "reviewer-1"), Actor("system")
WEEK = {"sun": "2026-03-01", "mon": "2026-03-02", "tue": "2026-03-03", "wed": "2026-03-04", "thu": "2026-03-05",
        "fri": "2026-03-06", "sat": "2026-03-07", "sun+": "2026-03-08", "mon+": "2026-03-09", "tue+": "2026-03-10"}


def at(when: str, zone=RIYADH) -> datetime:
    """``"mon 11:00"`` (that day of the week above) or ``"2026-03-05 16:00"``, in ``zone``."""
    day, clock = when.split()
    return datetime.fromisoformat(f"{WEEK.get(day, day)} {clock}").replace(tzinfo=zone)


def z(when: str, zone=RIYADH) -> str:
    """The same moment as the API writes it."""
    return at(when, zone).astimezone(UTC).isoformat().replace("+00:00", "Z")


class Ticket:
    """One ticket's stream, the way the service keeps it: decide at a moment, store, fold."""

    def __init__(self, when: str | datetime = "sun 09:00", priority: str = "normal", zone=RIYADH,
                 platform: bool = False):
        self.events, self.state, self.zone = [], None, zone
        # The platform's review team answers only the charged-without-order tickets it handles.
        flow = dict(type="charged_without_order", handled_by="platform",
                    flow={"payment": {"method": "mada", "card_last4": "1234"}}) if platform else {}
        self.do(when, OpenTicket(actor=CUSTOMER, ticket_id="t-1", store_id="store-1", number=1, priority=priority,
                                 subject="Where is my parcel?", body="Ordered a week ago.", **flow))

    def do(self, when: str | datetime, command) -> Ticket:
        moment = when if isinstance(when, datetime) else at(when, self.zone)
        new = stored(decide(self.state, command, moment), len(self.events), stream_id="t-1")
        self.state = fold(new, self.state)
        self.events += new
        return self

    def reply(self, when: str, actor: Actor = AGENT, **extra) -> Ticket:
        return self.do(when, PostReply(actor=actor, body="Thanks for waiting.", **extra))

    def status(self, when: str, status: str) -> Ticket:
        return self.do(when, ChangeStatus(actor=AGENT, status=status))

    def timer(self, when: str, event_type: str, kind: str, cycle: int = 1) -> Ticket:
        """What the lead's timer appends at a due moment."""
        event = NewEvent(event_type, {"ticket_id": "t-1", "target": kind, "cycle": cycle, "due_at": z(when),
                                      "policy_version": 1}, actor=SYSTEM, store_id="store-1", occurred_at=at(when))
        self.events += stored([event], len(self.events), stream_id="t-1")
        return self

    def sla(self, policy: dict = DEFAULT_POLICY, now: str | None = None, version: int = 1):
        return sla_state(policy, version, self.events, None if now is None else at(now, self.zone))


def target(state, kind: str) -> dict:
    return next(t for t in state.to_dict()["targets"] if t["kind"] == kind)

# --- a new ticket -----------------------------------------------------------------------------


def test_a_new_ticket_owes_a_first_response_and_a_resolution_each_with_its_due_moment_and_warning():
    state = Ticket("sun 09:00").sla()
    assert state.to_dict() == {"policy_version": 1, "paused": False, "targets": [
        {"kind": "first_response", "cycle": 1, "due_at": z("sun 13:00"), "met_at": None, "breached": False,
         "paused": False, "target_minutes": 240, "used_minutes": 0.0, "warning_at": z("sun 12:00")},
        {"kind": "resolution", "cycle": 1, "due_at": z("tue 17:00"), "met_at": None, "breached": False,
         "paused": False, "target_minutes": 1440, "used_minutes": 0.0, "warning_at": z("tue 16:00")},
    ]}
    json.dumps(state.to_dict())
    assert state.target("first_response").due_at.tzinfo is UTC and state.as_of == at("sun 09:00")


def test_a_ticket_opened_at_the_weekend_counts_from_sunday_morning_and_a_holiday_moves_it_on():
    ticket = Ticket("fri 12:00")
    assert target(ticket.sla(), "first_response")["due_at"] == z("sun+ 13:00")
    eid = clean_policy({"holidays": [{"from": "2026-03-08", "to": "2026-03-09"}]})
    assert target(ticket.sla(eid), "first_response")["due_at"] == z("tue+ 13:00")


def test_an_urgent_ticket_opened_near_closing_time_is_due_the_next_business_morning():
    assert target(Ticket("thu 16:45", "urgent").sla(), "first_response")["due_at"] == z("sun+ 09:15")
    assert target(Ticket("thu 16:00", "urgent").sla(), "first_response")["due_at"] == z("thu 16:30")


def test_a_warning_is_never_before_the_clock_started():
    # Thirty minutes to answer and a warning an hour ahead: the warning is due at once.
    [first, _] = Ticket("sun 10:00", "urgent").sla().targets
    assert first.due_at == at("sun 10:30") and first.warning_at == at("sun 10:00") == first.running_since

# --- the first response -------------------------------------------------------------------------


def test_the_first_public_staff_reply_meets_the_first_response():
    ticket = Ticket("sun 09:00").reply("sun 10:30")
    first = ticket.sla().target("first_response")
    assert (first.met_at, first.used_minutes, first.due_at, first.breached) == (at("sun 10:30"), 90, None, False)
    assert not first.running and first.warning_at is None


def test_notes_automatic_replies_and_the_customer_do_not_answer_but_the_platform_does():
    ticket = Ticket("sun 09:00")
    ticket.do("sun 09:10", AddNote(actor=AGENT, body="Checking with the courier."))
    ticket.reply("sun 09:20", AGENT, automatic="tracking_link")
    ticket.reply("sun 09:25", SYSTEM, automatic="tracking_link")
    ticket.reply("sun 09:30", CUSTOMER)
    assert ticket.sla().target("first_response").met_at is None
    assert ticket.sla().target("next_response") is None  # no staff response yet: no cycle
    platform = Ticket("sun 09:00", platform=True).do("sun 09:10", AddNote(actor=PLATFORM, body="Asking the bank."))
    assert platform.sla().target("first_response").met_at is None
    platform.reply("sun 09:40", PLATFORM)
    assert platform.sla().target("first_response").met_at == at("sun 09:40")


def test_a_first_response_after_its_due_moment_is_breached_even_without_a_now():
    ticket = Ticket("sun 09:00")
    assert ticket.sla(now="sun 13:00").target("first_response").breached is False  # due, not over
    assert ticket.sla(now="sun 13:01").target("first_response").breached is True
    ticket.reply("mon 09:00")
    first = ticket.sla().target("first_response")
    assert first.breached and first.used_minutes == 480 and first.met_at == at("mon 09:00")

# --- next responses ----------------------------------------------------------------------------------


def test_each_customer_reply_after_a_staff_response_starts_a_next_response_cycle_the_staff_reply_meets():
    ticket = Ticket("sun 09:00").reply("sun 10:00").reply("sun 11:00", CUSTOMER)
    cycle = ticket.sla().target("next_response")
    assert (cycle.cycle, cycle.started_at, cycle.due_at, cycle.target_minutes) == (1, at("sun 11:00"),
                                                                                    at("mon 11:00"), 480)
    ticket.reply("sun 12:00", CUSTOMER)  # a second message while one waits: the same cycle
    assert ticket.sla().target("next_response").started_at == at("sun 11:00")
    ticket.reply("sun 15:00")
    met = ticket.sla().target("next_response")
    assert (met.cycle, met.met_at, met.used_minutes, met.due_at) == (1, at("sun 15:00"), 240, None)
    ticket.reply("mon 09:30", CUSTOMER)
    second = ticket.sla().target("next_response")
    assert (second.cycle, second.started_at, second.met_at, second.due_at) == (2, at("mon 09:30"), None,
                                                                                at("tue 09:30"))
    assert [t.kind for t in ticket.sla().targets] == ["first_response", "next_response", "resolution"]

# --- pauses -------------------------------------------------------------------------------------------


def test_pending_pauses_every_clock_and_the_customers_answer_resumes_them_with_what_was_used():
    ticket = Ticket("sun 09:00").reply("sun 10:00").status("sun 11:00", "pending")
    paused = ticket.sla(now="mon 16:00")
    resolution = paused.target("resolution")
    assert paused.paused and resolution.paused and not resolution.running
    assert (resolution.used_minutes, resolution.due_at, resolution.warning_at) == (120, None, None)
    assert due_moments(paused) == []
    ticket.reply("mon 11:00", CUSTOMER)  # reopens it: status_changed to open
    assert ticket.events[-1].data["status"] == "open"
    running = ticket.sla()
    assert not running.paused
    # 120 used before the pause, 1320 left: Monday 11:00-17:00, then Tuesday and Wednesday.
    assert running.target("resolution").due_at == at("wed 17:00")
    assert running.target("next_response").due_at == at("tue 11:00")


def test_on_hold_pauses_too_and_a_policy_decides_which_statuses_pause():
    ticket = Ticket("sun 09:00").status("sun 10:00", "on_hold").status("mon 10:00", "open")
    assert ticket.sla().target("first_response").due_at == at("mon 13:00")  # 60 used, 180 left
    never = clean_policy({"pause_on": []})
    assert ticket.sla(never).target("first_response").due_at == at("sun 13:00")
    review = Ticket("sun 09:00").status("sun 10:00", "under_review")
    assert review.sla().target("first_response").running  # under_review pauses only if the policy says so
    assert review.sla(clean_policy({"pause_on": ["under_review"]})).paused

# --- resolution ----------------------------------------------------------------------------------------


def test_solving_meets_the_resolution_and_a_reopen_runs_it_on_from_where_it_stopped():
    ticket = Ticket("sun 09:00").reply("sun 09:30").do("sun 12:00", Solve(actor=AGENT))
    solved = ticket.sla().target("resolution")
    assert (solved.met_at, solved.used_minutes, solved.due_at) == (at("sun 12:00"), 180, None)
    ticket.reply("mon 09:00", CUSTOMER)  # a customer's reply reopens a solved ticket
    reopened = ticket.sla().target("resolution")
    assert (reopened.met_at, reopened.used_minutes, reopened.due_at) == (None, 180, at("wed 14:00"))
    ticket.do("mon 10:00", Solve(actor=AGENT)).do("mon 11:00", Reopen(actor=CUSTOMER))
    assert ticket.sla().target("resolution").due_at == at("wed 15:00")  # the hour solved did not count


def test_a_closed_ticket_runs_nothing_and_closing_a_solved_one_keeps_the_moment_it_was_solved():
    ticket = Ticket("sun 09:00").do("sun 10:00", Close(actor=AGENT))
    state = ticket.sla(now="tue+ 12:00")
    first, resolution = state.targets
    assert (first.met_at, first.running, first.paused, first.due_at, first.used_minutes) == (None, False, False,
                                                                                           None, 60)
    assert resolution.met_at == at("sun 10:00") and due_moments(state) == [] and not state.paused
    solved = Ticket("sun 09:00").do("sun 10:00", Solve(actor=AGENT)).do("mon 10:00", Close(actor=AGENT))
    assert solved.sla().target("resolution").met_at == at("sun 10:00")

# --- priorities and policies: recomputed from the history -------------------------------------------------


def test_a_priority_change_sets_the_targets_of_running_and_met_ones_alike():
    ticket = Ticket("sun 09:00", "normal").reply("sun 09:45")
    assert ticket.sla().target("first_response").breached is False  # 45 of 240
    ticket.do("sun 10:00", SetPriority(actor=AGENT, priority="urgent"))
    state = ticket.sla()
    assert state.target("first_response").breached is True  # 45 of 30: met late
    assert (state.target("resolution").target_minutes, state.target("resolution").due_at) == (240, at("sun 13:00"))


def test_a_priority_without_a_target_shows_none_of_it():
    policy = clean_policy({"targets": {"low": {"first_response_minutes": None}, "normal": None}})
    assert [t.kind for t in Ticket(priority="low").sla(policy).targets] == ["resolution"]
    assert Ticket(priority="normal").sla(policy).targets == ()


def test_a_policy_changed_mid_ticket_recomputes_the_deadlines_from_the_history():
    ticket = Ticket("sun 09:00").reply("sun 10:00").reply("sun 11:00", CUSTOMER)
    kept = fold_history(ticket.events)  # what a projection may keep instead of re-reading the events
    before = ticket.sla(version=1)
    assert before.target("next_response").due_at == at("mon 11:00")
    longer_days = clean_policy({"business_hours": [{"day": day, "from": "08:00", "to": "20:00"}
                                                   for day in ("sun", "mon", "tue", "wed", "thu")],
                                "targets": {"normal": {"next_response_minutes": 120}}})
    after = ticket.sla(longer_days, version=2)
    assert after.policy_version == 2
    assert after.target("next_response").due_at == at("sun 13:00")
    # Sunday 09:00-20:00 is 660 minutes, Monday 720, then 60 on Tuesday morning.
    assert after.target("resolution").due_at == at("tue 09:00")
    assert state_of(longer_days, 2, kept) == after == ticket.sla(longer_days, version=2)
    assert ticket.sla(version=1) == before  # and back again: a function of the policy and the history


def test_the_same_history_under_another_time_zone_falls_due_at_other_moments():
    ticket = Ticket("2026-03-02 06:00", zone=UTC)  # Monday: 09:00 in Riyadh, 07:00 in Berlin
    riyadh, berlin = ticket.sla(), ticket.sla(clean_policy({"time_zone": "Europe/Berlin"}))
    assert riyadh.target("first_response").due_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 13:00 in Riyadh
    assert berlin.target("first_response").due_at == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
    # Berlin's clocks go forward on 29 March: the same local hours, an hour earlier in UTC.
    spring = Ticket("2026-03-26 16:00", zone=BERLIN)  # a Thursday, an hour before closing
    due = spring.sla(clean_policy({"time_zone": "Europe/Berlin"})).target("first_response").due_at
    assert due == at("2026-03-29 12:00", BERLIN) == datetime(2026, 3, 29, 10, 0, tzinfo=UTC)

# --- measured at a moment -----------------------------------------------------------------------------------


def test_now_measures_the_running_clocks_and_a_now_before_the_last_event_counts_as_that_event():
    ticket = Ticket("sun 09:00")
    assert ticket.sla(now="sun 11:30").target("first_response").used_minutes == 150
    assert ticket.sla(now="2026-02-28 11:30").target("first_response").used_minutes == 0
    assert ticket.sla(now="2026-02-28 11:30").as_of == at("sun 09:00")
    with pytest.raises(TypeError):
        sla_state(DEFAULT_POLICY, 1, ticket.events, datetime(2026, 3, 1, 12))
    with pytest.raises(ValueError):
        sla_state(DEFAULT_POLICY, 1, [])
    with pytest.raises(ValueError):
        fold_history(ticket.events[:1] * 2)

# --- warnings and breaches the timer emitted ---------------------------------------------------------------


def test_the_timer_is_told_each_due_moment_once_and_an_emitted_breach_stays_breached():
    ticket = Ticket("sun 09:00")
    assert due_moments(ticket.sla()) == [
        (at("sun 12:00"), "sla.warning", "first_response", 1), (at("sun 13:00"), "sla.breached", "first_response", 1),
        (at("tue 16:00"), "sla.warning", "resolution", 1), (at("tue 17:00"), "sla.breached", "resolution", 1)]
    ticket.timer("sun 12:00", "sla.warning", "first_response")
    assert due_moments(ticket.sla())[0] == (at("sun 13:00"), "sla.breached", "first_response", 1)
    ticket.timer("sun 13:00", "sla.breached", "first_response")
    state = ticket.sla()
    assert state.emitted == {("first_response", 1, "sla.warning"), ("first_response", 1, "sla.breached")}
    # Without a now the clock stands at the last ticket event: the SLA events move no clock.
    first = state.target("first_response")
    assert first.used_minutes == 0 and first.breached and first.running
    assert [m[1:] for m in due_moments(state)] == [("sla.warning", "resolution", 1), ("sla.breached", "resolution", 1)]
    ticket.do("sun 14:00", SetPriority(actor=AGENT, priority="low")).reply("sun 14:30")
    assert ticket.sla().target("first_response").breached  # 330 of 480 now, but the breach was announced


def test_no_warning_for_a_target_already_past_due_and_none_without_warning_minutes():
    ticket = Ticket("sun 09:00", "urgent").status("sun 09:40", "pending").status("mon 09:00", "open")
    state = ticket.sla()
    first = state.target("first_response")
    assert first.breached and first.due_at == at("sun 09:30")  # reached before the pause
    assert (at("sun 09:30"), "sla.breached", "first_response", 1) in due_moments(state)
    assert not [m for m in due_moments(state) if m[2] == "first_response" and m[1] == "sla.warning"]
    quiet = Ticket("sun 09:00").sla(clean_policy({"warning_minutes": None}))
    assert [m[1] for m in due_moments(quiet)] == ["sla.breached", "sla.breached"]

# --- on random histories ----------------------------------------------------------------------------------


STEPS = {
    "customer replies": lambda: PostReply(actor=CUSTOMER, body="Any news?"),
    "agent replies": lambda: PostReply(actor=AGENT, body="On its way."),
    "flow replies": lambda: PostReply(actor=AGENT, body="Track it here.", automatic="tracking_link"),
    "platform replies": lambda: PostReply(actor=PLATFORM, body="We are looking into it."),
    "note": lambda: AddNote(actor=AGENT, body="Courier called."),
    "pending": lambda: ChangeStatus(actor=AGENT, status="pending"),
    "on hold": lambda: ChangeStatus(actor=AGENT, status="on_hold"),
    "under review": lambda: ChangeStatus(actor=AGENT, status="under_review"),
    "open": lambda: ChangeStatus(actor=AGENT, status="open"),
    "solve": lambda: Solve(actor=AGENT),
    "reopen": lambda: Reopen(actor=CUSTOMER),
    "close": lambda: Close(actor=AGENT),
    "urgent": lambda: SetPriority(actor=AGENT, priority="urgent"),
    "low": lambda: SetPriority(actor=AGENT, priority="low"),
}
# Conversations mostly: replies come up four times as often as the other steps.
STEP_NAMES = sorted(STEPS) + ["customer replies", "agent replies"] * 3
SLA_EVENTS = ("sla.warning", "sla.breached")
POLICIES = [
    DEFAULT_POLICY,
    clean_policy({"time_zone": "Europe/Berlin", "pause_on": ["on_hold", "under_review"], "warning_minutes": None}),
    clean_policy({"time_zone": "UTC", "business_hours": [], "pause_on": [],
                  "holidays": [{"from": "2026-03-28", "to": "2026-03-29"}]}),
    clean_policy({"time_zone": "America/New_York", "targets": {"normal": {"resolution_minutes": None}},
                  "business_hours": [{"day": "mon", "from": "08:00", "to": "12:00"},
                                     {"day": "mon", "from": "13:00", "to": "24:00"},
                                     {"day": "tue", "from": "00:00", "to": "06:00"}]}),
]


@st.composite
def histories(draw) -> list:
    """A ticket's events: random steps at random moments (the refused ones skipped), and the timer's events."""
    opened = datetime(2026, 3, 1, 6, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
    ticket = Ticket(opened, draw(st.sampled_from(["low", "normal", "high", "urgent"])), zone=UTC,
                    platform=draw(st.integers(0, 4)) == 0)
    moment = opened
    for _ in range(draw(st.integers(0, 20))):
        moment += timedelta(minutes=draw(st.sampled_from([0, 1, 17, 45, 90, 300, 1000, 2500, 6000])))
        if draw(st.integers(0, 9)) == 0:
            ticket.events += stored([NewEvent(draw(st.sampled_from(SLA_EVENTS)), {
                "ticket_id": "t-1", "target": draw(st.sampled_from(KINDS)), "cycle": draw(st.integers(1, 3)),
                "due_at": "2026-03-01T00:00:00Z", "policy_version": 1}, occurred_at=moment)], len(ticket.events))
            continue
        try:
            ticket.do(moment, STEPS[draw(st.sampled_from(STEP_NAMES))]())
        except DomainError:
            pass
    return ticket.events


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from(POLICIES), st.data())
def test_folding_a_prefix_then_the_rest_is_folding_everything(events, policy, data):
    cut = data.draw(st.integers(0, len(events)))
    history = fold_history(events[cut:], fold_history(events[:cut]))
    assert history == fold_history(events)
    assert state_of(policy, 3, history) == sla_state(policy, 3, events)
    one_by_one = SlaHistory()
    for event in events:
        one_by_one = evolve_history(one_by_one, event)
    assert one_by_one == history
    # Kept as JSON by a projection, read back, and folded on: the same.
    kept = history_from_dict(json.loads(json.dumps(fold_history(events[:cut]).to_dict())))
    assert fold_history(events[cut:], kept) == history


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from(POLICIES))
def test_the_used_minutes_never_decrease_as_events_are_appended(events, policy):
    used: dict[tuple[str, int], float] = {}
    for n in range(1, len(events) + 1):
        state = sla_state(policy, 1, events[:n])
        for t in state.targets:
            key = (t.kind, t.cycle)
            assert t.used_minutes >= used.get(key, 0) - 1e-9, (key, events[n - 1].type)
            used[key] = t.used_minutes
            assert t.breached or t.used_minutes <= t.target_minutes
            assert (t.due_at is None) == (not t.running) and not (t.running and t.paused)
            assert (t.met_at is None) or not t.running
        assert state.paused == any(t.paused for t in state.targets)


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from(POLICIES), st.integers(0, 60 * 24 * 30))
def test_a_running_target_falls_due_when_its_used_minutes_reach_the_target(events, policy, later):
    state = sla_state(policy, 1, events)
    now = state.as_of + timedelta(minutes=later)
    measured = sla_state(policy, 1, events, now)
    for t, then in zip(state.targets, measured.targets):
        assert (t.kind, t.cycle) == (then.kind, then.cycle) and then.used_minutes >= t.used_minutes
        if not t.running:
            assert then.used_minutes == t.used_minutes  # a stopped clock stays stopped
            continue
        assert t.warning_at <= t.due_at if t.warning_at else True
        emitted = (t.kind, t.cycle, "sla.breached") in state.emitted
        assert then.breached == (emitted or now > t.due_at)
        if t.due_at >= state.as_of:  # not already past due before the last event
            at_due = sla_state(policy, 1, events, t.due_at).target(t.kind)
            assert abs(at_due.used_minutes - t.target_minutes) < 1e-6
    moments = due_moments(state)
    assert moments == sorted(moments, key=lambda m: (m[0], m[1] == "sla.breached", KINDS.index(m[2])))
    assert not {(kind, cycle, event_type) for _, event_type, kind, cycle in moments} & state.emitted
