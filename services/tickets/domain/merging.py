"""Merging a duplicate ticket into another, undoing it, and splitting a
message into a ticket of its own: decisions over two tickets at once. Plain
Python, like ``decide``: each returns the events of both streams (or raises a
``DomainError``), and the service layer appends both in one transaction.
Each ticket's fold stays its own stream's: the target's ``ticket.merge_received``
carries the merged messages themselves. See docs/agent-operations/bulk-merge-split.md.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from seedwork.envelope import NewEvent
from seedwork.errors import Conflict, Forbidden, InvalidCommand, NotFound
from seedwork.instants import iso

from . import fields as rules
from . import policy
from .commands import Attachment, Command, MergeTicket, OpenTicket, SplitTicket, UnmergeTicket, new_message_id
from .decisions import decide
from .ticket import Message, TicketState

DEFAULT_UNDO_WINDOW = timedelta(hours=72)
Events = list[NewEvent]


def _check(command: Command, now: datetime, *tickets: TicketState) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError(f"now is the aware datetime the events happen at, not {now!r}")
    for state in tickets:
        policy.check_actor(state, command.actor)
    if not policy.acts_as_staff(command.actor):
        raise Forbidden("staff_only", "only staff merge and split tickets")


def _events(state: TicketState, command: Command, now: datetime, *changes: tuple[str, dict]) -> Events:
    return [NewEvent(t, data, actor=command.actor, store_id=state.store_id, occurred_at=now) for t, data in changes]


def _not_closed(state: TicketState, role: str) -> None:
    if state.status == "closed":
        raise Conflict("ticket_closed", f"the {role} ticket #{state.number} is closed")


def uploaded_files(messages: tuple[Message, ...]) -> list[str]:
    """The ids of the files uploaded to these messages (links have none):
    what the service layer copies to the other ticket."""
    return [a["id"] for m in messages for a in m.attachments if a.get("id") is not None]


def _copied(attachments, file_copies: dict[str, str]) -> list[dict]:
    """The attachments as the other ticket keeps them: an uploaded file by its copy's id."""
    out = []
    for a in attachments:
        a = dict(a)
        if a.get("id") is not None:
            a["id"] = file_copies.get(a["id"], a["id"])
        out.append(a)
    return out


def message_record(m: Message, file_copies: dict[str, str]) -> dict[str, Any]:
    """A message as ``ticket.merge_received`` carries it (``ticket.merged_message`` reads it back)."""
    record = {"id": m.id, "author": {"type": m.author_kind, "id": m.author_id}, "body": m.body,
              "internal": m.internal, "attachments": _copied(m.attachments, file_copies),
              "created_at": iso(m.created_at)}
    for name in ("canned_response_id", "automatic", "split_into"):
        if getattr(m, name) is not None:
            record[name] = getattr(m, name)
    return record


# --- merge ---------------------------------------------------------------------------------


def decide_merge(source: TicketState, target: TicketState, command: MergeTicket,
                 now: datetime) -> tuple[Events, Events]:
    """``(source's events, target's events)``: the source is closed by its
    ``ticket.merged``; the target receives its messages. Both tickets are the
    caller's (the service layer answers 404 otherwise)."""
    _check(command, now, source, target)
    if target.store_id != source.store_id:  # the service layer's 404 first; the domain is the second line
        raise NotFound("ticket_not_found", f"no ticket {target.id}", {"into": ["no such ticket in this store"]})
    if target.id == source.id:
        raise InvalidCommand.field("into", "a ticket cannot be merged into itself")
    if source.merged_into is not None:
        raise Conflict("already_merged", f"ticket #{source.number} was already merged into "
                                         f"#{source.merged_into['number']}")
    if target.merged_into is not None:
        raise Conflict("target_merged", f"ticket #{target.number} was itself merged into "
                                        f"#{target.merged_into['number']}: merge into that one")
    _not_closed(source, "merged")
    _not_closed(target, "target")
    if target.customer_id != source.customer_id:
        raise Conflict("different_customer", "only tickets of the same customer are merged",
                       {"into": ["a ticket of another customer"]})
    on_target = {m.id for m in target.messages}
    if any(m.id in on_target for m in source.messages):
        raise Conflict("duplicate_message", f"ticket #{target.number} already holds a message of #{source.number}")
    merged = _events(source, command, now, ("ticket.merged", {
        "into_ticket_id": target.id, "into_number": target.number,
        "previous_status": source.status, "previous_label": source.status_label}))
    received = _events(target, command, now, ("ticket.merge_received", {
        "from_ticket_id": source.id, "from_number": source.number,
        "messages": [message_record(m, command.file_copies) for m in source.messages]}))
    return merged, received


def decide_unmerge(source: TicketState, target: TicketState | None, command: UnmergeTicket, now: datetime,
                   window: timedelta = DEFAULT_UNDO_WINDOW) -> tuple[Events, Events]:
    """``(source's events, target's events)``: the merged ticket goes back to
    the status the merge closed it from; the messages the merge brought leave
    the target (those added since stay). ``target`` is the ticket the source
    was merged into, as it is now."""
    _check(command, now, source, *([target] if target is not None else []))
    merge = source.merged_into
    if merge is None:
        raise Conflict("not_merged", f"ticket #{source.number} is not merged into another")
    if target is None or target.id != merge["ticket_id"]:
        raise ValueError(f"unmerge of {source.id} needs the ticket it was merged into, {merge['ticket_id']}")
    if now > merge["merged_at"] + window:
        raise Conflict("unmerge_window_passed", f"a merge can be undone within {_hours(window)}; "
                                                f"#{source.number} was merged at {iso(merge['merged_at'])}")
    if target.merged_into is not None:
        raise Conflict("target_merged", f"ticket #{target.number} was itself merged into "
                                        f"#{target.merged_into['number']}: unmerge that first")
    _not_closed(target, "target")
    unmerged = _events(source, command, now, ("ticket.unmerged", {
        "into_ticket_id": target.id, "into_number": target.number,
        "status": merge["previous_status"], "label": merge["previous_label"]}))
    reverted = _events(target, command, now, ("ticket.merge_reverted", {
        "from_ticket_id": source.id, "from_number": source.number,
        "message_ids": [m.id for m in target.messages if m.merged_from == source.id]}))
    return unmerged, reverted


def _hours(window: timedelta) -> str:
    hours = window / timedelta(hours=1)
    return f"{hours:g} hours"


# --- split ---------------------------------------------------------------------------------


def decide_split(original: TicketState, command: SplitTicket, now: datetime) -> tuple[Events, Events]:
    """``(original's events, the new ticket's events)``: a new ticket for the
    same customer opened from one public message of ``original``; the
    message stays where it is, marked as split."""
    _check(command, now, original)
    _not_closed(original, "split")
    message_id = rules.identifier(command.message_id, "message_id")
    subject = rules.text(command.subject, "subject", rules.SUBJECT_MAX, optional=True)
    message = next((m for m in original.messages if m.id == message_id), None)
    if message is None:
        raise NotFound("message_not_found", f"no message {message_id} on ticket #{original.number}",
                       {"message_id": ["no such message on this ticket"]})
    if message.internal:
        raise Conflict("internal_message", "an internal note stays with staff: only public messages are split",
                       {"message_id": ["an internal note"]})
    if message.split_into is not None:
        raise Conflict("already_split", f"this message was already split into #{message.split_into['number']}",
                       {"message_id": ["already split"]})
    others = [m for m in original.public_messages() if m.id != message.id]
    if message.id == original.messages[0].id and not others:
        raise Conflict("only_message", "the ticket's only public message cannot be split: it is the ticket",
                       {"message_id": ["the only public message"]})
    opening = OpenTicket(
        actor=command.actor, ticket_id=command.new_ticket_id, store_id=original.store_id, number=command.number,
        subject=subject or _subject_of(message, original), body=message.body or subject or original.subject,
        customer_id=original.customer_id, message_id=new_message_id(),
        attachments=tuple(Attachment(**a) for a in _copied(message.attachments, command.file_copies)),
    )
    [opened] = decide(None, opening, now)
    split_from = {"ticket_id": original.id, "number": original.number, "message_id": message.id,
                  "author": {"type": message.author_kind, "id": message.author_id}}
    new_ticket = [NewEvent(opened.type, {**opened.data, "split_from": split_from}, actor=opened.actor,
                           store_id=opened.store_id, occurred_at=opened.occurred_at)]
    split = _events(original, command, now, ("ticket.split", {
        "message_id": message.id, "new_ticket_id": opened.data["ticket_id"], "new_number": opened.data["number"]}))
    return split, new_ticket


def _subject_of(message: Message, original: TicketState) -> str:
    """The new ticket's subject when none is given: the message's first line,
    or the original's subject for a message of files only."""
    first = next((line.strip() for line in message.body.splitlines() if line.strip()), "")
    if not first:
        return original.subject
    return first if len(first) <= rules.SUBJECT_MAX else first[:rules.SUBJECT_MAX - 1].rstrip() + "…"
