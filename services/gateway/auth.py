"""Tokens: how a bearer token names the caller behind a request.

A token is ``<token_id>.<signature>``: the id names a row in ``tokens`` (store,
principal, expiry, revocation) and the signature is an HMAC of the id with
the gateway's secret. Only ids are stored, so a copy of the database alone
cannot call the API; a token can be revoked by its row.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

PLATFORM_KEY_ENV = "HELPDESK_PLATFORM_KEY"
TOKEN_SECRET_ENV = "HELPDESK_TOKEN_SECRET"


class MissingSecret(RuntimeError):
    pass


class Secrets:
    """The platform key and the token-signing key, from the environment."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.platform_key = env.get(PLATFORM_KEY_ENV) or ""
        signing = env.get(TOKEN_SECRET_ENV) or ""
        if not signing and self.platform_key:
            # One secret is enough to run; a separate one lets ops rotate the
            # platform key without invalidating every store's tokens.
            signing = hmac.new(self.platform_key.encode(), b"seed token signing", hashlib.sha256).hexdigest()
        if not signing:
            raise MissingSecret(f"set {PLATFORM_KEY_ENV} (and optionally {TOKEN_SECRET_ENV}) for the gateway")
        self._signing = signing.encode()

    def is_platform_key(self, presented: str) -> bool:
        return bool(self.platform_key) and hmac.compare_digest(presented.encode(), self.platform_key.encode())

    def _signature(self, token_id: str) -> str:
        digest = hmac.new(self._signing, token_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token_for(self, token_id: str) -> str:
        return f"{token_id}.{self._signature(token_id)}"

    def token_id_of(self, token: str) -> str | None:
        """The id of a genuine token; None for anything forged or malformed."""
        token_id, dot, signature = token.partition(".")
        if not dot or not token_id or len(token) > 200:
            return None
        return token_id if hmac.compare_digest(signature.encode(), self._signature(token_id).encode()) else None


def new_token_id() -> str:
    return "tok_" + secrets.token_urlsafe(18)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
