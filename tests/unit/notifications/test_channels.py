"""The transports (services.notifications.channels) against real servers on
127.0.0.1 that each test starts: the development SMTP sink, a tiny SMTP
server that refuses recipients, and a tiny HTTP server for the SMS provider
and webhook posts. What each failure means: try again later
(``TransientError``) or never (``PermanentError``)."""
from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from deploy.local.smtp_sink import SmtpSink
from services.notifications.channels import (MAX_RESPONSE_BYTES, HttpSmsProvider, LoggingSmsProvider,
                                             PermanentError, PostResult, SmtpSender, TransientError,
                                             WebhookPoster)

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                   "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch):
    """Loopback servers are reached directly, whatever proxy this machine has."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mail(to: str = "noura@example.sa") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "متجر نور <no-reply@seed.local>"
    message["To"] = to
    message["Subject"] = "تم فتح تذكرتك رقم 1042"
    message["Message-ID"] = "<evt-1.1@seed.local>"
    message.set_content("حياك الله نورة")
    message.add_alternative('<p dir="rtl">حياك الله نورة</p>', subtype="html")
    return message


def test_the_password_is_not_in_the_senders_repr():
    sender = SmtpSender("smtp.example.test", 587, "mailer", "s3cret")
    assert "s3cret" not in repr(sender) and "smtp.example.test:587" in repr(sender)


@pytest.mark.parametrize("tls", ["tls", "starttls-please", "yes"])
def test_an_unknown_tls_mode_is_an_error(tls):
    with pytest.raises(ValueError, match="SMTP_TLS"):
        SmtpSender("smtp.example.test", 587, tls=tls)


# --- sending through a real SMTP server ----------------------------------------------------------------


@pytest.fixture
def sink():
    sink = SmtpSink(port=0, directory=None).start()
    yield sink
    sink.stop()


def test_a_message_arrives_at_the_sink(sink):
    SmtpSender("127.0.0.1", sink.port, tls="none", timeout=5).send(mail())
    [arrived] = sink.wait_for(timeout=5)
    assert arrived["Subject"] == "تم فتح تذكرتك رقم 1042"
    assert arrived["Message-ID"] == "<evt-1.1@seed.local>"
    assert arrived.get_body(("plain",)).get_content().strip() == "حياك الله نورة"
    assert sink.received()[0].record["to"] == ["noura@example.sa"]


def test_a_server_that_is_down_is_transient(sink):
    port = sink.port
    sink.stop()
    with pytest.raises(TransientError, match=f"cannot reach SMTP 127.0.0.1:{port}"):
        SmtpSender("127.0.0.1", port, tls="none", timeout=5).send(mail())


def test_the_same_sender_succeeds_once_the_server_is_back(sink):
    sender = SmtpSender("127.0.0.1", sink.port, tls="none", timeout=5)
    sink.stop()
    with pytest.raises(TransientError):
        sender.send(mail())
    sink.start()
    sender.send(mail())
    assert len(sink.wait_for(timeout=5)) == 1


class Refusing:
    """An aiosmtpd handler that answers RCPT or DATA with the reply it is given."""

    def __init__(self, rcpt: str | None = None, data: str | None = None, refuse: str | None = None):
        self.rcpt, self.data, self.refuse = rcpt, data, refuse
        self.accepted: list[tuple[str, list[str]]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt and (self.refuse is None or address == self.refuse):
            return self.rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data:
            return self.data
        self.accepted.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK queued"


@pytest.fixture
def smtp_server():
    started = []

    def start(handler) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="refusing.test")
        controller.start()
        started.append(controller)
        return port
    yield start
    for controller in started:
        controller.stop()


def test_a_recipient_refused_with_550_is_permanent(smtp_server):
    port = smtp_server(Refusing(rcpt="550 5.1.1 no such mailbox"))
    with pytest.raises(PermanentError, match="550") as info:
        SmtpSender("127.0.0.1", port, tls="none", timeout=5).send(mail())
    assert "noura@example.sa" in str(info.value) and "no such mailbox" in str(info.value)


def test_a_recipient_refused_with_450_is_transient(smtp_server):
    port = smtp_server(Refusing(rcpt="450 4.2.1 mailbox busy, try later"))
    with pytest.raises(TransientError, match="450"):
        SmtpSender("127.0.0.1", port, tls="none", timeout=5).send(mail())


def test_a_message_refused_at_data_with_554_is_permanent(smtp_server):
    port = smtp_server(Refusing(data="554 5.7.1 message rejected as spam"))
    with pytest.raises(PermanentError, match="554"):
        SmtpSender("127.0.0.1", port, tls="none", timeout=5).send(mail())


def test_a_message_deferred_at_data_with_451_is_transient(smtp_server):
    port = smtp_server(Refusing(data="451 4.3.0 local error, try again"))
    with pytest.raises(TransientError, match="451"):
        SmtpSender("127.0.0.1", port, tls="none", timeout=5).send(mail())


def test_one_of_several_recipients_refused_is_permanent_so_the_others_do_not_get_it_twice(smtp_server):
    handler = Refusing(rcpt="550 5.1.1 no such mailbox", refuse="gone@example.sa")
    port = smtp_server(handler)
    with pytest.raises(PermanentError, match="gone@example.sa"):
        SmtpSender("127.0.0.1", port, tls="none", timeout=5).send(mail(to="noura@example.sa, gone@example.sa"))
    assert handler.accepted == [("no-reply@seed.local", ["noura@example.sa"])]


def test_starttls_against_a_server_without_it_is_transient(sink):
    """Our configuration is wrong, not the message: it waits for an operator."""
    with pytest.raises(TransientError):
        SmtpSender("127.0.0.1", sink.port, tls="starttls", timeout=5).send(mail())
    assert sink.received() == []


# --- a tiny HTTP server for the SMS provider and webhooks -------------------------------------------------


class HttpServer:
    """Answers each request from ``answers`` (status, body, headers), the last one forever;
    records (method, path, headers, body)."""

    def __init__(self, *answers):
        self.answers = list(answers) or [(200, b"", {})]
        self.requests: list[tuple[str, str, dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append(("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, answer, headers = outer.answers.pop(0) if len(outer.answers) > 1 else outer.answers[0]
                if callable(answer):
                    return answer(self)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(answer)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def answer_json(status: int, value) -> tuple[int, bytes, dict]:
    return status, json.dumps(value).encode(), {"Content-Type": "application/json"}


def post_by_name(server: HttpServer, host: str, scheme="http", addresses=("127.0.0.1",)):
    """POST to ``host`` on the server's port, connecting to ``addresses`` as the URL check would pin them."""
    return WebhookPoster(timeout=5).post(f"{scheme}://{host}:{server.port}/in", BODY, HEADERS,
                                         addresses=list(addresses))


def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}/nobody-listens"


# --- SMS over HTTP ------------------------------------------------------------------------------------------


def test_an_sms_is_posted_with_the_bearer_token_and_the_providers_id_returned():
    with HttpServer(answer_json(200, {"id": "sms-123"})) as server:
        provider = HttpSmsProvider(server.url + "/v1/sms", "tok-abc", timeout=5)
        assert provider.send("NoorStore", "+966501234567", "طلبك في الطريق") == "sms-123"
    [(method, path, headers, body)] = server.requests
    assert (method, path) == ("POST", "/v1/sms")
    assert headers["authorization"] == "Bearer tok-abc"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"sender": "NoorStore", "to": "+966501234567", "text": "طلبك في الطريق"}


@pytest.mark.parametrize("answer, provider_id", [
    (answer_json(201, {"message_id": 98765}), "98765"),
    (answer_json(200, {"status": "queued"}), ""),
    (answer_json(202, ["not", "an", "object"]), ""),
    ((200, b"OK", {"Content-Type": "text/plain"}), ""),
])
def test_the_providers_id_is_its_id_or_message_id_else_empty(answer, provider_id):
    with HttpServer(answer) as server:
        assert HttpSmsProvider(server.url, "tok", timeout=5).send("Noor", "+966501234567", "hi") == provider_id


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_a_server_error_rate_limit_or_timeout_answer_is_transient(status):
    with HttpServer(answer_json(status, {"error": "busy"})) as server:
        with pytest.raises(TransientError, match=f"answered {status}"):
            HttpSmsProvider(server.url, "tok", timeout=5).send("Noor", "+966501234567", "hi")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_another_client_error_is_permanent(status):
    with HttpServer(answer_json(status, {"error": "invalid number"})) as server:
        with pytest.raises(PermanentError) as info:
            HttpSmsProvider(server.url, "tok", timeout=5).send("Noor", "+96650", "hi")
    assert str(info.value).startswith(f"SMS provider answered {status}: ")
    assert "invalid number" in str(info.value)


def test_a_provider_that_does_not_answer_the_connection_is_transient():
    with pytest.raises(TransientError, match="SMS provider unreachable: ConnectionError"):
        HttpSmsProvider(refused_url(), "tok", timeout=5).send("Noor", "+966501234567", "hi")


def test_a_slow_provider_is_transient():
    def never_answers(handler):
        time.sleep(2)
    with HttpServer((200, never_answers, {})) as server:
        with pytest.raises(TransientError, match="Timeout"):
            HttpSmsProvider(server.url, "tok", timeout=0.3).send("Noor", "+966501234567", "hi")


def test_the_logging_provider_logs_a_masked_mobile(caplog):
    with caplog.at_level(logging.INFO, logger="services.notifications.channels"):
        provider_id = LoggingSmsProvider().send("NoorStore", "+966501234567", "طلبك في الطريق")
    assert provider_id.startswith("log-")
    assert "•••••••••4567" in caplog.text and "+966501234567" not in caplog.text
    assert provider_id in caplog.text


# --- webhook posts ---------------------------------------------------------------------------------------------

BODY = b'{"specversion":"1.0","type":"ticket.opened"}'
HEADERS = {"webhook-id": "evt-1", "webhook-timestamp": "1767225600", "webhook-signature": "v1,abc="}


def test_a_2xx_answer_is_ok_and_the_signed_body_and_headers_arrive():
    with HttpServer((204, b"", {})) as server:
        result = WebhookPoster(timeout=5).post(server.url + "/in", BODY, HEADERS)
    assert result.ok and result.status_code == 204 and result.error is None
    assert result.latency_ms >= 0
    [(method, path, headers, body)] = server.requests
    assert (method, path, body) == ("POST", "/in", BODY)
    assert headers["content-type"] == "application/json"
    assert {k: headers[k] for k in HEADERS} == HEADERS


def test_a_refused_connection_is_a_result_not_an_exception():
    result = WebhookPoster(timeout=5).post(refused_url(), BODY, HEADERS)
    assert isinstance(result, PostResult)
    assert result.status_code is None and not result.ok
    assert result.error.startswith("ConnectionError: ")


@pytest.mark.parametrize("url", ["not a url", "http://", "ftp://127.0.0.1/in"])
def test_even_a_malformed_url_is_a_result_not_an_exception(url):
    result = WebhookPoster(timeout=5).post(url, BODY, HEADERS)
    assert result.status_code is None and result.error


def test_a_receiver_that_is_too_slow_is_a_timeout_result():
    def never_answers(handler):
        time.sleep(2)
    with HttpServer((200, never_answers, {})) as server:
        result = WebhookPoster(timeout=0.3).post(server.url, BODY, HEADERS)
    assert result.status_code is None and "Timeout" in result.error


def test_a_server_error_is_a_failed_result_with_the_start_of_its_answer():
    with HttpServer((503, b"maintenance until\n 10:00", {})) as server:
        result = WebhookPoster(timeout=5).post(server.url, BODY, HEADERS)
    assert (result.status_code, result.ok) == (503, False)
    assert result.error == "HTTP 503: maintenance until 10:00"


def test_an_error_without_a_body_says_just_its_status():
    with HttpServer((500, b"", {})) as server:
        assert WebhookPoster(timeout=5).post(server.url, BODY, HEADERS).error == "HTTP 500"


def test_a_redirect_is_not_followed():
    """A public receiver must not bounce the platform to an address the URL check never saw."""
    with HttpServer((302, b"", {"Location": "/internal-admin"})) as server:
        result = WebhookPoster(timeout=5).post(server.url + "/in", BODY, HEADERS)
    assert (result.status_code, result.ok) == (302, False)
    assert [path for _, path, _, _ in server.requests] == ["/in"]


def test_a_proxy_from_the_environment_is_not_used(monkeypatch):
    """The URL was checked against private addresses: a proxy would make that check moot."""
    dead_proxy = refused_url()
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    with HttpServer((200, b"", {})) as server:
        result = WebhookPoster(timeout=5).post(server.url, BODY, HEADERS)
    assert result.ok and len(server.requests) == 1


def test_at_most_64_kb_of_an_answer_is_read():
    """A receiver answering an endless body does not keep the delivery loop reading it."""
    endless = 200 * 1024 * 1024
    written = {"bytes": 0, "finished": threading.Event()}

    def huge(handler):
        handler.send_response(500)
        handler.send_header("Content-Length", str(endless))
        handler.end_headers()
        chunk = b"x" * (1024 * 1024)
        try:
            while written["bytes"] < endless:
                handler.wfile.write(chunk)
                written["bytes"] += len(chunk)
        except OSError:  # the poster hung up
            pass
        finally:
            written["finished"].set()

    with HttpServer((500, huge, {})) as server:
        result = WebhookPoster(timeout=5).post(server.url, BODY, HEADERS)
        assert written["finished"].wait(10)
    assert result.status_code == 500 and result.error.startswith("HTTP 500: xxx")
    assert written["bytes"] < endless  # the poster closed the connection long before the end
    assert MAX_RESPONSE_BYTES == 64 * 1024


def test_a_post_given_the_checked_address_connects_there_and_names_the_host():
    """DNS is asked once, by the URL check: the POST goes to the address that
    check approved (a name that answers differently the second time cannot
    redirect it), and the receiver still sees its own host name."""
    with HttpServer((204, b"", {})) as server:
        result = post_by_name(server, "hooks.shop.invalid")
    assert result.ok, result
    [(_, path, headers, _)] = server.requests
    assert path == "/in" and headers["host"] == f"hooks.shop.invalid:{server.port}"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
@pytest.mark.parametrize("certified, ok", [("hooks.shop.invalid", True), ("other.invalid", False)])
def test_an_https_post_to_a_checked_address_checks_the_certificate_against_the_host_name(tmp_path, certified, ok):
    """The connection goes to 127.0.0.1, yet the certificate must name the
    URL's host: a server certified for another name is refused."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", f"/CN={certified}", "-addext", f"subjectAltName=DNS:{certified}"],
                   check=True, capture_output=True)

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = WebhookPoster(timeout=5, verify=str(cert)).post(
            f"https://hooks.shop.invalid:{server.server_address[1]}/in", BODY, HEADERS, addresses=["127.0.0.1"])
    finally:
        server.shutdown()
        server.server_close()
    if ok:
        assert result.status_code == 204, result
    else:
        assert result.status_code is None and "hostname 'hooks.shop.invalid' doesn't match" in result.error, result


def test_an_https_post_to_a_checked_address_still_speaks_tls():
    """Pinning the address keeps https: a server that does not answer TLS
    fails the attempt (recorded, not raised). The adapter gives urllib3 the
    host name for the server name and the certificate check."""
    with HttpServer((204, b"", {})) as server:
        result = post_by_name(server, "hooks.shop.invalid", scheme="https")
    assert result.status_code is None and "SSL" in result.error, result


def test_a_post_tries_the_next_checked_address_when_one_refuses_the_connection():
    """A host with several addresses (IPv6 without a route, a server down) is
    reached at the next one; nothing was sent to the first."""
    with HttpServer((204, b"", {})) as server:
        result = post_by_name(server, "hooks.shop.invalid", addresses=["127.0.0.2", "127.0.0.1"])
    # 127.0.0.2 is loopback too, but the server listens on 127.0.0.1 only: refused there.
    assert result.ok, result
    assert len(server.requests) == 1


def test_a_host_name_in_arabic_is_sent_as_dns_spells_it():
    with HttpServer((204, b"", {})) as server:
        result = post_by_name(server, "مثال.example")
    assert result.ok, result
    [(_, _, headers, _)] = server.requests
    assert headers["host"] == f"{'مثال'.encode('idna').decode()}.example:{server.port}"
