"""The tickets service layer: load, decide, append, project, in one transaction.

Plain Python over the event store; ``service.py`` exposes it over Nameko RPC.
A caller is a dict the gateway resolved from a token:
``{"store_id", "kind": "agent" | "customer", "id", "role"}``.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import time
import uuid
from datetime import datetime

from seedwork.envelope import Actor, iso, to_cloudevent, utcnow
from seedwork.errors import Conflict, ConcurrencyConflict, Forbidden, InvalidCommand, NotFound, PreconditionFailed
from seedwork.idempotency import IdempotencyKeys
from seedwork.store import EventStore

from . import canned, domain
from .attachments import AttachmentRecords
from .canned_store import CannedResponses
from .settings import SelfServiceSettings
from .customers import CustomerSummaries
from .domain import TicketState, customer_view, decide, fold, is_restricted_for, to_view
from .listing import TicketQuery, list_tickets
from .projection import TicketList

log = logging.getLogger(__name__)

# Re-runs of a command that lost a race (no If-Match): each one loads the fresh state.
MAX_ATTEMPTS = 5
STAFF_KINDS = ("agent", "system", "platform")

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
    "approve_data_change": domain.ApproveDataChange,
    "reject_data_change": domain.RejectDataChange,
}


def actor_of(caller: dict) -> Actor:
    return Actor(caller["kind"], caller["id"])


def is_staff(caller: dict) -> bool:
    return caller["kind"] in STAFF_KINDS


# What a store's event feed shows of a ticket the platform handles.
FOLLOWED_OPENED_FIELDS = ("ticket_id", "number", "customer_id", "type", "handled_by")


def _followed_only(event):
    """``event`` as the store sees it on a ticket the platform handles (the
    feed keeps only its opening and status changes): no message, no payment."""
    if event.type != "ticket.opened":
        return event
    return dataclasses.replace(event, data={k: event.data[k] for k in FOLLOWED_OPENED_FIELDS if k in event.data})


class Tickets:
    def __init__(self, store: EventStore, clock=utcnow):
        self.store = store
        self.clock = clock  # the self-service flows' "now" (injectable in tests)
        self.projection = TicketList(store.schema)
        self.keys = IdempotencyKeys(store.schema)
        self.customers = CustomerSummaries(store.schema)
        self.files = AttachmentRecords(store.schema)
        self.canned = CannedResponses(store)
        self.settings = SelfServiceSettings(store)
        self._next_number = (
            f"INSERT INTO {store.schema}.ticket_numbers (store_id, last) VALUES (%s, 1001) "
            f"ON CONFLICT (store_id) DO UPDATE SET last = {store.schema}.ticket_numbers.last + 1 "
            "RETURNING last"
        )

    # --- commands -------------------------------------------------------------

    def open(self, caller: dict, fields: dict, idempotency: tuple[str, str] | None = None) -> dict:
        """Open a ticket; ``{"status": 201, "ticket": view}``."""
        if caller["kind"] == "platform":
            raise Forbidden("forbidden", "the platform does not open tickets")
        fields = dict(fields)
        if not is_staff(caller):
            fields["customer_id"] = caller["id"]
        elif not fields.get("customer_id"):
            raise InvalidCommand.field("customer_id", "staff open a ticket on behalf of a customer: name one")
        with self.store.transaction() as conn:
            replay = self.claim(conn, caller, idempotency)
            if replay is not None:
                return self._replay(conn, caller, replay)
            state = self.open_in(conn, caller, fields)
            self._record(conn, caller, idempotency, 201, state)
            view = self.view(conn, caller, state)
        return {"status": 201, "ticket": view}

    def open_in(self, conn, caller: dict, fields: dict, then: list | None = None) -> TicketState:
        """Open a ticket in ``conn``'s transaction, then run ``then`` on it:
        ``[(caller, command name, fields)]`` (a flow's automatic reply)."""
        number = conn.execute(self._next_number, (caller["store_id"],)).fetchone()[0]
        ticket_id = str(uuid.uuid4())
        fields = dict(fields)
        if caller["kind"] == "customer":
            fields["customer_id"] = caller["id"]
        fields["attachments"] = self._resolve_files(conn, caller, None, fields.get("attachments"))
        command = domain.OpenTicket(actor=actor_of(caller), ticket_id=ticket_id, store_id=caller["store_id"],
                                    number=number, **fields)
        new_events = decide(None, command)
        state = fold(domain.stored(new_events, 0))
        for step_caller, name, step_fields in then or ():
            events = decide(state, self._command(conn, step_caller, state, name, step_fields))
            state = fold(domain.stored(events, state.version), state)
            new_events += events
        state = fold(self.store.append(ticket_id, 0, new_events, conn=conn))
        self.projection.upsert(conn, state)
        log.info("ticket %s #%s opened by %s %s", ticket_id, number, caller["kind"], caller["id"])
        return state

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
                    replay = self.claim(conn, caller, idempotency)
                    if replay is not None:
                        return self._replay(conn, caller, replay)
                    state = loaded = self.visible(conn, caller, ticket_id)
                    if expected_version is not None and state.version != expected_version:
                        raise self._stale(ticket_id, expected_version, state.version)
                    new_events = []
                    for name, fields in steps:
                        events = decide(state, self._command(conn, caller, state, name, fields))
                        # Later steps decide on the state the earlier ones left.
                        state = fold(domain.stored(events, state.version), state)
                        new_events += events
                    state = loaded
                    if new_events:
                        stored = self.store.append(ticket_id, loaded.version, new_events, conn=conn)
                        state = fold(stored, loaded)
                        self.projection.upsert(conn, state)
                    self._record(conn, caller, idempotency, 200, state)
                    view = self.view(conn, caller, state)
                return {"status": 200, "ticket": view}
            except ConcurrencyConflict as conflict:
                if expected_version is not None:
                    raise self._stale(ticket_id, expected_version, conflict.actual_version) from None
                log.info("ticket %s: %s lost a race (attempt %d), re-running on the fresh state",
                         ticket_id, "+".join(n for n, _ in steps), attempt)
                time.sleep(random.uniform(0, 0.01 * attempt))  # green under eventlet
        raise Conflict("busy", f"ticket {ticket_id} changed {MAX_ATTEMPTS} times while this command ran; retry")

    def _command(self, conn, caller: dict, state: TicketState, name: str, fields: dict):
        fields = dict(fields)
        if "attachments" in fields:
            fields["attachments"] = self._resolve_files(conn, caller, state.id, fields["attachments"])
        # What the gateway knows and tickets does not (store and agent names), for placeholders.
        context = fields.pop("context", None) or {}
        if name == "reply" and fields.get("canned_response_id") is not None:
            if not is_staff(caller):
                raise Forbidden("staff_only", "only staff reply with canned responses")
            fields["body"] = self._fill_canned(conn, caller, state, fields["canned_response_id"], context)
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
    def scope(caller: dict) -> str:
        return f"{caller['store_id']}:{caller['kind']}:{caller['id']}"

    def claim(self, conn, caller: dict, idempotency) -> dict | None:
        if idempotency is None:
            return None
        key, request_print = idempotency
        return self.keys.claim(conn, self.scope(caller), key, request_print)

    def _record(self, conn, caller: dict, idempotency, status: int, state: TicketState) -> None:
        if idempotency is not None:
            response = {"status": status, "ticket_id": state.id, "version": state.version}
            self.keys.record(conn, self.scope(caller), idempotency[0], response)

    def _replay(self, conn, caller: dict, recorded: dict) -> dict:
        """The first response again: the ticket as that request left it."""
        events = self.store.load(recorded["ticket_id"], until_version=recorded["version"], conn=conn)
        state = fold(events)
        return {"status": recorded["status"], "ticket": self.view(conn, caller, state), "replayed": True}

    # --- reads ----------------------------------------------------------------

    def view(self, conn, caller: dict, state: TicketState) -> dict:
        """``to_view`` with the customer's summary from the local replica (staff only)."""
        staff = is_staff(caller)
        customer = None
        if staff:
            customer = self.customers.for_ticket(conn, state.store_id, [state.customer_id]).get(state.customer_id)
        return to_view(state, staff, customer, restricted=is_restricted_for(state, caller["kind"]))

    def visible(self, conn, caller: dict, ticket_id: str, events=None) -> TicketState:
        """The ticket, if the caller may see it; otherwise 404, the same answer
        as for a ticket that does not exist (no probing other stores' ids)."""
        if events is None:
            events = self.store.load(ticket_id, conn=conn)
        state = fold(events) if events else None
        if state is None:
            raise NotFound("ticket_not_found", f"no ticket {ticket_id}")
        if caller["kind"] == "platform":
            # The platform's review team sees the tickets it handles, in any store.
            visible = state.handled_by == "platform"
        else:
            visible = state.store_id == caller["store_id"] and (is_staff(caller) or state.customer_id == caller["id"])
        if not visible:
            raise NotFound("ticket_not_found", f"no ticket {ticket_id}")
        return state

    def get(self, caller: dict, ticket_id: str, as_of: datetime | None = None) -> dict:
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

    def history(self, caller: dict, ticket_id: str) -> list[dict]:
        """The ticket's events as a timeline; customers see only public ones."""
        with self.store.pool.connection() as conn:
            events = self.store.load(ticket_id, conn=conn)
            state = self.visible(conn, caller, ticket_id, events)
        staff = is_staff(caller)
        if is_restricted_for(state, caller["kind"]):
            # The store follows a ticket the platform handles by its status only.
            events = [e for e in events if e.type == "ticket.status_changed"]
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
        query = dict(query)
        store_id, handled_by = caller["store_id"], None
        if caller["kind"] == "platform":  # the review team's queue, across stores or for one
            store_id, handled_by = query.pop("store_id", None), "platform"
        elif "store_id" in query:
            raise Forbidden("field_not_allowed", "a store lists its own tickets",
                            {"store_id": ["only the platform filters by store"]})
        q = TicketQuery.from_dict(query)
        if not is_staff(caller):
            if q.tag is not None:
                raise Forbidden("field_not_allowed", "tags are the staff's labels",
                                {"tag": ["only staff filter by tag"]})
            q = q.only_customer(caller["id"])
        staff = is_staff(caller)
        with self.store.pool.connection() as conn:
            page = list_tickets(conn, self.store.schema, store_id, q, handled_by)
            summaries = {}
            if staff:  # one query per store for the whole page's customers
                for store in {item["store_id"] for item in page["items"]}:
                    ids = {item["customer_id"] for item in page["items"] if item["store_id"] == store}
                    summaries.update({(store, k): v for k, v in self.customers.for_ticket(conn, store, ids).items()})
        for item in page["items"]:
            item["customer"] = customer_view(item["customer_id"],
                                             summaries.get((item["store_id"], item["customer_id"])), staff)
            if caller["kind"] != "platform":
                del item["store_id"]
            if not staff:
                item["tags"] = []  # as in to_view
        return page

    def basics(self, store_id: str, ticket_id: str) -> dict | None:
        """Who a ticket concerns, for another service that missed its opening
        (the notifications service, deployed after the ticket was opened):
        None if the store has no such ticket. Service to service, no caller."""
        events = self.store.load(ticket_id)
        state = fold(events) if events else None
        if state is None or state.store_id != store_id:
            return None
        return {"ticket_id": state.id, "store_id": state.store_id, "number": state.number,
                "subject": state.subject, "customer_id": state.customer_id, "order_id": state.order_id,
                "handled_by": state.handled_by, "assignee_id": state.assignee_id, "version": state.version}

    def events(self, store_id: str | None, after: int, limit: int) -> dict:
        """Events in global order as CloudEvents; one store's, or all (platform)."""
        batch = self.store.read_all(after, limit, store_id=store_id)
        followed = set()
        if store_id is not None:  # the store follows the platform's tickets by status only
            with self.store.pool.connection() as conn:
                followed = {r[0] for r in conn.execute(
                    f"SELECT ticket_id FROM {self.store.schema}.ticket_list "
                    "WHERE ticket_id = ANY(%s) AND handled_by = 'platform'",
                    (list({e.stream_id for e in batch}),))}
        return {
            "items": [to_cloudevent(_followed_only(e) if e.stream_id in followed else e, "tickets")
                      for e in batch
                      if e.stream_id not in followed or e.type in ("ticket.opened", "ticket.status_changed")],
            "next_after": str(batch[-1].position) if batch else str(after),
        }

    def rebuild_projections(self) -> int:
        return self.projection.rebuild(self.store)

    # --- data changes, canned replies, files ------------------------------------

    def pending_data_change(self, caller: dict, ticket_id: str) -> dict:
        """What a staff member is about to approve: the gateway applies it to
        the customer card, then records the approval (``approve_data_change``)."""
        with self.store.pool.connection() as conn:
            state = self.visible(conn, caller, ticket_id)
        # decide's checks, without recording anything yet.
        decide(state, domain.ApproveDataChange(actor=actor_of(caller), customer_version=1))
        return {"ticket_id": state.id, "customer_id": state.customer_id,
                "fields": dict(state.data_change["fields"]), "version": state.version}

    def create_canned(self, caller: dict, fields: dict, idempotency=None) -> dict:
        with self.store.transaction() as conn:
            replay = self.claim(conn, caller, idempotency)
            if replay is not None:
                return {**replay, "replayed": True}
            result = {"status": 201, "canned_response": self.canned.create(conn, caller, fields)}
            if idempotency is not None:
                self.keys.record(conn, self.scope(caller), idempotency[0], result)
            return result

    def update_canned(self, caller: dict, canned_id: str, fields: dict, expected_version: int | None = None) -> dict:
        with self.store.transaction() as conn:
            return self.canned.update(conn, caller, canned_id, fields, expected_version)

    def delete_canned(self, caller: dict, canned_id: str) -> None:
        with self.store.transaction() as conn:
            self.canned.delete(conn, caller, canned_id)

    def _fill_canned(self, conn, caller: dict, state: TicketState, canned_id, context: dict) -> str:
        response = self.canned.get_in(conn, caller["store_id"], canned_id, "canned_response_id")
        summary = self.customers.for_ticket(conn, state.store_id, [state.customer_id]).get(state.customer_id)
        values = {
            "customer_name": summary and summary["name"], "order_id": state.order_id,
            "ticket_number": str(state.number), "store_name": context.get("store_name"),
            "agent_name": context.get("agent_name"),
        }
        return canned.render_canned(response["body"], values)

    def _resolve_files(self, conn, caller: dict, ticket_id: str | None, items) -> tuple:
        """A message's attachments: uploaded files named by id (this ticket's,
        uploaded by this caller) or external links."""
        resolved = []
        for n, item in enumerate(items or (), 1):
            if isinstance(item, dict) and set(item) == {"id"}:
                if ticket_id is None:
                    raise InvalidCommand.field("attachments", f"#{n}: upload files once the ticket exists")
                record = self.files.for_message(conn, caller, ticket_id, item["id"])
                if record is None:
                    raise InvalidCommand.field("attachments", f"#{n}: no file {item['id']} uploaded by you "
                                                              "to this ticket")
                resolved.append(domain.Attachment(**record))
            else:
                resolved.append(domain.Attachment(**item))
        return tuple(resolved)

    def register_attachment(self, caller: dict, ticket_id: str, meta: dict) -> dict:
        """Record a file the gateway stored; the caller must be able to write to the ticket."""
        with self.store.transaction() as conn:
            state = self.visible(conn, caller, ticket_id)
            if is_restricted_for(state, caller["kind"]):
                raise Forbidden("handled_by_platform", "the platform's review team handles this ticket")
            if state.status == "closed":
                raise Conflict("ticket_closed", f"ticket {ticket_id} is closed")
            if caller["kind"] == "customer" and not self.settings.load(conn, state.store_id)["allow_attachments"]:
                raise Conflict("attachments_disabled", "this store does not accept files from shoppers",
                               {"allow_attachments": ["the store's self-service setting is off"]})
            return self.files.add(conn, caller, state, meta)

    def attachment(self, caller: dict, ticket_id: str, attachment_id: str) -> dict:
        """A file's record, for a download by someone who may see it: the
        ticket, and the message carrying it (a note's files: staff only)."""
        with self.store.pool.connection() as conn:
            state = self.visible(conn, caller, ticket_id)
            record = self.files.get(conn, state, attachment_id)
        if record is None or is_restricted_for(state, caller["kind"]):
            raise NotFound("attachment_not_found", f"no attachment {attachment_id}")
        messages = state.messages if is_staff(caller) else state.public_messages()
        on_message = any(a.get("id") == attachment_id for m in messages for a in m.attachments)
        own_upload = (record["uploader_kind"], record["uploader_id"]) == (caller["kind"], caller["id"])
        if not (on_message or own_upload):
            raise NotFound("attachment_not_found", f"no attachment {attachment_id}")
        return self.files.view(record)
