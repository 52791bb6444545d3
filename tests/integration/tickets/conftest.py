"""The tickets service layer in process, over a migrated schema of its own,
with a clock the test moves (``build(store, clock=clock)``)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from seedwork.store import EventStore
from tests.support.servers import ROOT, drop_schema, new_schema

MIGRATIONS = ROOT / "services" / "tickets" / "migrations"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def tickets_schema(database_url):
    name = new_schema(database_url, [("tickets", MIGRATIONS)])
    yield name
    drop_schema(database_url, name)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(pool, tickets_schema):
    return EventStore(pool, tickets_schema)
