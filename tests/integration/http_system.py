"""The tickets, customers and notifications services and the gateway as real
processes, for tests through HTTP.

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
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import kombu
import requests

ROOT = Path(__file__).resolve().parents[2]
# The gateway last, as in deploy/local.
SERVICES = ("tickets", "customers", "notifications", "gateway")
ATTACHMENT_TEST_MAX_BYTES = 1024 * 1024
# Retries within seconds instead of minutes: about 20 s before a delivery is dead.
NOTIFY_TEST_RETRY_SCHEDULE = "0.5,1,1,2,2,3,3,5"


def rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)


def can_make_vhosts() -> bool:
    return shutil.which("rabbitmqctl") is not None and rabbitmqctl("list_vhosts").returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ticket_path(ticket: dict) -> str:
    return f"/v1/tickets/{ticket['id']}"


def ok(response, status=200) -> dict:
    """The JSON body of a response that has ``status``."""
    assert response.status_code == status, response.text
    return response.json()


@dataclass
class Store:
    id: str
    owner_token: str


class Api:
    """A thin HTTP client: ``api.post("/v1/tickets", token, json={...})``."""

    def __init__(self, base_url: str, platform_key: str):
        self.base_url = base_url
        self.platform_key = platform_key
        self.http = requests.Session()

    def request(self, method, path, token=None, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token, **kw)

    def post(self, path, token=None, **kw):
        return self.request("POST", path, token, **kw)

    def delete(self, path, token=None, **kw):
        return self.request("DELETE", path, token, **kw)

    def patch(self, path, token=None, **kw):
        return self.request("PATCH", path, token, **kw)

    def put(self, path, token=None, **kw):
        return self.request("PUT", path, token, **kw)

    def upload(self, path, token, filename: str, content: bytes, content_type="application/octet-stream", **kw):
        """``multipart/form-data`` with the file in the part named ``file``."""
        return self.request("POST", path, token, files={"file": (filename, content, content_type)}, **kw)

    # --- set-up in a few words ---------------------------------------------------

    def new_store(self, name="Test store") -> Store:
        r = self.post("/v1/stores", self.platform_key, json={"name": name})
        assert r.status_code == 201, r.text
        return Store(r.json()["id"], r.json()["owner_token"])

    def new_agent(self, store: Store, role="agent", name="Sara") -> dict:
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        r = self.post("/v1/agents", store.owner_token, json={"name": name, "email": email, "role": role})
        assert r.status_code == 201, r.text
        return r.json()

    def new_customer(self, store: Store, name="Noura", mobile=None, **fields) -> dict:
        """A customer card; a random Saudi mobile unless one is given."""
        mobile = mobile or f"+96650{uuid.uuid4().int % 10**7:07d}"  # 50: a Saudi mobile range
        r = self.post("/v1/customers", store.owner_token, json={"name": name, "mobile": mobile, **fields})
        assert r.status_code == 201, r.text
        return r.json()

    def customer_token(self, store: Store, customer_id=None) -> tuple[str, str]:
        """A help-widget session (and a new customer card unless ``customer_id`` names one)."""
        customer_id = customer_id or self.new_customer(store)["id"]
        r = self.post(f"/v1/customers/{customer_id}/sessions", store.owner_token)
        assert r.status_code == 201, r.text
        return customer_id, r.json()["token"]

    def open_ticket(self, token, **fields) -> dict:
        body = {"subject": "Charged but no order number", "body": "I paid twice and got no order.", **fields}
        r = self.post("/v1/tickets", token, json=body)
        assert r.status_code == 201, r.text
        return r.json()


class System:
    """Start the processes; ``stop()`` them and drop what they created."""

    def __init__(self, database_url: str, amqp_root: str, platform_key: str, log_dir: Path):
        self.suffix = uuid.uuid4().hex[:8]
        self.vhost = f"seed_test_{self.suffix}"
        self.database_url = database_url
        self.port = free_port()
        self.schemas = {svc: f"t_{svc}_{self.suffix}" for svc in SERVICES}
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "AMQP_URI": f"{amqp_root.rstrip('/')}/{self.vhost}",
            "BUS_PREFIX": "seed",
            "GATEWAY_PORT": str(self.port),
            "HELPDESK_PLATFORM_KEY": platform_key,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "ATTACHMENTS_DIR": str(log_dir / "attachments"),
            "ATTACHMENT_MAX_BYTES": str(ATTACHMENT_TEST_MAX_BYTES),
            **{f"{svc.upper()}_DB_SCHEMA": schema for svc, schema in self.schemas.items()},
        }
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
        self.processes: dict[str, subprocess.Popen] = {}
        self.api = Api(f"http://127.0.0.1:{self.port}", platform_key)

    def start(self) -> "System":
        assert rabbitmqctl("add_vhost", self.vhost).returncode == 0
        assert rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*").returncode == 0
        self.smtp.start()
        for svc in SERVICES:
            self.start_service(svc)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.api.get("/v1/tickets").status_code == 401 and self._backends_up():
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the system did not come up:\n{self.logs()}")
            time.sleep(0.3)

    def _backends_up(self) -> bool:
        r = self.api.get("/health")
        services = r.json()["services"] if r.status_code in (200, 503) else {}
        return all("database" in services.get(svc, {}) for svc in SERVICES if svc != "gateway")

    def start_service(self, svc: str, replica: int = 1) -> None:
        log = open(self.log_dir / f"{svc}.{replica}.log", "ab")
        self.processes[f"{svc}.{replica}"] = subprocess.Popen(
            [sys.executable, "-m", "seedwork.launch", svc], env=self.env, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
        self.smtp.stop()
        rabbitmqctl("delete_vhost", self.vhost)
        from tests.integration.conftest import drop_schema
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
        self.vhost = system.vhost
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


# --- small helpers for the test_api_* files ----------------------------------------

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: requests.Response, status: int, code: str | None = None, fields=()) -> dict:
    """``response`` is an application/problem+json refusal with ``status`` (and
    ``code``), whose ``errors`` name each of ``fields``; returns its body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON), response.headers["Content-Type"]
    body = response.json()
    assert {"type", "title", "status", "detail", "code", "errors"} <= body.keys(), body
    assert body["status"] == status, body
    if code is not None:
        assert body["code"] == code, body
    for name in fields:
        assert name in body["errors"] and body["errors"][name], f"{name!r} not named in {body['errors']}"
    return body


def another_client(api: Api) -> Api:
    """A client with its own connection pool: one per thread."""
    return Api(api.base_url, api.platform_key)
