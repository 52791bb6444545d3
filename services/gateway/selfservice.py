"""Routes of the shopper's self-service flows and the tools staff answer with:
settings, the flows, the data-change decision, canned responses, attachments
and the platform's ticket list (docs/self-service.md).

A mixin of ``GatewayService``: Nameko finds entrypoints on base classes, and
the dependencies these routes use (``tickets``, ``customers``, ``identity``)
are declared there. The tickets service decides; the gateway validates,
fetches what other services know (orders, standing) and keeps the files' bytes.
"""
from __future__ import annotations

from werkzeug.wrappers import Response

from seedwork.cards import redact_card_numbers
from seedwork.errors import Conflict, NotFound, PreconditionFailed

from . import selfservice_schemas as ss
from .attachments import BlobNotFound, content_disposition
from .common import (
    ADMIN, ANYONE_IN_STORE, CUSTOMER, PLATFORM, STAFF, check_ticket_id, checked_ticket_id, checked_uuid, etag,
    idempotency, if_match, replayed, resource_response, ticket_query, ticket_response,
)
from .dependencies import AttachmentFiles
from .http import RouteDoc, api, json_response, load_json
from .schemas import Ticket, TicketList


def _canned(canned_id: str) -> str:
    return checked_uuid(canned_id, "canned_response_not_found", "canned response")


def _attachment(attachment_id: str) -> str:
    return checked_uuid(attachment_id, "attachment_not_found", "attachment")


def flow_response(result: dict):
    """A flow's answer: ``result["status"]`` (201 with ``Location`` when it opened a ticket)."""
    body = {k: v for k, v in result.items() if k not in ("status", "replayed")}
    headers = replayed(result)
    if result["status"] == 201 and body.get("ticket"):
        headers["Location"] = f"/v1/tickets/{body['ticket']['id']}"
    return json_response(result["status"], body, headers)


def _canned_response(status: int, canned: dict, headers: dict | None = None):
    return json_response(status, canned, {"ETag": etag(canned), **(headers or {})})


class SelfServiceRoutes:

    files = AttachmentFiles()

    # --- settings ---------------------------------------------------------------------

    @api("GET", "/v1/settings/self-service", doc=RouteDoc(
        "The store's self-service settings", STAFF, response=ss.SelfServiceSettings, tags=("self-service",)))
    def self_service_settings(self, request):
        principal = self._caller(request, STAFF)
        settings = self.tickets.self_service_settings(principal.as_caller())
        return json_response(200, settings, {"ETag": etag(settings)})

    @api("PATCH", "/v1/settings/self-service", doc=RouteDoc(
        "Change the store's self-service settings (merged; texts key by key)", ADMIN, ss.SelfServiceSettingsUpdate,
        response=ss.SelfServiceSettings, if_match=True, tags=("self-service",)))
    def update_self_service_settings(self, request):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ss.SelfServiceSettingsUpdate())
        settings = self.tickets.update_self_service_settings(principal.as_caller(), body,
                                                             if_match(request, "settings"))
        return json_response(200, settings, {"ETag": etag(settings)})

    # --- the shopper's flows -------------------------------------------------------------

    @api("POST", "/v1/self-service/charged-without-order", doc=RouteDoc(
        "Charged but no order number: opens a ticket the platform's review team answers", CUSTOMER,
        ss.ChargedWithoutOrder, response=ss.FlowResult, status=201, idempotent_post=True, tags=("self-service",)))
    def charged_without_order(self, request):
        principal = self._caller(request, CUSTOMER)
        body = load_json(request, ss.ChargedWithoutOrder())
        self._may_use_self_service(principal)
        return flow_response(self.tickets.charged_without_order(principal.as_caller(), body,
                                                                idempotency(request, body)))

    @api("POST", "/v1/self-service/delayed-order", doc=RouteDoc(
        "My order is late: tracking, the order's details, or a ticket (201 when one is opened)", CUSTOMER,
        ss.DelayedOrder, response=ss.FlowResult, idempotent_post=True, tags=("self-service",)))
    def delayed_order(self, request):
        principal = self._caller(request, CUSTOMER)
        body = load_json(request, ss.DelayedOrder())
        self._may_use_self_service(principal)
        order = self._shoppers_order(principal, body["order_id"])
        return flow_response(self.tickets.delayed_order(principal.as_caller(), order, body,
                                                        idempotency(request, body)))

    @api("POST", "/v1/self-service/product-exchange", doc=RouteDoc(
        "Ask to exchange an item of a delivered order: opens a ticket", CUSTOMER, ss.ProductExchange,
        response=ss.FlowResult, status=201, idempotent_post=True, tags=("self-service",)))
    def product_exchange(self, request):
        principal = self._caller(request, CUSTOMER)
        body = load_json(request, ss.ProductExchange())
        self._may_use_self_service(principal)
        order = self._shoppers_order(principal, body["order_id"])
        return flow_response(self.tickets.product_exchange(principal.as_caller(), order, body,
                                                           idempotency(request, body)))

    @api("POST", "/v1/self-service/customer-data-change", doc=RouteDoc(
        "Ask the store to change my name, email, mobile or city: opens a ticket staff approve or reject",
        CUSTOMER, ss.CustomerDataChange, response=ss.FlowResult, status=201, idempotent_post=True,
        tags=("self-service",)))
    def customer_data_change(self, request):
        principal = self._caller(request, CUSTOMER)
        body = load_json(request, ss.CustomerDataChange())
        self._may_use_self_service(principal)
        return flow_response(self.tickets.customer_data_change(principal.as_caller(), body,
                                                               idempotency(request, body)))

    def _may_use_self_service(self, principal) -> None:
        """The store's switch first (409 while off), then the shopper's standing
        (403 when blocked); the tickets service checks the switch again in the
        flow's own transaction."""
        if not self.tickets.self_service_enabled(principal.as_caller()):
            raise Conflict("self_service_disabled", "this store has not turned self-service on",
                           {"enabled": ["the store's self-service setting is off"]})
        self._check_ticket_customer(principal, None)

    def _shoppers_order(self, principal, order_id: str) -> dict:
        # Another shopper's order is answered as an unknown one.
        order = self.customers.get_order(principal.as_caller(), order_id)
        if order.get("customer_id") != principal.id:
            raise NotFound("order_not_found", f"no order {order_id}")
        return order

    # --- the data-change decision -----------------------------------------------------------

    @api("POST", "/v1/tickets/<ticket_id>/data-change/approve", doc=RouteDoc(
        "Approve a customer data change: the fields are applied to the customer card", STAFF,
        response=Ticket, if_match=True, tags=("self-service",)))
    def approve_data_change(self, request, ticket_id):
        principal = self._caller(request, STAFF)
        caller, expected = principal.as_caller(), if_match(request)
        pending = self.tickets.pending_data_change(caller, checked_ticket_id(ticket_id))
        if expected is not None and pending["version"] != expected:
            # Before the card changes: a stale decision changes nothing.
            raise PreconditionFailed(
                "version_mismatch",
                f"ticket {ticket_id} is at version {pending['version']}, not {expected}: reload it and decide again",
                {"If-Match": [f"current version is {pending['version']}"]})
        # Safe to repeat after a crash between the two calls: the same fields change nothing the second time.
        result = self.customers.update(caller, pending["customer_id"], pending["fields"])
        steps = [["approve_data_change", {"customer_version": result["customer"]["version"]}]]
        return ticket_response(self.tickets.execute(caller, ticket_id, steps, expected, None))

    @api("POST", "/v1/tickets/<ticket_id>/data-change/reject", doc=RouteDoc(
        "Reject a customer data change, with the reason", STAFF, ss.DataChangeReject, response=Ticket,
        idempotent_post=True, if_match=True, tags=("self-service",)))
    def reject_data_change(self, request, ticket_id):
        principal = self._caller(request, STAFF)
        body = load_json(request, ss.DataChangeReject())
        steps = [["reject_data_change", {"reason": body["reason"]}]]
        return ticket_response(self._execute(principal, request, ticket_id, steps, body=body))

    # --- canned responses -------------------------------------------------------------------

    @api("GET", "/v1/canned-responses", doc=RouteDoc(
        "The store's canned responses", STAFF, response=ss.CannedResponseList, tags=("canned-responses",)))
    def list_canned(self, request):
        principal = self._caller(request, STAFF)
        return json_response(200, self.tickets.list_canned(principal.as_caller()))

    @api("POST", "/v1/canned-responses", doc=RouteDoc(
        "Create a canned response", ADMIN, ss.CannedResponseCreate, response=ss.CannedResponse, status=201,
        idempotent_post=True, tags=("canned-responses",)))
    def create_canned(self, request):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ss.CannedResponseCreate())
        result = self.tickets.create_canned(principal.as_caller(), body, idempotency(request, body))
        return resource_response(result, "canned_response", "/v1/canned-responses")

    @api("GET", "/v1/canned-responses/<canned_id>", doc=RouteDoc(
        "A canned response", STAFF, response=ss.CannedResponse, tags=("canned-responses",)))
    def get_canned(self, request, canned_id):
        principal = self._caller(request, STAFF)
        return _canned_response(200, self.tickets.get_canned(principal.as_caller(), _canned(canned_id)))

    @api("PATCH", "/v1/canned-responses/<canned_id>", doc=RouteDoc(
        "Change a canned response's title and/or body", ADMIN, ss.CannedResponseUpdate,
        response=ss.CannedResponse, if_match=True, tags=("canned-responses",)))
    def update_canned(self, request, canned_id):
        principal = self._caller(request, ADMIN)
        body = load_json(request, ss.CannedResponseUpdate())
        canned = self.tickets.update_canned(principal.as_caller(), _canned(canned_id), body,
                                            if_match(request, "canned response"))
        return _canned_response(200, canned)

    @api("DELETE", "/v1/canned-responses/<canned_id>", doc=RouteDoc(
        "Delete a canned response", ADMIN, status=204, tags=("canned-responses",)))
    def delete_canned(self, request, canned_id):
        principal = self._caller(request, ADMIN)
        self.tickets.delete_canned(principal.as_caller(), _canned(canned_id))
        return Response(status=204)

    # --- attachments ------------------------------------------------------------------------

    @api("POST", "/v1/tickets/<ticket_id>/attachments", doc=RouteDoc(
        "Upload a file (PNG, JPEG, GIF, WebP or PDF) to the ticket; name it in a reply or note by its id",
        ANYONE_IN_STORE + PLATFORM, response=ss.AttachmentRecord, status=201, upload="file",
        tags=("attachments",)))
    def upload_attachment(self, request, ticket_id):
        principal = self._caller(request, ANYONE_IN_STORE + PLATFORM)
        check_ticket_id(ticket_id)
        upload = self.files.receive(request)
        described = {"filename": redact_card_numbers(upload.filename), "content_type": upload.content_type,
                     "size": upload.size, "sha256": upload.sha256}
        try:
            record = self.tickets.register_attachment(principal.as_caller(), ticket_id, described)
        except BaseException:
            upload.pending.discard()
            raise
        upload.pending.commit()
        return json_response(201, record, {"Location": record["url"]})

    @api("GET", "/v1/tickets/<ticket_id>/attachments/<attachment_id>", doc=RouteDoc(
        "Download an attachment (whoever may see the message carrying it)", ANYONE_IN_STORE + PLATFORM,
        download=True, tags=("attachments",)))
    def download_attachment(self, request, ticket_id, attachment_id):
        principal = self._caller(request, ANYONE_IN_STORE + PLATFORM)
        check_ticket_id(ticket_id)
        record = self.tickets.attachment(principal.as_caller(), ticket_id, _attachment(attachment_id))
        try:
            chunks = self.files.chunks(record["sha256"])
        except BlobNotFound:
            raise NotFound("attachment_not_found", f"the file of attachment {attachment_id} is not stored") from None
        headers = {"Content-Length": str(record["size"]),
                   "Content-Disposition": content_disposition(record["filename"]),
                   "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
        return Response(chunks, status=200, headers=headers, content_type=record["content_type"],
                        direct_passthrough=True)

    # --- the platform's review team ----------------------------------------------------------

    @api("GET", "/v1/platform/tickets", doc=RouteDoc(
        "Tickets the platform handles (charged without an order), across every store", PLATFORM,
        query=ss.PlatformTicketQuery, response=TicketList, tags=("platform",)))
    def list_platform_tickets(self, request):
        principal = self._caller(request, PLATFORM)
        query = ticket_query(request, ss.PlatformTicketQuery())
        return json_response(200, self.tickets.list(principal.as_caller(), query))
