"""Views with their counts, a view's tickets, the queue, and the store's SLA
policy (docs/agent-operations.md). The tickets service decides everything."""
from __future__ import annotations

from ..routing import ADMIN, STAFF, route
from ..schemas import tickets as ticket_schemas
from ..schemas import views as schemas
from ..schemas.fields import NoFields
from .base import RouteBase

TAGS = ("views",)
VIEW = {"response": schemas.View, "resource": "view", "etag": True, "tags": TAGS}


class ViewRoutes(RouteBase):

    @route("GET", "/v1/views", "Every view the caller has, each with its count (one request, from a projection)",
           roles=STAFF, response=schemas.ViewList, tags=TAGS)
    def list_views(self, call):
        return self.tickets.list_views(call.caller)

    @route("POST", "/v1/views", "Save a view: a name, a filter in GET /v1/tickets' terms, a sort and columns",
           roles=STAFF, body=schemas.ViewCreate, status=201, location="/v1/views/{id}", **VIEW)
    def create_view(self, call):
        return self.tickets.create_view(call.caller, call.body)

    @route("GET", "/v1/views/<view_id>", "A view (built-in, the store's, or your own)", roles=STAFF, **VIEW)
    def get_view(self, call, view_id):
        return {"view": self.tickets.get_view(call.caller, view_id)}

    @route("PATCH", "/v1/views/<view_id>", "Change a saved view", roles=STAFF, body=schemas.ViewUpdate,
           if_match="view", **VIEW)
    def update_view(self, call, view_id):
        return {"view": self.tickets.update_view(call.caller, view_id, call.body, call.if_match)}

    @route("DELETE", "/v1/views/<view_id>", "Delete a saved view", roles=STAFF, status=204, tags=TAGS)
    def delete_view(self, call, view_id):
        self.tickets.delete_view(call.caller, view_id)

    @route("GET", "/v1/views/<view_id>/tickets", "The view's tickets, as a ticket list", roles=STAFF,
           query=schemas.ViewTicketsQuery, response=schemas.ViewTicketList, tags=TAGS)
    def view_tickets(self, call, view_id):
        return self.tickets.view_tickets(call.caller, view_id, call.query)

    @route("POST", "/v1/queue/next", "Take the most urgent unanswered ticket of your teams: 200 with it, assigned "
           "to you; 204 when nothing waits", roles=STAFF, body=NoFields, response=ticket_schemas.Ticket,
           resource="ticket", etag=True, may_be_empty=True, tags=TAGS)
    def next_ticket(self, call):
        return self.tickets.next_ticket(call.caller)

    # --- how the store's staff work -------------------------------------------------------

    @route("GET", "/v1/settings/agents", "Who sees which tickets, and how tickets on no team are assigned",
           roles=STAFF, response=schemas.AgentSettings, resource="settings", etag=True, tags=TAGS)
    def agent_settings(self, call):
        return {"settings": self.tickets.agent_settings(call.caller)}

    @route("PATCH", "/v1/settings/agents", "Change the agent settings (owner, admin)", roles=ADMIN,
           body=schemas.AgentSettingsUpdate, response=schemas.AgentSettings, resource="settings", etag=True,
           if_match="settings", tags=TAGS)
    def update_agent_settings(self, call):
        return {"settings": self.tickets.update_agent_settings(call.caller, call.body, call.if_match)}

    # --- the SLA policy ----------------------------------------------------------------

    @route("GET", "/v1/settings/sla", "The store's SLA policy (the default until one is set)", roles=STAFF,
           response=schemas.SlaPolicy, resource="policy", etag=True, tags=TAGS)
    def sla_policy(self, call):
        return {"policy": self.tickets.sla_policy(call.caller)}

    @route("PUT", "/v1/settings/sla", "Set the store's SLA policy: open tickets' deadlines are recomputed",
           roles=ADMIN, body=schemas.SlaPolicyBody, response=schemas.SlaPolicy, resource="policy", etag=True,
           if_match="SLA policy", tags=TAGS)
    def replace_sla_policy(self, call):
        return {"policy": self.tickets.replace_sla_policy(call.caller, call.body, call.if_match)}
