"""What the gateway's route tests share: a request builder and fakes of what
lies behind the gateway (the identity store, a recorder of service calls).
Each test file adds the answers its own routes need."""
from __future__ import annotations

import json

from werkzeug.test import EnvironBuilder

from seedwork.errors import Unauthenticated
from nameko.testing.services import worker_factory

from seedwork.caller import PLATFORM, Caller
from services.gateway.auth import bearer
from services.gateway.config import GatewayConfig
from services.gateway.service import GatewayService

STORE = "st_1"
ALI = "0b6e0c55-8a4f-4c43-9d55-1c2f6f7d0a01"
BLOCKED = "0b6e0c55-8a4f-4c43-9d55-1c2f6f7d0a02"


def request(method="POST", path="/", body=None, token="owner", headers=None, data=None, content_type=None,
            query=None):
    """A request with ``Bearer {token}``; ``body`` is sent as JSON."""
    sent = {"Authorization": f"Bearer {token}", **(headers or {})}
    if body is not None:
        data, content_type = json.dumps(body), "application/json"
    return EnvironBuilder(method=method, path=path, headers=sent, data=data, content_type=content_type,
                          query_string=query).get_request()


def json_of(response) -> dict:
    return json.loads(response.get_data())


class FakeIdentity:
    """A token is the name of a role: ``Bearer owner`` is the store's owner."""

    PRINCIPALS = {
        "owner": Caller("agent", "ag_owner", STORE, "owner"),
        "admin": Caller("agent", "ag_admin", STORE, "admin"),
        "agent": Caller("agent", "ag_agent", STORE, "agent"),
        "ali": Caller("customer", ALI, STORE, "customer"),
        "blocked": Caller("customer", BLOCKED, STORE, "customer"),
        "platform": PLATFORM,
    }

    def authenticate(self, authorization):
        token = bearer(authorization)
        if token not in self.PRINCIPALS:
            raise Unauthenticated("unauthenticated", "send a token")
        return self.PRINCIPALS[token]


class Reply:
    """An answer to wait for: the call runs now, its outcome is given (or raised) by ``result``."""

    def __init__(self, call, args, kwargs):
        try:
            self.value, self.error = call(*args, **kwargs), None
        except Exception as error:  # noqa: BLE001 - raised again by result(), as a real reply would
            self.value, self.error = None, error

    def result(self, timeout=None):
        if self.error is not None:
            raise self.error
        return self.value


class Recorder:
    """A fake service: records every call as ``(method, *args)`` (and the
    keyword arguments as a last dict, if any); its ``_<method>``, if any,
    answers it (else ``{}``). ``method.call_async(...).result()`` works too,
    as on a ``seedwork.rpc.DeadlineRpc`` proxy."""

    quiet = ()  # calls not worth recording in every test

    def __init__(self):
        self.calls = []

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args, **kwargs):
            if method not in self.quiet:
                self.calls.append((method, *args, *([kwargs] if kwargs else [])))
            return getattr(self, f"_{method}", lambda *a, **k: {})(*args, **kwargs)

        call.call_async = lambda *args, **kwargs: Reply(call, args, kwargs)
        return call

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


# The gateway's settings in these tests: answers are shaped, not checked (the
# end-to-end tests check real answers against the schemas).
CONFIG = GatewayConfig(amqp_uri="amqp://guest:guest@127.0.0.1:5672/", session_ttl=3600.0,
                       import_max_bytes=50 * 1024 * 1024)


def gateway_with(**dependencies):
    """A gateway worker whose other dependencies are fakes (``worker_factory``)."""
    return worker_factory(GatewayService, config=CONFIG, **dependencies)
