"""The transports: SMTP for email, an SMS provider, HTTP POST for webhooks.

No database here. A send either returns or raises ``TransientError`` (try
again later: the server is down, slow, or asks to come back) or
``PermanentError`` (this message will never be accepted: the delivery is
dead at once). Webhook posts never raise: the result is recorded as an
attempt, and a non-2xx answer is the caller's to retry.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Mapping, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from seedwork.masking import mask_mobile

from .config import TLS_MODES

log = logging.getLogger(__name__)

TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 64 * 1024


class TransientError(Exception):
    """The send failed for now; the same message may go through later."""


class PermanentError(Exception):
    """The message was refused for good (e.g. an SMTP 5xx to its recipient)."""


# --- email ------------------------------------------------------------------------------


class SmtpSender:
    """One SMTP connection per message. A refusal of the message itself (5xx to
    RCPT or DATA) is permanent; anything else (no connection, a timeout, a 4xx,
    or the server refusing our own configuration: login, sender, TLS) is
    transient, so mail waits while an operator fixes the server or settings."""

    def __init__(self, host: str, port: int, user: str | None = None, password: str | None = None,
                 tls: str = "starttls", timeout: float = TIMEOUT):
        if tls not in TLS_MODES:
            raise ValueError(f"SMTP_TLS must be one of {', '.join(TLS_MODES)}, got {tls!r}")
        self.host, self.port, self.user, self.password = host, port, user, password
        self.tls, self.timeout = tls, timeout

    def __repr__(self) -> str:
        return f"SmtpSender({self.host}:{self.port}, tls={self.tls}, user={self.user!r})"

    def send(self, message: EmailMessage) -> None:
        try:
            smtp = self._connect()
        except smtplib.SMTPResponseException as exc:
            raise TransientError(f"SMTP {exc.smtp_code} on connecting: {_text(exc.smtp_error)}") from exc
        except OSError as exc:  # refused, unreachable, timed out, TLS failed
            raise TransientError(f"cannot reach SMTP {self.host}:{self.port}: {exc or type(exc).__name__}") from exc
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in exc.recipients.items())
            raise (PermanentError if any(code >= 500 for code in codes) else TransientError)(
                f"recipient refused: {detail}") from exc
        except smtplib.SMTPDataError as exc:
            error = PermanentError if exc.smtp_code >= 500 else TransientError
            raise error(f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, or another 4xx/5xx of the session
            raise TransientError(f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address to a server without SMTPUTF8
            raise PermanentError(f"the SMTP server cannot take this message: {exc}") from exc
        except smtplib.SMTPException as exc:  # the session broke some other way
            raise TransientError(f"SMTP {self.host}:{self.port} failed: {exc or type(exc).__name__}") from exc
        except OSError as exc:  # disconnected, timed out
            raise TransientError(f"SMTP {self.host}:{self.port} failed: {exc or type(exc).__name__}") from exc
        finally:
            _quit(smtp)
        if refused:  # some recipients of several refused: the others have it, so never send it again
            raise PermanentError(f"recipients refused: {refused}")

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp


def _text(value) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:300]


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()  # the message is already accepted or refused: a failed goodbye changes nothing
    except Exception:  # also a send deadline running out right now: the message went, it must count as sent
        smtp.close()


# --- SMS --------------------------------------------------------------------------------


class SmsProvider(Protocol):
    def send(self, sender: str, to: str, text: str) -> str:
        """Send one SMS; the provider's message id."""


class LoggingSmsProvider:
    """Development: the message goes to the log, not to a phone."""

    def send(self, sender: str, to: str, text: str) -> str:
        message_id = f"log-{uuid.uuid4()}"
        log.info("SMS %s from %s to %s: %s", message_id, sender, mask_mobile(to), text)
        return message_id


class HttpSmsProvider:
    """``POST {sender, to, text}`` with a bearer token. A 5xx, a 429, a timeout or no
    connection is transient; another 4xx is permanent. The id is the answer's
    ``id`` or ``message_id`` (empty when it names none)."""

    def __init__(self, url: str, token: str, timeout: float = TIMEOUT, session: requests.Session | None = None):
        self.url, self.token, self.timeout = url, token, timeout
        self.session = session or requests.Session()

    def send(self, sender: str, to: str, text: str) -> str:
        try:
            response = self.session.post(self.url, json={"sender": sender, "to": to, "text": text},
                                         headers={"Authorization": f"Bearer {self.token}"},
                                         timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise TransientError(f"SMS provider unreachable: {type(exc).__name__}: {exc}"[:300]) from exc
        status = response.status_code
        if 200 <= status < 300:
            try:
                body = response.json()
            except ValueError:
                body = {}
            found = (body.get("id") or body.get("message_id")) if isinstance(body, dict) else None
            return str(found) if found is not None else ""
        detail = f"SMS provider answered {status}: {_text(response.text)[:200]}"
        if 400 <= status < 500 and status not in (408, 429):
            raise PermanentError(detail)
        raise TransientError(detail)


# --- webhooks ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostResult:
    status_code: int | None
    latency_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedAdapter(HTTPAdapter):
    """Connects wherever the URL says (an address) while the TLS server name
    and the certificate check use the endpoint's host name."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **kwargs):
        super().init_poolmanager(connections, maxsize, block, server_hostname=self.hostname,
                                 assert_hostname=self.hostname, **kwargs)


class WebhookPoster:
    """POSTs a signed body. No redirects followed, no proxy from the environment
    (the URL was checked against private addresses: a proxy would bypass that),
    and at most 64 KB of the answer read. Given the ``address`` the URL was
    checked at, it connects there and nowhere else (no second DNS answer)."""

    PINNED_SESSIONS = 64  # kept alive per (host, port, address), oldest dropped

    def __init__(self, timeout: float = TIMEOUT, session: requests.Session | None = None,
                 verify: bool | str = True):
        """``verify``: the certificate authorities to trust (True: the system's;
        a path: that bundle, for tests)."""
        self.timeout, self.verify = timeout, verify
        self.session = session or requests.Session()
        self.session.trust_env = False
        self.session.verify = verify
        self.pinned: OrderedDict[tuple, requests.Session] = OrderedDict()

    def post(self, url: str, body: bytes, headers: Mapping[str, str],
             addresses: list[str] | None = None) -> PostResult:
        """``addresses``: where the URL check found the host; each is tried in
        turn until one takes the connection (none: DNS decides, as usual)."""
        started = time.monotonic()
        headers = {"Content-Type": "application/json", **headers}
        targets: list[str | None] = list(addresses) if addresses else [None]
        for n, address in enumerate(targets):
            try:
                session, target, sent_headers = (self.session, url, headers) if address is None else \
                    self._pinned(url, address, headers)
                with session.post(target, data=body, headers=sent_headers,
                                  timeout=self.timeout, allow_redirects=False, stream=True) as response:
                    answer = response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
                    status = response.status_code
                break
            except requests.ConnectionError as exc:
                if n == len(targets) - 1 or not _not_connected(exc):  # once sent, never to a second address
                    return PostResult(None, _since(started), f"{type(exc).__name__}: {exc}"[:300])
            except Exception as exc:  # a timeout, TLS, a broken answer: all recorded, none raised
                return PostResult(None, _since(started), f"{type(exc).__name__}: {exc}"[:300])
        if 200 <= status < 300:
            return PostResult(status, _since(started))
        return PostResult(status, _since(started), f"HTTP {status}: {_text(answer[:1000])[:200]}".rstrip(": "))

    def _pinned(self, url: str, address: str, headers: dict) -> tuple[requests.Session, str, dict]:
        parts = urlsplit(url)
        host = (parts.hostname or "").encode("idna").decode("ascii")  # as DNS and certificates spell it
        netloc = f"[{address}]" if ":" in address else address
        if parts.port:
            netloc += f":{parts.port}"
        key = (parts.scheme, host, parts.port, address)
        session = self.pinned.pop(key, None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            session.verify = self.verify
            session.mount("https://", _PinnedAdapter(host))
        self.pinned[key] = session
        while len(self.pinned) > self.PINNED_SESSIONS:
            self.pinned.popitem(last=False)[1].close()
        host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
        return session, urlunsplit(parts._replace(netloc=netloc)), {**headers, "Host": host_header}


def _not_connected(exc: requests.ConnectionError) -> bool:
    """The connection was never made (refused, unreachable, timed out): nothing was sent."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
