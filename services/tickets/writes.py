"""Changing tickets: one command = one transaction that loads the stream,
folds it, asks ``decide``, appends the events at the version it loaded,
projects the list row and records the idempotency key. Every rule is the
domain's; this module fetches what a decision needs (the ticket number,
uploaded files, a canned response's text) and stores what it decided."""
from __future__ import annotations

import dataclasses
import logging
import random
import time
import uuid
from datetime import datetime
from typing import Callable

import psycopg

from seedwork.caller import Caller
from seedwork.errors import ConcurrencyConflict, Conflict, InvalidCommand
from seedwork.idempotency import Idempotency, IdempotencyKeys
from seedwork.store import EventStore, expect_version

from .canned_responses import CannedResponses
from .domain import commands, policy
from .domain import rules as category_rules
from .domain.decisions import decide
from .domain.ticket import TicketState, fold, stored
from .files import TicketFiles
from .read_models import ReadModels
from .reads import TicketReads
from .rules import Rules
from .teams import Teams
from .topics import Topics

log = logging.getLogger(__name__)

# Re-runs of a command that lost a race (no If-Match): each one loads the fresh state.
MAX_ATTEMPTS = 5

# Command names over RPC and HTTP, and the domain command each one builds.
COMMANDS = {
    "reply": commands.PostReply,
    "note": commands.AddNote,
    "assign": commands.Assign,
    "unassign": commands.Unassign,
    "set_priority": commands.SetPriority,
    "set_type": commands.SetType,
    "add_tag": commands.AddTag,
    "remove_tag": commands.RemoveTag,
    "change_status": commands.ChangeStatus,
    "solve": commands.Solve,
    "close": commands.Close,
    "reopen": commands.Reopen,
    "rate": commands.Rate,
    "approve_data_change": commands.ApproveDataChange,
    "reject_data_change": commands.RejectDataChange,
    "ensure_status": commands.EnsureStatus,  # bulk actions: change_status, a ticket already there left as it is
    "forward": commands.Forward,  # to an agent or team, with a note (domain/forwarding.py)
    "forward_by_email": commands.ForwardByEmail,
}
# A step run after opening, in the same transaction: (who, command name, fields).
Step = tuple[Caller, str, dict]


def is_blocked(standing: dict | None) -> bool:
    """The customers service's answer about a shopper (what the gateway fetched): blocked or not."""
    return bool(standing and standing.get("blocked"))


class TicketWrites:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, reads: TicketReads, files: TicketFiles,
                 canned: CannedResponses, read_models: ReadModels, clock: Callable[[], datetime],
                 teams: Teams | None = None, topics: Topics | None = None, rules: Rules | None = None):
        self.store, self.keys, self.reads, self.files, self.canned = store, keys, reads, files, canned
        self.read_models, self.clock = read_models, clock
        self.projection = read_models.list
        self.teams = teams or Teams(store, keys, clock)
        self.topics = topics or Topics(store, keys, self.teams, clock)
        self.rules = rules or Rules(store, keys, self.teams, self.topics, reads.replica, clock)

    # --- opening --------------------------------------------------------------------

    def open(self, caller: Caller, fields: dict, idempotency: Idempotency = None,
             standing: dict | None = None) -> dict:
        """Open a ticket; ``{"ticket": view, "created": True}``. ``standing`` is the
        customers service's answer about a shopper opening one (blocked or not)."""
        with self.store.transaction() as conn:
            def command() -> dict:
                state = self.open_in(conn, caller, fields, standing=standing)
                return {"ticket": self.reads.view(conn, caller, state), "created": True}
            return self.keys.run(conn, caller, idempotency, command, _remembered,
                                 lambda recorded: self.reads.replay(conn, caller, recorded))

    def open_in(self, conn: psycopg.Connection, caller: Caller, fields: dict, then: list[Step] = (),
                standing: dict | None = None) -> TicketState:
        """Open a ticket in ``conn``'s transaction, apply the store's category
        rules to it, then run the ``then`` steps on it (a flow's automatic
        reply), all appended together."""
        number = self.projection.next_number(conn, caller.store_id)
        ticket_id = str(uuid.uuid4())
        attachments = self.files.resolve(conn, caller, None, fields.get("attachments"))
        fields = {**fields, **self._topic_and_team(conn, caller.store_id, fields.get("topic_id"))}
        command = commands.OpenTicket(**{**fields, "attachments": attachments, "actor": caller.actor,
                                         "ticket_id": ticket_id, "store_id": caller.store_id, "number": number,
                                         "customer_blocked": is_blocked(standing)})
        now = self.clock()
        new_events = decide(None, command, now)
        state = fold(stored(new_events, 0))
        state, by_rules = self._apply_rules(conn, state, now)
        new_events += by_rules
        for step_caller, name, step_fields in then:
            events = decide(state, self._command(conn, step_caller, state, name, step_fields), now)
            state = fold(stored(events, state.version), state)
            new_events += events
        history = self.store.append(ticket_id, 0, new_events, conn=conn)
        state = fold(history)
        self.read_models.project(conn, state, history)
        log.info("ticket %s #%s opened by %s %s", ticket_id, number, caller.kind, caller.id)
        return state

    # --- commands on a ticket -----------------------------------------------------------

    def execute(self, caller: Caller, ticket_id: str, steps: list, expected_version: int | None = None,
                idempotency: Idempotency = None, correlation_id: uuid.UUID | None = None) -> dict:
        """Run commands on a ticket, all or none; ``{"ticket": view, "changed": bool}``.

        ``steps`` is a list of ``[name, fields]`` (``PATCH`` sets priority and
        type together). With ``expected_version`` (If-Match) a stale version is
        refused with 412. Without it, a lost race re-runs the commands on the
        fresh state. ``correlation_id`` marks the events (a bulk action's, on
        each of its tickets).
        """
        for name, _ in steps:
            if name not in COMMANDS:
                raise InvalidCommand.field("command", f"unknown command {name!r}")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.store.transaction() as conn:
                    # Writers of one ticket queue here instead of racing and re-running.
                    self.store.lock_stream(conn, ticket_id)
                    return self.keys.run(
                        conn, caller, idempotency,
                        lambda: self.execute_in(conn, caller, ticket_id, steps, expected_version,
                                                correlation_id=correlation_id),
                        _remembered, lambda recorded: self.reads.replay(conn, caller, recorded))
            except ConcurrencyConflict as conflict:
                expect_version(f"ticket {ticket_id}", expected_version, conflict.actual_version)
                log.info("ticket %s: %s lost a race (attempt %d), re-running on the fresh state",
                         ticket_id, "+".join(n for n, _ in steps), attempt)
                time.sleep(random.uniform(0, 0.01 * attempt))  # green under eventlet
        raise Conflict("busy", f"ticket {ticket_id} changed {MAX_ATTEMPTS} times while this command ran; retry")

    def execute_in(self, conn: psycopg.Connection, caller: Caller, ticket_id: str, steps: list,
                   expected_version: int | None, events: list | None = None,
                   correlation_id: uuid.UUID | None = None) -> dict:
        """``execute``'s work in ``conn``'s transaction, the ticket's stream locked
        by the caller (``events``: the stream, if the caller loaded it already)."""
        if events is None:
            events = self.store.load(ticket_id, conn=conn)
        state = loaded = self.reads.visible(conn, caller, ticket_id, events)
        expect_version(f"ticket {ticket_id}", expected_version, loaded.version)
        now = self.clock()
        new_events = []
        for name, fields in steps:
            decided = decide(state, self._command(conn, caller, state, name, fields), now)
            # Later steps decide on the state the earlier ones left.
            state = fold(stored(decided, state.version), state)
            new_events += decided
        state = loaded
        if correlation_id is not None:
            new_events = [dataclasses.replace(e, correlation_id=correlation_id) for e in new_events]
        if new_events:
            appended = self.store.append(ticket_id, loaded.version, new_events, conn=conn)
            state = fold(appended, loaded)
            self.read_models.project(conn, state, events + appended)
        return {"ticket": self.reads.view(conn, caller, state), "changed": bool(new_events)}

    def _apply_rules(self, conn: psycopg.Connection, state: TicketState, now: datetime) -> tuple[TicketState, list]:
        """The store's enabled rules on a ticket that just opened (docs/agent-operations/rules.md):
        each change is an ordinary command by the rules' actor, its events naming the rule."""
        if state.handled_by != "store":
            return state, []  # the platform's review team answers it: the store's rules leave it alone
        found = self.rules.enabled_in(conn, state.store_id)
        if not found:
            return state, []
        groups = (self.rules.groups_of(conn, state.store_id, state.customer_id)
                  if category_rules.needs_groups(found) else ())
        events: list = []
        for change in category_rules.apply(found, category_rules.facts_of(state, groups)):
            # Locked: the team cannot be deleted before this ticket commits (a rule naming it holds it too).
            if change.action == "team" and not self.teams.exists(conn, state.store_id, change.value, lock=True):
                continue
            decided = category_rules.attributed(decide(state, category_rules.command_for(change), now), change)
            state = fold(stored(decided, state.version), state)
            events += decided
        return state, events

    def _topic_and_team(self, conn: psycopg.Connection, store_id: str, topic_id) -> dict:
        """A ticket opened on a topic records it, and opens on the topic's team."""
        if topic_id is None:
            return {"topic_id": None, "team": None}
        topic = self.topics.get_in(conn, store_id, topic_id)
        if topic is None:
            raise InvalidCommand.field("topic_id", "no such topic in this store")
        team = topic["team_id"]
        if team is not None and not self.teams.exists(conn, store_id, team, lock=True):
            team = None  # (a topic's team cannot be deleted: this is a guard, not a rule)
        return {"topic_id": topic["id"], "team": team}

    def _command(self, conn: psycopg.Connection, caller: Caller, state: TicketState, name: str,
                 fields: dict) -> commands.Command:
        fields = dict(fields)
        team = fields.get("team")
        if name == "assign" and team is not None and not self.teams.exists(conn, state.store_id, team, lock=True):
            # Locked: the team cannot be deleted before this assignment commits.
            raise InvalidCommand.field("team", "no such team in this store")
        team_id = fields.get("team_id")
        if name == "forward" and team_id is not None and not self.teams.exists(conn, state.store_id, team_id,
                                                                              lock=True):
            raise InvalidCommand.field("team_id", "no such team in this store")
        if name == "forward_by_email" and isinstance(fields.get("message_ids"), list):
            fields["message_ids"] = tuple(fields["message_ids"])
        if "attachments" in fields:
            fields["attachments"] = self.files.resolve(conn, caller, state.id, fields["attachments"])
        # What the gateway knows and tickets does not (store and agent names), for placeholders.
        context = fields.pop("context", None) or {}
        if name == "reply" and fields.get("canned_response_id") is not None and policy.is_store_staff(caller):
            # Only the store's staff's are filled: ``decide`` refuses anyone else's.
            fields["body"] = self.canned.fill(conn, caller, state, fields["canned_response_id"], context)
        return COMMANDS[name](actor=caller.actor, **fields)


def _remembered(answer: dict) -> dict:
    """What an idempotency key keeps of a ticket command's answer: the
    ticket's version then, not its view (a replay shows it again as it was)."""
    return {"created": answer.get("created", False), "ticket_id": answer["ticket"]["id"],
            "version": answer["ticket"]["version"]}
