"""The reports service layer in process, over a migrated schema of its own;
the tickets it hears about are made by the tickets service layer on a schema
of its own (as on the bus, the reports read only the events)."""
from __future__ import annotations

import pytest

from seedwork.consumer import process_once
from seedwork.store import EventStore
from services.reports.application import build as build_reports
from services.tickets.application import build as build_tickets
from tests.integration.tickets.conftest import Clock
from tests.support.servers import ROOT, drop_schema, new_schema

MIGRATIONS = ROOT / "services" / "reports" / "migrations"
TICKETS_MIGRATIONS = ROOT / "services" / "tickets" / "migrations"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def reports_schema(database_url):
    name = new_schema(database_url, [("reports", MIGRATIONS)])
    yield name
    drop_schema(database_url, name)


@pytest.fixture
def another_reports_schema(database_url):
    name = new_schema(database_url, [("reports", MIGRATIONS)])
    yield name
    drop_schema(database_url, name)


@pytest.fixture
def tickets(pool, database_url, clock):
    name = new_schema(database_url, [("tickets", TICKETS_MIGRATIONS)])
    yield build_tickets(EventStore(pool, name), clock=clock)
    drop_schema(database_url, name)


def reports_on(pool, schema, clock):
    return build_reports(EventStore(pool, schema), clock=clock)


def once_for(reports, consumer="reports.on_ticket_event"):
    """What ``self.db.once`` is in the service: exactly once per event id."""
    def once(event, effect):
        ran, _ = process_once(reports.store.pool, reports.store.schema, consumer, event.event_id, effect)
        return ran
    return once
