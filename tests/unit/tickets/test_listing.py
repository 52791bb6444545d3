"""Ticket lists: query checks, cursors and the SQL they become (services.tickets.listing).

No database here: a fake connection records the statement and its parameters
and answers with the rows the test gives it.
"""
from __future__ import annotations

import base64
import json
from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta, timezone

import pytest

from seedwork.errors import InvalidQuery
from seedwork.pagination import DEFAULT_LIMIT, MAX_LIMIT
from services.tickets.listing import DEFAULT_SORT, TicketQuery, after, list_tickets, next_cursor

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
SORTS = ("created", "-created", "updated", "-updated", "priority", "-priority")


class FakeConnection:
    """Records each statement; answers with the given rows."""

    def __init__(self, rows=()):
        self.rows = list(rows)
        self.statements: list[tuple[str, list]] = []

    def execute(self, sql, params=None):
        self.statements.append((sql, list(params or ())))
        return self

    def fetchall(self):
        return self.rows

    @property
    def sql(self) -> str:
        return self.statements[-1][0]

    @property
    def params(self) -> list:
        return self.statements[-1][1]


def row(number: int, created_at: datetime = T0, sort_key=None) -> tuple:
    """A ``ticket_list`` row in the column order ``list_tickets`` selects."""
    updated_at = created_at + timedelta(minutes=5)
    return (f"ticket-{number}", number, "open", None, "normal", "question", f"Subject {number}", "cus_1", None,
            None, None, ["vip"], 1, 1, created_at, updated_at, "store", "store-1", None, None,  # unread: no reader
            created_at if sort_key is None else sort_key)


def listed(query: TicketQuery, rows=(), store_id="store-1", schema="helpdesk_tickets", handled_by=None):
    conn = FakeConnection(rows)
    page = list_tickets(conn, schema, store_id, query, handled_by)
    assert len(conn.statements) == 1
    return conn, page


def packed(value) -> str:
    """A hand-made cursor: any JSON, base64url without padding."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def refused_cursor(cursor: str, sort: str) -> InvalidQuery:
    with pytest.raises(InvalidQuery) as info:
        after(cursor, sort)
    assert list(info.value.errors) == ["cursor"]
    return info.value


# --- a cursor carries the last row's sort key and number -------------------------------------------


@pytest.mark.parametrize("sort", ["created", "-created", "updated", "-updated"])
def test_a_time_cursor_comes_back_to_the_microsecond_in_utc(sort):
    key, number = after(next_cursor(sort, T0, 42), sort)
    assert (key, number) == (T0, 42)
    assert key.microsecond == 123456
    assert key.utcoffset() == timedelta(0)


def test_a_time_in_another_zone_comes_back_as_the_same_instant_in_utc():
    paris = datetime(2024, 5, 1, 14, 0, 0, 500, tzinfo=timezone(timedelta(hours=2)))
    key, _ = after(next_cursor("-created", paris, 1), "-created")
    assert key == paris
    assert key.utcoffset() == timedelta(0)


@pytest.mark.parametrize("sort", ["priority", "-priority"])
def test_a_priority_cursor_comes_back_as_the_rank(sort):
    assert after(next_cursor(sort, 3, 7), sort) == (3, 7)


def test_a_cursor_is_url_safe_without_padding():
    for sort in SORTS:
        cursor = next_cursor(sort, 2 if "priority" in sort else T0, 123)
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor


@pytest.mark.parametrize("made_for, used_with", [("-created", "created"), ("created", "-updated"),
                                                 ("priority", "-priority"), ("-created", "-priority")])
def test_a_cursor_used_with_another_sort_is_refused(made_for, used_with):
    key = 1 if "priority" in made_for else T0
    error = refused_cursor(next_cursor(made_for, key, 5), used_with)
    assert error.code == "invalid_request"


@pytest.mark.parametrize("cursor", [
    "",
    "not a cursor!",
    "%%%%",
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),   # not UTF-8
    packed("just a string")[:-1] + "~",                    # not base64 at the end
    base64.urlsafe_b64encode(b"{not json").decode(),
    packed(None),
    packed(42),
    packed({"sort": "-created"}),
    packed(["-created", "2024-05-01T12:00:00Z"]),           # too few
    packed(["-created", "2024-05-01T12:00:00Z", 1, 2]),     # too many
    packed(["-created", 1714564800, 1]),                    # a number where a time belongs
    packed(["-created", "yesterday", 1]),                   # not a time
    packed(["-created", "2024-05-01T12:00:00Z", "one"]),    # not a number
    packed(["-created", "2024-05-01T12:00:00Z", None]),
    packed(["-nonsense", "2024-05-01T12:00:00Z", 1]),
], ids=["empty", "spaces", "percent", "not utf-8", "bad base64", "not json", "null", "number", "object", "two",
        "four", "epoch key", "word key", "word number", "null number", "unknown sort"])
def test_garbage_cursors_are_refused_as_a_bad_cursor_field(cursor):
    refused_cursor(cursor, "-created")


def test_an_unknown_sort_in_both_cursor_and_query_is_refused():
    refused_cursor(packed(["-nonsense", 1, 1]), "-nonsense")


@pytest.mark.parametrize("key", ["urgent", None], ids=["word", "null"])
def test_a_priority_cursor_whose_key_is_not_a_rank_is_refused(key):
    # Otherwise it reaches SQL: PostgreSQL fails on ('urgent' :: smallint) or
    # a NULL comparison silently returns an empty page.
    refused_cursor(packed(["-priority", key, 7]), "-priority")


# --- the query's own checks ----------------------------------------------------------------------


def test_an_empty_query_lists_newest_first_twenty_five_at_a_time():
    query = TicketQuery.from_dict({})
    assert (query.sort, query.limit, query.cursor) == (DEFAULT_SORT, DEFAULT_LIMIT, None) == ("-created", 25, None)


def test_a_query_from_the_gateway_keeps_its_filters_and_turns_lists_into_tuples():
    query = TicketQuery.from_dict({"status": ["open", "pending"], "priority": ["urgent"], "assignee_id": "none",
                                   "team": "payments", "q": "parcel", "sort": "priority", "limit": 10})
    assert query.status == ("open", "pending")
    assert query.priority == ("urgent",)
    assert (query.assignee_id, query.team, query.q, query.sort, query.limit) == ("none", "payments", "parcel",
                                                                                 "priority", 10)


@pytest.mark.parametrize("field, raw", [("status", {"status": ["open", "reopened"]}),
                                        ("priority", {"priority": ["critical"]}),
                                        ("sort", {"sort": "subject"}),
                                        ("sort", {"sort": ""}),
                                        ("limit", {"limit": 0}),
                                        ("limit", {"limit": MAX_LIMIT + 1}),
                                        ("limit", {"limit": -3})])
def test_bad_values_are_refused_naming_the_field(field, raw):
    with pytest.raises(InvalidQuery) as info:
        TicketQuery.from_dict(raw)
    assert list(info.value.errors) == [field]


@pytest.mark.parametrize("sort", ["--created", "---priority"])
def test_a_sort_with_more_than_one_minus_is_refused(sort):
    # The message offers "created, -created, ..."; "--created" is none of them.
    with pytest.raises(InvalidQuery) as info:
        TicketQuery.from_dict({"sort": sort})
    assert list(info.value.errors) == ["sort"]


@pytest.mark.parametrize("limit", [1, MAX_LIMIT])
def test_limits_at_the_bounds_are_accepted(limit):
    assert TicketQuery.from_dict({"limit": limit}).limit == limit


def test_a_limit_is_a_whole_number_as_every_list_reads_it():
    assert TicketQuery.from_dict({"limit": "10"}).limit == 10  # a query string's digits
    for limit in (True, 2.5, "ten"):
        with pytest.raises(InvalidQuery) as info:
            TicketQuery.from_dict({"limit": limit})
        assert list(info.value.errors) == ["limit"]


def test_a_customer_sees_only_their_own_tickets_whatever_they_asked_for():
    asked = TicketQuery.from_dict({"customer_id": "cus_other", "status": ["open"]})
    scoped = asked.only_customer("cus_me")
    assert scoped.customer_id == "cus_me"
    assert scoped.status == ("open",)
    assert asked.customer_id == "cus_other"  # a new query; the original is unchanged


def test_a_query_is_immutable():
    with pytest.raises(FrozenInstanceError):
        TicketQuery().limit = 1000  # type: ignore[misc]


# --- the SQL: filters bound as parameters, never interpolated ----------------------------------------


def assert_placeholders_match(conn: FakeConnection) -> None:
    assert conn.sql.count("%s") == len(conn.params)


def test_the_plainest_list_is_the_stores_newest_first():
    conn, _ = listed(TicketQuery())
    assert "FROM helpdesk_tickets.ticket_list WHERE store_id = %s ORDER BY created_at DESC, number DESC LIMIT %s" \
        in conn.sql
    assert conn.params == ["store-1", DEFAULT_LIMIT + 1]


def test_every_filter_becomes_a_bound_condition():
    query = TicketQuery(status=("open", "pending"), priority=("high",), assignee_id="agt_1", team="payments",
                        type="refund", tag="  VIP ", customer_id="cus_1", limit=5)
    conn, _ = listed(query)
    for condition in ("store_id = %s", "status = ANY(%s)", "priority = ANY(%s)", "assignee_id = %s", "team = %s",
                      "type = %s", "customer_id = %s", "tags @> ARRAY[%s]::text[]"):
        assert condition in conn.sql
    assert conn.params == ["store-1", ["open", "pending"], ["high"], "agt_1", "payments", "refund", "cus_1", "vip",
                           6]
    assert_placeholders_match(conn)
    for value in ("agt_1", "payments", "refund", "cus_1", "vip", "open"):
        assert value not in conn.sql


def test_assignee_none_lists_unassigned_tickets():
    conn, _ = listed(TicketQuery(assignee_id="none"))
    assert "assignee_id IS NULL" in conn.sql
    assert "none" not in conn.params
    assert_placeholders_match(conn)


def test_search_text_is_bound_lowercased_with_like_wildcards_escaped():
    search = "50%_Off 'SALE'; DROP TABLE x; -- \\"
    conn, _ = listed(TicketQuery(q=search))
    assert "search_text LIKE %s" in conn.sql
    assert conn.params[1] == "%50\\%\\_off 'sale'; drop table x; -- \\\\%"
    for fragment in ("50", "sale", "DROP", "'", "--"):
        assert fragment not in conn.sql
    assert_placeholders_match(conn)


def test_an_empty_search_adds_no_condition():
    conn, _ = listed(TicketQuery(q=""))
    assert "LIKE" not in conn.sql


@pytest.mark.parametrize("sort, order", [("created", "created_at ASC, number ASC"),
                                         ("-updated", "updated_at DESC, number DESC"),
                                         ("priority", "priority_rank ASC, number ASC"),
                                         ("-priority", "priority_rank DESC, number DESC")])
def test_each_sort_orders_by_its_column_then_number(sort, order):
    conn, _ = listed(TicketQuery(sort=sort))
    assert f"ORDER BY {order} LIMIT %s" in conn.sql
    assert conn.sql.split(" FROM ")[0].endswith(order.split()[0])  # the key is selected for the next cursor


@pytest.mark.parametrize("sort, comparison", [("-created", "<"), ("created", ">")])
def test_a_cursor_continues_after_the_last_row_in_the_sort_direction(sort, comparison):
    conn, _ = listed(TicketQuery(sort=sort, cursor=next_cursor(sort, T0, 17)))
    assert f"(created_at, number) {comparison} (%s, %s)" in conn.sql
    assert conn.params[-3:] == [T0, 17, DEFAULT_LIMIT + 1]
    assert_placeholders_match(conn)


def test_a_cursor_from_another_sort_is_refused_before_any_sql():
    conn = FakeConnection()
    with pytest.raises(InvalidQuery):
        list_tickets(conn, "helpdesk_tickets", "store-1", TicketQuery(sort="created",
                                                                      cursor=next_cursor("-created", T0, 1)))
    assert conn.statements == []


# --- pages: one extra row says whether there is a next page -------------------------------------


def test_fewer_rows_than_a_page_means_no_next_cursor():
    _, page = listed(TicketQuery(limit=3), rows=[row(9), row(8)])
    assert [item["number"] for item in page["items"]] == [9, 8]
    assert page["next_cursor"] is None


def test_exactly_a_page_of_rows_means_no_next_cursor():
    _, page = listed(TicketQuery(limit=2), rows=[row(9), row(8)])
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


def test_one_row_more_than_a_page_means_a_cursor_after_the_last_row_shown():
    rows = [row(9, T0), row(8, T0 - timedelta(hours=1)), row(7, T0 - timedelta(hours=2))]
    _, page = listed(TicketQuery(limit=2), rows=rows)
    assert [item["number"] for item in page["items"]] == [9, 8]
    assert after(page["next_cursor"], "-created") == (T0 - timedelta(hours=1), 8)


def test_the_next_cursor_of_a_priority_list_carries_the_rank():
    rows = [row(3, sort_key=3), row(2, sort_key=2)]
    _, page = listed(TicketQuery(sort="-priority", limit=1), rows=rows)
    assert after(page["next_cursor"], "-priority") == (3, 3)


def test_following_the_next_cursor_asks_for_rows_after_the_last_one_shown():
    rows = [row(9, T0), row(8, T0 - timedelta(hours=1)), row(7, T0 - timedelta(hours=2))]
    _, first = listed(TicketQuery(limit=2), rows=rows)
    conn, _ = listed(TicketQuery(limit=2, cursor=first["next_cursor"]), rows=rows[2:])
    assert conn.params[-3:] == [T0 - timedelta(hours=1), 8, 3]


def test_items_are_the_api_shape_with_times_in_utc():
    _, page = listed(TicketQuery(), rows=[row(5)])
    assert page["items"] == [{
        "id": "ticket-5", "number": 5, "status": "open", "status_label": None, "priority": "normal",
        "type": "question", "subject": "Subject 5", "customer_id": "cus_1", "order_id": None, "assignee_id": None,
        "team": None, "tags": ["vip"], "message_count": 1, "version": 1,
        "created_at": "2024-05-01T12:00:00.123456Z", "updated_at": "2024-05-01T12:05:00.123456Z",
        "handled_by": "store", "store_id": "store-1", "topic_id": None,
    }]


def test_only_the_platform_queue_spans_stores():
    conn, _ = listed(TicketQuery(), store_id=None, handled_by="platform")
    assert "store_id = %s" not in conn.statements[-1][0] and conn.params[0] == "platform"
    with pytest.raises(ValueError):
        listed(TicketQuery(), store_id=None)


def test_an_empty_store_lists_nothing():
    assert listed(TicketQuery())[1] == {"items": [], "next_cursor": None}
