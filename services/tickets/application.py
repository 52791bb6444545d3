"""The tickets service layer: load, decide, append, project, in one transaction.

Plain Python over the event store; ``service.py`` exposes it over Nameko RPC.
A caller is a dict the gateway resolved from a token:
``{"store_id", "kind": "agent" | "customer", "id", "role"}``.
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import datetime

from seedwork.envelope import Actor, iso, to_cloudevent
from seedwork.errors import Conflict, ConcurrencyConflict, Forbidden, InvalidCommand, NotFound, PreconditionFailed
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore

from . import domain
from .customers import CustomerSummaries
from .domain import TicketState, customer_view, decide, fold, to_view
from .listing import TicketQuery, list_tickets
from .projection import TicketList

log = logging.getLogger(__name__)

# Re-runs of a command that lost a race (no If-Match): each one loads the fresh state.
MAX_ATTEMPTS = 5
STAFF_KINDS = ("agent", "system")

# Command names over RPC and HTTP, and the domain command each one builds.
COMMANDS = {
    "reply": domain.PostReply,
    "note": domain.AddNote,
    "assign": domain.Assign,
    "unassign": domain.Unassign,
    "set_priority": domain.SetPriority,
    "set_type": domain.SetType,
    "add_tag": domain.AddTag,
    "remove_tag": domain.RemoveTag,
    "change_status": domain.ChangeStatus,
    "solve": domain.Solve,
    "close": domain.Close,
    "reopen": domain.Reopen,
    "rate": domain.Rate,
}


def actor_of(caller: dict) -> Actor:
    return Actor(caller["kind"], caller["id"])


def is_staff(caller: dict) -> bool:
    return caller["kind"] in STAFF_KINDS


def _attachments(fields: dict) -> dict:
    if "attachments" in fields:
        fields = dict(fields)
        fields["attachments"] = tuple(domain.Attachment(**a) for a in fields["attachments"] or ())
    return fields


class Tickets:
    def __init__(self, store: EventStore):
        self.store = store
        self.projection = TicketList(store.schema)
        self.keys = IdempotencyKeys(store.schema)
        self.customers = CustomerSummaries(store.schema)
        self._next_number = (
            f"INSERT INTO {store.schema}.ticket_numbers (store_id, last) VALUES (%s, 1001) "
            f"ON CONFLICT (store_id) DO UPDATE SET last = {store.schema}.ticket_numbers.last + 1 "
            "RETURNING last"
        )

    # --- commands -------------------------------------------------------------

    def open(self, caller: dict, fields: dict, idempotency: tuple[str, str] | None = None) -> dict:
        """Open a ticket; ``{"status": 201, "ticket": view}``."""
        fields = _attachments(fields)
        if not is_staff(caller):
            fields["customer_id"] = caller["id"]
        elif not fields.get("customer_id"):
            raise InvalidCommand.field("customer_id", "staff open a ticket on behalf of a customer: name one")
        with self.store.transaction() as conn:
            replay = self._claim(conn, caller, idempotency)
            if replay is not None:
                return self._replay(conn, caller, replay)
            number = conn.execute(self._next_number, (caller["store_id"],)).fetchone()[0]
            ticket_id = str(uuid.uuid4())
            command = domain.OpenTicket(
                actor=actor_of(caller), ticket_id=ticket_id, store_id=caller["store_id"], number=number,
                **fields,
            )
            events = self.store.append(ticket_id, 0, decide(None, command), conn=conn)
            state = fold(events)
            self.projection.upsert(conn, state)
            self._record(conn, caller, idempotency, 201, state)
            view = self._view(conn, caller, state)
        log.info("ticket %s #%s opened by %s %s", ticket_id, number, caller["kind"], caller["id"])
        return {"status": 201, "ticket": view}

    def execute(
        self, caller: dict, ticket_id: str, steps: list, expected_version: int | None = None,
        idempotency: tuple[str, str] | None = None,
    ) -> dict:
        """Run commands on a ticket, all or none; ``{"status": 200, "ticket": view}``.

        ``steps`` is a list of ``[name, fields]`` (``PATCH`` sets priority and
        type together). With ``expected_version`` (If-Match) a stale version is
        refused with 412. Without it, a lost race re-runs the commands on the
        fresh state.
        """
        for name, _ in steps:
            if name not in COMMANDS:
                raise InvalidCommand.field("command", f"unknown command {name!r}")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.store.transaction() as conn:
                    # Writers of one ticket queue here instead of racing and
                    # re-running: the lock comes before this transaction
                    # writes anything, so transaction ids follow the queue and
                    # the event store's global order never refuses them.
                    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"ticket:{ticket_id}",))
                    replay = self._claim(conn, caller, idempotency)
                    if replay is not None:
                        return self._replay(conn, caller, replay)
                    state = loaded = self._visible(conn, caller, ticket_id)
                    if expected_version is not None and state.version != expected_version:
                        raise self._stale(ticket_id, expected_version, state.version)
                    new_events = []
                    for name, fields in steps:
                        events = decide(state, self._command(caller, state, name, fields))
                        # Later steps decide on the state the earlier ones left.
                        state = fold(domain.stored(events, state.version), state)
                        new_events += events
                    state = loaded
                    if new_events:
                        stored = self.store.append(ticket_id, loaded.version, new_events, conn=conn)
                        state = fold(stored, loaded)
                        self.projection.upsert(conn, state)
                    self._record(conn, caller, idempotency, 200, state)
                    view = self._view(conn, caller, state)
                return {"status": 200, "ticket": view}
            except ConcurrencyConflict as conflict:
                if expected_version is not None:
                    raise self._stale(ticket_id, expected_version, conflict.actual_version) from None
                log.info("ticket %s: %s lost a race (attempt %d), re-running on the fresh state",
                         ticket_id, "+".join(n for n, _ in steps), attempt)
                time.sleep(random.uniform(0, 0.01 * attempt))  # green under eventlet
        raise Conflict("busy", f"ticket {ticket_id} changed {MAX_ATTEMPTS} times while this command ran; retry")

    @staticmethod
    def _command(caller: dict, state: TicketState, name: str, fields: dict):
        fields = _attachments(fields)
        if name == "assign":
            # Assigning only a team keeps the agent, and the other way round.
            fields = {"assignee_id": fields.get("assignee_id", state.assignee_id),
                      "team": fields.get("team", state.team)}
        return COMMANDS[name](actor=actor_of(caller), **fields)

    @staticmethod
    def _stale(ticket_id: str, expected: int, actual: int) -> PreconditionFailed:
        return PreconditionFailed(
            "version_mismatch",
            f"ticket {ticket_id} is at version {actual}, not {expected}: reload it and decide again",
            {"If-Match": [f"current version is {actual}"]},
        )

    # --- idempotency ----------------------------------------------------------

    @staticmethod
    def _scope(caller: dict) -> str:
        return f"{caller['store_id']}:{caller['kind']}:{caller['id']}"

    def _claim(self, conn, caller: dict, idempotency) -> dict | None:
        if idempotency is None:
            return None
        key, request_print = idempotency
        return self.keys.claim(conn, self._scope(caller), key, request_print)

    def _record(self, conn, caller: dict, idempotency, status: int, state: TicketState) -> None:
        if idempotency is not None:
            response = {"status": status, "ticket_id": state.id, "version": state.version}
            self.keys.record(conn, self._scope(caller), idempotency[0], response)

    def _replay(self, conn, caller: dict, recorded: dict) -> dict:
        """The first response again: the ticket as that request left it."""
        events = self.store.load(recorded["ticket_id"], until_version=recorded["version"], conn=conn)
        state = fold(events)
        return {"status": recorded["status"], "ticket": self._view(conn, caller, state), "replayed": True}

    # --- reads ----------------------------------------------------------------

    def _view(self, conn, caller: dict, state: TicketState) -> dict:
        """``to_view`` with the customer's summary from the local replica (staff only)."""
        staff = is_staff(caller)
        customer = None
        if staff:
            customer = self.customers.for_ticket(conn, state.store_id, [state.customer_id]).get(state.customer_id)
        return to_view(state, staff, customer)

    def _visible(self, conn, caller: dict, ticket_id: str, events=None) -> TicketState:
        """The ticket, if the caller may see it; otherwise 404, the same answer
        as for a ticket that does not exist (no probing other stores' ids)."""
        if events is None:
            events = self.store.load(ticket_id, conn=conn)
        state = fold(events) if events else None
        if (state is None or state.store_id != caller["store_id"]
                or (not is_staff(caller) and state.customer_id != caller["id"])):
            raise NotFound("ticket_not_found", f"no ticket {ticket_id}")
        return state

    def get(self, caller: dict, ticket_id: str, as_of: datetime | None = None) -> dict:
        """The ticket now, or as it was at ``as_of`` (time travel)."""
        with self.store.pool.connection() as conn:
            events = self.store.load(ticket_id, conn=conn)
            # Access is decided on the ticket as it is now: its store and customer never change.
            self._visible(conn, caller, ticket_id, events)
            if as_of is not None:
                events = [e for e in events if e.occurred_at <= as_of]
                if not events:
                    raise NotFound("ticket_not_found",
                                   f"ticket {ticket_id} did not exist yet at {as_of.isoformat()}")
            # The customer as they are now, also with as_of: the replica has no history.
            return self._view(conn, caller, fold(events))

    def history(self, caller: dict, ticket_id: str) -> list[dict]:
        """The ticket's events as a timeline; customers see only public ones."""
        with self.store.pool.connection() as conn:
            events = self.store.load(ticket_id, conn=conn)
            self._visible(conn, caller, ticket_id, events)
        staff = is_staff(caller)
        return [
            {
                "version": e.version,
                "type": e.type,
                "at": iso(e.occurred_at),
                "actor": {"type": e.actor.kind, "id": e.actor.id},
                "data": dict(e.data),
            }
            for e in events if staff or domain.is_visible_to_customer(e.type)
        ]

    def list(self, caller: dict, query: dict) -> dict:
        q = TicketQuery.from_dict(query)
        if not is_staff(caller):
            if q.tag is not None:
                raise Forbidden("field_not_allowed", "tags are the staff's labels",
                                {"tag": ["only staff filter by tag"]})
            q = q.only_customer(caller["id"])
        staff = is_staff(caller)
        with self.store.pool.connection() as conn:
            page = list_tickets(conn, self.store.schema, caller["store_id"], q)
            summaries = {}
            if staff:  # one query for the whole page's customers
                ids = {item["customer_id"] for item in page["items"]}
                summaries = self.customers.for_ticket(conn, caller["store_id"], ids)
        for item in page["items"]:
            item["customer"] = customer_view(item["customer_id"], summaries.get(item["customer_id"]), staff)
            if not staff:
                item["tags"] = []  # as in to_view
        return page

    def events(self, store_id: str | None, after: int, limit: int) -> dict:
        """Events in global order as CloudEvents; one store's, or all (platform)."""
        batch = self.store.read_all(after, limit, store_id=store_id)
        return {
            "items": [to_cloudevent(e, "tickets") for e in batch],
            "next_after": str(batch[-1].position) if batch else str(after),
        }

    def rebuild_projections(self) -> int:
        return self.projection.rebuild(self.store)
