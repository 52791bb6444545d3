"""The services and the gateway as real processes, for the HTTP and notifications benches.

``python -m seedwork.launch tickets|gateway``, each in its own session, with:

- a private RabbitMQ virtual host ``bench_<hex>`` (Nameko's RPC exchange and
  reply queues are not prefixed, so a vhost is what keeps them apart from a
  running ``make run``), made and deleted with ``rabbitmqctl``;
- fresh schemas ``bench_<hex>_tickets`` / ``bench_<hex>_gateway``, made by
  the services' own migrations at start-up and dropped by ``Scratch.cleanup``;
- a free port on 127.0.0.1 and a random ``HELPDESK_PLATFORM_KEY``.

Their logs go to a temporary directory, removed at the end unless the start
failed (the path is printed then).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from .common import Scratch, Settings, log

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("tickets", "customers", "gateway")
START_TIMEOUT = 90.0


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)


def vhosts_available() -> str | None:
    """None if this machine can make RabbitMQ virtual hosts; else why not."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not on PATH"
    try:
        result = rabbitmqctl("list_vhosts")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"rabbitmqctl failed: {exc!r}"
    if result.returncode != 0:
        return f"rabbitmqctl list_vhosts exited {result.returncode}: {result.stderr.strip()[:200]}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Store:
    id: str
    owner_token: str


class Client:
    """One HTTP client with its own keep-alive connection (``requests.Session``)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, expect: int = 200, **kwargs) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = self.http.request(method, self.base_url + path, headers=headers, timeout=60, **kwargs)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path}: expected {expect}, got {r.status_code}: {r.text[:300]}")
        return r.json()

    def close(self) -> None:
        self.http.close()


class System:
    """Start the two processes; ``stop()`` them and delete the vhost. The
    schemas are registered with ``scratch``, which drops them."""

    def __init__(self, settings: Settings, scratch: Scratch, services: tuple[str, ...] = SERVICES,
                 env: dict[str, str] | None = None):
        self.settings = settings
        self.services = services
        self.vhost = settings.prefix
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.platform_key = "bench-" + secrets.token_urlsafe(16)
        self.schemas = {svc: f"{settings.prefix}_{svc}" for svc in services}
        scratch.schemas += list(self.schemas.values())
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"{settings.prefix}_http_"))
        root = settings.amqp_uri.rstrip("/")
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "AMQP_URI": f"{root}/{self.vhost}",
            "BUS_PREFIX": "seed",
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "HELPDESK_PLATFORM_KEY": self.platform_key,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **{f"{svc.upper()}_DB_SCHEMA": schema for svc, schema in self.schemas.items()},
            **(env or {}),
        }
        for key in ("TICKETS_DATABASE_URL", "GATEWAY_DATABASE_URL", "HELPDESK_TOKEN_SECRET"):
            self.env.pop(key, None)
        self.processes: dict[str, subprocess.Popen] = {}
        self.vhost_made = False
        self.failed = False

    # --- life cycle -----------------------------------------------------------

    def start(self) -> "System":
        for args in (("add_vhost", self.vhost), ("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")):
            result = rabbitmqctl(*args)
            if result.returncode != 0:
                raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()[:300]}")
            self.vhost_made = True
        for svc in self.services:
            out = open(self.log_dir / f"{svc}.log", "ab")
            self.processes[svc] = subprocess.Popen(
                [sys.executable, "-m", "seedwork.launch", svc], env=self.env, cwd=ROOT,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            out.close()
        probe = Client(self.base_url)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                for svc, p in self.processes.items():
                    if p.poll() is not None:
                        self.failed = True
                        raise RuntimeError(f"{svc} exited with {p.returncode} while starting:\n{self.logs()}")
                try:
                    if (probe.http.get(self.base_url + "/v1/tickets", timeout=5).status_code == 401
                            and self._tickets_up(probe)):
                        return self
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    self.failed = True
                    raise RuntimeError(f"the services did not come up in {START_TIMEOUT:g}s:\n{self.logs()}")
                time.sleep(0.3)
        finally:
            probe.close()

    def _tickets_up(self, probe: Client) -> bool:
        r = probe.http.get(self.base_url + "/health", timeout=10)
        if r.status_code not in (200, 503):
            return False
        services = r.json().get("services", {})
        return all("database" in services.get(svc, {}) for svc in self.services if svc != "gateway")

    def pids(self) -> dict[str, int]:
        return {svc: p.pid for svc, p in self.processes.items()}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        for p in self.processes.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.processes.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        self.processes.clear()
        if self.vhost_made:
            result = rabbitmqctl("delete_vhost", self.vhost)
            if result.returncode != 0:
                log(f"cleanup failed: rabbitmqctl delete_vhost {self.vhost}: {result.stderr.strip()[:200]}")
            self.vhost_made = False
        if self.failed:
            log(f"http: service logs kept in {self.log_dir}")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    # --- set-up through the API ------------------------------------------------

    def new_store(self, client: Client, name: str) -> Store:
        body = client.call("POST", "/v1/stores", self.platform_key, 201, json={"name": name})
        return Store(body["id"], body["owner_token"])

    def new_agent(self, client: Client, store: Store, name: str = "Sara") -> dict:
        return client.call("POST", "/v1/agents", store.owner_token, 201, json={
            "name": name, "email": f"{uuid.uuid4().hex[:10]}@example.com", "role": "agent"})

    def new_customer(self, client: Client, store: Store, n: int) -> str:
        return client.call("POST", "/v1/customers", store.owner_token, 201, json={
            "name": f"Bench shopper {n}", "mobile": f"+9665{n:08d}"})["id"]

    def customer_session(self, client: Client, store: Store, n: int) -> str:
        """A new customer card and a help-widget session for it."""
        customer_id = self.new_customer(client, store, n)
        return client.call("POST", f"/v1/customers/{customer_id}/sessions", store.owner_token, 201)["token"]
