"""The delivery log, which is also the work queue.

A delivery is planned in the transaction that marks its event processed
(unique per event, channel, recipient and generation). The loop in every
replica *claims* due rows (``FOR UPDATE SKIP LOCKED``; the claim commits with
a lease and the attempt's start), sends, then *records* the result. A replica
that dies mid-send leaves the row ``sending`` with an expired lease: it is
claimed again, and its attempts show the possible duplicate."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from psycopg.types.json import Jsonb

from seedwork.config import checked_name
from seedwork.errors import Conflict, NotFound
from seedwork.instants import iso, iso_or_none
from seedwork.masking import mask_mobile
from seedwork.pagination import decode_cursor, encode_cursor, instant, page, page_limit, uuid_text

from .planning import STAFF_GROUP, Planned

COLUMNS = ("id", "store_id", "event_id", "event_type", "channel", "recipient_ref", "generation", "recipient", "kind",
           "context", "ticket_id", "customer_id", "endpoint_id", "status", "reason", "attempts", "attempts_before",
           "next_attempt_at", "template_fallback", "created_at", "updated_at", "sent_at")
# Longer than a send can take (dependencies.py bounds each at SEND_DEADLINE,
# and a replica claims only what it starts at once), so a live sender keeps its row.
LEASE = timedelta(seconds=120)
# A group reference (planning.STAFF_GROUP); as the partial index of migration 0002 says it.
_GROUP = f"starts_with(recipient_ref, '{STAFF_GROUP}:')"


def mask_recipient(channel: str, recipient: str | None) -> str | None:
    """Mobiles in the log show only their last 4 digits."""
    if recipient is None or channel != "sms":
        return recipient
    return mask_mobile(recipient)


def view(row: dict, attempts: list[dict] | None = None) -> dict[str, Any]:
    out = {
        "id": row["id"], "event_id": row["event_id"], "event_type": row["event_type"], "channel": row["channel"],
        "recipient": mask_recipient(row["channel"], row["recipient"]), "kind": row["kind"], "status": row["status"],
        "reason": row["reason"], "attempts": row["attempts"], "ticket_id": row["ticket_id"],
        "customer_id": row["customer_id"], "endpoint_id": row["endpoint_id"],
        "template_fallback": row["template_fallback"], "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]), "sent_at": iso_or_none(row["sent_at"]),
    }
    if attempts is not None:
        out["attempts_log"] = attempts
        out["last_status_code"] = attempts[-1]["status_code"] if attempts else None
    return out


class Deliveries:
    def __init__(self, schema: str):
        self.s = checked_name(schema, "schema")
        self._select = f"SELECT {', '.join(COLUMNS)} FROM {self.s}.deliveries"

    # --- planning --------------------------------------------------------------------

    def add(self, conn, store_id: str, event_id: str, event_type: str, planned: Iterable[Planned],
            generation: int = 0, due: datetime | None = None) -> list[str]:
        added = []
        for p in planned:
            row = conn.execute(
                f"INSERT INTO {self.s}.deliveries (id, store_id, event_id, event_type, channel, recipient_ref, "
                "generation, kind, context, ticket_id, customer_id, endpoint_id, status, next_attempt_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', coalesce(%s, now())) "
                "ON CONFLICT (event_id, channel, recipient_ref, generation) DO NOTHING RETURNING id",
                (str(uuid.uuid4()), store_id, event_id, event_type, p.channel, p.recipient_ref, generation, p.kind,
                 Jsonb(p.context), p.ticket_id, p.customer_id, p.endpoint_id, due)).fetchone()
            if row:
                added.append(row[0])
        return added

    def expand_groups(self, conn, now: datetime, limit: int, people: Callable[[dict], list[str]]) -> int:
        """Due group deliveries (``ticket_staff:<ticket id>``) replaced by one
        delivery per reference ``people(row)`` names now, in the claim's
        transaction: each person once per event (the unique key), and a crash
        leaves the group as it was, to be expanded by whoever claims next."""
        rows = conn.execute(
            f"{self._select} WHERE id IN (SELECT id FROM {self.s}.deliveries WHERE status = 'pending' "
            f"AND {_GROUP} AND next_attempt_at <= %s ORDER BY next_attempt_at "
            "LIMIT %s FOR UPDATE SKIP LOCKED)", (now, limit)).fetchall()
        for values in rows:
            group = dict(zip(COLUMNS, values))
            self.add(conn, group["store_id"], group["event_id"], group["event_type"], [
                Planned(group["channel"], ref, group["kind"], group["context"], group["ticket_id"],
                        group["customer_id"]) for ref in people(group)], due=group["next_attempt_at"])
            conn.execute(f"DELETE FROM {self.s}.deliveries WHERE id = %s", (group["id"],))
        return len(rows)

    def alert(self, conn, store_id: str, event_id: str, event_type: str, context: dict) -> None:
        """Tell the store by email to its support address, outside the quota,
        keyed by the event that says what happened (so it is sent once)."""
        self.add(conn, store_id, event_id, event_type, [Planned("email", "store_support", "store_alert", context)])

    # --- the loop's side -------------------------------------------------------------

    def claim(self, conn, limit: int, now: datetime) -> list[dict]:
        """Due deliveries, leased to this replica; the claim and each
        attempt's start commit before anything is sent."""
        rows = conn.execute(
            f"{self._select} WHERE id IN (SELECT id FROM {self.s}.deliveries "
            "WHERE (status IN ('pending', 'retrying', 'held') AND next_attempt_at <= %s "
            "OR status = 'sending' AND lease_until < %s) "
            f"AND NOT {_GROUP} "  # groups are expanded first (expand_groups), never sent
            "ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED)", (now, now, limit)).fetchall()
        claimed = []
        for values in rows:
            row = dict(zip(COLUMNS, values))
            attempt = row["attempts"] + 1
            conn.execute(f"UPDATE {self.s}.deliveries SET status = 'sending', lease_until = %s, attempts = %s, "
                         "updated_at = now() WHERE id = %s", (now + LEASE, attempt, row["id"]))
            conn.execute(f"INSERT INTO {self.s}.attempts (delivery_id, attempt, started_at) VALUES (%s, %s, %s) "
                         "ON CONFLICT DO NOTHING", (row["id"], attempt, now))
            claimed.append({**row, "attempts": attempt})
        return claimed

    def finish(self, conn, delivery: dict, status: str, *, reason: str | None = None,
               next_attempt_at: datetime | None = None, recipient: str | None = None,
               outcome: str | None = None, status_code: int | None = None, latency_ms: int | None = None,
               error: str | None = None, template_fallback: str | None = None,
               customer_id: str | None = None, fresh_tries: bool = False) -> bool:
        """Record an attempt's result. ``customer_id``: the shopper found when
        sending (a reply planned before its ticket was known has none yet).
        ``fresh_tries``: this attempt was no failure (a quota hold): the
        backoff of later failures starts from its first wait.

        False (and the row untouched): the attempt is no longer this
        sender's, as its lease ran out and another replica took the row;
        the attempt's own record is still completed."""
        owned = conn.execute(
            f"UPDATE {self.s}.deliveries SET status = %s, reason = %s, "
            "next_attempt_at = coalesce(%s, next_attempt_at), recipient = coalesce(%s, recipient), "
            "template_fallback = coalesce(%s, template_fallback), customer_id = coalesce(customer_id, %s), "
            "attempts_before = CASE WHEN %s THEN attempts ELSE attempts_before END, "
            "lease_until = NULL, updated_at = now(), sent_at = CASE WHEN %s = 'sent' THEN now() ELSE sent_at END "
            "WHERE id = %s AND status = 'sending' AND attempts = %s",
            (status, reason, next_attempt_at, recipient, template_fallback, customer_id, fresh_tries, status,
             delivery["id"], delivery["attempts"])).rowcount == 1
        if outcome is not None:
            conn.execute(f"UPDATE {self.s}.attempts SET finished_at = now(), outcome = %s, status_code = %s, "
                         "latency_ms = %s, error = %s WHERE delivery_id = %s AND attempt = %s",
                         (outcome, status_code, latency_ms, error and error[:500], delivery["id"],
                          delivery["attempts"]))
        return owned

    # --- the log ---------------------------------------------------------------------

    def get(self, conn, store_id: str, delivery_id: str) -> dict:
        row = conn.execute(f"{self._select} WHERE id = %s AND store_id = %s", (delivery_id, store_id)).fetchone()
        if row is None:
            raise NotFound("notification_not_found", f"no notification {delivery_id}")
        return dict(zip(COLUMNS, row))

    def attempts(self, conn, delivery_ids: list[str]) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {i: [] for i in delivery_ids}
        for r in conn.execute(f"SELECT delivery_id, attempt, started_at, status_code, latency_ms, error, outcome "
                              f"FROM {self.s}.attempts WHERE delivery_id = ANY(%s) ORDER BY delivery_id, attempt",
                              (delivery_ids,)):
            found[r[0]].append({"attempt": r[1], "at": iso(r[2]), "status_code": r[3], "latency_ms": r[4],
                                "error": r[5], "outcome": r[6]})
        return found

    def page(self, conn, store_id: str, query: dict, endpoint_id: str | None = None,
             with_attempts: bool = False) -> dict:
        where, params = ["store_id = %s"], [store_id]
        for name in ("ticket_id", "customer_id", "channel", "status", "event_id"):
            if query.get(name):
                where.append(f"{name} = %s")
                params.append(str(query[name]))
        if endpoint_id is not None:
            where.append("endpoint_id = %s")
            params.append(endpoint_id)
        limit = page_limit(query.get("limit"))
        if query.get("cursor"):
            created_at, delivery_id = decode_cursor(query["cursor"], instant, uuid_text)
            where.append("(created_at, id) < (%s, %s)")
            params += [created_at, delivery_id]
        rows = [dict(zip(COLUMNS, r)) for r in conn.execute(
            f"{self._select} WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT %s",
            params + [limit + 1]).fetchall()]
        logs = self.attempts(conn, [r["id"] for r in rows[:limit]]) if with_attempts else {}
        return page(rows, limit, lambda r: view(r, logs.get(r["id"]) if with_attempts else None),
                    lambda r: encode_cursor(r["created_at"], r["id"]))

    def retry(self, conn, store_id: str, delivery_id: str) -> dict:
        # One conditional step: a row the loop claimed meanwhile is not put back.
        # A fresh run of tries: the backoff starts again from its first wait.
        done = conn.execute(
            f"UPDATE {self.s}.deliveries SET status = 'pending', reason = NULL, next_attempt_at = now(), "
            "attempts_before = attempts, updated_at = now() "
            "WHERE id = %s AND store_id = %s AND status IN ('dead', 'held', 'refused') RETURNING id",
            (delivery_id, store_id)).fetchone()
        row = self.get(conn, store_id, delivery_id)
        if done is None:
            raise Conflict("not_retryable", f"a {row['status']} notification is not retried by hand",
                           {"status": [row["status"]]})
        return view(row)

    def next_generation(self, conn, event_id: str, endpoint_id: str) -> int:
        return conn.execute(f"SELECT coalesce(max(generation) + 1, 0) FROM {self.s}.deliveries "
                            "WHERE event_id = %s AND endpoint_id = %s", (event_id, endpoint_id)).fetchone()[0]
