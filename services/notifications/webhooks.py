"""A store's webhook endpoints: registration, changes, secret rotation.

The secret is shown once (on creation and rotation) and never travels in an
event: the ``webhook_endpoint.*`` events name the endpoint, its URL and types.
During a rotation's overlap both secrets sign every delivery."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from seedwork.caller import Caller
from seedwork.envelope import NewEvent, utcnow
from seedwork.errors import InvalidCommand, NotFound
from seedwork.instants import iso
from seedwork.store import ANY_VERSION, EventStore

from . import signing, targets

COLUMNS = ("id", "store_id", "url", "events", "active", "status", "secret", "previous_secret",
           "previous_expires_at", "version", "created_at", "updated_at")
DEFAULT_OVERLAP, MAX_OVERLAP = 86400, 7 * 86400


def view(row: dict) -> dict[str, Any]:
    return {"id": row["id"], "url": row["url"], "events": list(row["events"]), "active": row["active"],
            "status": row["status"], "version": row["version"], "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"])}


def secrets_in_force(row: dict, now: datetime) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the
    previous one while its overlap lasts."""
    found = [row["secret"]]
    if row["previous_secret"] and row["previous_expires_at"] and row["previous_expires_at"] > now:
        found.append(row["previous_secret"])
    return found


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """An endpoint's URL checked (DNS included) before the command's
    transaction: a slow name server then holds no row lock and no transaction
    id (which stalls the event store's global-order readers). ``value()`` is
    the URL, or raises the refusal where the command used to check it, so a
    missing endpoint or an idempotent replay still answers first."""
    url: str | None
    refusal: InvalidCommand | None = None

    def value(self) -> str:
        if self.refusal is not None:
            raise self.refusal
        return self.url


class WebhookEndpoints:
    def __init__(self, store: EventStore, allow_private_targets: bool = False):
        self.store = store
        self.s = store.schema
        self.allow_private = allow_private_targets  # the operator's WEBHOOK_ALLOW_PRIVATE_TARGETS

    def _row(self, conn, store_id: str, endpoint_id: str, lock: bool = False) -> dict:
        row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.s}.webhook_endpoints WHERE id = %s "
                           f"AND store_id = %s{' FOR UPDATE' if lock else ''}", (endpoint_id, store_id)).fetchone()
        if row is None:
            raise NotFound("webhook_not_found", f"no webhook {endpoint_id}")
        return dict(zip(COLUMNS, row))

    def get(self, conn, store_id: str, endpoint_id: str, lock: bool = False) -> dict:
        return self._row(conn, store_id, endpoint_id, lock)

    def for_store(self, conn, store_id: str) -> list[dict]:
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.s}.webhook_endpoints WHERE store_id = %s "
                            "ORDER BY created_at", (store_id,)).fetchall()
        return [dict(zip(COLUMNS, r)) for r in rows]

    def check_url(self, value: Any) -> CheckedUrl:
        """``value`` checked as an endpoint's URL; call it outside any transaction."""
        try:
            return CheckedUrl(self._url(value))
        except InvalidCommand as refused:
            return CheckedUrl(None, refused)

    def create(self, conn, caller: Caller, fields: dict, url: CheckedUrl) -> dict:
        """``url``: ``check_url(fields.get("url"))``, asked before ``conn``'s transaction."""
        url = url.value()
        events = signing.clean_patterns(fields.get("events"))
        active = fields.get("active", True)
        if not isinstance(active, bool):
            raise InvalidCommand.field("active", "true or false")
        endpoint_id, secret, now = str(uuid.uuid4()), signing.new_secret(), utcnow()
        conn.execute(f"INSERT INTO {self.s}.webhook_endpoints (id, store_id, url, events, active, secret, "
                     "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     (endpoint_id, caller.store_id, url, events, active, secret, now, now))
        self._event(conn, caller, endpoint_id, "webhook_endpoint.created", {"url": url, "events": events,
                                                                            "active": active})
        return {**view(self._row(conn, caller.store_id, endpoint_id)), "secret": secret}

    def update(self, conn, caller: Caller, endpoint_id: str, fields: dict, url: CheckedUrl | None) -> dict:
        """``url``: ``check_url(fields["url"])`` if the fields have one, asked before ``conn``'s transaction."""
        row = self._row(conn, caller.store_id, endpoint_id, lock=True)
        changes: dict[str, Any] = {}
        if "url" in fields:
            changes["url"] = url.value()
        if "events" in fields:
            changes["events"] = signing.clean_patterns(fields["events"])
        if "active" in fields:
            if not isinstance(fields["active"], bool):
                raise InvalidCommand.field("active", "true or false")
            changes["active"] = fields["active"]
            if fields["active"]:
                changes["status"] = "healthy"  # switching it back on is a fresh start
        changes = {k: v for k, v in changes.items() if row[k] != v}
        if changes:
            conn.execute(f"UPDATE {self.s}.webhook_endpoints SET "
                         f"{', '.join(f'{k} = %s' for k in changes)}, version = version + 1, updated_at = now() "
                         "WHERE id = %s", (*changes.values(), endpoint_id))
            self._event(conn, caller, endpoint_id, "webhook_endpoint.updated", {"changes": changes})
        return view(self._row(conn, caller.store_id, endpoint_id))

    def delete(self, conn, caller: Caller, endpoint_id: str) -> None:
        self._row(conn, caller.store_id, endpoint_id, lock=True)
        conn.execute(f"DELETE FROM {self.s}.webhook_endpoints WHERE id = %s", (endpoint_id,))
        self._event(conn, caller, endpoint_id, "webhook_endpoint.deleted", {})

    def rotate(self, conn, caller: Caller, endpoint_id: str, fields: dict) -> dict:
        overlap = fields.get("overlap_seconds", DEFAULT_OVERLAP)
        if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap <= MAX_OVERLAP:
            raise InvalidCommand.field("overlap_seconds", f"an integer from 0 to {MAX_OVERLAP}")
        row = self._row(conn, caller.store_id, endpoint_id, lock=True)
        secret, expires = signing.new_secret(), utcnow() + timedelta(seconds=overlap)
        conn.execute(f"UPDATE {self.s}.webhook_endpoints SET secret = %s, previous_secret = %s, "
                     "previous_expires_at = %s, version = version + 1, updated_at = now() WHERE id = %s",
                     (secret, row["secret"], expires, endpoint_id))
        self._event(conn, caller, endpoint_id, "webhook_endpoint.secret_rotated",
                    {"previous_secret_expires_at": iso(expires)})
        return {"id": endpoint_id, "secret": secret, "previous_secret_expires_at": iso(expires)}

    def mark_failing(self, conn, store_id: str, endpoint_id: str, last_error: str) -> str | None:
        """The id of the ``webhook_endpoint.failing`` event if the endpoint was
        healthy until now (the store is told once), else None."""
        row = conn.execute(f"UPDATE {self.s}.webhook_endpoints SET status = 'failing', updated_at = now() "
                           "WHERE id = %s AND status <> 'failing' RETURNING url", (endpoint_id,)).fetchone()
        if row is None:
            return None
        [stored] = self.store.append(f"webhook:{endpoint_id}", ANY_VERSION, [NewEvent(
            "webhook_endpoint.failing", {"endpoint_id": endpoint_id, "url": row[0], "last_error": last_error[:300]},
            store_id=store_id)], conn=conn)
        return str(stored.event_id)

    def _event(self, conn, caller: Caller, endpoint_id: str, event_type: str, data: dict) -> None:
        self.store.append(f"webhook:{endpoint_id}", ANY_VERSION, [NewEvent(
            event_type, {"endpoint_id": endpoint_id, **data}, actor=caller.actor, store_id=caller.store_id)],
            conn=conn)

    def _url(self, value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > 2000:
            raise InvalidCommand.field("url", "an http or https URL of at most 2000 characters")
        try:
            return targets.check_url(value, self.allow_private)
        except targets.Unresolvable as exc:  # over RPC, the gateway knows InvalidCommand (a 422)
            raise InvalidCommand(exc.code, exc.detail, exc.errors) from None
