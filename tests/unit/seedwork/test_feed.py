"""The event feed: one service's pages, and the platform's feed merged from
several logs with one cursor. Whatever the times, the hidden events and the
page size, reading page after page from any cursor gives every shown event
once, each source in its own order; a cursor not of this feed is a 400."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedwork import feed
from seedwork.envelope import Actor, Envelope
from seedwork.errors import InvalidQuery
from seedwork.pagination import encode_cursor

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=timezone.utc)
SOURCES = ("tickets", "customers", "gateway")
STORE = "st_1"


class Log:
    """A service's event store as ``feed.page`` reads it: ``read_all`` in position order."""

    def __init__(self):
        self.events: list[Envelope] = []

    def add(self, seconds: float, hidden: bool = False, store_id: str = STORE, position: int | None = None):
        position = position or (self.events[-1].position + 7 if self.events else 1 << 20)
        self.events.append(Envelope(uuid.uuid4(), "probe.done", 1, "s-1", len(self.events) + 1, position, store_id,
                                    Actor("system"), None, None, T0 + timedelta(seconds=seconds),
                                    {"hidden": hidden}))
        return self.events[-1]

    def read_all(self, after, limit, store_id=None):
        return [e for e in self.events if e.position > after and store_id in (None, e.store_id)][:limit]


def hiding(batch):
    return lambda event, cloudevent: None if event.data["hidden"] else cloudevent


def merged_page(logs, cursor, limit, scope=STORE):
    positions = feed.decode_cursor(cursor, scope, SOURCES)
    pages = {s: feed.page(log, s, positions[s], limit, STORE, view=hiding) for s, log in logs.items()}
    items, positions = feed.merge(pages, positions, limit, SOURCES)
    return items, feed.encode_cursor(scope, positions)


def read_to_the_end(logs, cursor=None, limit=3):
    """Every item from ``cursor`` on, page after page, until the cursor stops moving."""
    seen = []
    while True:
        items, after = merged_page(logs, cursor, limit)
        seen += items
        if after == cursor:
            return seen, cursor
        cursor = after


def ids(items):
    return [item["id"] for item in items]


# --- one service's page ----------------------------------------------------------------------


def test_a_page_skips_what_the_caller_may_not_see_and_moves_past_it():
    log = Log()
    shown, hidden, other_store = log.add(1), log.add(2, hidden=True), log.add(3, store_id="st_2")
    answer = feed.page(log, "tickets", 0, 10, STORE, view=hiding)
    assert ids(answer["items"]) == [str(shown.event_id)]
    assert answer["items"][0]["source"] == "/seed/tickets"
    assert answer["next_after"] == str(hidden.position)  # past the hidden event, not held back by it
    assert feed.page(log, "tickets", hidden.position, 10, STORE)["items"] == []
    assert feed.page(log, "tickets", hidden.position, 10, STORE)["next_after"] == str(hidden.position)
    assert ids(feed.page(log, "tickets", 0, 10)["items"])[-1] == str(other_store.event_id)  # every store


# --- the merged feed ---------------------------------------------------------------------------


def test_the_merged_feed_interleaves_by_time_and_never_reorders_a_source():
    logs = {s: Log() for s in SOURCES}
    a1, a2 = logs["tickets"].add(10), logs["tickets"].add(5)  # committed later, happened earlier
    b1 = logs["customers"].add(7)
    c1 = logs["gateway"].add(1)
    items, _ = merged_page(logs, None, 10)
    assert ids(items) == [str(e.event_id) for e in (c1, b1, a1, a2)]


def test_a_tie_in_time_goes_by_the_order_of_the_sources():
    logs = {s: Log() for s in SOURCES}
    g, c, t = logs["gateway"].add(1), logs["customers"].add(1), logs["tickets"].add(1)
    assert ids(merged_page(logs, None, 10)[0]) == [str(e.event_id) for e in (t, c, g)]


def test_each_source_moves_to_its_last_event_shown_or_past_what_it_hid():
    logs = {s: Log() for s in SOURCES}
    t1, t2 = logs["tickets"].add(1), logs["tickets"].add(4)
    c1, c_hidden = logs["customers"].add(2), logs["customers"].add(3, hidden=True)
    g1 = logs["gateway"].add(9)
    items, cursor = merged_page(logs, None, 2)
    assert ids(items) == [str(t1.event_id), str(c1.event_id)]
    positions = feed.decode_cursor(cursor, STORE, SOURCES)
    assert positions == {"tickets": t1.position, "customers": c_hidden.position, "gateway": 0}
    items, cursor = merged_page(logs, cursor, 2)
    assert ids(items) == [str(t2.event_id), str(g1.event_id)]
    assert merged_page(logs, cursor, 2) == ([], cursor)  # caught up: the same cursor back


def test_events_committed_after_a_page_come_on_the_next_one_once():
    logs = {s: Log() for s in SOURCES}
    first = [logs[s].add(i) for i, s in enumerate(SOURCES)]
    seen, cursor = read_to_the_end(logs)
    later = [logs["customers"].add(-50), logs["tickets"].add(100)]  # an old time does not hide it
    more, _ = read_to_the_end(logs, cursor)
    assert ids(seen) == [str(e.event_id) for e in first] and sorted(ids(more)) == sorted(str(e.event_id)
                                                                                           for e in later)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SOURCES), st.integers(0, 40), st.booleans()), max_size=40),
       st.integers(1, 6), st.integers(0, 40))
def test_paging_from_any_cursor_gives_every_shown_event_once_in_each_sources_order(events, limit, stop_after):
    logs = {s: Log() for s in SOURCES}
    for source, seconds, hidden in events[:stop_after]:
        logs[source].add(seconds, hidden)
    seen, cursor = read_to_the_end(logs, limit=limit)
    for source, seconds, hidden in events[stop_after:]:  # more arrive while the reader waits
        logs[source].add(seconds, hidden)
    more, _ = read_to_the_end(logs, cursor, limit=limit)
    seen += more
    for source, log in logs.items():
        expected = [str(e.event_id) for e in log.events if not e.data["hidden"]]
        assert [i["id"] for i in seen if i["source"] == f"/seed/{source}"] == expected
    assert len(seen) == len(set(ids(seen)))


# --- the cursor ----------------------------------------------------------------------------------


def test_no_cursor_is_the_beginning_and_a_source_it_does_not_name_starts_there_too():
    assert feed.decode_cursor(None, STORE, SOURCES) == dict.fromkeys(SOURCES, 0)
    older = feed.encode_cursor(STORE, {"tickets": 42})  # before the feed had the other sources
    assert feed.decode_cursor(older, STORE, SOURCES) == {"tickets": 42, "customers": 0, "gateway": 0}


def refused(cursor, scope=STORE):
    with pytest.raises(InvalidQuery) as info:
        feed.decode_cursor(cursor, scope, SOURCES)
    assert list(info.value.errors) == ["cursor"]


@pytest.mark.parametrize("cursor", [
    "", "not base64 !", "e30", encode_cursor("-created", 1, 2),  # nonsense, {}, another list's cursor
    encode_cursor("events", STORE, {"orders": 1}),  # a source this feed does not have
    encode_cursor("events", STORE, {"tickets": -1}), encode_cursor("events", STORE, {"tickets": 1 << 63}),
    encode_cursor("events", STORE, {"tickets": "12"}), encode_cursor("events", STORE, {"tickets": True}),
    encode_cursor("events", STORE, {"tickets": 1.5}), encode_cursor("events", STORE, [1, 2, 3]),
    encode_cursor("events", STORE), encode_cursor("events", STORE, {}, "more"), "x" * 1001,
])
def test_a_cursor_not_made_by_this_feed_is_refused_naming_cursor(cursor):
    refused(cursor)


def test_a_cursor_works_only_in_the_scope_it_was_made_for():
    cursor = feed.encode_cursor(STORE, {"tickets": 5})
    refused(cursor, scope="st_2")  # another store's (or the platform's for another store)
    refused(cursor, scope="*")
    assert feed.decode_cursor(cursor, STORE, SOURCES)["tickets"] == 5
