"""Customer groups: named sets of a store's customers, filled by ids or by a list filter."""
from __future__ import annotations

from ..routing import STAFF, route
from ..schemas import customers as schemas
from .base import RouteBase

TAGS = ("customers",)
GROUP = {"response": schemas.Group, "resource": "group", "tags": TAGS}


class GroupRoutes(RouteBase):

    @route("POST", "/v1/customer-groups", "Create a customer group", roles=STAFF, body=schemas.GroupWrite, status=201,
           location="/v1/customer-groups/{id}", idempotent=True, **GROUP)
    def create_group(self, call):
        return self.customers.create_group(call.caller, call.body, call.idempotency)

    @route("GET", "/v1/customer-groups", "The store's customer groups", roles=STAFF, response=schemas.GroupList,
           tags=TAGS)
    def list_groups(self, call):
        return self.customers.list_groups(call.caller)

    @route("GET", "/v1/customer-groups/<group_id>", "A customer group", roles=STAFF, response=schemas.Group,
           tags=TAGS)
    def get_group(self, call, group_id):
        return self.customers.get_group(call.caller, group_id)

    @route("PATCH", "/v1/customer-groups/<group_id>", "Rename a customer group", roles=STAFF, body=schemas.GroupWrite,
           **GROUP)
    def rename_group(self, call, group_id):
        return self.customers.rename_group(call.caller, group_id, call.body)

    @route("DELETE", "/v1/customer-groups/<group_id>", "Delete a customer group (its customers stay)", roles=STAFF,
           status=204, tags=TAGS)
    def delete_group(self, call, group_id):
        self.customers.delete_group(call.caller, group_id)

    @route("POST", "/v1/customer-groups/<group_id>/members",
           "Add customers to a group: by ids (up to 10,000) or every customer a list filter matches", roles=STAFF,
           body=schemas.GroupMembers, response=schemas.MembersChanged, tags=TAGS)
    def add_members(self, call, group_id):
        return self.customers.change_members(call.caller, group_id, "add", call.body)

    @route("DELETE", "/v1/customer-groups/<group_id>/members",
           "Remove customers from a group: by ids (up to 10,000) or every customer a list filter matches",
           roles=STAFF, body=schemas.GroupMembers, response=schemas.MembersChanged, tags=TAGS)
    def remove_members(self, call, group_id):
        return self.customers.change_members(call.caller, group_id, "remove", call.body)
