"""The notifications service's settings: every environment variable it
reads, read here once, when the service starts (``NotificationsConfig.from_env``).

The rest of the service receives them: the transports are built from
``smtp`` and ``sms``, the dispatcher gets the mail names, the retry
schedules and whether webhooks may target private addresses, the store
settings get the default quotas. A value that cannot be right (a port that
is no port, a schedule that is no list of seconds) stops the service at
start with the variable's name. The names shared by every service
(``DATABASE_URL``, ``BUS_PREFIX``, ``RPC_TIMEOUT``, ...) are seedwork's.

Plain Python: it reads a mapping, nothing else.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Mapping

from . import backoff

DEFAULT_SINK_PORT = 2525  # deploy/local's development SMTP sink
TLS_MODES = ("starttls", "ssl", "none")
SMS_PROVIDERS = ("log", "http")
TRUE = ("true", "1", "yes")


@dataclass(frozen=True, slots=True)
class Smtp:
    """Where email goes: ``SMTP_HOST`` and friends; without ``SMTP_HOST``,
    the development sink on 127.0.0.1:``SMTP_SINK_PORT``."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_SINK_PORT
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: str = "none"  # starttls | ssl | none


@dataclass(frozen=True, slots=True)
class Sms:
    """``SMS_PROVIDER``: ``log`` (development: to the log) or ``http``
    (``SMS_HTTP_URL`` with the bearer token ``SMS_HTTP_TOKEN``)."""
    provider: str = "log"
    url: str | None = None
    token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class NotificationsConfig:
    smtp: Smtp = field(default_factory=Smtp)
    sms: Sms = field(default_factory=Sms)
    mail_from: str = "no-reply@seed.local"  # MAIL_FROM: the address (the display name is the store's)
    mail_domain: str = "seed.local"  # MAIL_DOMAIN: of Message-IDs
    reply_domain: str = "reply.seed.local"  # REPLY_DOMAIN: of Reply-To
    message_retry_schedule: tuple[float, ...] = backoff.EMAIL_SCHEDULE  # NOTIFY_RETRY_SCHEDULE: email and SMS
    webhook_retry_schedule: tuple[float, ...] = backoff.WEBHOOK_SCHEDULE  # WEBHOOK_RETRY_SCHEDULE
    allow_private_targets: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS (see targets.py)
    email_quota_per_hour: int = 500  # NOTIFY_EMAIL_QUOTA_PER_HOUR: a store's default
    sms_quota_per_hour: int = 100  # NOTIFY_SMS_QUOTA_PER_HOUR

    def retry_schedule(self, channel: str) -> tuple[float, ...]:
        """The waits after each failed attempt on ``channel`` (email, sms or webhook)."""
        if channel in ("email", "sms"):
            return self.message_retry_schedule
        if channel == "webhook":
            return self.webhook_retry_schedule
        raise ValueError(f"no retry schedule for channel {channel!r}")

    def default_quota(self, channel: str) -> int:
        return self.email_quota_per_hour if channel == "email" else self.sms_quota_per_hour

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "NotificationsConfig":
        defaults = cls()
        return cls(
            smtp=_smtp(env),
            sms=_sms(env),
            mail_from=env.get("MAIL_FROM", defaults.mail_from),  # checked by each email: a mistake delays mail
            mail_domain=env.get("MAIL_DOMAIN", defaults.mail_domain),
            reply_domain=env.get("REPLY_DOMAIN", defaults.reply_domain),
            message_retry_schedule=_schedule(env, "NOTIFY_RETRY_SCHEDULE", defaults.message_retry_schedule),
            webhook_retry_schedule=_schedule(env, "WEBHOOK_RETRY_SCHEDULE", defaults.webhook_retry_schedule),
            allow_private_targets=env.get("WEBHOOK_ALLOW_PRIVATE_TARGETS", "").strip().lower() in TRUE,
            email_quota_per_hour=_count(env, "NOTIFY_EMAIL_QUOTA_PER_HOUR", defaults.email_quota_per_hour),
            sms_quota_per_hour=_count(env, "NOTIFY_SMS_QUOTA_PER_HOUR", defaults.sms_quota_per_hour),
        )


def _smtp(env: Mapping[str, str]) -> Smtp:
    host = env.get("SMTP_HOST", "").strip()
    if not host:
        return Smtp(port=_port(env, "SMTP_SINK_PORT", DEFAULT_SINK_PORT))
    tls = env.get("SMTP_TLS", "starttls").strip().lower() or "starttls"
    if tls not in TLS_MODES:
        raise ValueError(f"SMTP_TLS must be one of {', '.join(TLS_MODES)}, got {tls!r}")
    return Smtp(host, _port(env, "SMTP_PORT", 587), env.get("SMTP_USER") or None, env.get("SMTP_PASSWORD") or None,
                tls)


def _sms(env: Mapping[str, str]) -> Sms:
    provider = env.get("SMS_PROVIDER", "log").strip().lower() or "log"
    if provider not in SMS_PROVIDERS:
        raise ValueError(f"SMS_PROVIDER must be log or http, got {provider!r}")
    if provider == "log":
        return Sms()
    url = env.get("SMS_HTTP_URL", "").strip()
    if not url.startswith(("http://", "https://")):
        raise ValueError("SMS_PROVIDER=http needs SMS_HTTP_URL (an http or https URL)")
    return Sms("http", url, env.get("SMS_HTTP_TOKEN", ""))


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a TCP port, got {raw!r}")
    return int(raw)


def _schedule(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """Comma-separated seconds, each above 0: the waits after the 1st, 2nd, ... failure."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        waits = tuple(float(part) for part in raw.split(","))
    except ValueError:
        waits = ()
    if not waits or any(not (0 < wait < math.inf) for wait in waits):
        raise ValueError(f"{name} must be comma-separated positive numbers of seconds, got {raw!r}")
    return waits


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number of messages (0 or more), got {raw!r}")
    return int(raw)


DEFAULTS = NotificationsConfig()  # what a service with nothing set runs with (tests, scripts)
