"""The development SMTP sink (deploy/local/smtp_sink.py) and the webhook receiver
(tests/support/webhook_receiver.py): the real servers that tests, the bench and
`make run` deliver to. They bind sockets on loopback; no PostgreSQL or RabbitMQ."""
from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest

from deploy.local.smtp_sink import SmtpSink
from tests.support.servers import ROOT
from tests.support.webhook_receiver import WebhookReceiver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def arabic_mail(n: int = 1, to: str = "noura@example.sa") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "متجر نور <noreply@seed.local>"
    message["To"] = to
    message["Subject"] = f"تم فتح تذكرتك رقم {1000 + n}"
    message["Message-ID"] = f"<evt-{n}.1@seed.local>"
    message.set_content(f"مرحباً نورة، تذكرتك رقم {1000 + n} مفتوحة.")
    message.add_alternative(f'<p dir="rtl">مرحباً نورة، تذكرتك رقم {1000 + n}</p>', subtype="html")
    return message


def send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "deploy.local.smtp_sink", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def sink(tmp_path):
    sink = SmtpSink(port=0, directory=tmp_path / "mail").start()
    yield sink
    sink.stop()


# --- what the sink keeps -------------------------------------------------------------


def test_a_message_sent_over_smtp_is_kept_as_eml_with_an_index_line(sink, tmp_path):
    send(sink.port, arabic_mail())

    received, = sink.wait_for(timeout=5)
    assert received["Subject"] == "تم فتح تذكرتك رقم 1001"
    assert received.get_body(("plain",)).get_content().startswith("مرحباً نورة")
    assert 'dir="rtl"' in received.get_body(("html",)).get_content()

    folder = tmp_path / "mail"
    record, = [json.loads(line) for line in (folder / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert record["n"] == 1 and record["from"] == "noreply@seed.local" and record["to"] == ["noura@example.sa"]
    assert record["subject"] == "تم فتح تذكرتك رقم 1001"  # decoded, not =?utf-8?b?...?=
    assert record["message_id"] == "<evt-1.1@seed.local>"
    eml = folder / record["file"]
    assert record["file"].endswith("Z-1.eml") and eml.stat().st_size == record["size"]
    at = datetime.fromisoformat(record["at"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 30
    assert not list(folder.glob(".*.part"))  # written aside, then renamed


def test_every_recipient_of_the_envelope_is_indexed_even_bcc(sink):
    message = arabic_mail()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        client.send_message(message, to_addrs=["noura@example.sa", "audit@nour.example"])
    sink.wait_for()
    assert sink.received()[0].record["to"] == ["noura@example.sa", "audit@nour.example"]


def test_concurrent_senders_get_distinct_numbers_and_files(sink, tmp_path):
    threads = [threading.Thread(target=send, args=(sink.port, arabic_mail(n))) for n in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sink.wait_for(count=20, timeout=10)) == 20
    records = [json.loads(line) for line in (tmp_path / "mail" / "index.jsonl").read_text().splitlines()]
    assert sorted(r["n"] for r in records) == list(range(1, 21))
    assert len({r["file"] for r in records}) == 20
    assert all((tmp_path / "mail" / r["file"]).is_file() for r in records)


def test_wait_for_matches_a_predicate_and_names_what_came_when_it_times_out(sink):
    send(sink.port, arabic_mail(1, to="noura@example.sa"))
    send(sink.port, arabic_mail(2, to="sara@nour.example"))

    to_sara = sink.wait_for(lambda m: m["To"] == "sara@nour.example", timeout=5)
    assert [m["Message-ID"] for m in to_sara] == ["<evt-2.1@seed.local>"]
    with pytest.raises(TimeoutError, match=r"0 of 1 matching .* 2 received.*noura@example.sa"):
        sink.wait_for(lambda m: m["To"] == "nobody@example.sa", timeout=0.3)


def test_without_a_directory_messages_stay_in_memory():
    with SmtpSink() as sink:
        send(sink.port, arabic_mail())
        assert sink.wait_for(timeout=5)[0]["Message-ID"] == "<evt-1.1@seed.local>"
        assert sink.directory is None


# --- down and back up ------------------------------------------------------------------


def test_stopped_it_refuses_connections_and_restarts_on_the_same_port(sink, tmp_path):
    send(sink.port, arabic_mail(1))
    sink.wait_for(timeout=5)
    port = sink.port

    sink.stop()
    with pytest.raises(OSError):  # what a sender sees while the mail server is down
        send(port, arabic_mail(2))

    sink.start()  # SO_REUSEADDR: the first run's connections in TIME_WAIT do not block it
    assert sink.port == port
    send(port, arabic_mail(2))
    assert [m["Message-ID"] for m in sink.wait_for(count=2, timeout=5)] == [
        "<evt-1.1@seed.local>", "<evt-2.1@seed.local>"]
    numbers = [json.loads(line)["n"] for line in (tmp_path / "mail" / "index.jsonl").read_text().splitlines()]
    assert numbers == [1, 2]


def test_a_session_open_when_it_stops_is_cut_and_nothing_half_sent_is_kept(sink):
    client = smtplib.SMTP("127.0.0.1", sink.port, timeout=5)
    client.ehlo()
    client.mail("noreply@seed.local")
    client.rcpt("noura@example.sa")

    sink.stop()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.data(arabic_mail().as_bytes())
    client.close()
    sink.start()
    assert sink.messages() == []


def test_a_new_sink_on_the_same_folder_continues_the_numbering(tmp_path):
    with SmtpSink(directory=tmp_path) as first:
        send(first.port, arabic_mail(1))
        first.wait_for()
    with SmtpSink(directory=tmp_path) as second:
        send(second.port, arabic_mail(2))
        assert second.wait_for()[0]["Message-ID"] == "<evt-2.1@seed.local>"
        assert second.received()[0].record["n"] == 2


# --- the command line ------------------------------------------------------------------


def test_list_prints_a_table_of_the_latest_messages(sink, tmp_path):
    for n in (1, 2, 3):
        send(sink.port, arabic_mail(n))
    sink.wait_for(count=3, timeout=5)
    folder = str(tmp_path / "mail")

    lines = cli("list", "--dir", folder).stdout.splitlines()
    assert lines[0].split()[:4] == ["n", "at", "(UTC)", "from"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert "noreply@seed.local" in lines[1] and "noura@example.sa" in lines[1]
    assert lines[1].endswith("تم فتح تذكرتك رقم 1001")

    last = cli("list", "--last", "2", "--dir", folder).stdout.splitlines()
    assert [line.split()[0] for line in last[1:3]] == ["2", "3"] and "(2 of 3" in last[3]

    empty = cli("list", "--dir", str(tmp_path / "nothing")).stdout
    assert "no mail in" in empty


def test_show_prints_the_headers_and_the_decoded_text_by_number_or_message_id(sink, tmp_path):
    send(sink.port, arabic_mail(1))
    send(sink.port, arabic_mail(2))
    sink.wait_for(count=2, timeout=5)
    folder = str(tmp_path / "mail")

    by_number = cli("show", "2", "--dir", folder).stdout
    assert "Subject: تم فتح تذكرتك رقم 1002" in by_number
    assert "Message-ID: <evt-2.1@seed.local>" in by_number
    assert by_number.rstrip().endswith("مرحباً نورة، تذكرتك رقم 1002 مفتوحة.")
    assert "<p" not in by_number

    by_id = cli("show", "evt-1.1@seed.local", "--dir", folder).stdout
    assert "تذكرتك رقم 1001 مفتوحة" in by_id
    assert 'dir="rtl"' in cli("show", "<evt-1.1@seed.local>", "--html", "--dir", folder).stdout
    assert "Content-Type: multipart/alternative" in cli("show", "1", "--raw", "--dir", folder).stdout

    missing = cli("show", "99", "--dir", folder, check=False)
    assert missing.returncode == 1 and "no message '99'" in missing.stderr


def test_serve_runs_in_the_foreground_until_sigterm(tmp_path):
    port, folder = free_port(), tmp_path / "mail"
    process = subprocess.Popen([sys.executable, "-m", "deploy.local.smtp_sink", "serve", "--port", str(port),
                                "--dir", str(folder)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert f"listening on 127.0.0.1:{port}" in process.stdout.readline()

        taken = cli("serve", "--port", str(port), "--dir", str(folder), check=False)
        assert taken.returncode == 1 and "Address already in use" in taken.stderr

        send(port, arabic_mail())
        assert process.stdout.readline().startswith("#1 noreply@seed.local -> noura@example.sa: تم فتح")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (folder / "index.jsonl").read_text(encoding="utf-8").count("\n") == 1


# --- the webhook receiver ----------------------------------------------------------------


def post(url: str, body: bytes = b'{"id": "e1"}', headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_receiver_fails_as_programmed_then_succeeds_and_records_every_post():
    with WebhookReceiver(statuses=[500, 500]) as receiver:
        assert [post(receiver.url + "hooks", f'{{"n": {n}}}'.encode()) for n in range(3)] == [500, 500, 200]

        deliveries = receiver.wait_for(3, timeout=5)
        assert [d.status for d in deliveries] == [500, 500, 200]
        assert [d.json() for d in deliveries] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert deliveries[0].path == "/hooks" and deliveries[0].headers["content-type"] == "application/json"
        assert deliveries[0].received_at <= deliveries[2].received_at

        receiver.respond(then=503)  # the endpoint goes down for good
        assert post(receiver.url) == 503 and post(receiver.url) == 503


def test_an_always_failing_receiver_and_a_wait_that_times_out():
    with WebhookReceiver(then=503) as receiver:
        assert post(receiver.url) == 503
        with pytest.raises(TimeoutError, match=r"1 of 2 webhook deliveries .*\[503\]"):
            receiver.wait_for(2, timeout=0.3)


def test_the_receiver_verifies_standard_webhooks_signatures():
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"specversion": "1.0", "id": "0f4c", "type": "ticket.opened"}'
    now = datetime.now(timezone.utc)
    signature = Webhook(secret).sign("0f4c", now, body)
    with WebhookReceiver() as receiver:
        post(receiver.url, body.encode(), {"webhook-id": "0f4c", "webhook-timestamp": str(int(now.timestamp())),
                                           "webhook-signature": signature})
        delivery, = receiver.wait_for(1)
        assert delivery.verify(secret)["type"] == "ticket.opened"
        with pytest.raises(WebhookVerificationError):
            delivery.verify("whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==")


def test_the_receiver_restarts_on_the_same_port():
    receiver = WebhookReceiver().start()
    url = receiver.url
    assert post(url) == 200
    receiver.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=2)
    receiver.start()
    try:
        assert receiver.url == url and post(url) == 200
        assert len(receiver.wait_for(2)) == 2
    finally:
        receiver.stop()
