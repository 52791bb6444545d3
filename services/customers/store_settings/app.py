"""Reading and changing a store's customer settings (owners and admins; the
gateway checks the role)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from seedwork.caller import Caller
from seedwork.store import EventStore

from .domain import SettingsState, UpdateSettings, decide, fold, stream_id
from .projection import SettingsProjection


@dataclass(frozen=True)
class StoreSettings:
    store: EventStore
    projection: SettingsProjection
    clock: Callable[[], datetime]

    def get(self, caller: Caller) -> dict:
        with self.store.pool.connection() as conn:
            return self.projection.values(conn, caller.store_id)

    def update(self, caller: Caller, fields: dict) -> dict:
        """The settings after the change: only what differs is an event."""
        stream = stream_id(caller.store_id)
        with self.store.transaction() as conn:
            self.store.lock_stream(conn, stream)
            state = fold(self.store.load(stream, conn=conn), SettingsState(caller.store_id))
            events = decide(state, UpdateSettings(actor=caller.actor, fields=fields), self.clock())
            if events:
                state = fold(self.store.append(stream, state.version, events, conn=conn), state)
                self.projection.save(conn, state)
            return dict(state.values)
