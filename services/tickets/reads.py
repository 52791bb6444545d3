"""Reading tickets: one ticket (now or as it was), its history, lists, the
event feed, and what other services ask of a ticket. A single ticket is
always folded from its stream; lists read the ``ticket_list`` projection.
Who sees what is ``domain.policy``'s; the shapes are ``views``'."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import psycopg

from seedwork import feed
from seedwork.caller import Caller
from seedwork.errors import Forbidden, NotFound
from seedwork.store import EventStore

from . import views
from .customer_replica import CustomerSummaries
from .domain import policy, reading
from .domain.commands import ApproveDataChange
from .domain.decisions import decide
from .domain.ticket import TicketState, fold
from .domain.queues import Viewer
from .listing import TicketQuery, list_tickets, scope_conditions
from .projection import TicketList
from .read_marks import ReadMarkTable, unread_condition


# (conn, caller) -> who reads: their teams, and whether the store scopes them to those.
ViewerOf = Callable[[psycopg.Connection, Caller], Viewer]


def everyone_sees_all(conn: psycopg.Connection, caller: Caller) -> Viewer:
    return Viewer(agent_id=caller.id)


class TicketReads:
    def __init__(self, store: EventStore, replica: CustomerSummaries, clock: Callable[[], datetime],
                 viewer_of: ViewerOf = everyone_sees_all):
        self.store, self.replica, self.clock = store, replica, clock
        self.viewer_of = viewer_of
        self.projection = TicketList(store.schema)
        self.marks = ReadMarkTable(store.schema)

    # --- one ticket --------------------------------------------------------------------

    def visible(self, conn: psycopg.Connection, caller: Caller, ticket_id: str, events=None) -> TicketState:
        """The ticket, if the caller may see it; otherwise 404, the same answer
        as for a ticket that does not exist (no probing other stores' ids)."""
        if events is None:
            events = self.store.load(ticket_id, conn=conn)
        state = fold(events) if events else None
        if state is None or not policy.visible_to(state, caller) or not self._in_scope(conn, caller, state):
            raise NotFound("ticket_not_found", f"no ticket {ticket_id}")
        return state

    def _in_scope(self, conn: psycopg.Connection, caller: Caller, state: TicketState) -> bool:
        """A team-scoped agent sees their teams' tickets and their own (``domain.agent_settings``)."""
        if caller.kind != "agent":
            return True
        return self.viewer_of(conn, caller).sees(state.team, state.assignee_id)

    def view(self, conn: psycopg.Connection, caller: Caller, state: TicketState) -> dict:
        """``views.to_view`` with the customer's summary from the local replica (staff only)."""
        staff = policy.acts_as_staff(caller)
        customer = sla = unread = None
        if staff:
            customer = self.replica.for_ticket(conn, state.store_id, [state.customer_id]).get(state.customer_id)
            sla = self.projection.sla_of(conn, state.id, state.version)
        if policy.is_store_staff(caller):  # read marks are each agent's own (read_marks.py)
            unread = self.marks.unread(conn, caller.id, state.id)
        return views.to_view(state, staff, customer, restricted=policy.is_restricted_for(state, caller),
                             sla=sla, unread=unread)

    def replay(self, conn: psycopg.Connection, caller: Caller, recorded: dict) -> dict:
        """An idempotent command's first answer again: the ticket as that request left it."""
        events = self.store.load(recorded["ticket_id"], until_version=recorded["version"], conn=conn)
        # Keys recorded before answers said "created" kept the HTTP status instead.
        created = recorded.get("created", recorded.get("status") == 201)
        return {"ticket": self.view(conn, caller, fold(events)), **({"created": True} if created else {})}

    def get(self, caller: Caller, ticket_id: str, as_of: datetime | None = None) -> dict:
        """The ticket now, or as it was at ``as_of`` (time travel)."""
        with self.store.pool.connection() as conn:
            events = self.store.load(ticket_id, conn=conn)
            # Access is decided on the ticket as it is now: its store and customer never change.
            self.visible(conn, caller, ticket_id, events)
            if as_of is not None:
                events = [e for e in events if e.occurred_at <= as_of]
                if not events:
                    raise NotFound("ticket_not_found",
                                   f"ticket {ticket_id} did not exist yet at {as_of.isoformat()}")
            # The customer as they are now, also with as_of: the replica has no history.
            return self.view(conn, caller, fold(events))

    def history(self, caller: Caller, ticket_id: str) -> list[dict]:
        """The ticket's events as a timeline, as far as the caller may see them."""
        with self.store.pool.connection() as conn:
            events = self.store.load(ticket_id, conn=conn)
            state = self.visible(conn, caller, ticket_id, events)
        return [views.history_entry(e) for e in events if policy.shows_in_history(state, caller, e.type)]

    def pending_data_change(self, caller: Caller, ticket_id: str) -> dict:
        """What a staff member is about to approve: the gateway applies it to
        the customer card, then records the approval (``approve_data_change``)."""
        with self.store.pool.connection() as conn:
            state = self.visible(conn, caller, ticket_id)
        # decide's checks, without recording anything yet.
        decide(state, ApproveDataChange(actor=caller.actor, customer_version=1), self.clock())
        return {"ticket_id": state.id, "customer_id": state.customer_id,
                "fields": dict(state.data_change["fields"]), "version": state.version}

    # --- lists ------------------------------------------------------------------------

    def list(self, caller: Caller, query: dict, also: tuple[list[str], list] = ([], [])) -> dict:
        """A page of tickets; ``also``: a view's conditions (``listing.view_conditions``)."""
        query = dict(query)
        unread = query.pop("unread", None)
        if unread is not None and not policy.is_store_staff(caller):
            raise Forbidden("field_not_allowed", "read marks are the store's staff's",
                            {"unread": ["only the store's staff filter by what they have not read"]})
        store_id, handled_by = caller.store_id, None
        if caller.is_platform:  # the review team's queue, across stores or for one
            store_id, handled_by = query.pop("store_id", None), "platform"
        elif "store_id" in query:
            raise Forbidden("field_not_allowed", "a store lists its own tickets",
                            {"store_id": ["only the platform filters by store"]})
        q = TicketQuery.from_dict(query)
        staff = policy.acts_as_staff(caller)
        if not staff:
            if q.tag is not None:
                raise Forbidden("field_not_allowed", "tags are the staff's labels",
                                {"tag": ["only staff filter by tag"]})
            q = q.only_customer(caller.id)
        with self.store.pool.connection() as conn:
            reader = None
            if caller.kind == "agent":
                scope = scope_conditions(self.viewer_of(conn, caller))
                also = (also[0] + scope[0], also[1] + scope[1])
                reader = unread_condition(self.store.schema, caller.id)
                if unread is not None:
                    also = (also[0] + [reader[0] if unread else f"NOT {reader[0]}"], also[1] + reader[1])
            page = list_tickets(conn, self.store.schema, store_id, q, handled_by, also, unread=reader)
            summaries = {}
            if staff:  # one query per store for the whole page's customers
                for store in {item["store_id"] for item in page["items"]}:
                    ids = {item["customer_id"] for item in page["items"] if item["store_id"] == store}
                    summaries.update({(store, k): v for k, v in self.replica.for_ticket(conn, store, ids).items()})
        items = [views.list_item(item, summaries.get((item["store_id"], item["customer_id"])), staff,
                                 across_stores=caller.is_platform)
                 for item in page["items"]]
        return {**page, "items": items}

    # --- for other services --------------------------------------------------------------

    def basics(self, store_id: str, ticket_id: str) -> dict | None:
        """Who a ticket concerns, for another service that missed its opening
        (the notifications service, deployed after the ticket was opened):
        None if the store has no such ticket. Service to service, no caller."""
        events = self.store.load(ticket_id)
        # Any stream id may be asked: only a ticket's stream opens with ticket.opened.
        state = fold(events) if events and events[0].type == "ticket.opened" else None
        if state is None or state.store_id != store_id:
            return None
        return {"ticket_id": state.id, "store_id": state.store_id, "number": state.number,
                "subject": state.subject, "customer_id": state.customer_id, "order_id": state.order_id,
                "handled_by": state.handled_by, "assignee_id": state.assignee_id, "team": state.team,
                "version": state.version}

    def events(self, store_id: str | None, after: int, limit: int, caller: Caller | None = None) -> dict:
        """Events in global order as CloudEvents; one store's, or all (platform).
        A store follows the tickets the platform handles as ``store_view_of_event`` shows them
        (the platform key, its review team, reads them whole, one store's too); a team-scoped
        agent (``caller``) gets only the events of the tickets they may see now."""
        return feed.page(self.store, "tickets", after, limit, store_id,
                         view=lambda batch: self._feed_view(batch, store_id, caller))

    def _feed_view(self, batch, store_id: str | None, caller: Caller | None):
        followed, hidden = set(), set()
        if store_id is not None and batch and not (caller is not None and caller.is_platform):
            with self.store.pool.connection() as conn:
                streams = {e.stream_id for e in batch}
                followed = self.projection.platform_handled(conn, streams)
                # A read mark names its ticket: it is hidden with the ticket's own events.
                streams |= {e.data.get("ticket_id") for e in batch if e.type == reading.READ_EVENT}
                if caller is not None and caller.kind == "agent":
                    viewer = self.viewer_of(conn, caller)
                    if viewer.scoped:
                        hidden = {ticket_id for ticket_id, team, assignee in self.projection.cells(conn, streams)
                                  if not viewer.sees(team, assignee)}

        def show(event, cloudevent):
            ticket_id = event.data.get("ticket_id") if event.type == reading.READ_EVENT else event.stream_id
            if ticket_id in hidden:
                return None
            return policy.store_view_of_event(cloudevent) if event.stream_id in followed else cloudevent
        return show

