"""Fixtures every level of the suite may use. Integration and end-to-end
tests (``tests/integration``, ``tests/e2e``) need the real PostgreSQL and
RabbitMQ and are marked ``integration``; ``tests/unit`` needs no server."""
from __future__ import annotations

from pathlib import Path

import pytest

from seedwork import db
from tests.support.servers import DATABASE_URL

SERVER_LEVELS = ("integration", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.fspath).relative_to(Path(__file__).parent).parts[0] in SERVER_LEVELS:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def database_url():
    db.ensure_database(DATABASE_URL)
    return DATABASE_URL
