"""Settings from the environment, with defaults that work on a developer machine.

Every service reads the same variables; a per-service database URL
(``TICKETS_DATABASE_URL``) wins over the shared ``DATABASE_URL``.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/seed"
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
SERVICES = ("tickets", "customers", "notifications", "reports", "gateway")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}\Z")  # \Z: "$" accepts a trailing newline


def checked_name(value: str, what: str) -> str:
    """SQL schema and bus names are interpolated into statements: allow only safe ones."""
    if not _NAME.match(value):
        raise ValueError(f"{what} {value!r} must match {_NAME.pattern}")
    return value


def _positive(env, key, default, kind=float):
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{key} must be a {'whole ' if kind is int else ''}number, got {raw!r}") from None
    if not (0 < value < math.inf):
        raise ValueError(f"{key} must be greater than 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    schema: str
    amqp_uri: str
    bus_prefix: str
    relay_poll_interval: float
    relay_batch_size: int
    retry_delays: tuple[float, ...]

    @property
    def exchange(self) -> str:
        """The durable topic exchange this service's events are published on."""
        return f"{self.bus_prefix}.{self.service}"


def load(service: str, env=None) -> Settings:
    env = os.environ if env is None else env
    service = checked_name(service, "service name")
    database_url = (
        env.get(f"{service.upper()}_DATABASE_URL")
        or env.get("DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )
    delays = env.get("CONSUMER_RETRY_DELAYS", "1,10,60")
    try:
        retry_delays = tuple(float(d) for d in delays.split(",") if d.strip())
    except ValueError:
        retry_delays = ()
    if not retry_delays or not all(0 < d < math.inf for d in retry_delays):
        raise ValueError(f"CONSUMER_RETRY_DELAYS must be comma-separated seconds above 0, got {delays!r}")
    return Settings(
        service=service,
        database_url=database_url,
        schema=checked_name(env.get(f"{service.upper()}_DB_SCHEMA", service), f"schema {service.upper()}_DB_SCHEMA"),
        amqp_uri=env.get("AMQP_URI") or DEFAULT_AMQP_URI,
        bus_prefix=checked_name(env.get("BUS_PREFIX", "seed"), "BUS_PREFIX"),
        relay_poll_interval=_positive(env, "RELAY_POLL_INTERVAL", 0.02),
        relay_batch_size=_positive(env, "RELAY_BATCH_SIZE", 500, kind=int),
        retry_delays=retry_delays,
    )
