"""End-to-end fixtures: every service and the gateway as real processes
(``tests/support/system.py``), one system for the whole session."""
from __future__ import annotations

import pytest

from tests.support.servers import AMQP_URI, PLATFORM_KEY, vhosts_unavailable
from tests.support.system import System


@pytest.fixture(scope="session")
def http_system(database_url, tmp_path_factory):
    """The four services, running, for tests through HTTP (one per session)."""
    why_not = vhosts_unavailable()
    if why_not:
        pytest.skip(f"cannot create an isolated RabbitMQ virtual host: {why_not}")
    system = System(database_url, AMQP_URI, PLATFORM_KEY, tmp_path_factory.mktemp("http-system"))
    try:
        yield system.start()
    finally:
        system.stop()


@pytest.fixture
def api(http_system):
    return http_system.api
