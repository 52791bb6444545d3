"""What the event store would hand back for ``decide``'s events: the unit
tests fold them without a database."""
from __future__ import annotations

from typing import Iterable

from seedwork.envelope import Envelope, NewEvent


def stored(events: Iterable[NewEvent], after_version: int = 0, stream_id: str = "stream") -> list[Envelope]:
    """Versions ``after_version + 1, ...`` on ``stream_id``."""
    return [Envelope(e.event_id, e.type, e.schema_version, stream_id, after_version + n, after_version + n,
                     e.store_id, e.actor, e.correlation_id, e.causation_id, e.occurred_at, e.data)
            for n, e in enumerate(events, 1)]
