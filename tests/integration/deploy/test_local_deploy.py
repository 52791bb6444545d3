"""deploy/local/infra.sh: it finds the servers where the URLs say, and never
tries to start one for an address that is not local. deploy/local/services.sh
starts the development SMTP sink (unless SMTP_HOST is set), reports it and stops it."""
import os
import smtplib
import socket
import subprocess

from tests.support.servers import AMQP_URI, DATABASE_URL, ROOT

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


# --- the development SMTP sink that `make run` starts before the services ----------

SERVICES_SH = str(ROOT / "deploy" / "local" / "services.sh")


def services(*args, **env):
    return subprocess.run([SERVICES_SH, *args], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)


def sink_env(tmp_path):
    """Pid files, logs and mail in tmp_path, on a free port: clear of a running `make run`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"RUN_DIR": str(tmp_path / "run"), "LOG_DIR": str(tmp_path / "log"), "SMTP_HOST": "",
           "SMTP_SINK_DIR": str(tmp_path / "mail"), "SMTP_SINK_PORT": str(port)}
    return env, port


def test_the_sink_starts_once_shows_in_status_and_stops_with_the_services(tmp_path):
    env, port = sink_env(tmp_path)
    try:
        started = services("start-sink", **env)
        assert started.returncode == 0, started.stderr
        assert f"started smtp-sink on 127.0.0.1:{port}" in started.stdout
        assert "already running" in services("start-sink", **env).stdout

        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.sendmail("noreply@seed.local", ["noura@example.sa"], b"Subject: hello\r\n\r\nhi\r\n")
        status = services("status", **env).stdout
        assert "smtp-sink: running (pid " in status and f"on 127.0.0.1:{port}, 1 message(s) in" in status
    finally:
        stopped = services("stop", **env)
    assert "stopped smtp-sink" in stopped.stdout
    assert "no services started by make run" in services("status", **env).stdout
    assert "#1 noreply@seed.local -> noura@example.sa: hello" in (tmp_path / "log" / "smtp-sink.log").read_text()


def test_no_sink_when_smtp_host_is_set_and_none_on_a_taken_port(tmp_path):
    env, port = sink_env(tmp_path)
    skipped = services("start-sink", **{**env, "SMTP_HOST": "smtp.example.com"})
    assert skipped.returncode == 0 and "no development SMTP sink" in skipped.stdout
    assert not (tmp_path / "run" / "smtp-sink.pid").exists()

    with socket.socket() as other:  # something else listens there
        other.bind(("127.0.0.1", port))
        other.listen()
        taken = services("start-sink", **env)
    assert taken.returncode != 0 and f"127.0.0.1:{port} is taken" in taken.stderr
    assert not (tmp_path / "run" / "smtp-sink.pid").exists()
