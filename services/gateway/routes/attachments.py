"""Files on tickets: uploads (PNG, JPEG, GIF, WebP, PDF) kept by the gateway's
blob store, recorded by the tickets service, downloaded by whoever may see them."""
from __future__ import annotations

from werkzeug.wrappers import Response

from seedwork.cards import redact_card_numbers
from seedwork.errors import NotFound

from ..attachments import content_disposition
from ..blobs import BlobNotFound
from ..routing import ANYONE_IN_STORE, PLATFORM, route
from ..schemas import selfservice as schemas
from .base import RouteBase

TAGS = ("attachments",)


class AttachmentRoutes(RouteBase):

    @route("POST", "/v1/tickets/<ticket_id>/attachments",
           "Upload a file (PNG, JPEG, GIF, WebP or PDF) to the ticket; name it in a reply or note by its id",
           roles=ANYONE_IN_STORE + PLATFORM, upload="file", response=schemas.AttachmentRecord, status=201,
           resource="attachment", location="{url}", tags=TAGS)
    def upload_attachment(self, call, ticket_id):
        upload = self.files.receive(call.request)
        described = {"filename": redact_card_numbers(upload.filename), "content_type": upload.content_type,
                     "size": upload.size, "sha256": upload.sha256}
        try:
            record = self.tickets.register_attachment(call.caller, ticket_id, described)
        except BaseException:
            upload.pending.discard()
            raise
        upload.pending.commit()
        return {"attachment": record, "created": True}

    @route("GET", "/v1/tickets/<ticket_id>/attachments/<attachment_id>",
           "Download an attachment (whoever may see the message carrying it)", roles=ANYONE_IN_STORE + PLATFORM,
           download=True, tags=TAGS)
    def download_attachment(self, call, ticket_id, attachment_id):
        record = self.tickets.attachment(call.caller, ticket_id, attachment_id)
        try:
            chunks = self.files.chunks(record["sha256"])
        except BlobNotFound:
            raise NotFound("attachment_not_found", f"the file of attachment {attachment_id} is not stored") from None
        headers = {"Content-Length": str(record["size"]),
                   "Content-Disposition": content_disposition(record["filename"]),
                   "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
        return Response(chunks, status=200, headers=headers, content_type=record["content_type"],
                        direct_passthrough=True)
