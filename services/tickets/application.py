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

from .bulk import BulkActions
from .canned_responses import CannedResponses
from .config import TicketsConfig
from .customer_replica import CustomerSummaries
from .files import TicketFiles
from .merging import TicketMerges
from .reads import TicketReads
from .selfservice_flows import SelfServiceFlows
from .selfservice_settings import SelfServiceSettings
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
    bulk: BulkActions  # one action on many tickets
    merges: TicketMerges  # merge, unmerge, split: two tickets in one transaction


def build(store: EventStore, config: TicketsConfig | None = None,
          clock: Callable[[], datetime] = utcnow) -> Tickets:
    config = config or TicketsConfig()
    keys = IdempotencyKeys(store.schema)
    replica = CustomerSummaries(store.schema)
    canned = CannedResponses(store, keys, replica, clock)
    settings = SelfServiceSettings(store, canned.exists, clock)
    reads = TicketReads(store, replica, clock)
    files = TicketFiles(store, reads, settings)
    writes = TicketWrites(store, keys, reads, files, canned, clock)
    flows = SelfServiceFlows(store, keys, writes, reads, settings, replica, config, clock)
    return Tickets(writes=writes, reads=reads, files=files, canned=canned, settings=settings, flows=flows,
                   replica=replica, bulk=BulkActions(store, keys, writes),
                   merges=TicketMerges(store, keys, reads, files, config, clock))
