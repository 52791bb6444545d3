"""Typed errors of the event store (seedwork.errors)."""
from __future__ import annotations

import copy
import pickle

import pytest

from seedwork.errors import ConcurrencyConflict, TransactionTooLarge


def test_concurrency_conflict_names_stream_and_both_versions():
    exc = ConcurrencyConflict("ticket-42", 3, 5)
    assert (exc.stream_id, exc.expected_version, exc.actual_version) == ("ticket-42", 3, 5)
    message = str(exc)
    assert "'ticket-42'" in message
    assert "expected version 3" in message
    assert "actual version 5" in message


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_concurrency_conflict_survives_pickling(protocol):
    exc = ConcurrencyConflict("ticket-42", 0, 1)
    back = pickle.loads(pickle.dumps(exc, protocol=protocol))
    assert type(back) is ConcurrencyConflict
    assert (back.stream_id, back.expected_version, back.actual_version) == ("ticket-42", 0, 1)
    assert str(back) == str(exc)


def test_concurrency_conflict_survives_copying():
    exc = ConcurrencyConflict("s", 1, 2)
    for clone in (copy.copy(exc), copy.deepcopy(exc)):
        assert (clone.stream_id, clone.expected_version, clone.actual_version) == ("s", 1, 2)


def test_concurrency_conflict_can_be_raised_and_caught_as_an_exception():
    with pytest.raises(ConcurrencyConflict) as info:
        raise ConcurrencyConflict("customer-1", -1, 9)
    assert info.value.actual_version == 9
    assert not issubclass(ConcurrencyConflict, ValueError)  # a conflict is not a bad request


def test_transaction_too_large_is_an_exception_that_pickles():
    back = pickle.loads(pickle.dumps(TransactionTooLarge("1048576 events in one append")))
    assert isinstance(back, Exception)
    assert str(back) == "1048576 events in one append"
