"""Routing in the tickets service layer, in process, on the real PostgreSQL:
round robin, least loaded with capacity, skills, waiting tickets taken in
order when an agent comes online, a reopened ticket of an offline agent,
the routing marks rebuilt from the log; and several replicas routing 200
tickets at once, after which every invariant is checked from the events.
The same through HTTP is tests/e2e/test_routing.py."""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict

import pytest

from seedwork.caller import Caller
from seedwork.consumer import process_once
from seedwork.errors import Conflict
from seedwork.store import _COLUMNS as EVENT_COLUMNS
from seedwork.store import EventStore
from services.tickets.application import build
from services.tickets.domain import routing as rules
from services.tickets.domain.ticket import fold
from services.tickets.routing import ROUTER

from tests.support.servers import ROOT, drop_schema, new_schema

MIGRATIONS = ROOT / "services" / "tickets" / "migrations"
CONSUMER = "tickets.on_routing_event"
PRIORITIES = ("low", "normal", "high", "urgent")


@pytest.fixture
def tickets_schema(database_url):
    name = new_schema(database_url, [("tickets", MIGRATIONS)])
    yield name
    drop_schema(database_url, name)


@pytest.fixture
def store(pool, tickets_schema):
    return EventStore(pool, tickets_schema)


@pytest.fixture
def tickets(store):
    return build(store)


class Shop:
    """A store with its owner, teams on topics, agents and shoppers."""

    def __init__(self, tickets):
        self.tickets = tickets
        self.id = f"st_{uuid.uuid4().hex[:8]}"
        self.owner = Caller("agent", "owner", self.id, "owner")
        self.topics: dict[str, str] = {}

    def team(self, name, mode, members=()) -> str:
        team_id = self.tickets.teams.create(self.owner, {"name": name, "assignment": {"mode": mode}})["team"]["id"]
        for agent_id in members:
            self.tickets.teams.add_member(self.owner, team_id, agent_id)
        self.topics[team_id] = self.tickets.topics.create(self.owner, {"names": {"en": name},
                                                                       "team_id": team_id})["topic"]["id"]
        return team_id

    def profile(self, agent_id, **fields) -> None:
        self.tickets.agents.update(self.owner, agent_id, fields)

    def agent(self, agent_id) -> Caller:
        return Caller("agent", agent_id, self.id, "agent")

    def shopper(self) -> Caller:
        return Caller("customer", str(uuid.uuid4()), self.id, "customer")

    def open(self, team_id=None, **fields) -> str:
        body = {"subject": "Where is my order?", "body": "It is late.", **fields}
        if team_id is not None:
            body["topic_id"] = self.topics[team_id]
        return self.tickets.writes.open(self.shopper(), body)["ticket"]["id"]


def fold_assignee(tickets, ticket_id):
    return fold(tickets.writes.store.load(ticket_id)).assignee_id


def committed(store, after=0) -> list:
    """Every event after ``after`` in position order, as committed now. Not
    ``read_all``: it also waits for other databases' transactions on this
    server, and these tests write one thing at a time, so nothing commits late."""
    with store.pool.connection() as conn:
        rows = conn.execute(f"SELECT {EVENT_COLUMNS} FROM {store.schema}.events WHERE position > %s "
                            "ORDER BY position", (after,)).fetchall()
    return store._envelopes(rows)


def routed(store, ticket_ids=None) -> list:
    """Routing's ticket.assigned / unassigned events, in position order."""
    return [e for e in committed(store) if e.actor == ROUTER and (ticket_ids is None or e.stream_id in ticket_ids)]


def once_for(store):
    def once(event, effect):
        return process_once(store.pool, store.schema, CONSUMER, event.event_id, effect)[0]
    return once


def deliver(tickets, store, after=0) -> int:
    """Every event after ``after`` to the router, as the bus would; the last position."""
    once = once_for(store)
    for event in committed(store, after):
        tickets.routing.on_event(event, once)
        after = event.position
    return after


# --- the modes ------------------------------------------------------------------------------------------


def test_round_robin_takes_turns_in_member_order_and_skips_who_is_not_online(tickets, store):
    shop = Shop(tickets)
    team = shop.team("Payments", "round_robin", ["a", "b", "c"])
    for agent_id in "abc":
        shop.profile(agent_id, availability="online")
    shop.profile("b", availability="away")
    opened = [shop.open(team) for _ in range(4)]
    deliver(tickets, store)
    assert [fold_assignee(tickets, t) for t in opened] == ["a", "c", "a", "c"]
    # The history says who decided, and how.
    [first, *_] = routed(store, set(opened))
    assert (first.type, first.data["routed_by"], first.data["reason"], first.data["team"]) == (
        "ticket.assigned", "round_robin", "waiting", team)


def test_least_loaded_fills_the_emptiest_up_to_capacity_and_the_rest_waits(tickets, store):
    shop = Shop(tickets)
    team = shop.team("Shipping", "least_loaded", ["a", "b"])
    shop.profile("a", availability="online", capacity=2)
    shop.profile("b", availability="online", capacity=1)
    opened = [shop.open(team) for _ in range(4)]
    deliver(tickets, store)
    # a and b have none: a (member order); then b has fewer; then only a has room; then nobody.
    assert [fold_assignee(tickets, t) for t in opened] == ["a", "b", "a", None]


def test_skills_filter_who_takes_a_ticket(tickets, store):
    shop = Shop(tickets)
    team = shop.team("Support", "round_robin", ["plain", "vip"])
    shop.profile("plain", availability="online")
    shop.profile("vip", availability="online", skills=["vip"])
    staff = shop.owner
    vip_ticket = shop.open(team)
    tickets.writes.execute(staff, vip_ticket, [["add_tag", {"tag": "vip"}]])
    deliver(tickets, store)
    assert fold_assignee(tickets, vip_ticket) == "vip"  # plain was first in turn, but lacks the skill
    plain_ticket = shop.open(team)
    deliver(tickets, store)
    assert fold_assignee(tickets, plain_ticket) == "plain"  # needs nothing: the next in turn after vip


def test_an_agent_coming_online_takes_the_waiting_tickets_most_urgent_first(tickets, store):
    shop = Shop(tickets)
    team = shop.team("Returns", "round_robin", ["a"])
    shop.profile("a", capacity=2)
    low, urgent, normal = (shop.open(team, priority=p) for p in ("low", "urgent", "normal"))
    deliver(tickets, store)
    assert {fold_assignee(tickets, t) for t in (low, urgent, normal)} == {None}  # a is offline

    position = deliver(tickets, store)
    shop.profile("a", availability="online")
    position = deliver(tickets, store, position)
    assert [fold_assignee(tickets, t) for t in (urgent, normal, low)] == ["a", "a", None]
    assert [e.stream_id for e in routed(store)] == [urgent, normal]
    # a solves one: the last one comes to them.
    tickets.writes.execute(shop.agent("a"), urgent, [["solve", {}]])
    deliver(tickets, store, position)
    assert fold_assignee(tickets, low) == "a"


def test_tickets_on_no_team_follow_the_stores_own_mode(tickets, store):
    shop = Shop(tickets)
    shop.profile("a", availability="online")
    shop.profile("b", availability="online")
    waiting = shop.open()
    deliver(tickets, store)
    assert fold_assignee(tickets, waiting) is None  # manual by default
    position = deliver(tickets, store)
    tickets.agent_settings.update(shop.owner, {"assignment_mode": "least_loaded"})
    position = deliver(tickets, store, position)
    assert fold_assignee(tickets, waiting) == "a"
    second = shop.open()
    deliver(tickets, store, position)
    assert fold_assignee(tickets, second) == "b"  # a has one already


def test_a_reopened_ticket_of_an_offline_agent_goes_to_someone_online_or_back_to_the_queue(tickets, store):
    shop = Shop(tickets)
    team = shop.team("Billing", "round_robin", ["a", "b"])
    shop.profile("a", availability="online")
    shopper = shop.shopper()
    ticket_id = tickets.writes.open(shopper, {"subject": "Refund", "body": "Where is it?",
                                              "topic_id": shop.topics[team]})["ticket"]["id"]
    position = deliver(tickets, store)
    assert fold_assignee(tickets, ticket_id) == "a"
    a = shop.agent("a")
    tickets.writes.execute(a, ticket_id, [["reply", {"body": "Refunded."}], ["solve", {}]])
    shop.profile("a", availability="offline")
    shop.profile("b", availability="online")
    position = deliver(tickets, store, position)

    # The customer writes again: the ticket reopens, and goes to b.
    tickets.writes.execute(shopper, ticket_id, [["reply", {"body": "Not yet!"}]])
    position = deliver(tickets, store, position)
    assert fold_assignee(tickets, ticket_id) == "b"
    last = routed(store, {ticket_id})[-1]
    assert (last.data["previous_assignee_id"], last.data["reason"]) == ("a", "reopened")

    # Again, with nobody online: back to the team's queue, its team kept.
    tickets.writes.execute(shop.agent("b"), ticket_id, [["reply", {"body": "Sent again."}], ["solve", {}]])
    shop.profile("b", availability="offline")
    position = deliver(tickets, store, position)
    tickets.writes.execute(shopper, ticket_id, [["reply", {"body": "Still nothing."}]])
    position = deliver(tickets, store, position)
    state = fold(store.load(ticket_id))
    assert (state.assignee_id, state.team, state.status) == (None, team, "open")
    assert routed(store, {ticket_id})[-1].data["reason"] == "assignee_offline"
    # Delivered again (the bus is at least once): nothing more happens.
    before = len(store.load(ticket_id))
    deliver(tickets, store, 0)
    assert len(store.load(ticket_id)) == before


def test_the_routing_marks_are_rebuilt_from_routings_assignments(tickets, store):
    shop = Shop(tickets)
    team = shop.team("Payments", "round_robin", ["a", "b", "c"])
    other = shop.team("Shipping", "least_loaded", ["c", "a"])
    for agent_id in "abc":
        shop.profile(agent_id, availability="online")
    for n in range(7):
        shop.open(team if n % 2 else other)
    deliver(tickets, store)
    table = f"{store.schema}.routing_marks"

    def marks():
        with store.pool.connection() as conn:
            return conn.execute(f"SELECT store_id, queue, agent_id, seq FROM {table} ORDER BY 1, 2, 3").fetchall()

    live = marks()
    assert len(live) == 5 and max(seq for *_, seq in live) == 4
    with store.transaction() as conn:
        conn.execute(f"UPDATE {table} SET seq = 99")
        assert tickets.routing.marks.rebuild(conn) == 5
    assert marks() == live


# --- several replicas at once ------------------------------------------------------------------------------


def test_several_replicas_route_200_tickets_without_a_double_assignment_or_an_agent_past_capacity(store):
    # Four replicas: each its own service layer over the same database.
    replicas = [build(store) for _ in range(4)]
    shop = Shop(replicas[0])
    rr_agents = ["rr0", "rr1", "rr2", "rr3", "rr_off"]
    ll_agents = ["ll3", "ll5", "ll8", "ll_off", "ll_away"]
    capacity = {"rr0": None, "rr1": None, "rr2": None, "rr3": None, "rr_off": None, "both": 6,
                "ll3": 3, "ll5": 5, "ll8": 8, "ll_off": 10, "ll_away": 10}
    rr = shop.team("Round robin", "round_robin", [*rr_agents[:2], "both", *rr_agents[2:]])
    ll = shop.team("Least loaded", "least_loaded", ["both", *ll_agents])
    for agent_id, cap in capacity.items():
        shop.profile(agent_id, capacity=cap)  # offline until the routing starts
    shop.profile("ll_away", availability="away")

    # 200 tickets wait: two teams, every priority.
    rng = random.Random(15)
    opened = {rr: [], ll: []}
    for n in range(200):
        team = rr if n % 2 else ll
        opened[team].append(shop.open(team, priority=rng.choice(PRIORITIES)))
    with store.pool.connection() as conn:
        keys = {t: (due, rank, created, number) for t, due, rank, created, number in conn.execute(
            f"SELECT ticket_id, sla_due_at, priority_rank, created_at, number FROM {store.schema}.ticket_list "
            "WHERE store_id = %s", (shop.id,))}
    start = store.head_position()

    # The bus: one reader, competing consumers on every replica, each event twice
    # (at least once); each replica sweeps too; agents solve tickets as they come.
    stop = threading.Event()
    inbox: list = []
    errors: list = []

    def guarded(work):
        def run():
            try:
                work()
            except Exception as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
                raise
        return run

    def reader():
        after = start
        while not stop.is_set():
            batch = store.read_all(after, 200)
            for event in batch:
                inbox.extend([event, event])
            after = batch[-1].position if batch else after
            time.sleep(0.01)

    def consumer(replica):
        once = once_for(store)
        while not stop.is_set():
            if inbox:
                replica.routing.on_event(inbox.pop(0), once)
            else:
                time.sleep(0.005)

    def sweeper(replica):
        while not stop.is_set():
            replica.routing.sweep()
            time.sleep(0.05)

    solved = []

    def solver(replica, agents):
        while not stop.is_set() and len(solved) < 60:
            with store.pool.connection() as conn:
                rows = conn.execute(f"SELECT ticket_id, assignee_id FROM {store.schema}.ticket_list WHERE "
                                    "store_id = %s AND status = 'open' AND assignee_id = ANY(%s)",
                                    (shop.id, agents)).fetchall()
            if rows:
                ticket_id, agent_id = rng.choice(rows)
                try:
                    replica.writes.execute(shop.agent(agent_id), ticket_id, [["solve", {}]])
                    solved.append(ticket_id)
                except Conflict:
                    pass  # the other solver was first
            time.sleep(0.02)

    threads = [threading.Thread(target=guarded(reader))]
    for replica in replicas:
        threads += [threading.Thread(target=guarded(lambda r=replica: consumer(r))) for _ in range(2)]
        threads.append(threading.Thread(target=guarded(lambda r=replica: sweeper(r))))
    threads += [threading.Thread(target=guarded(lambda r=replicas[n]: solver(r, ["both", *ll_agents])))
                for n in range(2)]
    for thread in threads:
        thread.start()
    # The agents come online while the replicas run.
    for agent_id in [*rr_agents[:-1], "both", *ll_agents[:3]]:
        replicas[rng.randrange(4)].agents.update(shop.owner, agent_id, {"availability": "online"})

    def settled() -> bool:
        return len(solved) >= 60 and not inbox and waiting_nobody_may_take()

    def waiting_nobody_may_take() -> bool:
        with store.pool.connection() as conn:
            queues = replicas[0].routing.queues(conn, shop.id)
            waiting = conn.execute(f"SELECT ticket_id, coalesce(team, '') FROM {store.schema}.ticket_list "
                                   "WHERE store_id = %s AND assignee_id IS NULL AND status = 'open'",
                                   (shop.id,)).fetchall()
        return not any(any(m.available for m in queues[team].members) for _, team in waiting)

    deadline = time.monotonic() + 120
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert settled(), "the routing never settled"

    # --- the invariants, from the events ------------------------------------------------------------------
    events = [e for e in committed(store) if e.store_id == shop.id]  # (every writer has stopped)
    assigned_by_routing = [e for e in events if e.type == "ticket.assigned" and e.actor == ROUTER]
    assert len(assigned_by_routing) >= 150

    # Each ticket was given to an agent by routing at most once.
    per_ticket = Counter(e.stream_id for e in assigned_by_routing)
    assert max(per_ticket.values()) == 1

    # No agent was ever past capacity: replay the log, counting unsolved assigned tickets.
    holder: dict[str, str | None] = {}
    unsolved: dict[str, bool] = {}
    load: Counter = Counter()
    for e in events:
        t = e.stream_id
        if e.type == "ticket.opened":
            holder[t], unsolved[t] = None, True
            continue
        before = holder.get(t) if unsolved.get(t) else None
        if e.type == "ticket.assigned":
            holder[t] = e.data["assignee_id"]
        elif e.type == "ticket.unassigned":
            holder[t] = None
        elif e.type == "ticket.status_changed":
            unsolved[t] = e.data["status"] in ("open", "pending", "on_hold", "under_review")
        after_change = holder.get(t) if unsolved.get(t) else None
        if before != after_change:
            if before is not None:
                load[before] -= 1
            if after_change is not None:
                load[after_change] += 1
        if e.type == "ticket.assigned" and e.actor == ROUTER:
            agent_id = e.data["assignee_id"]
            assert capacity[agent_id] is None or load[agent_id] <= capacity[agent_id], (agent_id, load[agent_id])
    # Nobody offline or away was given a ticket.
    assert not {e.data["assignee_id"] for e in assigned_by_routing} & {"rr_off", "ll_off", "ll_away"}

    # Round robin was fair among the members always eligible (no capacity to fill).
    per_agent = Counter(e.data["assignee_id"] for e in assigned_by_routing if e.data["team"] == rr)
    fair = [per_agent[a] for a in rr_agents[:-1]]
    assert max(fair) - min(fair) <= 1, per_agent
    assert all(e.data["routed_by"] == "round_robin" for e in assigned_by_routing if e.data["team"] == rr)
    assert all(e.data["routed_by"] == "least_loaded" for e in assigned_by_routing if e.data["team"] == ll)

    # Each team's waiting tickets were taken most urgent first.
    for team in (rr, ll):
        taken = [e.stream_id for e in assigned_by_routing if e.data["team"] == team]
        assert taken == sorted(taken, key=lambda t: rules.urgency(*keys[t])), team
        left = [t for t in opened[team] if t not in set(taken)]
        assert all(rules.urgency(*keys[t]) > rules.urgency(*keys[taken[-1]]) for t in left)
    # Every round-robin ticket found someone (they have no limit); the rest wait for room.
    assert {e.stream_id for e in assigned_by_routing if e.data["team"] == rr} == set(opened[rr])
    # The marks say who was routed last in each team, as a rebuild would.
    with store.transaction() as conn:
        live = conn.execute(f"SELECT queue, agent_id, seq FROM {store.schema}.routing_marks WHERE store_id = %s "
                            "ORDER BY 1, 2", (shop.id,)).fetchall()
        replicas[0].routing.marks.rebuild(conn)
        rebuilt = conn.execute(f"SELECT queue, agent_id, seq FROM {store.schema}.routing_marks WHERE store_id = %s "
                               "ORDER BY 1, 2", (shop.id,)).fetchall()
    assert rebuilt == live
    last = defaultdict(str)
    for e in assigned_by_routing:
        last[e.data["team"]] = e.data["assignee_id"]
    assert {q: max(((s, a) for q2, a, s in live if q2 == q))[1] for q in (rr, ll)} == {rr: last[rr], ll: last[ll]}
