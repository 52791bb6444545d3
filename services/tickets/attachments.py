"""Records of files uploaded to tickets. The gateway keeps the bytes in its
blob store under their SHA-256 (services/gateway/attachments.py); this table
says which ticket a file belongs to and who uploaded it, so a download can be
checked against who may see it. Rows are only ever inserted."""
from __future__ import annotations

import uuid
from typing import Any

from seedwork import db  # noqa: F401  (first: it picks psycopg's wait function)
import psycopg

from seedwork.config import checked_name
from seedwork.errors import InvalidCommand

from . import commands as rules

COLUMNS = ("id", "store_id", "ticket_id", "sha256", "filename", "content_type", "size", "uploader_kind",
           "uploader_id")
CONTENT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


class AttachmentRecords:
    def __init__(self, schema: str):
        self.schema = checked_name(schema, "schema")

    def add(self, conn: psycopg.Connection, caller: dict, state, meta: dict) -> dict:
        sha256, content_type, size = meta.get("sha256"), meta.get("content_type"), meta.get("size")
        if not isinstance(sha256, str) or not rules.SHA256.fullmatch(sha256):
            raise InvalidCommand.field("sha256", "64 lowercase hex digits")
        if content_type not in CONTENT_TYPES:
            raise InvalidCommand.field("content_type", f"one of {', '.join(CONTENT_TYPES)}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidCommand.field("size", "an integer >= 0")
        filename = rules.text(meta.get("filename"), "filename", rules.FILENAME_MAX)
        row = (str(uuid.uuid4()), state.store_id, state.id, sha256, filename, content_type, size,
               caller["kind"], caller["id"])
        conn.execute(f"INSERT INTO {self.schema}.attachments ({', '.join(COLUMNS)}) "
                     f"VALUES ({', '.join(['%s'] * len(COLUMNS))})", row)
        return self.view(dict(zip(COLUMNS, row)))

    def get(self, conn: psycopg.Connection, state, attachment_id: str) -> dict[str, Any] | None:
        row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.schema}.attachments "
                           "WHERE id = %s AND ticket_id = %s AND store_id = %s",
                           (attachment_id, state.id, state.store_id)).fetchone()
        return None if row is None else dict(zip(COLUMNS, row))

    def for_message(self, conn: psycopg.Connection, caller: dict, ticket_id: str, attachment_id: Any) -> dict | None:
        """The fields a message's attachment carries, if ``caller`` uploaded
        this file to this ticket (nobody attaches someone else's upload)."""
        if not isinstance(attachment_id, str) or len(attachment_id) > rules.ID_MAX:
            return None
        row = conn.execute(
            f"SELECT id, filename, content_type, size, sha256 FROM {self.schema}.attachments "
            "WHERE id = %s AND ticket_id = %s AND uploader_kind = %s AND uploader_id IS NOT DISTINCT FROM %s",
            (attachment_id, ticket_id, caller["kind"], caller["id"])).fetchone()
        if row is None:
            return None
        return {"id": row[0], "filename": row[1], "content_type": row[2], "size": row[3], "sha256": row[4]}

    @staticmethod
    def view(record: dict) -> dict:
        return {
            "id": record["id"], "ticket_id": record["ticket_id"], "filename": record["filename"],
            "content_type": record["content_type"], "size": record["size"], "sha256": record["sha256"],
            "url": f"/v1/tickets/{record['ticket_id']}/attachments/{record['id']}",
        }
