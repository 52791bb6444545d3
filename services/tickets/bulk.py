"""One action on up to 1,000 tickets (``POST /v1/tickets/bulk``). Each
ticket changes in a transaction of its own through ``TicketWrites.execute``
(lock, load, ``decide``, append, project), so a ticket that refuses the
action leaves the others changed; the answer reports each. Every event of
one request carries the same correlation id. With an ``Idempotency-Key`` the
whole answer is recorded once and a replay returns it. The rules are
``domain.bulk``'s."""
from __future__ import annotations

import logging
import uuid

import eventlet

from seedwork.caller import Caller
from seedwork.errors import DomainError, InvalidCommand, InvalidQuery, NotFound
from seedwork.idempotency import Idempotency, IdempotencyKeys
from seedwork.store import EventStore

from .domain import bulk
from .listing import TicketQuery, matching_ids, scope_conditions, view_conditions
from .reads import ViewerOf
from .saved_views import SavedViews
from .writes import TicketWrites

log = logging.getLogger(__name__)

FILTER_KEYS = ("status", "priority", "assignee_id", "team", "type", "tag", "customer_id", "q")
# Tickets changed at once, each in its own green thread, transaction and pooled connection
# (of the service's 10): about twice as fast as one after another, inside the RPC deadline.
WORKERS = 4


class BulkActions:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, writes: TicketWrites, views: SavedViews,
                 viewer_of: ViewerOf):
        self.store, self.keys, self.writes = store, keys, writes
        self.views, self.viewer_of = views, viewer_of

    def run(self, caller: Caller, request: dict, idempotency: Idempotency = None) -> dict:
        """``{items: [{id, status, version?, error?}], counts, correlation_id}``."""
        steps = bulk.steps_for(request.get("action"))
        kind, selected = bulk.selection(request)
        if not idempotency:
            return self._run(caller, kind, selected, steps)
        # The key's row is held (and the answer recorded) in this transaction;
        # each ticket commits in its own meanwhile. A crash half-way records
        # nothing: the retry runs again, and what was done is "unchanged".
        with self.store.transaction() as conn:
            return self.keys.run(conn, caller, idempotency, lambda: self._run(caller, kind, selected, steps))

    def _run(self, caller: Caller, kind: str, selected, steps: list) -> dict:
        ids = self._selected(caller, kind, selected)
        correlation_id = uuid.uuid4()
        workers = eventlet.GreenPool(WORKERS)  # the service runs under eventlet: psycopg waits cooperatively
        items = list(workers.imap(lambda ticket_id: self._one(caller, ticket_id, steps, correlation_id), ids))
        answer = bulk.answer(items, str(correlation_id))
        log.info("bulk %s on %d tickets by %s %s: %s", "+".join(name for name, _ in steps), len(ids), caller.kind,
                 caller.id, answer["counts"])
        return answer

    def _selected(self, caller: Caller, kind: str, selected) -> list[str]:
        """The ids a request names: the ids, or what a filter or a view (as the caller sees it) matches."""
        if kind == "ids":
            return selected
        if kind == "view_id":
            return self._in_view(caller, selected)
        return self._matching(caller, selected)

    def _in_view(self, caller: Caller, view_id: str) -> list[str]:
        with self.store.pool.connection() as conn:
            try:
                view = self.views.get_in(conn, caller, view_id)
            except NotFound as missing:
                raise InvalidCommand.field("view_id", missing.detail) from None
            viewer = self.viewer_of(conn, caller)
            also = view_conditions(view["filter"], viewer)
            scope = scope_conditions(viewer)
            also = (also[0] + scope[0], also[1] + scope[1])
            ids = matching_ids(conn, self.store.schema, caller.store_id, TicketQuery(), bulk.MAX_TICKETS + 1, also)
        if len(ids) > bulk.MAX_TICKETS:
            raise bulk.too_many()
        return ids

    def _matching(self, caller: Caller, raw: dict) -> list[str]:
        """The store's tickets a list filter matches, by number: at most
        ``MAX_TICKETS``, or the whole request is refused naming ``filter``."""
        unknown = set(raw) - set(FILTER_KEYS)
        if unknown:
            raise InvalidQuery.field("filter", f"unknown keys {', '.join(sorted(unknown))}; "
                                               f"use {', '.join(FILTER_KEYS)}")
        # status and priority: a list, or comma-separated as in the list's query string.
        query = TicketQuery.from_dict({k: [x for x in v.split(",") if x] if k in ("status", "priority")
                                       and isinstance(v, str) else v for k, v in raw.items()})
        with self.store.pool.connection() as conn:
            # A team-scoped agent's filter reaches only the tickets they may see.
            ids = matching_ids(conn, self.store.schema, caller.store_id, query, bulk.MAX_TICKETS + 1,
                               scope_conditions(self.viewer_of(conn, caller)))
        if len(ids) > bulk.MAX_TICKETS:
            raise bulk.too_many()
        return ids

    def _one(self, caller: Caller, ticket_id: str, steps: list, correlation_id: uuid.UUID) -> dict:
        if not bulk.is_ticket_id(ticket_id):
            return bulk.refused(ticket_id, NotFound("ticket_not_found", f"no ticket {ticket_id}"))
        try:
            done = self.writes.execute(caller, ticket_id, steps, correlation_id=correlation_id)
        except DomainError as refusal:
            return bulk.refused(ticket_id, refusal)
        return bulk.done(ticket_id, done["changed"], done["ticket"]["version"])
