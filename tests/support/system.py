"""The tickets, customers and notifications services and the gateway as real
processes, for the end-to-end tests and the bench.

One system per test session (starting it takes seconds): a private RabbitMQ
virtual host (Nameko's RPC queues are not prefixed), fresh schemas, a free port.
Tests stay independent by creating their own stores.

Uploaded attachments go to a temporary directory, and the gateway runs with
``ATTACHMENT_MAX_BYTES`` = 1 MiB (``ATTACHMENT_TEST_MAX_BYTES``) so the 413 is
tested without sending 10 MB.

The notifications service sends its email to a real SMTP server in the test
process (``system.smtp``, deploy/local/smtp_sink.py), which a test may stop
and start again on the same port; its retry schedules are seconds long
(``NOTIFY_TEST_RETRY_SCHEDULE``), and webhooks may target loopback receivers
(``WEBHOOK_ALLOW_PRIVATE_TARGETS=true``).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import kombu
import requests

from .api import Api
from .processes import Services
from .servers import ROOT, Vhost, drop_schema, free_port, rabbitmqctl

# The gateway last, as in deploy/local.
SERVICES = ("tickets", "customers", "notifications", "reports", "gateway")
ATTACHMENT_TEST_MAX_BYTES = 1024 * 1024
# Retries within seconds instead of minutes: about 20 s before a delivery is dead.
NOTIFY_TEST_RETRY_SCHEDULE = "0.5,1,1,2,2,3,3,5"


def serving(http: requests.Session, base_url: str, backends) -> bool:
    """The gateway answers (401 without a token) and ``/health`` shows each
    backend with its database: the system can take requests."""
    if http.get(base_url + "/v1/tickets", timeout=5).status_code != 401:
        return False
    r = http.get(base_url + "/health", timeout=10)
    services = r.json().get("services", {}) if r.status_code in (200, 503) else {}
    return all("database" in services.get(svc, {}) for svc in backends)


def system_env(database_url: str, amqp_uri: str, platform_key: str, port: int, schemas: dict[str, str]) -> dict:
    """What every process of one system reads: where its servers, schemas and port are."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "AMQP_URI": amqp_uri,
        "BUS_PREFIX": "seed",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "HELPDESK_PLATFORM_KEY": platform_key,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **{f"{svc.upper()}_DB_SCHEMA": schema for svc, schema in schemas.items()},
    }


class System:
    """Start the processes; ``stop()`` them and drop what they created."""

    def __init__(self, database_url: str, amqp_root: str, platform_key: str, log_dir: Path):
        self.suffix = uuid.uuid4().hex[:8]
        self.vhost = Vhost(f"seed_test_{self.suffix}")
        self.database_url = database_url
        self.port = free_port()
        self.schemas = {svc: f"t_{svc}_{self.suffix}" for svc in SERVICES}
        self.env = system_env(database_url, self.vhost.uri(amqp_root), platform_key, self.port, self.schemas)
        self.env.update({
            "ATTACHMENTS_DIR": str(log_dir / "attachments"),
            "ATTACHMENT_MAX_BYTES": str(ATTACHMENT_TEST_MAX_BYTES),
            # Every answer is checked against its response schema: one that drifted is a 500.
            "GATEWAY_CHECK_RESPONSES": "true",
        })
        # The mail server the notifications service sends to, on a port it keeps across restarts.
        from deploy.local.smtp_sink import SmtpSink

        self.smtp = SmtpSink(port=free_port(), directory=log_dir / "mail")
        self.env.update({
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "SMTP_TLS": "none",
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "NOTIFY_RETRY_SCHEDULE": NOTIFY_TEST_RETRY_SCHEDULE,
            "WEBHOOK_RETRY_SCHEDULE": NOTIFY_TEST_RETRY_SCHEDULE,
        })
        self.log_dir = log_dir
        self.services = Services(self.env, log_dir)
        self.api = Api(f"http://127.0.0.1:{self.port}", platform_key)

    @property
    def processes(self):
        return self.services.processes

    def start(self) -> "System":
        self.vhost.create()
        self.smtp.start()
        for svc in SERVICES:
            self.start_service(svc)
        backends = [svc for svc in SERVICES if svc != "gateway"]
        self.services.wait_until(lambda: serving(self.api.http, self.api.base_url, backends), 60,
                                 "the system coming up")
        return self

    def start_service(self, svc: str, replica: int = 1) -> None:
        self.services.start(svc, replica)

    def logs(self) -> str:
        return self.services.logs()

    def stop(self) -> None:
        self.services.stop()
        self.smtp.stop()
        self.vhost.delete()
        for schema in self.schemas.values():
            drop_schema(self.database_url, schema)

    def table_rows(self):
        """``(schema.table, row as text)`` for every row of every table of the
        system's schemas (``SELECT t::text``): what a scan for leaked data reads."""
        from seedwork import db

        with db.connect(self.database_url, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
                (list(self.schemas.values()),)).fetchall()
            assert tables, f"no tables in {sorted(self.schemas.values())}"
            for schema, table in tables:
                name = f'"{schema}"."{table}"'
                for (text,) in conn.execute(f"SELECT t::text FROM {name} t"):
                    yield name, text


class Firehose:
    """Every message published or delivered on the system's virtual host, as
    RabbitMQ's firehose tracer copies them to ``amq.rabbitmq.trace``.

    ``with Firehose(system) as firehose: ...; firehose.messages()``. Tracing is
    on from ``__enter__`` to ``__exit__`` (``rabbitmqctl trace_on -p``); the
    capture queue is exclusive, so it goes with the connection."""

    def __init__(self, system: "System"):
        self.vhost = system.vhost.name
        self.amqp_uri = system.env["AMQP_URI"]
        self.captured: list[dict] = []

    def __enter__(self) -> "Firehose":
        self.connection = kombu.Connection(self.amqp_uri)
        self.channel = self.connection.channel()
        self.queue = f"firehose.{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        self.channel.queue_bind(self.queue, "amq.rabbitmq.trace", "#")  # the broker's own exchange: no declare
        result = rabbitmqctl("trace_on", "-p", self.vhost)
        assert result.returncode == 0, result.stderr
        return self

    def messages(self) -> list[dict]:
        """What was traced so far: ``{"routing_key", "headers", "body"}`` (the
        body as text; ``publish.<exchange>`` and ``deliver.<queue>`` keys)."""
        while True:
            message = self.channel.basic_get(self.queue, no_ack=True)
            if message is None:
                return self.captured
            body = message.body
            if isinstance(body, bytes):
                body = body.decode("utf-8", errors="replace")
            self.captured.append({"routing_key": message.delivery_info.get("routing_key"),
                                  "headers": dict(message.headers or {}), "body": body})

    def __exit__(self, *exc) -> None:
        rabbitmqctl("trace_off", "-p", self.vhost)
        try:
            self.channel.queue_delete(self.queue)
        finally:
            self.connection.release()
