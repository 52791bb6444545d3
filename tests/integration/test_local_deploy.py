"""deploy/local/infra.sh: it finds the servers where the URLs say, and never
tries to start one for an address that is not local."""
import os
import subprocess

from tests.integration.conftest import AMQP_URI, ROOT, DATABASE_URL

INFRA = str(ROOT / "deploy" / "local" / "infra.sh")


def infra(*args, **env):
    return subprocess.run([INFRA, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_status_reports_the_servers_at_the_configured_urls():
    up = infra("status", DATABASE_URL=DATABASE_URL, AMQP_URI=AMQP_URI)
    assert up.returncode == 0
    assert "PostgreSQL 127.0.0.1:5432: up" in up.stdout and "RabbitMQ 127.0.0.1:5672: up" in up.stdout
    down = infra("status", DATABASE_URL="postgresql://u:p@127.0.0.1:9/db", AMQP_URI="amqp://g:g@127.0.0.1:7/vh")
    assert "PostgreSQL 127.0.0.1:9: down" in down.stdout and "RabbitMQ 127.0.0.1:7: down" in down.stdout


def test_ensure_uses_running_servers_without_starting_anything():
    markers = ROOT / "var" / "run"
    before = sorted(markers.glob("started-*")) if markers.exists() else []
    result = infra("ensure", DATABASE_URL=DATABASE_URL, AMQP_URI=AMQP_URI)
    assert result.returncode == 0, result.stderr
    assert "PostgreSQL: answering" in result.stdout and "RabbitMQ: answering" in result.stdout
    assert "starting" not in result.stdout
    assert sorted(markers.glob("started-*")) == before


def test_ensure_refuses_to_start_a_server_for_a_remote_address():
    result = infra("ensure", DATABASE_URL="postgresql://u@192.0.2.1:5432/db", AMQP_URI=AMQP_URI)
    assert result.returncode != 0
    assert "192.0.2.1:5432 does not answer (not a local address" in result.stderr
