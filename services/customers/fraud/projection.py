"""The fraud watch's tables: ``fraud_evidence`` (what the watch saw, keyed by
the shopper's mobile) and ``flags`` (the projection of the flag streams).

Evidence has no stream of its own: it is the watch's working memory, written
exactly once per consumed event (``processed_events``, in the same
transaction). Whether a piece of evidence is spent is also in the
``shopper.flagged`` event that spent it (its ``evidence`` list).
"""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from seedwork.config import checked_name
from seedwork.instants import iso, iso_or_none

from .domain import FlagState
from .rules import Evidence

FLAG_COLUMNS = "id, mobile, code, rule, threshold, status, evidence, raised_at, cleared_at, cleared_by, note"


def flag_view(row) -> dict:
    fid, mobile, code, rule, threshold, status, evidence, raised_at, cleared_at, cleared_by, note = row
    return {"id": str(fid), "mobile": mobile, "code": code, "rule": rule, "threshold": threshold, "status": status,
            "evidence": evidence, "raised_at": iso(raised_at), "cleared_at": iso_or_none(cleared_at),
            "cleared_by": cleared_by, "note": note}


class FraudProjection:
    def __init__(self, schema: str):
        self.schema = checked_name(schema, "schema")

    # --- evidence -------------------------------------------------------------------

    def record_evidence(self, conn: psycopg.Connection, kind: str, store_id: str, ref: str, customer_id: str,
                        mobile: str, at: datetime) -> None:
        conn.execute(f"INSERT INTO {self.schema}.fraud_evidence (kind, store_id, ref, customer_id, mobile, at) "
                     "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                     (kind, store_id, ref, customer_id, mobile, at))

    def withdraw_block(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> None:
        """A store changed its mind: its block is no evidence any more, unless a flag already used it."""
        conn.execute(f"DELETE FROM {self.schema}.fraud_evidence WHERE kind = 'blocked_non_serious' "
                     "AND store_id = %s AND ref = %s AND flag_id IS NULL", (store_id, customer_id))

    def fresh_evidence(self, conn: psycopg.Connection, mobile: str) -> list[Evidence]:
        """The mobile's evidence no flag has used yet, oldest first."""
        rows = conn.execute(f"SELECT kind, store_id, ref, customer_id, at FROM {self.schema}.fraud_evidence "
                            "WHERE mobile = %s AND flag_id IS NULL ORDER BY at", (mobile,))
        return [Evidence(kind=r[0], store_id=r[1], ref=r[2], customer_id=str(r[3]), at=r[4]) for r in rows]

    # --- flags ----------------------------------------------------------------------

    def active_rules(self, conn: psycopg.Connection, mobile: str) -> set[str]:
        return {r[0] for r in conn.execute(f"SELECT rule FROM {self.schema}.flags WHERE mobile = %s "
                                           "AND status = 'active'", (mobile,))}

    def active_flags(self, conn: psycopg.Connection, mobile: str) -> list[tuple[str, str, dict, str]]:
        """``(flag_id, code, store-safe reason, raised_at)`` of the mobile's active flags: what its cards show."""
        rows = conn.execute(f"SELECT id, code, public_reason, raised_at FROM {self.schema}.flags "
                            "WHERE mobile = %s AND status = 'active'", (mobile,)).fetchall()
        return [(str(fid), code, reason, iso(raised_at)) for fid, code, reason, raised_at in rows]

    def flag_raised(self, conn: psycopg.Connection, flag: FlagState, public_reason: dict) -> None:
        """The flag's row, and its evidence marked spent. ``public_reason`` is what
        every store may see (the rule's description with a count): the rules
        configuration makes it, so it is kept here rather than derived again."""
        conn.execute(f"INSERT INTO {self.schema}.flags (id, mobile, code, rule, threshold, status, evidence, "
                     "public_reason, raised_at, version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     (flag.id, flag.mobile, flag.code, flag.rule, flag.threshold, flag.status, Jsonb(flag.evidence),
                      Jsonb(public_reason), flag.raised_at, flag.version))
        for item in flag.evidence:
            conn.execute(f"UPDATE {self.schema}.fraud_evidence SET flag_id = %s "
                         "WHERE kind = %s AND store_id = %s AND ref = %s",
                         (flag.id, item["kind"], item["store_id"], item["ref"]))

    def flag_cleared(self, conn: psycopg.Connection, flag: FlagState) -> None:
        conn.execute(f"UPDATE {self.schema}.flags SET status = %s, cleared_at = %s, cleared_by = %s, note = %s, "
                     "version = %s WHERE id = %s",
                     (flag.status, flag.cleared_at, flag.cleared_by, flag.note, flag.version, flag.id))

    def flag(self, conn: psycopg.Connection, flag_id: str) -> dict | None:
        row = conn.execute(f"SELECT {FLAG_COLUMNS} FROM {self.schema}.flags WHERE id = %s", (flag_id,)).fetchone()
        return flag_view(row) if row else None

    def flags_page(self, conn: psycopg.Connection, status: str | None, mobile: str | None,
                   after: tuple[datetime, str] | None, limit: int) -> list[tuple]:
        """Up to ``limit`` flags, newest first, after the cursor's ``(raised_at, id)``; rows for ``flag_view``."""
        where, params = [], []
        if status is not None:
            where.append("status = %s")
            params.append(status)
        if mobile is not None:
            where.append("mobile = %s")
            params.append(mobile)
        if after is not None:
            where.append("(raised_at, id) < (%s, %s)")
            params += list(after)
        return conn.execute(
            f"SELECT {FLAG_COLUMNS} FROM {self.schema}.flags {'WHERE ' + ' AND '.join(where) if where else ''} "
            "ORDER BY raised_at DESC, id DESC LIMIT %s", params + [limit]).fetchall()
