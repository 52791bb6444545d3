"""Category rules: the store's admins write them, its staff read them; the
tickets service applies them to every ticket as it opens."""
from __future__ import annotations

from ..routing import ADMIN, STAFF, route
from ..schemas import rules as schemas
from .base import RouteBase

TAGS = ("rules",)
RULE = {"response": schemas.Rule, "resource": "rule", "etag": True, "tags": TAGS}


class RuleRoutes(RouteBase):

    @route("GET", "/v1/rules", "The store's category rules, in the order they apply", roles=STAFF,
           response=schemas.RuleList, tags=TAGS)
    def list_rules(self, call):
        return self.tickets.list_rules(call.caller)

    @route("POST", "/v1/rules", "Create a category rule: conditions on a new ticket, and the priority, team and "
           "tags it gives it", roles=ADMIN, body=schemas.RuleCreate, status=201, location="/v1/rules/{id}",
           idempotent=True, **RULE)
    def create_rule(self, call):
        return self.tickets.create_rule(call.caller, call.body, call.idempotency)

    @route("GET", "/v1/rules/<rule_id>", "A category rule", roles=STAFF, **RULE)
    def get_rule(self, call, rule_id):
        return {"rule": self.tickets.get_rule(call.caller, rule_id)}

    @route("PATCH", "/v1/rules/<rule_id>", "Change a category rule (conditions and actions are replaced whole)",
           roles=ADMIN, body=schemas.RuleUpdate, if_match="rule", **RULE)
    def update_rule(self, call, rule_id):
        return {"rule": self.tickets.update_rule(call.caller, rule_id, call.body, call.if_match)}

    @route("DELETE", "/v1/rules/<rule_id>", "Delete a category rule (tickets keep what it did)", roles=ADMIN,
           status=204, tags=TAGS)
    def delete_rule(self, call, rule_id):
        self.tickets.delete_rule(call.caller, rule_id)
