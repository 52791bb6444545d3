"""The gateway's settings, read from the environment once, when it starts."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from nameko.extensions import DependencyProvider

from seedwork import config as seedwork_config

DEFAULT_SESSION_TTL = 24 * 3600.0
DEFAULT_IMPORT_MAX_BYTES = 50 * 1024 * 1024
HEALTH_TIMEOUT = 3.0


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class GatewayConfig:
    amqp_uri: str  # /health/ready checks the broker
    session_ttl: float  # CUSTOMER_SESSION_TTL: seconds a help-widget session lasts
    import_max_bytes: int  # IMPORT_MAX_BYTES: the largest CSV file an import takes
    # GATEWAY_CHECK_RESPONSES: check every answer against its response schema
    # (a drift is a 500 naming the field); the end-to-end tests run so.
    check_responses: bool = False
    health_timeout: float = HEALTH_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "GatewayConfig":
        env = os.environ if env is None else env
        return cls(
            amqp_uri=seedwork_config.load("gateway", env).amqp_uri,
            session_ttl=float(env.get("CUSTOMER_SESSION_TTL") or DEFAULT_SESSION_TTL),
            import_max_bytes=int(env.get("IMPORT_MAX_BYTES") or DEFAULT_IMPORT_MAX_BYTES),
            check_responses=_flag(env, "GATEWAY_CHECK_RESPONSES"),
        )


class Config(DependencyProvider):
    """``self.config``: the gateway's settings (``GatewayConfig``)."""

    def setup(self):
        self.config = GatewayConfig.from_env()

    def get_dependency(self, worker_ctx):
        return self.config
