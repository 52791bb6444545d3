"""Merge, unmerge and split: commands that write to two ticket streams in
one transaction. Both streams are locked first, in the order of their ids,
so two merges running at once queue instead of deadlocking (and the second
one decides on what the first left); both list rows are projected in the
same transaction. The rules are ``domain.merging``'s; files on the moved
messages are recorded for the other ticket too (``AttachmentRecords.copy``)."""
from __future__ import annotations

import dataclasses
import logging
import random
import time
import uuid
from datetime import datetime, timedelta
from typing import Callable, Iterable

import psycopg

from seedwork.caller import Caller
from seedwork.errors import ConcurrencyConflict, Conflict, NotFound
from seedwork.idempotency import Idempotency, IdempotencyKeys
from seedwork.store import EventStore, expect_version

from .config import TicketsConfig
from .domain import merging
from .domain.commands import MergeTicket, SplitTicket, UnmergeTicket
from .domain.ticket import TicketState, fold
from .files import TicketFiles
from .read_models import ReadModels
from .reads import TicketReads

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class _Moved(Exception):
    """The merged ticket's target changed between the look and the locks: look again."""


class TicketMerges:
    def __init__(self, store: EventStore, keys: IdempotencyKeys, reads: TicketReads, files: TicketFiles,
                 read_models: ReadModels, config: TicketsConfig, clock: Callable[[], datetime]):
        self.store, self.keys, self.reads, self.files, self.clock = store, keys, reads, files, clock
        self.read_models = read_models
        self.projection = read_models.list  # the ticket numbers: a split opens a ticket
        self.window = timedelta(hours=config.merge_undo_hours)

    # --- the commands --------------------------------------------------------------------

    def merge(self, caller: Caller, ticket_id: str, into: str, expected_version: int | None = None,
              idempotency: Idempotency = None) -> dict:
        """Merge ``ticket_id`` into ``into``; ``{"ticket": the merged ticket's view}``."""
        def work(conn: psycopg.Connection) -> dict:
            source = self._source(conn, caller, ticket_id, expected_version)
            target = self._target(conn, caller, into)
            copies = {old: str(uuid.uuid4()) for old in merging.uploaded_files(source.messages)}
            command = MergeTicket(actor=caller.actor, file_copies=copies)
            source_events, target_events = merging.decide_merge(source, target, command, self.clock())
            self.files.records.copy(conn, source.store_id, source.id, target.id, copies)
            source, _ = self._append(conn, (source.id, source, source_events), (target.id, target, target_events))
            log.info("ticket %s #%s merged into %s #%s by %s", source.id, source.number, target.id, target.number,
                     caller.id)
            return {"ticket": self.reads.view(conn, caller, source)}
        return self._locked(caller, ticket_id, [ticket_id, into], expected_version, idempotency, work)

    def unmerge(self, caller: Caller, ticket_id: str, expected_version: int | None = None,
                idempotency: Idempotency = None) -> dict:
        """Undo the merge of ``ticket_id``; ``{"ticket": its view}``."""
        for _ in range(MAX_ATTEMPTS):
            # Which other stream to lock: the target as the ticket names it now (checked again once locked).
            with self.store.pool.connection() as conn:
                merged_into = self.reads.visible(conn, caller, ticket_id).merged_into
            target_id = merged_into and merged_into["ticket_id"]
            try:
                return self._locked(caller, ticket_id, [ticket_id, *([target_id] if target_id else [])],
                                    expected_version, idempotency,
                                    self._unmerging(caller, ticket_id, target_id, expected_version))
            except _Moved:
                continue
        raise Conflict("busy", f"ticket {ticket_id} changed while it was being unmerged; retry")

    def _unmerging(self, caller: Caller, ticket_id: str, target_id: str | None,
                   expected_version: int | None) -> Callable[[psycopg.Connection], dict]:
        def work(conn: psycopg.Connection) -> dict:
            source = self._source(conn, caller, ticket_id, expected_version)
            if (source.merged_into and source.merged_into["ticket_id"]) != target_id:
                raise _Moved()
            target = None if target_id is None else self.reads.visible(conn, caller, target_id)
            source_events, target_events = merging.decide_unmerge(
                source, target, UnmergeTicket(actor=caller.actor), self.clock(), self.window)
            source, _ = self._append(conn, (source.id, source, source_events), (target.id, target, target_events))
            log.info("ticket %s #%s unmerged from %s by %s", source.id, source.number, target_id, caller.id)
            return {"ticket": self.reads.view(conn, caller, source)}
        return work

    def split(self, caller: Caller, ticket_id: str, fields: dict, expected_version: int | None = None,
              idempotency: Idempotency = None) -> dict:
        """A new ticket from one message of ``ticket_id``; ``{"ticket": the new one's view, "created": True}``."""
        def work(conn: psycopg.Connection) -> dict:
            original = self._source(conn, caller, ticket_id, expected_version)
            message = next((m for m in original.messages if m.id == fields.get("message_id")), None)
            copies = {old: str(uuid.uuid4()) for old in merging.uploaded_files((message,) if message else ())}
            new_id = str(uuid.uuid4())
            command = SplitTicket(actor=caller.actor, message_id=fields.get("message_id"),
                                  subject=fields.get("subject"), new_ticket_id=new_id,
                                  number=self.projection.next_number(conn, original.store_id), file_copies=copies)
            original_events, opening = merging.decide_split(original, command, self.clock())
            self.files.records.copy(conn, original.store_id, original.id, new_id, copies)
            _, opened = self._append(conn, (original.id, original, original_events), (new_id, None, opening))
            log.info("ticket %s #%s split from %s #%s by %s", opened.id, opened.number, original.id,
                     original.number, caller.id)
            return {"ticket": self.reads.view(conn, caller, opened), "created": True}
        return self._locked(caller, ticket_id, [ticket_id], expected_version, idempotency, work)

    # --- shared ----------------------------------------------------------------------------

    def _locked(self, caller: Caller, ticket_id: str, streams: Iterable[str], expected_version: int | None,
                idempotency: Idempotency, work: Callable[[psycopg.Connection], dict]) -> dict:
        """``work(conn)`` once per idempotency key, with every stream locked
        (sorted, so that opposite merges cannot deadlock); a lost race runs it
        again on the fresh state, as ``TicketWrites.execute`` does."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.store.transaction() as conn:
                    for stream in sorted(set(streams)):
                        self.store.lock_stream(conn, stream)
                    return self.keys.run(conn, caller, idempotency, lambda: work(conn), _remembered,
                                         lambda recorded: self.reads.replay(conn, caller, recorded))
            except ConcurrencyConflict as conflict:
                if conflict.stream_id == ticket_id:
                    expect_version(f"ticket {ticket_id}", expected_version, conflict.actual_version)
                log.info("ticket %s: lost a race (attempt %d), deciding again on the fresh state", ticket_id, attempt)
                time.sleep(random.uniform(0, 0.01 * attempt))
        raise Conflict("busy", f"ticket {ticket_id} changed {MAX_ATTEMPTS} times while this command ran; retry")

    def _source(self, conn: psycopg.Connection, caller: Caller, ticket_id: str,
                expected_version: int | None) -> TicketState:
        state = self.reads.visible(conn, caller, ticket_id)
        expect_version(f"ticket {ticket_id}", expected_version, state.version)
        return state

    def _target(self, conn: psycopg.Connection, caller: Caller, ticket_id: str) -> TicketState:
        """The ticket named in the body: another store's, or none, is the same 404, naming ``into``."""
        try:
            return self.reads.visible(conn, caller, ticket_id)
        except NotFound as missing:
            raise NotFound(missing.code, missing.detail, {"into": ["no such ticket in this store"]}) from None

    def _append(self, conn: psycopg.Connection,
                *changes: tuple[str, TicketState | None, list]) -> list[TicketState]:
        """Append each ticket's events after the state it was loaded as (None:
        a new ticket), and project its row: ``(ticket id, state, events)``."""
        correlation_id = uuid.uuid4()  # one decision, two streams: the same correlation id
        states = []
        for ticket_id, state, events in changes:
            events = [dataclasses.replace(e, correlation_id=correlation_id) for e in events]
            state = fold(self.store.append(ticket_id, state.version if state else 0, events, conn=conn), state)
            # The whole stream: the SLA clock reads every event of the ticket.
            self.read_models.project(conn, state, self.store.load(ticket_id, conn=conn))
            states.append(state)
        return states


def _remembered(answer: dict) -> dict:
    """What an idempotency key keeps: the answered ticket's id and version (a replay shows it as it was)."""
    return {"created": answer.get("created", False), "ticket_id": answer["ticket"]["id"],
            "version": answer["ticket"]["version"]}
