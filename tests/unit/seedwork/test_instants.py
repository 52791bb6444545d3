"""One way to write a moment (RFC 3339, UTC, ``Z``) and one way to read it."""
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.errors import InvalidCommand, InvalidQuery
from seedwork.instants import iso, iso_or_none, parse_instant

RIYADH = timezone(timedelta(hours=3))


def test_moments_are_written_in_utc_with_a_z():
    assert iso(datetime(2024, 5, 1, 12, 0, tzinfo=RIYADH)) == "2024-05-01T09:00:00Z"
    assert iso_or_none(None) is None


@pytest.mark.parametrize("text", ["2024-05-01T09:00:00Z", "2024-05-01T12:00:00+03:00", "2024-05-01T09:00:00.000+00:00"])
def test_any_offset_is_read_back_as_the_same_instant(text):
    assert parse_instant(text) == datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", ["2024-05-01T09:00:00", "2024-05-01", "yesterday", "", 1714554000, None,
                                   datetime(2024, 5, 1)])
def test_anything_without_an_offset_is_refused_naming_the_field(value):
    with pytest.raises(InvalidCommand) as info:
        parse_instant(value, "updated_at")
    assert list(info.value.errors) == ["updated_at"] and not isinstance(info.value, InvalidQuery)


def test_a_query_gets_a_query_error():
    with pytest.raises(InvalidQuery):
        parse_instant("soon", "registered_from", InvalidQuery)
