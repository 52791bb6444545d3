"""The gateway's dependencies: its own schema (stores, staff, tokens) behind
``identity``, and the attachments' bytes behind ``files``. The services
behind it are ``seedwork.rpc.DeadlineRpc`` proxies (routes/base.py)."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from seedwork.nameko_ext import EventSourcing

from . import attachments, blobs
from .auth import Secrets
from .config import GatewayConfig
from .identity import Identity


class IdentityStore(EventSourcing):
    """``self.identity``: authentication and the stores/agents/sessions commands."""

    def setup(self):
        super().setup()
        # Built once: it holds the store, the secrets (it refuses to start
        # without one) and prepared SQL, and no state of a request.
        self.identity = Identity(self.store, Secrets(), GatewayConfig.from_env().session_ttl)

    def get_dependency(self, worker_ctx):
        return self.identity


class AttachmentFiles(DependencyProvider):
    """``self.files``: uploads into the attachments' blob store and their bytes back.
    The store and the size limit are read once per process, from the environment."""

    def setup(self):
        self.files = Files(blobs.blob_store_from_env(), attachments.max_bytes_from_env())

    def get_dependency(self, worker_ctx):
        return self.files


class Files:
    def __init__(self, store: blobs.BlobStore, max_bytes: int):
        self._store, self.max_bytes = store, max_bytes

    def receive(self, request) -> attachments.Upload:
        """The request's ``file`` part, stored but not committed (see ``attachments.receive_upload``)."""
        return attachments.receive_upload(request, self._store, self.max_bytes)

    def chunks(self, sha256: str) -> blobs.BlobChunks:
        return blobs.stream(self._store, sha256)
