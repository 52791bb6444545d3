"""The gateway's dependencies: its own schema (stores, staff, tokens), the
attachments' bytes, and calls to the services behind it, each with a deadline."""
from __future__ import annotations

import os

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from seedwork.nameko_ext import EventSourcing

from . import attachments
from .auth import Secrets
from .http import ServiceUnavailable
from .identity import Identity

DEFAULT_RPC_TIMEOUT = 10.0
DEFAULT_SESSION_TTL = 24 * 3600.0


class IdentityStore(EventSourcing):
    """``self.identity``: authentication and the stores/agents/sessions commands."""

    def setup(self):
        super().setup()
        self.secrets = Secrets()  # refuses to start without a secret
        self.session_ttl = float(os.environ.get("CUSTOMER_SESSION_TTL", DEFAULT_SESSION_TTL))

    def get_dependency(self, worker_ctx):
        identity = Identity(self.store, self.secrets, self.session_ttl)
        identity.db = super().get_dependency(worker_ctx)
        return identity


class TimedRpc(RpcProxy):
    """An RPC proxy whose calls give up after ``RPC_TIMEOUT`` seconds with a 503,
    instead of holding the HTTP request open while a service is down."""

    def get_dependency(self, worker_ctx):
        proxy = super().get_dependency(worker_ctx)
        return _Deadline(proxy, float(os.environ.get("RPC_TIMEOUT", DEFAULT_RPC_TIMEOUT)))


class _Deadline:
    def __init__(self, proxy, timeout: float):
        self._proxy, self._timeout = proxy, timeout

    def __getattr__(self, method: str):
        target = getattr(self._proxy, method)
        service = self._proxy.service_name if hasattr(self._proxy, "service_name") else "service"

        def call(*args, **kwargs):
            reply = target.call_async(*args, **kwargs)
            with eventlet.Timeout(self._timeout, False):
                return reply.result()
            raise ServiceUnavailable("service_unavailable",
                                     f"{service} did not answer within {self._timeout:g}s; retry later")
        return call


class AttachmentFiles(DependencyProvider):
    """``self.files``: uploads into the attachments' blob store and their bytes back.
    The store and the size limit are read once per process, from the environment."""

    def setup(self):
        self.store = attachments.blob_store_from_env()
        self.max_bytes = attachments.max_bytes_from_env()

    def get_dependency(self, worker_ctx):
        return Files(self.store, self.max_bytes)


class Files:
    def __init__(self, store: attachments.BlobStore, max_bytes: int):
        self._store, self.max_bytes = store, max_bytes

    def receive(self, request) -> attachments.Upload:
        """The request's ``file`` part, stored but not committed (see ``attachments.receive_upload``)."""
        return attachments.receive_upload(request, self._store, self.max_bytes)

    def chunks(self, sha256: str) -> attachments.BlobChunks:
        return attachments.stream(self._store, sha256)
