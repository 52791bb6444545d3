"""Files uploaded to tickets. The gateway keeps the bytes in its blob store
under their SHA-256 (services/gateway/attachments.py); the ``attachments``
table says which ticket a file belongs to and who uploaded it, so a download
is checked against who may see it. Rows are only ever inserted. Who may
attach and download is ``domain.policy``'s."""
from __future__ import annotations

import uuid
from typing import Any

import psycopg

from seedwork.caller import Caller
from seedwork.config import checked_name
from seedwork.errors import InvalidCommand, NotFound
from seedwork.store import EventStore

from . import views
from .domain import fields, policy
from .domain.commands import Attachment
from .reads import TicketReads
from .selfservice_settings import SelfServiceSettings

COLUMNS = ("id", "store_id", "ticket_id", "sha256", "filename", "content_type", "size", "uploader_kind",
           "uploader_id")


class AttachmentRecords:
    """The ``attachments`` table."""

    def __init__(self, schema: str):
        s = checked_name(schema, "schema")
        columns = ", ".join(COLUMNS)
        self._insert = f"INSERT INTO {s}.attachments ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        self._get = f"SELECT {columns} FROM {s}.attachments WHERE id = %s AND ticket_id = %s AND store_id = %s"
        self._uploaded = (f"SELECT id, filename, content_type, size, sha256 FROM {s}.attachments "
                          "WHERE id = %s AND ticket_id = %s AND uploader_kind = %s "
                          "AND uploader_id IS NOT DISTINCT FROM %s")
        self._copy = (f"INSERT INTO {s}.attachments ({columns}) "
                      f"SELECT c.new_id, a.store_id, %s, {', '.join('a.' + c for c in COLUMNS[3:])} "
                      f"FROM {s}.attachments a JOIN unnest(%s::text[], %s::text[]) AS c(old_id, new_id) "
                      "ON a.id = c.old_id WHERE a.ticket_id = %s AND a.store_id = %s")

    def add(self, conn: psycopg.Connection, caller: Caller, store_id: str, ticket_id: str, file: dict) -> dict:
        row = (str(uuid.uuid4()), store_id, ticket_id, file["sha256"], file["filename"], file["content_type"],
               file["size"], caller.kind, caller.id)
        conn.execute(self._insert, row)
        return dict(zip(COLUMNS, row))

    def copy(self, conn: psycopg.Connection, store_id: str, from_ticket: str, to_ticket: str,
             copies: dict[str, str]) -> None:
        """Record files of one ticket as files of another too (a merge, a split),
        each copy under its new id (``copies``: old id -> new id); the bytes
        are the same blob (its SHA-256), and the uploader stays who it was."""
        if copies:
            conn.execute(self._copy, (to_ticket, list(copies), list(copies.values()), from_ticket, store_id))

    def get(self, conn: psycopg.Connection, store_id: str, ticket_id: str, attachment_id: str) -> dict | None:
        row = conn.execute(self._get, (attachment_id, ticket_id, store_id)).fetchone()
        return None if row is None else dict(zip(COLUMNS, row))

    def uploaded_by(self, conn: psycopg.Connection, caller: Caller, ticket_id: str,
                    attachment_id: Any) -> dict | None:
        """The fields a message's attachment carries, if ``caller`` uploaded
        this file to this ticket (nobody attaches someone else's upload)."""
        if not isinstance(attachment_id, str) or len(attachment_id) > fields.ID_MAX:
            return None
        row = conn.execute(self._uploaded, (attachment_id, ticket_id, caller.kind, caller.id)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "filename": row[1], "content_type": row[2], "size": row[3], "sha256": row[4]}


class TicketFiles:
    def __init__(self, store: EventStore, reads: TicketReads, settings: SelfServiceSettings):
        self.store, self.reads, self.settings = store, reads, settings
        self.records = AttachmentRecords(store.schema)

    def register(self, caller: Caller, ticket_id: str, meta: dict) -> dict:
        """Record a file the gateway stored; the caller must be able to write to the ticket."""
        with self.store.transaction() as conn:
            state = self.reads.visible(conn, caller, ticket_id)
            allowed = self.settings.load(conn, state.store_id)["allow_attachments"]
            policy.check_attachment(state, caller, shoppers_may_attach=allowed)
            record = self.records.add(conn, caller, state.store_id, state.id, fields.uploaded_file(meta))
            return views.file_record(record)

    def download(self, caller: Caller, ticket_id: str, attachment_id: str) -> dict:
        """A file's record, for a download by someone who may see it."""
        with self.store.pool.connection() as conn:
            state = self.reads.visible(conn, caller, ticket_id)
            record = self.records.get(conn, state.store_id, state.id, attachment_id)
        uploader = record and (record["uploader_kind"], record["uploader_id"])
        if record is None or not policy.may_download(state, caller, attachment_id, uploader):
            raise NotFound("attachment_not_found", f"no attachment {attachment_id}")
        return views.file_record(record)

    def resolve(self, conn: psycopg.Connection, caller: Caller, ticket_id: str | None, items) -> tuple:
        """A message's attachments: uploaded files named by id (this ticket's,
        uploaded by this caller) or external links."""
        resolved = []
        for n, item in enumerate(items or (), 1):
            if isinstance(item, dict) and set(item) == {"id"}:
                if ticket_id is None:
                    raise InvalidCommand.field("attachments", f"#{n}: upload files once the ticket exists")
                record = self.records.uploaded_by(conn, caller, ticket_id, item["id"])
                if record is None:
                    raise InvalidCommand.field("attachments", f"#{n}: no file {item['id']} uploaded by you "
                                                              "to this ticket")
                resolved.append(Attachment(**record))
            else:
                resolved.append(Attachment(**item))
        return tuple(resolved)
