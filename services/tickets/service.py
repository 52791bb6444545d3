"""Tickets service entrypoints: one-line delegations to the service layer
(``application.build``, built once per process).

The gateway calls these with the caller it resolved from a token (a dict,
typed here with ``Caller.of``); every method scopes what it reads and writes
to that caller's store. One bus handler keeps the local replica of customers
that ticket views show; another routes tickets as the service's own events
say they wait (with a sweep on a timer).
"""

from nameko.timer import timer

from seedwork.caller import Caller
from seedwork.context import RequestContext
from seedwork.errors import InvalidQuery
from seedwork.instants import parse_instant
from seedwork.nameko_ext import Application, EventSourcing, bus_handler, rpc

from . import customer_replica
from .application import build
from .config import TicketsConfig
from .domain import policy
from .domain import routing

SLA_TICK_SECONDS = 1.0  # how often each replica looks for SLA deadlines that fell due
ROUTING_SWEEP_SECONDS = 5.0  # how often each replica assigns what waits (the triggers missed nothing, normally)


class TicketsService:
    name = "tickets"

    db = EventSourcing()
    tickets = Application(build, config=TicketsConfig.from_env)
    request_id = RequestContext()

    @rpc
    def health(self):
        return self.db.health()

    # --- tickets ---------------------------------------------------------------------

    @rpc
    def open(self, caller, fields, idempotency=None, standing=None):
        return self.tickets.writes.open(Caller.of(caller), fields, idempotency, standing)

    @rpc
    def execute(self, caller, ticket_id, steps, expected_version=None, idempotency=None):
        return self.tickets.writes.execute(Caller.of(caller), ticket_id, steps, expected_version, idempotency)

    @rpc
    def get(self, caller, ticket_id, as_of=None):
        moment = parse_instant(as_of, "as_of", InvalidQuery) if as_of else None
        return self.tickets.reads.get(Caller.of(caller), ticket_id, moment)

    @rpc
    def history(self, caller, ticket_id):
        return self.tickets.reads.history(Caller.of(caller), ticket_id)

    @rpc
    def list(self, caller, query):
        return self.tickets.reads.list(Caller.of(caller), query)

    @rpc
    def ticket_basics(self, store_id, ticket_id):
        return self.tickets.reads.basics(store_id, ticket_id)

    @rpc
    def events(self, store_id, after, limit, caller=None):
        return self.tickets.reads.events(store_id, int(after), int(limit), caller and Caller.of(caller))

    @rpc
    def store_view_of_event(self, cloudevent):
        return policy.store_view_of_event(cloudevent)

    # --- many tickets, merge and split (docs/agent-operations/bulk-merge-split.md) -------

    @rpc
    def bulk(self, caller, request, idempotency=None):
        return self.tickets.bulk.run(Caller.of(caller), request, idempotency)

    @rpc
    def merge(self, caller, ticket_id, into, expected_version=None, idempotency=None):
        return self.tickets.merges.merge(Caller.of(caller), ticket_id, into, expected_version, idempotency)

    @rpc
    def unmerge(self, caller, ticket_id, expected_version=None, idempotency=None):
        return self.tickets.merges.unmerge(Caller.of(caller), ticket_id, expected_version, idempotency)

    @rpc
    def split(self, caller, ticket_id, fields, expected_version=None, idempotency=None):
        return self.tickets.merges.split(Caller.of(caller), ticket_id, fields, expected_version, idempotency)

    # --- read state per agent (docs/agent-operations/forward-and-unread.md) ------------------

    @rpc
    def mark_read(self, caller, ticket_id):
        return self.tickets.read_marks.mark_read(Caller.of(caller), ticket_id)

    @rpc
    def unread_by_topic(self, caller):
        return self.tickets.read_marks.unread_by_topic(Caller.of(caller))

    # --- data changes and files (docs/self-service.md) ---------------------------------

    @rpc
    def pending_data_change(self, caller, ticket_id):
        return self.tickets.reads.pending_data_change(Caller.of(caller), ticket_id)

    @rpc
    def register_attachment(self, caller, ticket_id, meta):
        return self.tickets.files.register(Caller.of(caller), ticket_id, meta)

    @rpc
    def attachment(self, caller, ticket_id, attachment_id):
        return self.tickets.files.download(Caller.of(caller), ticket_id, attachment_id)

    # --- self-service settings and flows ---------------------------------------------

    @rpc
    def self_service_settings(self, caller):
        return self.tickets.settings.current(Caller.of(caller))

    @rpc
    def update_self_service_settings(self, caller, fields, expected_version=None):
        return self.tickets.settings.update(Caller.of(caller), fields, expected_version)

    @rpc
    def charged_without_order(self, caller, fields, idempotency=None, standing=None):
        return self.tickets.flows.charged_without_order(Caller.of(caller), fields, idempotency, standing)

    @rpc
    def delayed_order(self, caller, order, fields, idempotency=None, standing=None):
        return self.tickets.flows.delayed_order(Caller.of(caller), order, fields, idempotency, standing)

    @rpc
    def product_exchange(self, caller, order, fields, idempotency=None, standing=None):
        return self.tickets.flows.product_exchange(Caller.of(caller), order, fields, idempotency, standing)

    @rpc
    def customer_data_change(self, caller, fields, idempotency=None, standing=None):
        return self.tickets.flows.customer_data_change(Caller.of(caller), fields, idempotency, standing)

    # --- canned responses ----------------------------------------------------------------

    @rpc
    def list_canned(self, caller):
        return self.tickets.canned.list(Caller.of(caller))

    @rpc
    def get_canned(self, caller, canned_id):
        return self.tickets.canned.get(Caller.of(caller), canned_id)

    @rpc
    def create_canned(self, caller, fields, idempotency=None):
        return self.tickets.canned.create(Caller.of(caller), fields, idempotency)

    @rpc
    def update_canned(self, caller, canned_id, fields, expected_version=None):
        return self.tickets.canned.update(Caller.of(caller), canned_id, fields, expected_version)

    @rpc
    def delete_canned(self, caller, canned_id):
        return self.tickets.canned.delete(Caller.of(caller), canned_id)

    # --- views, the queue, SLA (docs/agent-operations.md) ---------------------------------

    @rpc
    def list_views(self, caller):
        return self.tickets.queues.list_views(Caller.of(caller))

    @rpc
    def get_view(self, caller, view_id):
        return self.tickets.queues.view(Caller.of(caller), view_id)

    @rpc
    def view_tickets(self, caller, view_id, query):
        return self.tickets.queues.view_tickets(Caller.of(caller), view_id, query)

    @rpc
    def create_view(self, caller, fields):
        return self.tickets.queues.create_view(Caller.of(caller), fields)

    @rpc
    def update_view(self, caller, view_id, fields, expected_version=None):
        return self.tickets.queues.update_view(Caller.of(caller), view_id, fields, expected_version)

    @rpc
    def delete_view(self, caller, view_id):
        return self.tickets.queues.delete_view(Caller.of(caller), view_id)

    @rpc
    def next_ticket(self, caller):
        return self.tickets.queues.next_ticket(Caller.of(caller))

    @rpc
    def agent_settings(self, caller):
        return self.tickets.agent_settings.current(Caller.of(caller))

    @rpc
    def update_agent_settings(self, caller, fields, expected_version=None):
        return self.tickets.agent_settings.update(Caller.of(caller), fields, expected_version)

    @rpc
    def sla_policy(self, caller):
        return self.tickets.sla_policies.current(Caller.of(caller))

    @rpc
    def replace_sla_policy(self, caller, fields, expected_version=None):
        return self.tickets.sla_policies.replace(Caller.of(caller), fields, expected_version)

    # Every replica ticks; SKIP LOCKED claims keep them from firing one deadline twice.
    @timer(interval=SLA_TICK_SECONDS)
    def sla_tick(self):
        self.tickets.sla_timer.tick()
    # --- teams, contact topics, agents' profiles (docs/agent-operations.md) ------------------

    @rpc
    def list_teams(self, caller):
        return self.tickets.teams.list(Caller.of(caller))

    @rpc
    def get_team(self, caller, team_id):
        return self.tickets.teams.get(Caller.of(caller), team_id)

    @rpc
    def create_team(self, caller, fields, idempotency=None, limits=None):
        return self.tickets.teams.create(Caller.of(caller), fields, idempotency, limits)

    @rpc
    def update_team(self, caller, team_id, fields, expected_version=None):
        return self.tickets.teams.update(Caller.of(caller), team_id, fields, expected_version)

    @rpc
    def delete_team(self, caller, team_id):
        return self.tickets.teams.delete(Caller.of(caller), team_id)

    @rpc
    def add_team_member(self, caller, team_id, agent_id):
        return self.tickets.teams.add_member(Caller.of(caller), team_id, agent_id)

    @rpc
    def remove_team_member(self, caller, team_id, agent_id):
        return self.tickets.teams.remove_member(Caller.of(caller), team_id, agent_id)

    @rpc
    def list_topics(self, caller):
        return self.tickets.topics.list(Caller.of(caller))

    @rpc
    def get_topic(self, caller, topic_id):
        return self.tickets.topics.get(Caller.of(caller), topic_id)

    @rpc
    def create_topic(self, caller, fields, idempotency=None, limits=None):
        return self.tickets.topics.create(Caller.of(caller), fields, idempotency, limits)

    @rpc
    def update_topic(self, caller, topic_id, fields, expected_version=None):
        return self.tickets.topics.update(Caller.of(caller), topic_id, fields, expected_version)

    @rpc
    def delete_topic(self, caller, topic_id):
        return self.tickets.topics.delete(Caller.of(caller), topic_id)

    @rpc
    def list_rules(self, caller):
        return self.tickets.rules.list(Caller.of(caller))

    @rpc
    def get_rule(self, caller, rule_id):
        return self.tickets.rules.get(Caller.of(caller), rule_id)

    @rpc
    def create_rule(self, caller, fields, idempotency=None):
        return self.tickets.rules.create(Caller.of(caller), fields, idempotency)

    @rpc
    def update_rule(self, caller, rule_id, fields, expected_version=None):
        return self.tickets.rules.update(Caller.of(caller), rule_id, fields, expected_version)

    @rpc
    def delete_rule(self, caller, rule_id):
        return self.tickets.rules.delete(Caller.of(caller), rule_id)

    @rpc
    def agent_profiles(self, caller, agent_ids):
        return self.tickets.agents.of_agents(Caller.of(caller), agent_ids)

    @rpc
    def update_agent_profile(self, caller, agent_id, fields):
        return self.tickets.agents.update(Caller.of(caller), agent_id, fields)

    # Routing, a process manager on this service's own events (docs/agent-operations/routing.md).
    @bus_handler("tickets", *routing.TRIGGER_TYPES)
    def on_routing_event(self, event):
        self.tickets.routing.on_event(event, self.db.once)

    @timer(interval=ROUTING_SWEEP_SECONDS)
    def routing_sweep(self):
        self.tickets.routing.sweep()

    # Bound to exactly the types the replica keeps (not "customer.*", which
    # would also bring rating and message requests, with mobiles and bodies).
    @bus_handler("customers", *customer_replica.EVENT_TYPES)
    def on_customer_event(self, event):
        self.db.once(event, lambda conn: self.tickets.replica.apply(conn, event))
