"""Calls to another service with a deadline: ``tickets = DeadlineRpc("tickets")``.

Nameko's RPC proxy waits for an answer as long as it takes, so a service
that is down would hold an HTTP request, or a bus handler, forever. Here a
call that gets no answer within ``RPC_TIMEOUT`` seconds (10 by default, read
once when the service starts) raises ``ServiceUnavailable``: the gateway
answers 503, a bus handler fails and the bus retries it. A ``Caller``
argument travels as its dict (``Caller.to_dict``), as every service expects.
"""
from __future__ import annotations

import os

import eventlet
from nameko.rpc import RpcProxy

from .caller import Caller
from .errors import ServiceUnavailable

DEFAULT_RPC_TIMEOUT = 10.0


class DeadlineRpc(RpcProxy):
    def setup(self):
        super().setup()
        self.timeout = float(os.environ.get("RPC_TIMEOUT") or DEFAULT_RPC_TIMEOUT)

    def get_dependency(self, worker_ctx):
        return Deadlined(super().get_dependency(worker_ctx), self.target_service, self.timeout)


class Deadlined:
    """``service.method(*args)`` as usual, or ``ServiceUnavailable`` past the deadline.
    ``service.method.call_async(*args)`` starts a call to wait for later
    (``.result()``), to ask two services at once."""

    def __init__(self, proxy, service: str, timeout: float):
        self._proxy, self._service, self.timeout = proxy, service, timeout

    def __getattr__(self, method: str) -> "DeadlinedMethod":
        return DeadlinedMethod(getattr(self._proxy, method), self._service, self.timeout)


class DeadlinedMethod:
    def __init__(self, target, service: str, timeout: float):
        self._target, self._service, self._timeout = target, service, timeout

    def __call__(self, *args, **kwargs):
        return self.call_async(*args, **kwargs).result()

    def call_async(self, *args, **kwargs) -> "PendingReply":
        args = [_sendable(a) for a in args]
        kwargs = {k: _sendable(v) for k, v in kwargs.items()}
        return PendingReply(self._target.call_async(*args, **kwargs), self._service, self._timeout)


def _sendable(value):
    return value.to_dict() if isinstance(value, Caller) else value


class PendingReply:
    def __init__(self, reply, service: str, timeout: float):
        self._reply, self._service, self._timeout = reply, service, timeout

    def result(self, timeout: float | None = None):
        """The answer, or ``ServiceUnavailable`` after ``timeout`` (the proxy's) seconds."""
        timeout = self._timeout if timeout is None else timeout
        with eventlet.Timeout(timeout, False):
            return self._reply.result()
        raise ServiceUnavailable("service_unavailable",
                                 f"{self._service} did not answer within {timeout:g}s; retry later")
