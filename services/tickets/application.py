"""The tickets service layer, built once per process over the service's
event store (``build``, given to ``seedwork.nameko_ext.Application``): the
parts ``service.py``'s entrypoints delegate to, wired together.

Each part is plain Python over the store, taking a typed ``Caller``; the
rules they apply are the domain's (``services/tickets/domain``). ``clock``
is every part's "now" (injectable in tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from seedwork.envelope import utcnow
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore

from .agent_profiles import AgentProfiles
from .agent_settings import AgentSettings
from .bulk import BulkActions
from .canned_responses import CannedResponses
from .config import TicketsConfig
from .customer_replica import CustomerSummaries
from .files import TicketFiles
from .merging import TicketMerges
from .queue import AgentQueues
from .read_marks import ReadMarks
from .read_models import ReadModels
from .reads import TicketReads
from .rules import Rules
from .routing import Router
from .saved_views import SavedViews
from .sla_policies import SlaPolicies
from .sla_timer import SlaTimer
from .selfservice_flows import SelfServiceFlows
from .selfservice_settings import SelfServiceSettings
from .teams import Teams
from .topics import Topics
from .writes import TicketWrites


@dataclass(frozen=True)
class Tickets:
    writes: TicketWrites  # open, execute
    reads: TicketReads  # get, history, list, the event feed, basics
    files: TicketFiles  # uploads' records and downloads
    canned: CannedResponses
    settings: SelfServiceSettings  # the store's self-service settings
    flows: SelfServiceFlows
    replica: CustomerSummaries  # what tickets keeps of the customers service's events
    read_models: ReadModels  # the list row, view counts and SLA timers of every change; their rebuild
    sla_policies: SlaPolicies
    sla_timer: SlaTimer
    queues: AgentQueues  # views with counts, a view's tickets, the next ticket
    bulk: BulkActions  # one action on many tickets
    merges: TicketMerges  # merge, unmerge, split: two tickets in one transaction
    teams: Teams  # teams and their members (docs/agent-operations.md)
    topics: Topics  # contact topics
    agents: AgentProfiles  # agents' availability, capacity, skills
    agent_settings: AgentSettings  # who sees which tickets; how tickets on no team are assigned
    read_marks: ReadMarks  # which customer messages each agent has read; the topics' unread counts
    rules: Rules  # category rules: priority, team and tags of new tickets
    routing: Router  # assigns waiting tickets by their team's mode (docs/agent-operations/routing.md)


def build(store: EventStore, config: TicketsConfig | None = None,
          clock: Callable[[], datetime] = utcnow) -> Tickets:
    config = config or TicketsConfig()
    keys = IdempotencyKeys(store.schema)
    replica = CustomerSummaries(store.schema)
    canned = CannedResponses(store, keys, replica, clock)
    settings = SelfServiceSettings(store, canned.exists, clock)
    teams = Teams(store, keys, clock)
    agent_settings = AgentSettings(store, teams, clock)
    viewer_of = agent_settings.viewer_of
    reads = TicketReads(store, replica, clock, viewer_of)
    files = TicketFiles(store, reads, settings)
    topics = Topics(store, keys, teams, clock)
    agents = AgentProfiles(store, teams, clock)
    policies = SlaPolicies(store, clock)
    views = SavedViews(store, clock)
    read_models = ReadModels(store, policies, views)
    rules = Rules(store, keys, teams, topics, replica, clock)
    writes = TicketWrites(store, keys, reads, files, canned, read_models, clock, teams=teams, topics=topics,
                          rules=rules)
    flows = SelfServiceFlows(store, keys, writes, reads, settings, replica, config, clock)
    queues = AgentQueues(views, read_models, reads, writes, viewer_of)
    return Tickets(writes=writes, reads=reads, files=files, canned=canned, settings=settings, flows=flows,
                   replica=replica, read_models=read_models, sla_policies=policies,
                   sla_timer=SlaTimer(store, read_models, policies, clock), queues=queues,
                   bulk=BulkActions(store, keys, writes, views, viewer_of),
                   merges=TicketMerges(store, keys, reads, files, read_models, config, clock),
                   teams=teams, topics=topics, agents=agents, agent_settings=agent_settings, rules=rules,
                   read_marks=ReadMarks(store, reads, topics, viewer_of, clock),
                   routing=Router(store, writes, teams, agents, agent_settings))
