"""Integration fixtures: the real PostgreSQL and RabbitMQ, each test isolated.

Every test gets its own PostgreSQL schema (in the ``seed_test`` database) and
its own bus prefix, so exchanges and queues never collide with another test or
with a running ``make run``. Both are removed afterwards.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import kombu
import pytest

from seedwork import db, migrations
from seedwork.bus import ConsumerQueues, exchange_name, unrouted_name
from seedwork.config import SERVICES
from seedwork.store import EventStore

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("probe")
DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/seed_test")
AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
PLATFORM_KEY = "test-platform-key"

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def database_url():
    db.ensure_database(DATABASE_URL)
    return DATABASE_URL


@pytest.fixture(scope="session")
def pool(database_url):
    pool = db.make_pool(database_url, max_size=24, name="tests")
    yield pool
    pool.close()


def new_schema(database_url, sources=()):
    name = f"t_{uuid.uuid4().hex[:12]}"
    with db.connect(database_url, autocommit=True) as conn:
        migrations.migrate(conn, name, list(sources))
    return name


def drop_schema(database_url, name):
    with db.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def schema(database_url):
    name = new_schema(database_url)  # the probe's own tables: created when it starts
    yield name
    drop_schema(database_url, name)


@pytest.fixture
def store(pool, schema):
    return EventStore(pool, schema)


class Bus:
    """A private corner of the broker: names under a unique prefix."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.connection = kombu.Connection(AMQP_URI)
        self.channel = self.connection.channel()
        self.queues: set[str] = {unrouted_name(prefix)}

    def exchange(self, service: str) -> str:
        return exchange_name(self.prefix, service)

    def track(self, *names: str) -> None:
        self.queues.update(names)

    def track_consumer(self, queues: ConsumerQueues) -> None:
        self.track(queues.name, queues.dlq, *(queues.retry_queue(i) for i in range(len(queues.retry_delays))))

    def bind_queue(self, service: str, routing_key: str = "#") -> str:
        """A durable queue receiving the service's events (declares the exchange)."""
        from seedwork.bus import declare_exchange

        exchange = declare_exchange(self.channel, self.prefix, service)
        name = f"{self.prefix}.test.{uuid.uuid4().hex[:6]}"
        kombu.Queue(name, exchange=exchange, routing_key=routing_key, durable=True).declare(channel=self.channel)
        self.track(name)
        return name

    def depth(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).message_count

    def drain(self, queue: str, expect: int | None = None, timeout: float = 15.0) -> list:
        """Get and ack messages; with ``expect``, wait until that many arrived."""
        got, deadline = [], time.monotonic() + timeout
        while True:
            message = self.channel.basic_get(queue, no_ack=True)
            if message is not None:
                got.append(message)
                continue
            if expect is None or len(got) >= expect or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def close(self) -> None:
        for name in self.queues:
            self._quietly(self.channel.queue_delete, name)
        for service in (*SERVICES, "probe"):
            self._quietly(self.channel.exchange_delete, exchange_name(self.prefix, service))
        self._quietly(self.channel.exchange_delete, unrouted_name(self.prefix))
        self.connection.release()

    def _quietly(self, operation, name) -> None:
        try:
            operation(name)
        except Exception:  # the broker closes the channel on an error: reopen it
            self.channel = self.connection.channel()


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


class Process:
    """A child process with its output in a file, stopped at the end of the test."""

    def __init__(self, args, env, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited ({self.popen.returncode}) before {text!r}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


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


def read_all_settled(store, after=0, count=None, timeout=10.0):
    """``read_all`` once ``count`` events are visible. Any transaction running
    anywhere in the cluster briefly holds the reader back (by design: it may
    still commit below), and other tests or processes run transactions too."""
    deadline = time.monotonic() + timeout
    while True:
        events = store.read_all(after, limit=100_000)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.02)


def cloudevent(message) -> dict:
    return json.loads(message.body)


@pytest.fixture(scope="session")
def http_system(database_url, tmp_path_factory):
    """Tickets and the gateway, running, for tests through HTTP (one per session)."""
    from tests.integration.http_system import System, can_make_vhosts

    if not can_make_vhosts():
        pytest.skip("rabbitmqctl is not usable here: cannot create an isolated virtual host")
    system = System(database_url, AMQP_URI, PLATFORM_KEY, tmp_path_factory.mktemp("http-system"))
    try:
        yield system.start()
    finally:
        system.stop()


@pytest.fixture
def api(http_system):
    return http_system.api
