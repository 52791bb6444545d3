"""Tickets: opening them, the commands on one, reading one, its history and the list."""
from __future__ import annotations

from ..http import STATUS_OF
from ..routing import ANYONE_IN_STORE, CUSTOMER, PLATFORM, STAFF, WHOLE, route
from ..schemas import tickets as schemas
from .base import RouteBase

TAGS = ("tickets",)
# Every command on a ticket answers the ticket as the command left it.
TICKET = {"response": schemas.Ticket, "resource": "ticket", "etag": True, "tags": TAGS}
COMMAND = {**TICKET, "if_match": "ticket"}


class TicketRoutes(RouteBase):

    @route("POST", "/v1/tickets", "Open a ticket", roles=ANYONE_IN_STORE, body=schemas.TicketCreate, status=201,
           location="/v1/tickets/{id}", idempotent=True, **TICKET)
    def create_ticket(self, call):
        # A shopper's ticket is their own: standing_of reads their standing and ignores customer_id.
        standing = self.standing_of(call.caller, call.body.get("customer_id"))
        return self.tickets.open(call.caller, call.body, call.idempotency, standing=standing)

    @route("GET", "/v1/tickets", "List tickets (a customer sees their own)", roles=ANYONE_IN_STORE,
           query=schemas.TicketQuery, response=schemas.TicketList, tags=TAGS)
    def list_tickets(self, call):
        return self.tickets.list(call.caller, ticket_query(call.query))

    @route("GET", "/v1/tickets/<ticket_id>", "A ticket, now or `as_of` a past moment", roles=ANYONE_IN_STORE + PLATFORM,
           query=schemas.TicketGetQuery, **TICKET)
    def get_ticket(self, call, ticket_id):
        as_of = call.query.get("as_of")
        return {"ticket": self.tickets.get(call.caller, ticket_id, as_of.isoformat() if as_of else None)}

    @route("GET", "/v1/tickets/<ticket_id>/history", "The ticket's events as a timeline",
           roles=ANYONE_IN_STORE + PLATFORM, response=schemas.History, tags=TAGS)
    def ticket_history(self, call, ticket_id):
        return {"items": self.tickets.history(call.caller, ticket_id)}

    @route("PATCH", "/v1/tickets/<ticket_id>", "Set priority and/or type (staff)", roles=STAFF,
           body=schemas.TicketUpdate, **COMMAND)
    def update_ticket(self, call, ticket_id):
        # One transaction: both changes, or neither.
        steps = [[name, {field: call.body[field]}] for name, field in (("set_priority", "priority"),
                                                                        ("set_type", "type")) if field in call.body]
        return self.tickets.execute(call.caller, ticket_id, steps, call.if_match, None)

    @route("POST", "/v1/tickets/<ticket_id>/replies",
           "Reply publicly: a body and/or attachments; staff may send a canned response instead of a body, "
           "and an internal note with it", roles=ANYONE_IN_STORE + PLATFORM, body=schemas.MessageCreate,
           idempotent=True, **COMMAND)
    def reply(self, call, ticket_id):
        return self.execute(call, ticket_id, self.reply_steps(call))

    @route("POST", "/v1/tickets/<ticket_id>/notes", "Add an internal note (staff; never shown to the customer)",
           roles=STAFF + PLATFORM, body=schemas.NoteCreate, idempotent=True, **COMMAND)
    def note(self, call, ticket_id):
        return self.execute(call, ticket_id, [["note", call.body]])

    @route("POST", "/v1/tickets/<ticket_id>/assign", "Assign to an agent and/or a team; null unassigns", roles=STAFF,
           body=schemas.AssignRequest, idempotent=True, **COMMAND)
    def assign(self, call, ticket_id):
        if call.body.get("agent_id"):
            self.require_agent(call.caller, ticket_id, call.body["agent_id"])
        # A half left out keeps its current value (filled in the command's transaction).
        fields = {}
        if "agent_id" in call.body:
            fields["assignee_id"] = call.body["agent_id"]
        if "team" in call.body:
            fields["team"] = call.body["team"]
        return self.execute(call, ticket_id, [["assign", fields]])

    @route("POST", "/v1/tickets/<ticket_id>/tags", "Add a tag (staff)", roles=STAFF, body=schemas.TagRequest,
           idempotent=True, **COMMAND)
    def add_tag(self, call, ticket_id):
        return self.execute(call, ticket_id, [["add_tag", call.body]])

    @route("DELETE", "/v1/tickets/<ticket_id>/tags/<tag>", "Remove a tag (staff)", roles=STAFF, **COMMAND)
    def remove_tag(self, call, ticket_id, tag):
        return self.tickets.execute(call.caller, ticket_id, [["remove_tag", {"tag": tag}]], call.if_match, None)

    @route("POST", "/v1/tickets/<ticket_id>/status",
           "Change the status (see docs/tickets.md for the transition table)", roles=ANYONE_IN_STORE + PLATFORM,
           body=schemas.StatusRequest, idempotent=True, **COMMAND)
    def change_status(self, call, ticket_id):
        return self.execute(call, ticket_id, [["change_status", call.body]])

    @route("POST", "/v1/tickets/<ticket_id>/rating", "Rate a solved or closed ticket, once (the customer)",
           roles=CUSTOMER, body=schemas.RatingRequest, idempotent=True, **COMMAND)
    def rate(self, call, ticket_id):
        return self.execute(call, ticket_id, [["rate", call.body]])

    # --- many tickets at once, merge and split (docs/agent-operations/bulk-merge-split.md) ----

    @route("POST", "/v1/tickets/bulk",
           "One action on up to 1,000 tickets, by ids or by a list filter; each ticket changes on its own (staff)",
           roles=STAFF, body=schemas.BulkRequest, response=schemas.BulkResult, resource=WHOLE, idempotent=True,
           tags=TAGS)
    def bulk(self, call):
        agent_id = (call.body["action"].get("assign") or {}).get("agent_id")
        if agent_id:
            self.identity.require_agent(call.caller.store_id, agent_id)
        result = self.tickets.bulk(call.caller, call.body, call.idempotency)
        for item in result["items"]:
            if "error" in item:
                error = item["error"]
                item["error"] = {"status": HTTP_STATUS.get(error["kind"], 400), "code": error["code"],
                                 "detail": error["detail"]}
        return result

    @route("POST", "/v1/tickets/<ticket_id>/merge",
           "Merge this ticket into another of the same customer; it is closed, its messages join the other (staff)",
           roles=STAFF, body=schemas.MergeRequest, idempotent=True, **COMMAND)
    def merge(self, call, ticket_id):
        return self.tickets.merge(call.caller, ticket_id, call.body["into"], call.if_match, call.idempotency)

    @route("POST", "/v1/tickets/<ticket_id>/unmerge",
           "Undo the merge of this ticket, within MERGE_UNDO_HOURS (staff)", roles=STAFF, idempotent=True, **COMMAND)
    def unmerge(self, call, ticket_id):
        return self.tickets.unmerge(call.caller, ticket_id, call.if_match, call.idempotency)

    @route("POST", "/v1/tickets/<ticket_id>/split",
           "Open a new ticket for the same customer from one public message of this one (staff)", roles=STAFF,
           body=schemas.SplitRequest, status=201, location="/v1/tickets/{id}", idempotent=True, **COMMAND)
    def split(self, call, ticket_id):
        return self.tickets.split(call.caller, ticket_id, call.body, call.if_match, call.idempotency)

    # --- forward, read marks (docs/agent-operations/forward-and-unread.md) --------------------

    @route("POST", "/v1/tickets/<ticket_id>/forward",
           "Forward to another agent or team with an internal note saying why, or by email to someone outside "
           "the store's staff with a note for them (the store's staff)", roles=STAFF, body=schemas.ForwardRequest,
           idempotent=True, **COMMAND)
    def forward(self, call, ticket_id):
        if "email" in call.body:
            return self.execute(call, ticket_id, [["forward_by_email", call.body]])
        if "agent_id" in call.body:
            self.require_agent(call.caller, ticket_id, call.body["agent_id"])
        return self.execute(call, ticket_id, [["forward", call.body]])

    @route("POST", "/v1/tickets/<ticket_id>/read",
           "Mark the ticket read, for the caller, up to its last customer message (the store's staff; again: "
           "nothing changes)", roles=STAFF, response=schemas.ReadMark, tags=TAGS)
    def mark_read(self, call, ticket_id):
        return self.tickets.mark_read(call.caller, ticket_id)

    # --- shared by the ticket routes --------------------------------------------------

    def execute(self, call, ticket_id: str, steps: list):
        """Run ``steps`` on the ticket in one transaction (the tickets service decides)."""
        return self.tickets.execute(call.caller, ticket_id, steps, call.if_match, call.idempotency)

    def reply_steps(self, call) -> list:
        """One step: the reply, with the note recorded after it (the tickets
        service decides who may send a canned response or a note)."""
        body, caller = call.body, call.caller
        reply = dict(body)
        if "canned_response_id" in body and caller.is_staff:
            # The placeholders the ticket cannot know; the tickets service fills the others.
            reply["context"] = {"store_name": self.identity.get_store(caller, caller.store_id)["name"],
                                "agent_name": self.identity.get_agent(caller, caller.id)["name"]}
        return [["reply", reply]]

    def require_agent(self, caller, ticket_id, agent_id):
        try:
            self.identity.require_agent(caller.store_id, agent_id)
        except Exception:
            # Another store's ticket is a 404 before anything is said about the agent.
            self.tickets.get(caller, ticket_id)
            raise


# A bulk item's refusal: its class, as the tickets service names it, to the status a single command answers.
HTTP_STATUS = {cls.__name__: status for cls, status in STATUS_OF}


def ticket_query(query: dict) -> dict:
    """A ticket list's query; ``status`` and ``priority`` are comma-separated lists."""
    query = dict(query)
    for many in ("status", "priority"):
        query[many] = [v for v in query.get(many, "").split(",") if v]
    return query
