"""A platform fraud flag (services.customers.fraud.domain): raised once from
a rule's decision, cleared once by the platform."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.envelope import SYSTEM, Actor
from seedwork.errors import Conflict, InvalidCommand
from services.customers.fraud.domain import ClearFlag, RaiseFlag, clean_note, decide, evolve, fold
from services.customers.fraud.rules import DEFAULT_RULES, Decision, Evidence

from .streams import stored

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
FLAG_ID = "9d1e6a2f-1b0c-4e11-8f3a-5d6c7e8f9a02"
PLATFORM = Actor("platform")
EVIDENCE = (Evidence("blocked_non_serious", "st-1", "c-1", "c-1", NOW - timedelta(days=2)),
            Evidence("blocked_non_serious", "st-2", "c-2", "c-2", NOW - timedelta(days=1)))


def raised():
    decision = Decision(DEFAULT_RULES[0], EVIDENCE)
    events = decide(None, RaiseFlag(flag_id=FLAG_ID, mobile="+966500000999", decision=decision), NOW)
    return events, fold(stored(events, 0, FLAG_ID))


def test_a_flag_carries_its_rule_and_every_stores_evidence_platform_wide():
    [event], flag = raised()
    assert (event.type, event.store_id, event.actor, event.occurred_at) == ("shopper.flagged", None, SYSTEM, NOW)
    assert event.data == {
        "flag_id": FLAG_ID, "mobile": "+966500000999", "code": "non_serious_buyer", "rule": "blocked_by_stores",
        "threshold": 2, "evidence": [
            {"kind": "blocked_non_serious", "store_id": "st-1", "customer_id": "c-1", "ref": "c-1",
             "at": "2026-10-30T09:00:00Z"},
            {"kind": "blocked_non_serious", "store_id": "st-2", "customer_id": "c-2", "ref": "c-2",
             "at": "2026-10-31T09:00:00Z"}]}
    assert (flag.status, flag.raised_at, flag.version) == ("active", NOW, 1)


def test_clearing_records_the_note_and_who_cleared_it_and_happens_once():
    _, flag = raised()
    later = NOW + timedelta(days=1)
    events = decide(flag, ClearFlag(actor=PLATFORM, note="reviewed"), later)
    assert [(e.type, e.data, e.actor, e.store_id) for e in events] == [
        ("shopper.flag_cleared", {"flag_id": FLAG_ID, "mobile": "+966500000999", "note": "reviewed"}, PLATFORM, None)]
    flag = fold(stored(events, 1, FLAG_ID), flag)
    assert (flag.status, flag.cleared_at, flag.cleared_by, flag.note, flag.version) == (
        "cleared", later, "platform", "reviewed", 2)
    with pytest.raises(Conflict) as refused:
        decide(flag, ClearFlag(actor=PLATFORM), later)
    assert refused.value.code == "flag_already_cleared"


def test_a_note_is_optional_text_of_at_most_1000_characters():
    assert clean_note(None) is None and clean_note("ok") == "ok"
    for bad in ("x" * 1001, 5):
        with pytest.raises(InvalidCommand):
            clean_note(bad)


def test_a_flag_is_raised_once_and_its_stream_holds_nothing_else():
    [event], flag = raised()
    with pytest.raises(Conflict):
        decide(flag, RaiseFlag(flag_id=FLAG_ID, mobile="+966500000999", decision=Decision(DEFAULT_RULES[0], ())),
               NOW)
    [first] = stored([event], 0, FLAG_ID)
    with pytest.raises(ValueError):
        evolve(flag, first)
    with pytest.raises(ValueError):
        evolve(None, replace(first, type="shopper.flag_cleared"))
    with pytest.raises(ValueError):
        evolve(flag, replace(first, type="customer.created"))
