"""Cursors and page limits, one codec for every list: what a list wrote it
reads back; anything else is a 400 naming ``cursor`` (or ``limit``)."""
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from seedwork.errors import InvalidQuery
from seedwork.pagination import (decimal, decode_cursor, encode_cursor, exactly, instant, integer, matching, page,
                                 page_limit, seek, text, uuid_text)

T = datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)
ID = "0b6e0c55-8a4f-4c43-9d55-1c2f6f7d0a01"


def refused(cursor, *readers):
    with pytest.raises(InvalidQuery) as info:
        decode_cursor(cursor, *readers)
    assert list(info.value.errors) == ["cursor"]
    return info.value


# --- round trips ------------------------------------------------------------------------


def test_a_cursor_gives_back_the_values_it_was_made_of():
    cursor = encode_cursor("-created", T, 1042)
    assert decode_cursor(cursor, exactly("-created"), instant, integer) == ("-created", T, 1042)
    assert "=" not in cursor  # it goes in a query string as it is


def test_decimals_ids_and_names_come_back_as_the_query_needs_them():
    cursor = encode_cursor("spent", Decimal("1250.50"), ID, "نورة")
    assert decode_cursor(cursor, exactly("spent"), decimal, uuid_text, text) == ("spent", Decimal("1250.50"), ID,
                                                                                  "نورة")


# --- what is refused ----------------------------------------------------------------------


def test_a_cursor_of_another_sort_is_refused():
    refused(encode_cursor("created", T, 1), exactly("-created"), instant, integer)


def test_a_cursor_with_values_of_the_wrong_kind_is_refused():
    refused(encode_cursor("-priority", True, 1), exactly("-priority"), integer, integer)  # true is no rank
    refused(encode_cursor("-created", "yesterday", 1), exactly("-created"), instant, integer)
    refused(encode_cursor("-created", "2024-05-01T09:30:00", 1), exactly("-created"), instant, integer)  # no offset
    refused(encode_cursor("spent", "NaN", ID), exactly("spent"), decimal, uuid_text)
    refused(encode_cursor("name", "x", "not-an-id"), exactly("name"), text, uuid_text)


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "\ud800", "name \udfff"])
def test_text_postgresql_cannot_take_is_refused(value):
    # NUL is no text to PostgreSQL (DataError), a lone surrogate no UTF-8 (UnicodeEncodeError): a 500 either way.
    refused(encode_cursor("name", value, ID), exactly("name"), text, uuid_text)
    refused(encode_cursor("name", "x", value), exactly("name"), text, uuid_text)


@pytest.mark.parametrize("value", ["1e999999999", "-1e999999999", "1e-999999999", "0E+999999999", "1e21"])
def test_decimals_no_numeric_holds_are_refused(value):
    refused(encode_cursor("spent", value, ID), exactly("spent"), decimal, uuid_text)


def test_decimals_of_any_sum_of_money_are_read():
    for value in ("0", "0.00", "-12.5", "99999999999999.99", "1e20", "1E-20"):
        assert decode_cursor(encode_cursor("spent", value, ID), exactly("spent"), decimal, uuid_text)[1] == \
            Decimal(value)


def test_an_id_of_another_shape_is_refused():
    order_id = matching(re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z"))
    assert decode_cursor(encode_cursor(T, "o-1001"), instant, order_id) == (T, "o-1001")
    for value in ("", "a b", "x" * 101, "1001\x00", "\ud800", 1001):
        refused(encode_cursor(T, value), instant, order_id)


@pytest.mark.parametrize("garbage", ["", "!!!", "bm90IGpzb24", "eyJhIjoxfQ", "W10", "A" * 2000])
def test_garbage_is_refused_not_read(garbage):
    refused(garbage, exactly("-created"), instant, integer)


def test_a_cursor_of_another_list_is_refused():
    refused(encode_cursor(T, ID), exactly("-created"), instant, integer)


# --- page limits ----------------------------------------------------------------------------


def test_a_page_holds_25_rows_unless_asked_and_at_most_100():
    assert page_limit() == 25
    assert page_limit(1) == 1 and page_limit("100") == 100
    for bad in (0, 101, "ten", True, 2.5, "-1"):
        with pytest.raises(InvalidQuery) as info:
            page_limit(bad)
        assert list(info.value.errors) == ["limit"]


# --- where a page starts, and what it answers -------------------------------------------------


def test_the_first_page_has_no_condition_and_the_next_starts_after_the_cursors_row():
    assert seek("-created", {"created": "created_at"}, "number", None) == (None, [], "created_at DESC, number DESC")
    condition, params, order_by = seek("created", {"created": "created_at"}, "number", (T, 1042))
    assert (condition, params, order_by) == ("(created_at, number) > (%s, %s)", [T, 1042], "created_at ASC, number ASC")
    assert seek("-created", {"created": "created_at"}, "number", (T, 1042))[0] == "(created_at, number) < (%s, %s)"


def test_a_page_shows_the_first_rows_and_a_cursor_only_when_there_are_more():
    rows = [(n, f"row {n}") for n in range(4)]  # read limit + 1
    assert page(rows, 3, lambda r: r[1], lambda r: f"after {r[0]}") == {
        "items": ["row 0", "row 1", "row 2"], "next_cursor": "after 2"}
    assert page(rows[:3], 3, lambda r: r[1], lambda r: f"after {r[0]}")["next_cursor"] is None
    assert page([], 3, lambda r: r, lambda r: "never") == {"items": [], "next_cursor": None}
