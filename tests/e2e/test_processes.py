"""The real services, each its own process, as ``make run`` starts them.

Nameko's RPC queues are named after the service alone, so these processes
get a RabbitMQ virtual host of their own, never to answer a developer's
running system. Creating one needs ``rabbitmqctl`` (root on a local broker).
"""
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest

from tests.support.polling import eventually
from tests.support.processes import Services
from tests.support.servers import PLATFORM_KEY, drop_schema, free_port, private_vhost
from tests.support.system import system_env

BACKENDS = ("tickets", "customers", "notifications", "reports")


@pytest.fixture
def vhost():
    with private_vhost() as vhost:
        yield vhost


def get_health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, body.decode(errors="replace")
    except OSError:
        return None, None


def test_migrate_then_every_service_starts_and_the_gateway_reports_their_health(vhost, database_url, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    with_schemas = BACKENDS + ("gateway",)  # the gateway owns stores, staff and tokens
    env = system_env(database_url, vhost.uri(), PLATFORM_KEY, port, {svc: f"t_{svc}_{suffix}" for svc in with_schemas})
    processes = Services(env, tmp_path)
    try:
        migrated = subprocess.run([sys.executable, "-m", "seedwork", "migrate"], env=env, capture_output=True,
                                  text=True, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        for svc in with_schemas:
            assert f"{svc}: schema t_{svc}_{suffix} migrated: eventstore/0001_event_store" in migrated.stdout
            assert f"{svc}: exchange seed.{svc}" in migrated.stdout
        again = subprocess.run([sys.executable, "-m", "seedwork", "migrate"], env=env, capture_output=True,
                               text=True, timeout=120)
        assert again.stdout.count("up to date") == len(with_schemas)
        assert "Eventlet is deprecated" not in migrated.stderr + again.stderr

        # The gateway first: until the others are up it must answer 503 with a JSON report.
        started = {"gateway": processes.start("gateway")}
        health = eventually(lambda: get_health(port), lambda h: h[0] is not None, 60, "the gateway answering", 0.3)
        assert health[0] == 503 and health[1]["status"] == "degraded", health
        started.update({svc: processes.start(svc) for svc in BACKENDS})
        status, body = eventually(lambda: get_health(port), lambda h: h[0] == 200, 60, "a healthy gateway", 0.3)
        assert body["status"] == "ok"
        for svc in BACKENDS:
            report = body["services"][svc]
            assert report["database"] == "ok" and report["schema"] == f"t_{svc}_{suffix}"
            assert report["relay"]["leader"] is True and report["relay"]["unrouted"] >= 0
        assert all("Eventlet is deprecated" not in p.output() for p in started.values())

        started["customers"].stop()
        status, body = get_health(port)
        assert status == 503 and body["status"] == "degraded"
        assert "no answer" in body["services"]["customers"]["error"]
        assert body["services"]["tickets"]["database"] == "ok"
    finally:
        processes.stop()
        for svc in with_schemas:
            drop_schema(database_url, f"t_{svc}_{suffix}")
