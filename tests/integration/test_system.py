"""The real services, each its own process, as ``make run`` starts them.

Nameko's RPC queues are named after the service alone, so these processes
get a RabbitMQ virtual host of their own, never to answer a developer's
running system. Creating one needs ``rabbitmqctl`` (root on a local broker).
"""
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.integration.conftest import drop_schema

BACKENDS = ("tickets", "customers", "notifications")


def rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def vhost_uri():
    if shutil.which("rabbitmqctl") is None or rabbitmqctl("list_vhosts").returncode != 0:
        pytest.skip("rabbitmqctl is not usable here: cannot create an isolated virtual host")
    name = f"seed_test_{uuid.uuid4().hex[:8]}"
    assert rabbitmqctl("add_vhost", name).returncode == 0
    assert rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*").returncode == 0
    yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    rabbitmqctl("delete_vhost", name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_migrate_then_every_service_starts_and_the_gateway_reports_their_health(
        vhost_uri, database_url, processes, service_env):
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    env = {**service_env, "AMQP_URI": vhost_uri, "BUS_PREFIX": "seed", "GATEWAY_PORT": str(port)}
    with_schemas = BACKENDS + ("gateway",)  # the gateway owns stores, staff and tokens
    env.update({f"{svc.upper()}_DB_SCHEMA": f"t_{svc}_{suffix}" for svc in with_schemas})
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
        started = {"gateway": processes.start("gateway", [sys.executable, "-m", "seedwork.launch", "gateway"], env)}
        deadline = time.monotonic() + 60
        while (health := get_health(port))[0] is None:
            assert time.monotonic() < deadline, "the gateway never answered"
            time.sleep(0.3)
        assert health[0] == 503 and health[1]["status"] == "degraded", health
        started.update({svc: processes.start(svc, [sys.executable, "-m", "seedwork.launch", svc], env)
                        for svc in BACKENDS})
        deadline = time.monotonic() + 60
        while (health := get_health(port))[0] != 200:
            assert time.monotonic() < deadline, f"gateway never healthy: {health}"
            time.sleep(0.3)
        status, body = health
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
        for svc in with_schemas:
            drop_schema(database_url, f"t_{svc}_{suffix}")
