"""The services and the gateway as real processes, for the HTTP, customers and
notifications benches, started by the test suite's own supervisor
(``tests/support/processes.py``), with:

- a private RabbitMQ virtual host ``bench_<hex>`` (Nameko's RPC exchange and
  reply queues are not prefixed, so a vhost is what keeps them apart from a
  running ``make run``);
- fresh schemas ``bench_<hex>_<service>``, made by the services' own
  migrations at start-up and dropped by ``Scratch.cleanup``;
- a free port on 127.0.0.1 and a random ``HELPDESK_PLATFORM_KEY``.

Their logs go to a temporary directory, removed at the end unless the start
failed (the path is printed then).
"""
from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.processes import Services
from tests.support.servers import Vhost, free_port
from tests.support.system import serving, system_env

from .common import Scratch, Settings, log

SERVICES = ("tickets", "customers", "gateway")
START_TIMEOUT = 90.0


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
    """Start the processes; ``stop()`` them and delete the vhost. The
    schemas are registered with ``scratch``, which drops them."""

    def __init__(self, settings: Settings, scratch: Scratch, services: tuple[str, ...] = SERVICES,
                 env: dict[str, str] | None = None):
        self.settings = settings
        self.services = services
        self.vhost = Vhost(settings.prefix)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.platform_key = "bench-" + secrets.token_urlsafe(16)
        self.schemas = {svc: f"{settings.prefix}_{svc}" for svc in services}
        scratch.schemas += list(self.schemas.values())
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"{settings.prefix}_http_"))
        self.env = {**system_env(settings.database_url, self.vhost.uri(settings.amqp_uri), self.platform_key,
                                 self.port, self.schemas), **(env or {})}
        for key in ("TICKETS_DATABASE_URL", "GATEWAY_DATABASE_URL", "HELPDESK_TOKEN_SECRET"):
            self.env.pop(key, None)
        self.supervisor = Services(self.env, self.log_dir)
        self.failed = False

    # --- life cycle -----------------------------------------------------------

    def start(self) -> "System":
        self.vhost.create()
        for svc in self.services:
            self.supervisor.start(svc)
        backends = [svc for svc in self.services if svc != "gateway"]
        probe = Client(self.base_url)
        try:
            self.supervisor.wait_until(lambda: serving(probe.http, self.base_url, backends), START_TIMEOUT,
                                       "the services coming up")
        except RuntimeError:
            self.failed = True
            raise
        finally:
            probe.close()
        return self

    def pids(self) -> dict[str, int]:
        return {name.split(".")[0]: p.pid for name, p in self.supervisor.processes.items()}

    def logs(self) -> str:
        return self.supervisor.logs()

    def stop(self) -> None:
        self.supervisor.stop()
        error = self.vhost.delete()
        if error:
            log(f"cleanup failed: rabbitmqctl delete_vhost {self.vhost.name}: {error}")
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
