"""Where the real PostgreSQL and RabbitMQ are, and the scratch space tests
make on them: a schema per test (or per system), a RabbitMQ virtual host per
system of processes (Nameko's RPC queues are not prefixed), a free port."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from seedwork import db, migrations

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/seed_test")
AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
PLATFORM_KEY = "test-platform-key"


def new_schema(database_url: str, sources=()) -> str:
    """A fresh schema with the event store's tables (and ``sources``' migrations)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with db.connect(database_url, autocommit=True) as conn:
        migrations.migrate(conn, name, list(sources))
    return name


def drop_schema(database_url: str, name: str) -> None:
    with db.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rabbitmqctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout)


def vhosts_unavailable() -> str | None:
    """None if this machine can make RabbitMQ virtual hosts; otherwise why not."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not on PATH"
    try:
        result = rabbitmqctl("list_vhosts")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"rabbitmqctl failed: {exc!r}"
    if result.returncode != 0:
        return f"rabbitmqctl list_vhosts exited {result.returncode}: {result.stderr.strip()[:200]}"
    return None


class Vhost:
    """A RabbitMQ virtual host of its own, for one system of processes."""

    def __init__(self, name: str | None = None):
        self.name = name or f"seed_test_{uuid.uuid4().hex[:8]}"
        self.made = False

    def uri(self, amqp_root: str = AMQP_URI) -> str:
        return f"{amqp_root.rstrip('/')}/{self.name}"

    def create(self) -> "Vhost":
        for args in (("add_vhost", self.name), ("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")):
            result = rabbitmqctl(*args)
            if result.returncode != 0:
                raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()[:300]}")
            self.made = True
        return self

    def delete(self) -> str | None:
        """Deletes it; the error, if rabbitmqctl reported one."""
        if not self.made:
            return None
        self.made = False
        result = rabbitmqctl("delete_vhost", self.name)
        return result.stderr.strip()[:200] if result.returncode != 0 else None


@contextmanager
def private_vhost():
    """``with private_vhost() as vhost:`` a virtual host made for the test and
    deleted after it; the test is skipped where none can be made."""
    why_not = vhosts_unavailable()
    if why_not:
        pytest.skip(f"cannot create an isolated RabbitMQ virtual host: {why_not}")
    vhost = Vhost().create()
    try:
        yield vhost
    finally:
        vhost.delete()

