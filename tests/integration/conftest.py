"""Integration fixtures: the real PostgreSQL and RabbitMQ, each test isolated.

Every test gets its own PostgreSQL schema (in the ``seed_test`` database) and
its own bus prefix, so exchanges and queues never collide with another test or
with a running ``make run``. Both are removed afterwards.
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from seedwork import db
from seedwork.store import EventStore
from tests.support.bus import Bus
from tests.support.processes import Process
from tests.support.servers import AMQP_URI, PLATFORM_KEY, ROOT, drop_schema, new_schema
from tests.support.servers import private_vhost as new_vhost

PROBE = Path(__file__).with_name("probe")


@pytest.fixture(scope="session")
def pool(database_url):
    pool = db.make_pool(database_url, max_size=24, name="tests")
    yield pool
    pool.close()


@pytest.fixture
def schema(database_url):
    name = new_schema(database_url)  # the probe's own tables: created when it starts
    yield name
    drop_schema(database_url, name)


@pytest.fixture
def store(pool, schema):
    return EventStore(pool, schema)


@pytest.fixture
def bus():
    bus = Bus(f"t{uuid.uuid4().hex[:12]}")
    yield bus
    bus.close()


@pytest.fixture
def service_env(database_url, schema, bus):
    """Environment for a subprocess that is the probe service (or its relay)."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url,
        "PROBE_DB_SCHEMA": schema,
        "AMQP_URI": AMQP_URI,
        "BUS_PREFIX": bus.prefix,
        "PYTHONPATH": str(ROOT),
        "CONSUMER_RETRY_DELAYS": "0.2,0.4",
        "PYTHONUNBUFFERED": "1",
        "HELPDESK_PLATFORM_KEY": PLATFORM_KEY,
    })
    return env


@pytest.fixture
def processes(tmp_path, service_env):
    """Start child processes: ``processes.probe_service()``, ``processes.relay()``."""

    class Processes:
        started: list[Process] = []

        def start(self, name, args, env=None) -> Process:
            p = Process(args, env or service_env, tmp_path / f"{name}-{len(self.started)}.log")
            self.started.append(p)
            return p

        def probe_service(self, env=None) -> Process:
            code = ("from pathlib import Path; from seedwork.launch import nameko_run; "
                    f"nameko_run(Path({str(PROBE / 'config.yml')!r}), 'tests.integration.probe.service')")
            return self.start("probe", [sys.executable, "-c", code], env)

        def relay(self, env=None) -> Process:
            return self.start("relay", [sys.executable, "-m", "seedwork", "relay", "probe"], env)

    procs = Processes()
    procs.started = []
    yield procs
    for p in procs.started:
        p.stop()


# --- one service in this process: Nameko's container_factory ------------------------------


@pytest.fixture(scope="module")
def private_vhost():
    """A RabbitMQ virtual host for this module's service containers: their RPC
    queues (``rpc-<service>``, not prefixed) answer nobody else's calls."""
    with new_vhost() as vhost:
        yield vhost


@pytest.fixture
def run_service(container_factory, private_vhost, database_url, monkeypatch):
    """``container = run_service(TicketsService, customers=FakeCustomers())``:
    the service class started in this process by Nameko's ``container_factory``
    on the real PostgreSQL (a fresh schema) and RabbitMQ (the module's virtual
    host, a fresh bus prefix). Dependencies named as keywords are replaced
    with the given objects (``replace_dependencies``): the other services,
    which lie outside the bounded context; environment variables are
    ``env={...}``. Call its entrypoints with ``nameko.testing.services.entrypoint_hook``."""
    from eventlet import patcher
    from nameko.testing.services import replace_dependencies

    if not patcher.is_monkey_patched("socket"):
        pytest.fail("a service container needs eventlet: run `python -m tests.support.green tests/integration` "
                    "(what `make test-integration` does), not plain pytest")
    schemas, containers = [], []

    def run(service_cls, env=None, **replacements):
        schema = f"t_{service_cls.name}_{uuid.uuid4().hex[:8]}"
        schemas.append(schema)
        for key, value in {"DATABASE_URL": database_url, f"{service_cls.name.upper()}_DB_SCHEMA": schema,
                           "AMQP_URI": private_vhost.uri(), "BUS_PREFIX": f"t{uuid.uuid4().hex[:10]}",
                           "PLATFORM_KEY": PLATFORM_KEY, **(env or {})}.items():
            monkeypatch.setenv(key, value)
        container = container_factory(service_cls, {"AMQP_URI": private_vhost.uri()})
        if replacements:
            replace_dependencies(container, **replacements)
        container.start()
        containers.append(container)
        return container

    yield run
    for container in containers:  # before their schemas go
        container.kill()
    for schema in schemas:
        drop_schema(database_url, schema)
