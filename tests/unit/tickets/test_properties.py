"""The ticket domain under random command sequences (hypothesis stateful testing).

One ticket, a handful of actors, every command with valid and invalid
arguments (replies with and without a note or a canned response,
assignments with a half left out). After every step: a refusal changed
nothing, the state is the fold of the events, and the rules that must always
hold still hold.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from seedwork.cards import luhn_valid
from seedwork.envelope import Actor
from seedwork.errors import DomainError
from services.tickets.domain.commands import (
    KEEP, AddNote, AddTag, Assign, Attachment, ChangeStatus, Close, OpenTicket, PostReply, Rate, RemoveTag, Reopen,
    SetPriority, SetType, Solve, Unassign,
)
from services.tickets.domain.commands import EnsureStatus
from services.tickets.domain.decisions import TRANSITIONS, decide
from services.tickets.domain.fields import PRIORITIES, STATUSES
from services.tickets.domain.ticket import fold, stored
from services.tickets.views import to_view

OWNER = Actor("customer", "cust-1")
OTHER_CUSTOMER = Actor("customer", "cust-2")
AGENT_A, AGENT_B = Actor("agent", "agent-a"), Actor("agent", "agent-b")
SYSTEM, PLATFORM = Actor("system"), Actor("platform")
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)

# --- strategies --------------------------------------------------------------------------


def mostly(usual, other, odds: int = 4):
    """``usual`` ``odds`` times out of ``odds + 1``: enough valid input for the ticket to move on."""
    return st.integers(0, odds).flatmap(lambda n: other if n == 0 else usual)


staff = st.sampled_from([AGENT_A, AGENT_B, SYSTEM])
anyone = st.sampled_from([OWNER, OTHER_CUSTOMER, AGENT_A, AGENT_B, SYSTEM, PLATFORM])
actors = mostly(st.sampled_from([OWNER, AGENT_A, AGENT_B, SYSTEM]), anyone, odds=3)
staff_mostly = mostly(staff, anyone, odds=3)


@st.composite
def card_numbers(draw) -> str:
    """A Luhn-valid number of 13..19 digits, written plain, in fours, or with hyphens."""
    digits = "".join(str(d) for d in draw(st.lists(st.integers(0, 9), min_size=12, max_size=18)))
    digits += next(c for c in "0123456789" if luhn_valid(digits + c))
    groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    return draw(st.sampled_from([digits, " ".join(groups), "-".join(groups)]))


# Words without digits, so a card fed in is never glued to other digits.
words = st.text(st.characters(codec="utf-8", exclude_categories=("Nd", "Cs", "Cc")), max_size=30)
persian = st.sampled_from(["سلام، سفارش من کجاست؟", "مرحبا", "بسته آسیب دیده بود"])


@st.composite
def with_card(draw) -> str:
    card = draw(card_numbers())
    return f"{draw(st.one_of(words, persian))} card {card} thanks"


valid_texts = st.one_of(words.filter(str.strip), persian, with_card())
bad_texts = st.one_of(st.sampled_from(["", "   ", "nul \x00", "y" * 101, "y" * 2001, "y" * 10_001]),
                      st.none(), st.integers())
texts = mostly(valid_texts, bad_texts)
urls = st.sampled_from(["https://cdn.example/a.png", "http://cdn.example/b", "ftp://cdn.example/c", "", "https://"])
good_file = st.builds(Attachment, filename=valid_texts, url=st.just("https://cdn.example/a.png"),
                      content_type=st.sampled_from([None, "image/png"]), size=st.sampled_from([None, 0, 2048]))
any_file = st.builds(
    Attachment, filename=st.one_of(st.just("photo.jpg"), texts), url=urls,
    content_type=st.sampled_from([None, "image/png", ""]), size=st.sampled_from([None, 0, 2048, -1, True]),
)
attachments = mostly(
    st.one_of(st.just(()), st.lists(good_file, max_size=3).map(tuple)),
    st.one_of(st.lists(any_file, max_size=11).map(tuple), st.just(("not an attachment",))),
)
tags = mostly(
    st.one_of(st.sampled_from(["vip", " VIP ", "refund:pending", "late", "damaged", "a-1"]),
              st.from_regex(r"[a-z0-9][a-z0-9_:\-]{0,3}", fullmatch=True)),
    st.one_of(st.sampled_from(["bad tag", "", "-x", "ü", None]),
              card_numbers().map(lambda card: card.replace(" ", "-"))),
)
types = st.sampled_from(["question", "incident", "refund", "Bad", "", "a" * 51, None, "x4111111111111111"])
priorities = st.sampled_from(PRIORITIES + ("critical", None, ""))
statuses = mostly(st.sampled_from(STATUSES), st.sampled_from(["archived", None]))
labels = mostly(st.none(), texts, odds=2)
ids = st.sampled_from([None, "agent-a", "agent-b", "billing", "", 7])
halves = st.one_of(ids, st.just(KEEP))  # an assignment's half, or left out
notes = mostly(st.none(), texts, odds=2)
canned_ids = mostly(st.none(), st.sampled_from(["canned-1", ""]), odds=3)


# --- the machine -------------------------------------------------------------------------


class TicketMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.events = []
        self.state = None
        self.clock = T0
        self.cards: list[str] = []

    def run(self, command, cards=()) -> None:
        """Decide; store and evolve what was accepted. A refusal leaves the state and
        the events as they were: the fold invariant would notice if decide had
        changed the state in place (fold builds a fresh one from the events)."""
        self.cards += [c.replace(" ", "").replace("-", "") for c in cards]
        before, count = self.state, len(self.events)
        before_version = 0 if before is None else before.version
        self.clock += timedelta(minutes=1)
        try:
            new = decide(self.state, command, self.clock)
        except DomainError:
            assert self.state is before and len(self.events) == count
            return
        assert command.actor not in (OTHER_CUSTOMER, PLATFORM), "a stranger changed the ticket"
        if command.actor.kind == "customer":
            assert {e.type for e in new} <= {"ticket.opened", "ticket.replied", "ticket.status_changed",
                                             "ticket.rated"}
        if command.actor.kind != "agent":
            assert not any("canned_response_id" in e.data for e in new), "only the store's staff send canned ones"
        if before is not None and before.status == "closed":
            assert [e.type for e in new] in ([], ["ticket.rated"])
        envelopes = stored(new, len(self.events), stream_id="t-1")
        self.state = fold(envelopes, self.state)
        self.events += envelopes
        for value in _strings([e.data for e in envelopes]):
            flat = value.replace(" ", "").replace("-", "")
            assert not any(card in flat for card in self.cards), f"a card number reached an event: {value}"
        assert self.state.version == before_version + len(envelopes)

    def cards_in(self, *values, files=()) -> list[str]:
        values += tuple(f.filename for f in files if isinstance(f, Attachment))
        return [v.split(" card ")[1].split(" thanks")[0] for v in values if isinstance(v, str) and " card " in v]

    @initialize(opener=st.sampled_from([OWNER, AGENT_A, SYSTEM]), subject=valid_texts, body=valid_texts,
                priority=st.sampled_from(PRIORITIES), type=st.sampled_from(["question", "refund"]))
    def open_ticket(self, opener, subject, body, priority, type):
        # A shopper opens one for themselves; staff name the shopper.
        customer_id = None if opener.kind == "customer" else "cust-1"
        command = OpenTicket(actor=opener, ticket_id="t-1", store_id="store-1", number=1001, customer_id=customer_id,
                             subject=subject[:200], body=body, priority=priority, type=type)
        self.run(command, self.cards_in(subject, body))
        assert self.state is not None and self.state.version == 1

    @rule(actor=actors, body=texts, files=attachments, note=notes, canned=canned_ids)
    def reply(self, actor, body, files, note, canned):
        self.run(PostReply(actor=actor, body=body, attachments=files, note=note, canned_response_id=canned),
                 self.cards_in(body, note, files=files))

    @rule(actor=staff_mostly, body=texts, files=attachments)
    def note(self, actor, body, files):
        self.run(AddNote(actor=actor, body=body, attachments=files), self.cards_in(body, files=files))

    @rule(actor=staff_mostly, assignee_id=halves, team=halves)
    def assign(self, actor, assignee_id, team):
        before = self.state
        self.run(Assign(actor=actor, assignee_id=assignee_id, team=team))
        if assignee_id is KEEP:  # a half left out is kept, whatever else happened
            assert self.state.assignee_id == before.assignee_id
        if team is KEEP:
            assert self.state.team == before.team

    @rule(actor=staff_mostly)
    def unassign(self, actor):
        self.run(Unassign(actor=actor))

    @rule(actor=staff_mostly, priority=priorities)
    def set_priority(self, actor, priority):
        self.run(SetPriority(actor=actor, priority=priority))

    @rule(actor=staff_mostly, type=types)
    def set_type(self, actor, type):
        self.run(SetType(actor=actor, type=type), ["4111111111111111"] if type and "4111" in type else ())

    @rule(actor=staff_mostly, tag=tags)
    def add_tag(self, actor, tag):
        digits = (tag or "").replace("-", "")
        self.run(AddTag(actor=actor, tag=tag), [digits] if len(digits) >= 13 and digits.isdigit() else ())

    @rule(actor=staff_mostly, tag=tags)
    def remove_tag(self, actor, tag):
        self.run(RemoveTag(actor=actor, tag=tag))

    @rule(actor=staff_mostly, status=statuses, label=labels)
    def change_status(self, actor, status, label):
        self.run(ChangeStatus(actor=actor, status=status, label=label), self.cards_in(label))

    @rule(actor=staff_mostly, status=statuses, label=labels)
    def bulk_status(self, actor, status, label):
        # A bulk action's status change: a ticket already at it is left as it is.
        self.run(EnsureStatus(actor=actor, status=status, label=label), self.cards_in(label))

    @rule(actor=staff, status=st.sampled_from(STATUSES))
    def staff_move_the_ticket(self, actor, status):
        self.run(ChangeStatus(actor=actor, status=status))

    @rule(actor=actors, command=st.sampled_from([Solve, Solve, Reopen, Reopen, Close, "open"]))
    def shorthand(self, actor, command):
        if command == "open":  # a second ticket.opened on the same stream
            self.run(OpenTicket(actor=actor, ticket_id="t-1", store_id="store-1", number=1002,
                                customer_id="cust-1", subject="again", body="again"))
        else:
            self.run(command(actor=actor))

    @rule(actor=mostly(st.just(OWNER), actors, odds=2),
          score=mostly(st.integers(1, 5), st.sampled_from([0, 6, -1, True, None, "5", 4.0]), odds=2),
          comment=labels)
    def rate(self, actor, score, comment):
        self.run(Rate(actor=actor, score=score, comment=comment), self.cards_in(comment))

    # --- what always holds ------------------------------------------------------------

    @invariant()
    def the_state_is_the_fold_of_the_events(self):
        assert fold(self.events) == self.state

    @invariant()
    def versions_count_the_events(self):
        assert [e.version for e in self.events] == list(range(1, len(self.events) + 1))
        assert self.state is None or self.state.version == len(self.events)

    @invariant()
    def every_status_change_follows_the_table(self):
        status = "open"
        for event in self.events:
            if event.type == "ticket.status_changed":
                assert event.data["previous"] == status
                assert event.data["status"] in TRANSITIONS[event.data["previous"]]
                status = event.data["status"]
        assert self.state is None or self.state.status == status

    @invariant()
    def opened_once(self):
        assert [e.type for e in self.events].count("ticket.opened") == 1
        assert self.events[0].type == "ticket.opened"

    @invariant()
    def nothing_follows_closing_but_a_rating(self):
        closed = False
        for event in self.events:
            assert not closed or event.type == "ticket.rated"
            closed = closed or (event.type == "ticket.status_changed" and event.data["status"] == "closed")

    @invariant()
    def customers_never_see_internal_notes(self):
        if self.state is not None:
            view = to_view(self.state, False)
            assert not any(m["internal"] for m in view["messages"])
            assert len(to_view(self.state, True)["messages"]) == len(self.state.messages)

    @invariant()
    def the_ticket_stays_within_its_limits(self):
        if self.state is not None:
            assert len(self.state.tags) <= 20 and len(set(self.state.tags)) == len(self.state.tags)
            assert self.state.status_label is None or self.state.status == "on_hold"
            assert len({m.id for m in self.state.messages}) == len(self.state.messages)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


TicketMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_ticket_lifecycle = TicketMachine.TestCase
