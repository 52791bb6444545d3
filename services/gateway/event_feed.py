"""``GET /v1/events``: one source's feed, or the platform's, merged from every
source (``seedwork.feed``: the cursor, the merge, why nothing is missed).

Each source scopes its own events to the caller: the tickets service shows a
store the tickets its platform review team handles only as
``store_view_of_event`` allows and hides from a team-scoped agent the tickets
they may not see; the customers service masks card numbers in its events' free
text; the notifications and reports services and the gateway (stores, staff,
plans) show a store all of its own. Sources are asked at once: the slowest is the wait.
"""
from __future__ import annotations

from seedwork import feed

SOURCES = ("tickets", "customers", "notifications", "reports", "gateway")
ALL = "all"
EVERY_STORE = "*"  # the scope of the platform key's feed without store_id


def read(services, caller, store_id: str | None, query: dict) -> dict:
    """The page ``query`` asks for (``source``, ``after`` or ``cursor``, ``limit``),
    of ``store_id``'s events (every store's: None). ``services`` is the route:
    the RPC proxies and the gateway's own identity store."""
    source, limit = query["source"], query["limit"]
    if source != ALL:
        return _ask(services, source, caller, store_id, int(query["after"]), limit)()
    scope = store_id or EVERY_STORE
    positions = feed.decode_cursor(query.get("cursor"), scope, SOURCES)
    pending = {s: _ask(services, s, caller, store_id, positions[s], limit) for s in SOURCES}
    pages = {s: answer() for s, answer in pending.items()}
    items, positions = feed.merge(pages, positions, limit, SOURCES)
    return {"items": items, "next_cursor": feed.encode_cursor(scope, positions)}


def _ask(services, source: str, caller, store_id: str | None, after: int, limit: int):
    """Start reading one source's page; the function returned waits for it."""
    if source == "gateway":
        answer = services.identity.events(store_id, after, limit)
        return lambda: answer
    extra = (caller,) if source == "tickets" else ()  # who reads: team visibility is the tickets service's
    return getattr(services, source).events.call_async(store_id, after, limit, *extra).result
