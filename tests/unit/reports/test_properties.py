"""The reports against a brute-force recomputation, on random ticket histories
(hypothesis): replies by the shopper, staff, the platform and the system,
notes, any status change (solves, reopens, closes), reassignments, team
changes, tags, ratings, SLA events, merges, under random business hours,
holidays, time zones and SLA targets.

The brute force below reads the definitions in docs/reports.md as they are
written, over the whole list of events at once (the code folds one event at
a time), and shares nothing with services/reports but the business calendar
(seedwork's, the definition of a business minute) and the buckets' bounds
(a table, not a computation).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import astuple, dataclass, fields, is_dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedwork.business_calendar import DAYS, calendar_of
from seedwork.envelope import Actor
from services.reports.domain.metrics import from_document, measure, to_document
from services.reports.domain.rollups import BOUNDS, EMPTY, Measures, changes, contributions
from services.reports.domain.summary import summarise

UTC = timezone.utc
CUSTOMER, AGENT_A, AGENT_B = Actor("customer", "cust-1"), Actor("agent", "agent-a"), Actor("agent", "agent-b")
PLATFORM, SYSTEM = Actor("platform", "reviewer-1"), Actor("system", "self-service")
STATUSES = ("open", "pending", "on_hold", "under_review", "solved", "closed")
DONE = ("solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
KINDS = ("first_response", "next_response", "resolution")
TAGS = ("refund", "vip", "late")
ZONES = ("UTC", "Asia/Riyadh", "Europe/Berlin", "America/New_York", "Asia/Tehran", "Asia/Kathmandu")
MINUTE, MICROSECOND = timedelta(minutes=1), timedelta(microseconds=1)
FAST = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass(frozen=True)
class Event:
    type: str
    data: Mapping[str, Any]
    actor: Actor
    occurred_at: datetime
    version: int
    store_id: str | None = "store-1"


# --- strategies -----------------------------------------------------------------------------


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def policies(draw) -> dict:
    hours = []
    if draw(st.integers(0, 3)):  # one in four: around the clock
        for day in DAYS:
            for _ in range(draw(st.integers(0, 2))):
                a, b = sorted(draw(st.lists(st.integers(0, 1440), min_size=2, max_size=2, unique=True)))
                hours.append({"day": day, "from": hhmm(a), "to": hhmm(b)})
    holidays = []
    for _ in range(draw(st.integers(0, 2))):
        first = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 380)))
        last = first + timedelta(days=draw(st.integers(0, 5)))
        holidays.append({"from": first.isoformat(), "to": last.isoformat()})
    target = st.one_of(st.none(), st.integers(1, 3000))
    goals = st.one_of(st.none(), st.fixed_dictionaries({f"{kind}_minutes": target for kind in KINDS}))
    return {"time_zone": draw(st.sampled_from(ZONES)), "business_hours": hours, "holidays": holidays,
            "targets": {priority: draw(goals) for priority in PRIORITIES}}


starts = st.one_of(
    st.builds(lambda m: datetime(2026, 1, 1, tzinfo=UTC) + m * MINUTE, st.integers(0, 365 * 1440)),
    # Near the nights clocks change (the US, Europe).
    st.builds(lambda day, m: day + m * MINUTE, st.sampled_from([datetime(2026, 3, 7, tzinfo=UTC),
                                                                 datetime(2026, 3, 28, tzinfo=UTC),
                                                                 datetime(2026, 10, 24, tzinfo=UTC)]),
              st.integers(0, 2 * 1440)),
)
# Each step's kind, weighted so that histories answer, solve and reopen often.
WEIGHTED = (["customer"] * 4 + ["staff"] * 5 + ["automatic"] + ["status"] * 2 + ["solve"] * 3 + ["reopen"] * 2
            + ["solve_and_reopen"]
            + ["note", "assign", "assign", "unassign", "tag_added", "tag_removed", "priority", "type", "rated",
               "breached", "breached", "warning", "merged", "unmerged", "merge_received", "forwarded"])


def gap(kind: int, amount: int) -> timedelta:
    """Minutes and seconds; hours to days; whole days (a reopen at the FCR window's end); none; or back
    in time (a replica whose clock is behind)."""
    return (timedelta(seconds=amount % (300 * 60)), timedelta(minutes=amount % (12 * 1440)),
            timedelta(days=amount % 12), timedelta(0), -timedelta(minutes=1 + amount % 90))[kind]


def action(kind: str, seed: int) -> tuple:
    """A step of ``kind``, its arguments picked by ``seed`` (0: the simplest)."""
    def pick(*options):
        nonlocal seed
        seed, n = divmod(seed, len(options))
        return options[n]
    if kind == "customer":
        return "reply", CUSTOMER, False
    if kind == "staff":
        return "reply", pick(AGENT_A, AGENT_B, PLATFORM, AGENT_A), False
    if kind == "automatic":  # the flow's tracking link, a system message, or one marked automatic
        return "reply", pick(SYSTEM, AGENT_A, PLATFORM), pick(True, False)
    if kind == "status":
        return "status", pick(*STATUSES), pick(AGENT_A, CUSTOMER)
    if kind == "solve":
        return "status", pick("solved", "closed", "solved"), AGENT_A
    if kind == "reopen":
        return "status", "open", CUSTOMER
    if kind == "note":
        return "note", pick(AGENT_A, PLATFORM)
    if kind == "assign":
        return "assign", pick("agent-a", "agent-b", None), pick(None, "team-1", "team-2")
    if kind in ("tag_added", "tag_removed"):
        return kind, pick(*TAGS)
    if kind == "priority":
        return kind, pick(*PRIORITIES)
    if kind == "type":
        return kind, pick("general", "order_delayed")
    if kind == "rated":
        return kind, pick(1, 2, 3, 4, 5)
    if kind == "breached":
        return kind, pick(*KINDS), pick(1, 2, 3)
    if kind == "warning":
        return kind, pick(*KINDS)
    if kind == "unmerged":
        return kind, pick(*STATUSES)
    if kind == "merged" and pick(False, True, True):  # merges are rarer: a merged ticket is solved no more
        return ("forwarded",)
    return (kind,)


steps = st.tuples(st.integers(0, 4), st.integers(0, 10 ** 7), st.sampled_from(WEIGHTED), st.integers(0, 10 ** 6))


@st.composite
def histories(draw, ticket_id: str = "t-1") -> list[Event]:
    moment = draw(starts)
    opening = {"ticket_id": ticket_id, "number": 1, "customer_id": "cust-1", "subject": "s", "message": {
        "id": "m0", "body": "b", "attachments": []}, "type": draw(st.sampled_from(("general", "product_exchange"))),
        "priority": draw(st.sampled_from(PRIORITIES)), "order_id": draw(st.sampled_from([None, "order-1"])),
        "channel": draw(st.sampled_from([None, "widget", "email", "phone"]))}
    for name, values in (("team", ["team-1"]), ("topic_id", ["topic-1"]), ("handled_by", ["store", "platform"])):
        if draw(st.booleans()):
            opening[name] = draw(st.sampled_from(values))
    events = [Event("ticket.opened", opening, draw(st.sampled_from([CUSTOMER, CUSTOMER, AGENT_A])), moment, 1)]
    for _ in range(draw(st.integers(0, 30))):
        gap_kind, amount, kind, seed = draw(steps)
        moment += gap(gap_kind, amount)
        if kind == "solve_and_reopen":  # solved, then reopened whole days later: at an FCR window's end
            events.append(Event(*event_of(("status", "solved", AGENT_A)), moment, len(events) + 1))
            kind, moment = "reopen", moment + timedelta(days=seed % 10)
        type_, data, actor = event_of(action(kind, seed))
        events.append(Event(type_, data, actor, moment, len(events) + 1))
    return events


def windows(events: list[Event]):
    """FCR windows: any, or the whole days from the first solve to a reopen (the window's last moment)."""
    m = brute_force(events, {"time_zone": "UTC", "business_hours": [], "holidays": [], "targets": {}}, 0)
    edges = [(at - m["first_solved_at"]).days for at in m["reopened_at"]
             if m["first_solved_at"] and (at - m["first_solved_at"]) % timedelta(days=1) == timedelta(0)]
    return st.one_of(st.integers(0, 10), *([st.sampled_from(edges)] if edges else []))


def event_of(action: tuple) -> tuple[str, dict, Actor]:
    name, *args = action
    message = {"message_id": "m", "body": "b", "attachments": []}
    sla = {"ticket_id": "t", "due_at": "2026-01-01T00:00:00Z", "policy_version": 1, "time_zone": "UTC"}
    if name == "reply":
        return "ticket.replied", {**message, **({"automatic": "tracking_link"} if args[1] else {})}, args[0]
    if name == "note":
        return "ticket.note_added", message, args[0]
    if name == "status":
        return "ticket.status_changed", {"status": args[0], "previous": None, "label": None, "reason": None}, args[1]
    if name == "assign":
        return "ticket.assigned", {"assignee_id": args[0], "team": args[1], "previous_assignee_id": None,
                                   "previous_team": None}, AGENT_A
    if name == "unassign":
        return "ticket.unassigned", {"previous_assignee_id": None, "previous_team": None}, AGENT_A
    if name in ("tag_added", "tag_removed"):
        return f"ticket.{name}", {"tag": args[0]}, AGENT_A
    if name == "priority":
        return "ticket.priority_changed", {"priority": args[0], "previous": None}, AGENT_A
    if name == "type":
        return "ticket.type_changed", {"type": args[0], "previous": None}, AGENT_A
    if name == "rated":
        return "ticket.rated", {"score": args[0], "comment": None}, CUSTOMER
    if name == "breached":  # first response and resolution have one cycle
        return "sla.breached", {**sla, "target": args[0], "cycle": args[1] if args[0] == "next_response" else 1}, \
            Actor("system", "sla")
    if name == "warning":
        return "sla.warning", {**sla, "target": args[0], "cycle": 1}, Actor("system", "sla")
    if name == "merged":
        return "ticket.merged", {"into_ticket_id": "t-9", "into_number": 9, "previous_status": "open",
                                 "previous_label": None}, AGENT_A
    if name == "unmerged":
        return "ticket.unmerged", {"into_ticket_id": "t-9", "into_number": 9, "status": args[0], "label": None}, \
            AGENT_A
    if name == "merge_received":
        return "ticket.merge_received", {"from_ticket_id": "t-8", "from_number": 8, "messages": []}, AGENT_A
    return "ticket.forwarded_by_email", {"email": "x@example.com", "note": "n", "subject": "s", "message_ids": [],
                                         "messages": [], "left_out": 0}, AGENT_A


# --- the brute force: one ticket -------------------------------------------------------------------


def is_staff_reply(e: Event) -> bool:
    return e.type == "ticket.replied" and e.actor.kind in ("agent", "platform") and "automatic" not in e.data


def brute_force(events: list[Event], policy: dict, window_days: int) -> dict[str, Any]:
    cal = calendar_of(policy)
    # Each event at the latest stamp so far of the ticket's own events (sla.* move no clock).
    moments, clock = [], None
    for e in events:
        moments.append(e.occurred_at if clock is None else max(e.occurred_at, clock))
        if not e.type.startswith("sla."):
            clock = moments[-1]
    n, opened, created = len(events), events[0], moments[0]
    minutes = lambda a, b: None if b is None else ((b - a) / MINUTE, cal.minutes_between(a, b))  # noqa: E731

    # Status after each event; solves into solved/closed, reopens out of them (status changes only).
    status_after, status = [], "open"
    for e in events:
        if e.type in ("ticket.status_changed", "ticket.unmerged"):
            status = e.data["status"]
        elif e.type == "ticket.merged":
            status = "closed"
        status_after.append(status)
    before = lambda k: status_after[k - 1]  # noqa: E731
    changes_ = [k for k in range(1, n) if events[k].type == "ticket.status_changed"]
    solves = [k for k in changes_ if events[k].data["status"] in DONE and before(k) not in DONE]
    reopens = [k for k in changes_ if events[k].data["status"] not in DONE and before(k) in DONE]
    merge_moves = [k for k in range(n) if events[k].type in ("ticket.merged", "ticket.unmerged")]
    merged = bool(merge_moves) and events[merge_moves[-1]].type == "ticket.merged"
    first_solve = solves[0] if solves and not merged else None
    final_solve = solves[-1] if solves and not merged and status_after[-1] in DONE else None
    if final_solve is not None and any(k > final_solve for k in reopens):
        final_solve = None

    # Replies.
    staff = [k for k in range(n) if is_staff_reply(events[k])]
    customers = [k for k in range(n) if events[k].type == "ticket.replied" and events[k].actor.kind == "customer"]
    first = staff[0] if staff else None
    responses = []
    for i, j in zip(staff, staff[1:]):  # a staff reply answers the shopper's messages since the staff reply before
        waiting = [k for k in customers if i < k < j]
        if waiting:
            asked, answered = moments[waiting[0]], moments[j]
            responses.append((asked, answered, events[j].actor.id, *minutes(asked, answered)))

    # People and attributes as they are now.
    assignees, teams = [None], [opened.data.get("team")]
    for e in events:
        if e.type in ("ticket.assigned", "ticket.unassigned"):
            assignees.append(e.data.get("assignee_id"))
            teams.append(e.data.get("team"))
    tags = []
    for e in events:
        if e.type == "ticket.tag_added" and e.data["tag"] not in tags:
            tags.append(e.data["tag"])
        elif e.type == "ticket.tag_removed":
            tags = [t for t in tags if t != e.data["tag"]]
    last = lambda type_, key, default: next(  # noqa: E731
        (e.data[key] for e in reversed(events) if e.type == type_), default)
    priority = last("ticket.priority_changed", "priority", opened.data["priority"])

    # Time in each status up to the last ticket event.
    spent: dict[str, int] = {}
    shown = ["open"] + status_after
    stamps = [created] + moments
    for k in range(len(shown)):
        end = stamps[k + 1] if k + 1 < len(shown) else clock
        spent[shown[k]] = spent.get(shown[k], 0) + (end - stamps[k]) // MICROSECOND

    # SLA.
    breaches: dict[tuple[str, int], datetime] = {}
    for k in range(n):
        if events[k].type == "sla.breached":
            breaches.setdefault((events[k].data["target"], int(events[k].data["cycle"])), moments[k])
    goals = policy["targets"].get(priority) or {}
    met = [("first_response", 1, first is not None and moments[first]),
           ("resolution", 1, final_solve is not None and moments[final_solve])]
    met += [("next_response", c, r[1]) for c, r in enumerate(responses, 1)]
    achieved = sorted(((kind, cycle, when) for kind, cycle, when in met
                       if when and goals.get(f"{kind}_minutes") is not None and (kind, cycle) not in breaches),
                      key=lambda o: (o[2], o[0], o[1]))
    ratings = [k for k in range(n) if events[k].type == "ticket.rated"]

    one_touch = None if first_solve is None else sum(k < first_solve for k in staff) == 1
    fcr = None if first_solve is None else one_touch and not any(
        moments[k] <= moments[first_solve] + timedelta(days=window_days) for k in reopens)
    at_ = lambda k: None if k is None else moments[k]  # noqa: E731
    first_minutes = minutes(created, at_(first)) or (None, None)
    first_resolution = minutes(created, at_(first_solve)) or (None, None)
    resolution = minutes(created, at_(final_solve)) or (None, None)
    count_changes = lambda values: sum(  # noqa: E731
        values[k] != values[k - 1] and any(v is not None for v in values[:k]) for k in range(1, len(values)))
    merge = merge_moves[-1] if merged else None
    return {
        "store_id": "store-1", "ticket_id": opened.data["ticket_id"], "number": 1, "version": events[-1].version,
        "created_at": created, "last_event_at": clock, "customer_id": "cust-1", "order_id": opened.data["order_id"],
        "channel": opened.data.get("channel") or ("api" if opened.actor.kind == "agent" else "widget"),
        "topic_id": opened.data.get("topic_id"), "handled_by": opened.data.get("handled_by", "store"),
        "type": last("ticket.type_changed", "type", opened.data["type"]), "priority": priority,
        "status": status_after[-1], "tags": tuple(tags), "assignee_id": assignees[-1], "team": teams[-1],
        "first_response_at": at_(first), "first_response_by": None if first is None else events[first].actor.id,
        "first_response_minutes": first_minutes[0], "first_response_business_minutes": first_minutes[1],
        "next_responses": tuple(responses),
        "first_solved_at": at_(first_solve), "first_resolution_minutes": first_resolution[0],
        "first_resolution_business_minutes": first_resolution[1],
        "solved_at": at_(final_solve), "resolution_minutes": resolution[0],
        "resolution_business_minutes": resolution[1],
        "staff_replies": len(staff), "customer_replies": len(customers),
        "automatic_replies": sum(e.type == "ticket.replied" for e in events) - len(staff) - len(customers),
        "notes": sum(e.type == "ticket.note_added" for e in events), "reopens": len(reopens),
        "assignee_changes": count_changes(assignees), "team_changes": count_changes(teams),
        "staff_reply_log": tuple((moments[k], events[k].actor.kind, events[k].actor.id) for k in staff),
        "reopened_at": tuple(moments[k] for k in reopens),
        "seconds_in_status": tuple((s, us / 1_000_000) for s, us in sorted(spent.items())),
        "sla_achieved": tuple(achieved),
        "sla_breached": tuple((target, cycle, when) for (target, cycle), when in breaches.items()),
        "csat_score": events[ratings[-1]].data["score"] if ratings else None,
        "rated_at": moments[ratings[-1]] if ratings else None,
        "fcr": fcr, "one_touch": one_touch,
        "merged_into": "t-9" if merged else None, "merged_at": None if merge is None else moments[merge],
    }


def plain(metrics) -> dict[str, Any]:
    """The metrics as the brute force writes them: records as tuples."""
    def value(v):
        if is_dataclass(v):
            return astuple(v)
        if isinstance(v, tuple):
            return tuple(value(x) for x in v)
        return v
    return {f.name: value(getattr(metrics, f.name)) for f in fields(metrics)}


# --- the brute force: rollups ----------------------------------------------------------------------


def bound_index(minutes: float) -> int:
    return next((i for i, bound in enumerate(BOUNDS) if minutes <= bound), len(BOUNDS))


def expected_rollups(tickets: list[tuple[dict, tuple, tuple]], time_zone: str) -> Counter:
    """``{(day, dimension, key, measure[, bucket]): count}`` for every ticket's facts, from the brute force."""
    zone, rows = ZoneInfo(time_zone), Counter()
    for m, products, terms in tickets:
        keys = [("all", ""), ("agent", m["assignee_id"] or ""), ("team", m["team"] or ""),
                ("topic", m["topic_id"] or ""), ("type", m["type"]), ("channel", m["channel"])]
        keys += [("tag", t) for t in set(m["tags"])] + [("product", p) for p in set(products)]

        def count(moment, name, under=keys, bucket=None):
            day = moment.astimezone(zone).date()
            for dimension, key in under:
                rows[(day, dimension, key, name) + (() if bucket is None else (bucket,))] += 1

        count(m["created_at"], "created")
        count(m["created_at"], "created", [("hour", f"{m['created_at'].astimezone(zone).hour:02d}")])
        count(m["created_at"], "created", [("term", t) for t in set(terms)])
        for moment, kind, who in m["staff_reply_log"]:
            author = [("agent", who or "")] if kind == "agent" else []
            count(moment, "replies", [k for k in keys if k[0] != "agent"] + author)
        if m["first_response_at"]:
            count(m["first_response_at"], "first_response_minutes", bucket=bound_index(m["first_response_minutes"]))
            count(m["first_response_at"], "first_response_business_minutes",
                  bucket=bound_index(m["first_response_business_minutes"]))
        if m["solved_at"]:
            count(m["solved_at"], "solved")
            count(m["solved_at"], "resolution_minutes", bucket=bound_index(m["resolution_minutes"]))
            count(m["solved_at"], "resolution_business_minutes", bucket=bound_index(m["resolution_business_minutes"]))
        if m["first_solved_at"]:
            count(m["first_solved_at"], "first_solved")
            for name in ("fcr", "one_touch"):
                if m[name]:
                    count(m["first_solved_at"], name)
        for moment in m["reopened_at"]:
            count(moment, "reopened")
        for *_, moment in m["sla_achieved"]:
            count(moment, "sla_achieved")
        for *_, moment in m["sla_breached"]:
            count(moment, "sla_breached")
        if m["csat_score"]:
            count(m["rated_at"], f"csat_{m['csat_score']}")
        if m["merged_at"]:
            count(m["merged_at"], "merged")
    return rows


def flat(rollups: Mapping[tuple, Measures]) -> Counter:
    out = Counter()
    for (day, dimension, key), measures in rollups.items():
        for f in fields(measures):
            value = getattr(measures, f.name)
            if isinstance(value, tuple):
                out.update({(day, dimension, key, f.name, b): n for b, n in enumerate(value) if n})
            elif value:
                out[(day, dimension, key, f.name)] += value
    return out


def summed(*parts: Mapping[tuple, Measures]) -> dict[tuple, Measures]:
    total: dict[tuple, Measures] = {}
    for part in parts:
        for where, measures in part.items():
            total[where] = total.get(where, EMPTY).add(measures)
    return total


def nearest_rank(values: list[float], numerator: int, denominator: int) -> int | None:
    if not values:
        return None
    rank = -(-len(values) * numerator // denominator)
    return BOUNDS[min(bound_index(sorted(values)[rank - 1]), len(BOUNDS) - 1)]


# --- the properties -------------------------------------------------------------------------------------


@settings(FAST, max_examples=300)
@given(histories(), policies(), st.data())
def test_measure_is_the_brute_force_recomputation_of_the_history(events, policy, data):
    window = data.draw(windows(events))
    metrics = measure(events, policy, window)
    assert plain(metrics) == brute_force(events, policy, window)
    assert from_document(json.loads(json.dumps(to_document(metrics)))) == metrics


@st.composite
def stores(draw):
    tickets = []
    for n in range(draw(st.integers(1, 6))):
        events = draw(histories(f"t-{n}"))
        tickets.append((events, tuple(draw(st.lists(st.sampled_from(["sku-1", "sku-2"]), max_size=2))),
                        tuple(draw(st.lists(st.sampled_from(["parcel", "late"]), max_size=2)))))
    return tickets


@settings(FAST, max_examples=50)
@given(stores(), policies(), st.integers(0, 10), st.sampled_from(["business", "calendar"]), st.data())
def test_the_rollups_of_many_tickets_are_a_brute_force_grouping_of_their_facts(tickets, policy, window, time, data):
    zone = policy["time_zone"]
    parts = [contributions(measure(events, policy, window), zone, products, terms)
             for events, products, terms in tickets]
    rollups = summed(*parts)
    expected = expected_rollups([(brute_force(events, policy, window), products, terms)
                                 for events, products, terms in tickets], zone)
    assert flat(rollups) == expected
    assert all(Measures.from_row(json.loads(json.dumps(m.to_row()))) == m for m in rollups.values())

    # Measured again after fewer events, then moved by the change: the same rollups.
    events, products, terms = tickets[0]
    cut = data.draw(st.integers(1, len(events)))
    early = contributions(measure(events[:cut], policy, window), zone, products, terms)
    moved = summed(early, *parts[1:], changes(early, parts[0]))
    assert {k: m for k, m in moved.items() if not m.is_empty()} == rollups

    # The summary by agent reads the medians, p90s and rates of the tickets' own figures.
    agent_rows = [(day, key, m) for (day, dimension, key), m in rollups.items() if dimension == "agent"]
    metrics = [brute_force(events, policy, window) for events, _, _ in tickets]
    business = time == "business"
    for item in summarise(agent_rows, "agent", time):
        mine = [m for m in metrics if (m["assignee_id"] or None) == item["key"]]
        first = [m["first_response_business_minutes" if business else "first_response_minutes"] for m in mine
                 if m["first_response_at"]]
        solved = [m["resolution_business_minutes" if business else "resolution_minutes"] for m in mine
                  if m["solved_at"]]
        first_solved = [m for m in mine if m["first_solved_at"]]
        ratings = [m["csat_score"] for m in mine if m["csat_score"]]
        assert item["created"] == len(mine) and item["solved"] == len(solved)
        assert item["first_response"] == {"median_minutes": nearest_rank(first, 1, 2),
                                          "p90_minutes": nearest_rank(first, 9, 10), "count": len(first)}
        assert item["resolution"]["median_minutes"] == nearest_rank(solved, 1, 2)
        assert item["fcr_rate"] == (round(sum(bool(m["fcr"]) for m in first_solved) / len(first_solved), 4)
                                    if first_solved else None)
        assert item["csat"]["average"] == (round(sum(ratings) / len(ratings), 2) if ratings else None)
