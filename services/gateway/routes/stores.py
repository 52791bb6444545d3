"""Stores, their staff, and the help-widget sessions staff open for shoppers."""
from __future__ import annotations

from ..routing import ADMIN, PLATFORM, STAFF, route
from ..schemas import identity as schemas
from ..schemas.fields import NoFields
from .base import RouteBase

TAGS = ("stores",)


class StoreRoutes(RouteBase):

    @route("POST", "/v1/stores", "Create a store and its owner's token", roles=PLATFORM, body=schemas.StoreCreate,
           response=schemas.Store, status=201, resource="store", location="/v1/stores/{id}", idempotent=True,
           tags=TAGS)
    def create_store(self, call):
        body = call.body
        return self.identity.create_store(call.caller, body["name"], body.get("owner_name"), body.get("owner_email"),
                                          call.idempotency)

    @route("POST", "/v1/agents", "Add a staff member (admin or agent) and get their token", roles=ADMIN,
           body=schemas.AgentCreate, response=schemas.Agent, status=201, resource="agent",
           location="/v1/agents/{id}", idempotent=True, tags=TAGS)
    def create_agent(self, call):
        body = call.body
        return self.identity.create_agent(call.caller, body["name"], body["email"], body["role"], call.idempotency)

    @route("GET", "/v1/stores/<store_id>", "A store (its own staff, or the platform)", roles=STAFF + PLATFORM,
           response=schemas.StoreView, tags=TAGS)
    def get_store(self, call, store_id):
        return self.identity.get_store(call.caller, store_id)

    @route("GET", "/v1/agents/<agent_id>", "A staff member of the store, with their availability, capacity, "
           "skills and teams", roles=STAFF, response=schemas.Agent, tags=TAGS)
    def get_agent(self, call, agent_id):
        return self.with_profiles(call.caller, [self.identity.get_agent(call.caller, agent_id)])[0]

    @route("GET", "/v1/agents", "The store's staff, with their availability, capacity, skills and teams", roles=STAFF,
           response=schemas.AgentList, tags=TAGS)
    def list_agents(self, call):
        return {"items": self.with_profiles(call.caller, self.identity.list_agents(call.caller))}

    @route("PATCH", "/v1/agents/<agent_id>",
           "Change a staff member's availability, capacity or skills (an agent: their own availability)",
           roles=STAFF, body=schemas.AgentProfileUpdate, response=schemas.Agent, tags=TAGS)
    def update_agent(self, call, agent_id):
        agent = self.identity.get_agent(call.caller, agent_id)  # staff of the store, else 404
        return {**agent, **self.tickets.update_agent_profile(call.caller, agent_id, call.body)}

    def with_profiles(self, caller, agents: list[dict]) -> list[dict]:
        """Each staff member with what the tickets service keeps of them (one call for the list)."""
        profiles = self.tickets.agent_profiles(caller, [a["id"] for a in agents]) if agents else {}
        return [{**agent, **profiles.get(agent["id"], {})} for agent in agents]

    @route("GET", "/v1/stores/<store_id>/plan", "The store's plan limits (its own staff, or the platform)",
           roles=STAFF + PLATFORM, response=schemas.StorePlan, tags=TAGS)
    def get_plan(self, call, store_id):
        return self.identity.plans.get(call.caller, store_id)

    @route("PUT", "/v1/stores/<store_id>/plan", "Set the store's plan limits: staff seats, teams, topics (platform)",
           roles=PLATFORM, body=schemas.PlanUpdate, response=schemas.StorePlan, tags=TAGS)
    def put_plan(self, call, store_id):
        return self.identity.plans.put(call.caller, store_id, call.body["limits"])

    @route("POST", "/v1/customers/<customer_id>/sessions",
           "Open a help-widget session for a customer: a token scoped to them", roles=STAFF,
           body=NoFields, response=schemas.Session, status=201, resource="session", idempotent=True,
           tags=TAGS)
    def open_session(self, call, customer_id):
        # Only a customer of the store gets a session (else 404 customer_not_found).
        self.customers.standing(call.caller.store_id, customer_id)
        return self.identity.open_customer_session(call.caller, customer_id, call.idempotency)
