"""A store's notification settings, its shoppers' opt-outs and its template
overrides: the store's own choices, kept in plain tables of this service."""
from __future__ import annotations

from typing import Any

import psycopg

from seedwork.config import checked_name
from seedwork.errors import InvalidCommand, NotFound
from seedwork.instants import iso

from . import rendering
from .config import DEFAULTS, NotificationsConfig

FIELDS = ("support_email", "locale", "brand_color", "logo_url", "self_service_channel", "email_quota_per_hour",
          "sms_quota_per_hour")


class StoreSettings:
    def __init__(self, schema: str, config: NotificationsConfig = DEFAULTS):
        self.s = checked_name(schema, "schema")
        self.default_quota = config.default_quota  # a store's quota when it set none

    # --- settings ------------------------------------------------------------------

    def load(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        row = conn.execute(
            f"SELECT {', '.join(FIELDS)}, sms_sender_name, updated_at FROM {self.s}.store_settings "
            "WHERE store_id = %s", (store_id,)).fetchone()
        values = dict(zip(FIELDS + ("sms_sender_name", "updated_at"), row)) if row else {}
        owner = conn.execute(f"SELECT owner_email, name FROM {self.s}.stores WHERE store_id = %s",
                             (store_id,)).fetchone()
        return {
            "support_email": values.get("support_email") or (owner[0] if owner else None),
            "locale": values.get("locale") or "ar",
            "brand_color": values.get("brand_color") or "#5b2b82",
            "logo_url": values.get("logo_url"),
            "self_service_channel": values.get("self_service_channel") or "email",
            "email_quota_per_hour": _or(values.get("email_quota_per_hour"), self.default_quota("email")),
            "sms_quota_per_hour": _or(values.get("sms_quota_per_hour"), self.default_quota("sms")),
            "sms_sender_name": values.get("sms_sender_name"),
            "store_name": owner[1] if owner else None,
            "updated_at": iso(values["updated_at"]) if values.get("updated_at") else None,
        }

    def update(self, conn: psycopg.Connection, store_id: str, fields: dict) -> dict[str, Any]:
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise InvalidCommand.field(sorted(unknown)[0], "not a notification setting")
        if "locale" in fields and fields["locale"] not in rendering.LOCALES:
            raise InvalidCommand.field("locale", f"one of {', '.join(rendering.LOCALES)}")
        if "self_service_channel" in fields and fields["self_service_channel"] not in ("email", "sms"):
            raise InvalidCommand.field("self_service_channel", "email or sms")
        if fields:
            columns = list(fields)
            conn.execute(
                f"INSERT INTO {self.s}.store_settings (store_id, {', '.join(columns)}) "
                f"VALUES (%s, {', '.join(['%s'] * len(columns))}) ON CONFLICT (store_id) DO UPDATE SET "
                f"{', '.join(f'{c} = EXCLUDED.{c}' for c in columns)}, updated_at = now()",
                (store_id, *fields.values()))
        return self.load(conn, store_id)

    # --- opt-outs ------------------------------------------------------------------

    def preferences(self, conn: psycopg.Connection, store_id: str, customer_id: str) -> dict[str, Any]:
        row = conn.execute(f"SELECT email, sms FROM {self.s}.preferences WHERE store_id = %s AND customer_id = %s",
                           (store_id, customer_id)).fetchone()
        return {"customer_id": customer_id, "email": row[0] if row else True, "sms": row[1] if row else True}

    def set_preferences(self, conn: psycopg.Connection, store_id: str, customer_id: str, fields: dict) -> dict:
        current = self.preferences(conn, store_id, customer_id)
        for channel in ("email", "sms"):
            if channel in fields:
                if not isinstance(fields[channel], bool):
                    raise InvalidCommand.field(channel, "true or false")
                current[channel] = fields[channel]
        conn.execute(f"INSERT INTO {self.s}.preferences (store_id, customer_id, email, sms) VALUES (%s, %s, %s, %s) "
                     "ON CONFLICT (store_id, customer_id) DO UPDATE SET email = EXCLUDED.email, sms = EXCLUDED.sms, "
                     "updated_at = now()", (store_id, customer_id, current["email"], current["sms"]))
        return current

    # --- template overrides --------------------------------------------------------------

    def override(self, conn: psycopg.Connection, store_id: str, kind: str, locale: str) -> dict | None:
        row = conn.execute(f"SELECT subject, text, html FROM {self.s}.template_overrides "
                           "WHERE store_id = %s AND kind = %s AND locale = %s", (store_id, kind, locale)).fetchone()
        return None if row is None else {"subject": row[0], "text": row[1], "html": row[2]}

    def templates(self, conn: psycopg.Connection, store_id: str) -> dict[str, Any]:
        rows = conn.execute(f"SELECT kind, locale, subject, text, html, updated_at FROM {self.s}.template_overrides "
                            "WHERE store_id = %s ORDER BY kind, locale", (store_id,)).fetchall()
        return {
            "kinds": [{"kind": k, "locales": list(rendering.LOCALES), "variables": list(rendering.VARIABLES[k])}
                      for k in rendering.KINDS],
            "overrides": [{"kind": r[0], "locale": r[1], "subject": r[2], "text": r[3], "html": r[4],
                           "updated_at": iso(r[5])} for r in rows],
        }

    def put_override(self, conn: psycopg.Connection, store_id: str, kind: str, locale: str, fields: dict) -> dict:
        _known(kind, locale)
        clean = rendering.check_override(fields)
        conn.execute(f"INSERT INTO {self.s}.template_overrides (store_id, kind, locale, subject, text, html) "
                     "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (store_id, kind, locale) DO UPDATE SET "
                     "subject = EXCLUDED.subject, text = EXCLUDED.text, html = EXCLUDED.html, updated_at = now()",
                     (store_id, kind, locale, clean["subject"], clean["text"], clean["html"]))
        return {"kind": kind, "locale": locale, **clean}

    def delete_override(self, conn: psycopg.Connection, store_id: str, kind: str, locale: str) -> None:
        _known(kind, locale)
        gone = conn.execute(f"DELETE FROM {self.s}.template_overrides WHERE store_id = %s AND kind = %s "
                            "AND locale = %s", (store_id, kind, locale)).rowcount
        if not gone:
            raise NotFound("template_override_not_found", f"no override of {kind}/{locale}")


def _known(kind: str, locale: str) -> None:
    if kind not in rendering.KINDS:
        raise NotFound("template_not_found", f"no template kind {kind}")
    if locale not in rendering.LOCALES:
        raise NotFound("template_not_found", f"no locale {locale}")


def _or(value, default):
    return default if value is None else value
