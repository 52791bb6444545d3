"""The store's canned responses: saved replies with placeholders that staff send on tickets."""
from __future__ import annotations

from ..routing import ADMIN, STAFF, route
from ..schemas import selfservice as schemas
from .base import RouteBase

TAGS = ("canned-responses",)
CANNED = {"response": schemas.CannedResponse, "resource": "canned_response", "etag": True, "tags": TAGS}


class CannedRoutes(RouteBase):

    @route("GET", "/v1/canned-responses", "The store's canned responses", roles=STAFF,
           response=schemas.CannedResponseList, tags=TAGS)
    def list_canned(self, call):
        return self.tickets.list_canned(call.caller)

    @route("POST", "/v1/canned-responses", "Create a canned response", roles=ADMIN, body=schemas.CannedResponseCreate,
           status=201, location="/v1/canned-responses/{id}", idempotent=True, **CANNED)
    def create_canned(self, call):
        return self.tickets.create_canned(call.caller, call.body, call.idempotency)

    @route("GET", "/v1/canned-responses/<canned_id>", "A canned response", roles=STAFF, **CANNED)
    def get_canned(self, call, canned_id):
        return {"canned_response": self.tickets.get_canned(call.caller, canned_id)}

    @route("PATCH", "/v1/canned-responses/<canned_id>", "Change a canned response's title and/or body", roles=ADMIN,
           body=schemas.CannedResponseUpdate, if_match="canned response", **CANNED)
    def update_canned(self, call, canned_id):
        return {"canned_response": self.tickets.update_canned(call.caller, canned_id, call.body, call.if_match)}

    @route("DELETE", "/v1/canned-responses/<canned_id>", "Delete a canned response", roles=ADMIN, status=204,
           tags=TAGS)
    def delete_canned(self, call, canned_id):
        self.tickets.delete_canned(call.caller, canned_id)
