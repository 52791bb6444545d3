"""The event feed: a service's events for one caller, page after page, and
the platform's feed merged from several services' (``GET /v1/events``).

**One service's page** (``page``): ``read_all`` after a position (one store's
events, or every store's), each event as its CloudEvent, shown as the service
decides for the caller, or hidden (``view``). ``next_after`` is the position of
the last event *read*, shown or not, so hidden events never hold a reader
back; a page may therefore be empty while the feed goes on. The reader is
caught up when ``next_after`` is the ``after`` it sent. ``read_all`` only
returns events below the oldest running transaction, so a position, once
passed, never has an event committed behind it: paging by ``next_after``
sees every event once.

**The merged feed** (``merge``): each service's log has its own global order,
and positions of different logs are not comparable. A page of the merged
feed reads one page of each source after the source's own position, merges
them by ``time`` (then by the sources' order) without ever reordering one
source's events, and keeps the first ``limit``. Each source's position then
moves to its last event kept, or to its ``next_after`` when every event it
showed was kept. The cursor (``encode_cursor``) is those positions with the
feed's scope, as base64url JSON; ``decode_cursor`` reads them back with
``seedwork.pagination``'s strict readers, so a cursor that did not come from
this feed with this scope is a 400 naming ``cursor``. Resuming from any
cursor gives every event after it exactly once, per source in that source's
order; the order *across* sources is by time as far as one page sees, not a
promise. A source the cursor does not name starts at 0, so a feed that gains
a source later gives its whole history once.
"""
from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Sequence

from .envelope import Envelope, to_cloudevent
from .pagination import decode_cursor as _decode, encode_cursor as _encode, exactly, integer
from .store import EventStore

MAX_POSITION = (1 << 63) - 1  # a bigint
KIND = "events"  # the first value of every cursor of the merged feed

Show = Callable[[Envelope, dict], "dict | None"]
View = Callable[[Sequence[Envelope]], Show]


def page(store: EventStore, service: str, after: int, limit: int, store_id: str | None = None,
         view: View | None = None) -> dict:
    """Up to ``limit`` events after ``after`` (one store's with ``store_id``) as
    ``{"items": [CloudEvent], "next_after": "<position>"}``. ``view(batch)``
    gives the function that shows each event of the batch as the caller may
    see it (its CloudEvent, changed or not), or hides it (None)."""
    batch = store.read_all(after, limit, store_id=store_id)
    show = view(batch) if view is not None else None
    items = []
    for event in batch:
        cloudevent = to_cloudevent(event, service)
        if show is not None:
            cloudevent = show(event, cloudevent)
        if cloudevent is not None:
            items.append(cloudevent)
    return {"items": items, "next_after": str(batch[-1].position) if batch else str(after)}


# --- the merged feed ---------------------------------------------------------------------


def merge(pages: Mapping[str, dict], positions: Mapping[str, int], limit: int,
          sources: Sequence[str]) -> tuple[list[dict], dict[str, int]]:
    """The first ``limit`` events of the sources' ``pages`` (each ``page``'s
    answer, read after the source's position in ``positions``), merged by time
    then by the order of ``sources``; and each source's position after them."""
    rank = {source: i for i, source in enumerate(sources)}

    def keyed(source: str) -> Iterable[tuple]:
        for n, item in enumerate(pages[source]["items"]):
            yield (_instant(item["time"]), rank[source], n), source, item

    # heapq.merge takes the earliest head each time: one source's events never change places.
    merged = heapq.merge(*(keyed(source) for source in sources if source in pages))
    items: list[dict] = []
    kept: dict[str, list[dict]] = {source: [] for source in pages}
    for _, source, item in merged:
        if len(items) == limit:
            break
        items.append(item)
        kept[source].append(item)
    after = dict(positions)
    for source, answer in pages.items():
        if len(kept[source]) == len(answer["items"]):  # all it showed: past what it read and hid, too
            after[source] = int(answer["next_after"])
        elif kept[source]:
            after[source] = int(kept[source][-1]["position"])
    return items, after


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)  # RFC 3339 with Z (Python 3.11)


def encode_cursor(scope: str, positions: Mapping[str, int]) -> str:
    """The merged feed's cursor: its scope (a store id, or ``*`` for every
    store) and each source's position."""
    return _encode(KIND, scope, dict(positions))


def decode_cursor(cursor: str | None, scope: str, sources: Sequence[str]) -> dict[str, int]:
    """Each source's position (0 for one the cursor does not name; every one
    with no cursor); ``InvalidQuery`` naming ``cursor`` for anything but a
    cursor of this feed with this scope."""
    if cursor is None:
        return dict.fromkeys(sources, 0)
    _, _, positions = _decode(cursor, exactly(KIND), exactly(scope), _positions(sources))
    return {source: positions.get(source, 0) for source in sources}


def _positions(sources: Sequence[str]) -> Callable[[Any], dict[str, int]]:
    def read(value: Any) -> dict[str, int]:
        if not isinstance(value, dict) or not set(value) <= set(sources):
            raise ValueError("positions of this feed's sources")
        for position in value.values():
            if not 0 <= integer(position) <= MAX_POSITION:
                raise ValueError("a position")
        return value
    return read
